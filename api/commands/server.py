"""Commands that set up and serve the lake of this host: ``init``, ``serve``, ``demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.console import ADMIN_USER, domain_errors, err, fail, note, open_lake, out
from api.services import open_services
from lake.auth import ADMIN_ROLE, PRODUCER_ROLE
from lake.errors import ConfigError
from lake.service import Lake
from lake.settings import Settings, get_settings

commands = typer.Typer()


def _ensure_admin(lake: Lake) -> None:
    lake.users.ensure(ADMIN_USER, roles=[ADMIN_ROLE, PRODUCER_ROLE])


def check_transport(settings: Settings, cert: Path | None, key: Path | None) -> None:
    """Refuse to serve plain HTTP in production unless a proxy terminates TLS.

    Runs before anything is opened, so a misconfigured production host fails
    fast with a clear message.
    """
    if (cert is None) != (key is None):
        raise ConfigError("--cert and --key go together: pass both to serve TLS")
    if cert is None and settings.production and not settings.behind_tls_proxy:
        raise ConfigError(
            "production mode refuses to serve plain HTTP: bearer tokens would travel in clear. "
            "Serve TLS with --cert FILE --key FILE, or set LAKEGATE_BEHIND_TLS_PROXY=true "
            "when a proxy in front terminates TLS"
        )


def _run_server(app_: Any, settings: Settings, host: str, port: int, cert: Path | None, key: Path | None) -> None:
    import uvicorn

    scheme = "https" if cert else "http"
    if cert is None and not settings.behind_tls_proxy:
        note("serving plain HTTP: use it on this machine only, or pass --cert/--key", style="yellow")
    note(f"Lakegate on {scheme}://{host}:{port}: web UI at /ui, API docs at /api/docs", style="bold")
    uvicorn.run(
        app_,
        host=host,
        port=port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        proxy_headers=settings.behind_tls_proxy,
        server_header=False,
        log_level="info",
    )


HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
CertOpt = Annotated[Path | None, typer.Option("--cert", exists=True, dir_okay=False,
                                              help="TLS certificate (PEM); serves HTTPS with --key.")]
KeyOpt = Annotated[Path | None, typer.Option("--key", exists=True, dir_okay=False, help="TLS private key (PEM).")]


@commands.command()
@domain_errors
def init() -> None:
    """Create the lake on this host and print a new admin token.

    Creates the home directory, the catalog (running migrations), the store and
    the admin user (roles admin and producer) if missing. The token is shown
    this once; run it again for another.
    """
    settings = get_settings()
    with open_lake(settings) as lake:
        _ensure_admin(lake)
        token, _ = lake.users.create_token(ADMIN_USER, name="init")
    note(f"Lakegate home: {settings.home}")
    note(f"catalog: {settings.redacted()['database_url']}")
    note(f"store: {settings.storage_uri}")
    note(f"user {ADMIN_USER!r} has roles {ADMIN_ROLE}, {PRODUCER_ROLE}. Its new token (shown once, keep it secret):",
         style="bold")
    typer.echo(token)


@commands.command()
@domain_errors
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, cert: CertOpt = None, key: KeyOpt = None) -> None:
    """Serve the HTTP API (HTTPS with --cert and --key)."""
    from api.app import create_app

    settings = get_settings()
    check_transport(settings, cert, key)
    _run_server(create_app(settings), settings, host, port, cert, key)


@commands.command()
@domain_errors
def demo(
    scale: Annotated[float, typer.Option(help="Size multiplier of the demo data (positive).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")] = True,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Land the demo datasets (initialising the lake if needed), then serve the API."""
    if scale <= 0:
        raise typer.BadParameter("must be a positive number", param_hint="--scale")
    settings = get_settings()
    if serve:
        check_transport(settings, cert, key)
    try:
        from demo.load import land_demo, land_demo_access, land_demo_metrics, land_demo_queries, land_demo_views
    except ImportError:
        fail("this installation of Lakegate has no demo package (demo.load)")
    landed: list[tuple[str, int, float]] = []
    with open_services(settings, deliver_now=False) as services:
        lake = services.lake
        _ensure_admin(lake)
        started = last = time.perf_counter()
        with err.status("landing demo datasets…"):

            def progress(dataset_name: str, rows: int) -> None:
                nonlocal last
                now = time.perf_counter()
                landed.append((dataset_name, rows, now - last))
                last = now
                note(f"  landed {dataset_name}: {rows:,} rows")

            land_demo(lake, scale=scale, seed=seed, actor=ADMIN_USER, progress=progress)
            land_demo_views(lake, actor=ADMIN_USER)
            land_demo_access(lake, services.access, actor=ADMIN_USER)
            land_demo_queries(services.saved_queries)
            land_demo_metrics(lake, actor=ADMIN_USER, metrics=services.metrics)
            from demo.producers import land_demo_producers

            land_demo_producers(lake, services.subscribers, actor=ADMIN_USER)
        summary = Table("dataset", "rows", "seconds", title=f"demo data (scale {scale:g}, seed {seed})")
        for name, rows, seconds in landed:
            summary.add_row(name, f"{rows:,}", f"{seconds:.2f}")
        summary.add_row("total", f"{sum(r for _, r, _ in landed):,}", f"{time.perf_counter() - started:.2f}",
                        style="bold")
        out.print(summary)
        if serve:
            from api.app import create_app

            token, _ = lake.users.create_token(ADMIN_USER, name="demo")
            scheme = "https" if cert else "http"
            note(f"open {scheme}://{host}:{port}/api/v1/datasets with this admin token (shown once):", style="bold")
            typer.echo(token)
            _run_server(create_app(services=services), settings, host, port, cert, key)
