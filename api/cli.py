"""The ``lakegate`` command line.

Commands act directly on the lake of this host (``LAKEGATE_HOME`` and the other
``LAKEGATE_*`` settings) as a local administrator: the CLI runs where the server
runs. ``--as USER`` names the actor recorded in commits. Every command goes
through the same :class:`~lake.service.Lake` methods as the HTTP API.

A domain error is printed as one red ``error: <message>`` line and exits with
status 1; there is never a traceback for a known error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api import console
from api.commands import access as access_commands
from api.commands import audit as audit_commands
from api.commands import gateway as gateway_commands
from api.commands import metrics as metrics_commands
from api.commands import subscribers as subscribers_commands
from api.commands import views as views_commands
from api.console import domain_errors, err, fail, note, open_lake, out
from lake.auth import ADMIN_ROLE, PRODUCER_ROLE, PrincipalKind
from lake.errors import ConfigError
from lake.formats import BatchFormat
from lake.ingest import OnError, WriteMode
from lake.service import Lake
from lake.settings import Settings, get_settings

ADMIN_USER = "admin"

app = typer.Typer(
    name="lakegate",
    help="Lakegate: a governed data lake. Land datasets with data contracts and serve the API.",
    no_args_is_help=True,
    # A traceback must never print local variables: they may hold tokens or keys.
    pretty_exceptions_show_locals=False,
)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Users and service principals.", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets and their contracts.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(dataset_app, name="dataset")
app.add_typer(views_commands.app, name="views")
app.add_typer(access_commands.app, name="access")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(metrics_commands.app, name="metrics")
app.add_typer(gateway_commands.app, name="query")
app.add_typer(subscribers_commands.app, name="subscribers")



def _ensure_admin(lake: Lake) -> None:
    lake.users.ensure(ADMIN_USER, roles=[ADMIN_ROLE, PRODUCER_ROLE])


def _actor(lake: Lake, name: str) -> str:
    """The actor to record; it must be a known user."""
    return lake.users.get(name).name


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


# -- serving -----------------------------------------------------------------------------


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
    note(f"Lakegate API on {scheme}://{host}:{port} (OpenAPI at /api/v1/openapi.json, with a token)", style="bold")
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


@app.command()
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


@app.command()
@domain_errors
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, cert: CertOpt = None, key: KeyOpt = None) -> None:
    """Serve the HTTP API (HTTPS with --cert and --key)."""
    from api.app import create_app

    settings = get_settings()
    check_transport(settings, cert, key)
    _run_server(create_app(settings), settings, host, port, cert, key)


@app.command()
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
        from lake.demo import land_demo
    except ImportError:
        fail("this version of Lakegate has no demo loader (lake.demo.land_demo)")
    landed: list[tuple[str, int, float]] = []
    with open_lake(settings) as lake:
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
            from access.demo import land_demo_access
            from views.demo import land_demo_views

            land_demo_views(lake, actor=ADMIN_USER)
            land_demo_access(lake, actor=ADMIN_USER)
            from metrics_catalog.demo import land_demo_metrics

            land_demo_metrics(lake, actor=ADMIN_USER)
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
            _run_server(create_app(settings, lake=lake), settings, host, port, cert, key)


# -- tokens and users ----------------------------------------------------------------------


@token_app.command("create")
@domain_errors
def token_create(
    user: Annotated[str, typer.Option("--user", help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the program using it.")] = "",
    ttl_days: Annotated[float, typer.Option("--ttl-days", min=0, help="Lifetime in days; 0 for no expiry.")] = 90,
) -> None:
    """Create an API token and print it (only the token, shown once)."""
    with open_lake() as lake:
        token, _ = lake.users.create_token(user, name=name, ttl_days=ttl_days or None)
    typer.echo(token)


@user_app.command("create")
@domain_errors
def user_create(
    name: Annotated[str, typer.Argument(help="User name (lower case).")],
    role: Annotated[list[str] | None, typer.Option("--role", help="A role; repeat for several.")] = None,
    service: Annotated[bool, typer.Option("--service", help="A service principal, not a person.")] = False,
) -> None:
    """Create a user or service principal with roles."""
    with open_lake() as lake:
        kind = PrincipalKind.SERVICE if service else PrincipalKind.USER
        created = lake.users.create(name, roles=role or [], kind=kind)
    typer.echo(f"created {created.kind.value} {created.name} (roles: {', '.join(created.roles) or 'none'})")


# -- datasets --------------------------------------------------------------------------------

AsOpt = Annotated[str, typer.Option("--as", help="The user recorded as the actor.")]
ContractFile = Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False,
                                            help="The contract (YAML or JSON).")]


@dataset_app.command("create")
@domain_errors
def dataset_create(file: ContractFile, as_user: AsOpt = ADMIN_USER) -> None:
    """Register a dataset with the contract in a file."""
    text = _read_text(file)
    with open_lake() as lake:
        info = lake.register(text, actor=_actor(lake, as_user))
    console.show_dataset(info)


@dataset_app.command("list")
@domain_errors
def dataset_list(domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None) -> None:
    """List datasets (current major versions)."""
    with open_lake() as lake:
        infos = lake.datasets.list(domain=domain)
    if not infos:
        note("no datasets yet: register one with 'lakegate dataset create -f contract.yml'")
        return
    out.print(console.dataset_table(infos))


@dataset_app.command("show")
@domain_errors
def dataset_show(
    name: Annotated[str, typer.Argument(help="domain.dataset")],
    major: Annotated[int | None, typer.Option(min=1, help="A major version; the current one by default.")] = None,
    contract: Annotated[bool, typer.Option("--contract", help="Print only the contract, as YAML.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the dataset as JSON.")] = False,
) -> None:
    """Show a dataset and its contract."""
    with open_lake() as lake:
        info = lake.dataset(name, major=major)
    if contract:
        typer.echo(info.contract.to_yaml(), nl=False)
    elif as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
    else:
        console.show_dataset(info)


@dataset_app.command("evolve")
@domain_errors
def dataset_evolve(
    name: Annotated[str, typer.Argument(help="domain.dataset")],
    file: ContractFile,
    major: Annotated[bool, typer.Option("--major", help="Open the next major version (breaking change).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Change a dataset's contract.

    Compatible changes make a new contract version; breaking ones need --major,
    which opens the next major version with a new table.
    """
    text = _read_text(file)
    with open_lake() as lake:
        if dry_run:
            changes = lake.datasets.plan_change(name, text)
            if not changes:
                typer.echo(f"{name}: no changes")
                return
            out.print(console.changes_table(changes))
            if any(c.breaking for c in changes):
                note("breaking: apply it with --major (opens the next major version)", style="yellow")
            return
        before = lake.dataset(name)
        info = lake.evolve(name, text, actor=_actor(lake, as_user), major=major)
    if (info.major, info.contract_version) == (before.major, before.contract_version):
        typer.echo(f"{name}: no changes")
    elif info.major != before.major:
        typer.echo(f"{name}: major version {info.major} opened (contract v{info.contract_version}, new table)")
    else:
        typer.echo(f"{name}: contract version {info.contract_version}")


# -- data ------------------------------------------------------------------------------------------


@app.command()
@domain_errors
def ingest(
    dataset: Annotated[str, typer.Argument(help="domain.dataset")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The batch file.")],
    fmt: Annotated[str | None, typer.Option("--format", help="parquet, arrow, csv or jsonl (default: from the "
                                                             "file name).")] = None,
    mode: Annotated[WriteMode, typer.Option(help="How the batch lands.")] = WriteMode.APPEND,
    on_error: Annotated[OnError, typer.Option("--on-error", help="Reject the batch, or quarantine bad rows.")]
    = OnError.REJECT,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key",
                                                        help="A retry with the same key lands once.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the commit).")] = "",
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Land a batch file in a dataset, in one commit or not at all."""
    batch_format = BatchFormat.parse(fmt) if fmt else BatchFormat.from_path(file)
    with open_lake() as lake:
        actor = _actor(lake, as_user)
        lake.dataset(dataset)  # fail before reading the file if the dataset is unknown
        result = console.run_with_read_progress(
            file,
            f"validating and committing to {dataset}…",
            lambda reader: lake.ingest(dataset, reader, batch_format, actor=actor, mode=mode, on_error=on_error,
                                       idempotency_key=idempotency_key, reason=reason, source_name=f"cli:{file.name}"),
        )
    typer.echo(console.describe_ingest(result, idempotency_key))


@app.command()
@domain_errors
def history(
    dataset: Annotated[str, typer.Argument(help="domain.dataset")],
    limit: Annotated[int | None, typer.Option(min=1, help="Newest N entries only.")] = None,
    major: Annotated[int | None, typer.Option(min=1, help="A major version; the current one by default.")] = None,
) -> None:
    """Show the Delta log of a dataset's table, newest first."""
    with open_lake() as lake:
        entries = lake.history(dataset, major=major, limit=limit)
    out.print(console.history_table(dataset, entries))


if __name__ == "__main__":
    app()
