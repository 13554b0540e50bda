"""``lakegate engine``: a long-lived Spark engine (a supervised Spark Connect server) for this host's lake.

``start`` prints the ``LAKEGATE_SPARK_REMOTE`` setting that makes the API
server and every CLI command attach to it, so a query costs a connection
instead of a JVM start.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.console import domain_errors, note

app = typer.Typer(help="The long-lived Spark engine: start, stop, status.", pretty_exceptions_show_locals=False,
                  no_args_is_help=True)


@app.command()
@domain_errors
def start(
    master: Annotated[str, typer.Option(help="Where the engine's jobs run: local[*] or spark://host:7077.")]
    = "local[*]",
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Loopback port (15002 when free).")] = None,
) -> None:
    """Start a supervised Spark Connect server with the lake's jars and settings."""
    from lake.engine import start as start_engine
    from lake.settings import get_settings

    info = start_engine(get_settings(), master=master, port=port, progress=note)
    note(f"the Spark engine listens at {info.url} (master {info.master}, log {info.log})")
    typer.echo(f"export LAKEGATE_SPARK_REMOTE={info.url}")


@app.command()
@domain_errors
def stop() -> None:
    """Stop the lake's engine."""
    from lake.engine import stop as stop_engine
    from lake.settings import get_settings

    info = stop_engine(get_settings())
    note(f"stopped the Spark engine at {info.url}")


@app.command()
@domain_errors
def status() -> None:
    """Say whether an engine runs for this lake, and where."""
    from lake.engine import status as engine_status
    from lake.settings import get_settings

    info = engine_status(get_settings())
    if info is None:
        note("no Spark engine runs for this lake; start one with `lakegate engine start`")
        raise typer.Exit(1)
    typer.echo(f"the Spark engine listens at {info.url} (master {info.master}, supervisor pid {info.supervisor_pid})")
