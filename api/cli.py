"""The ``lakegate`` command line.

Commands act directly on the lake of this host (``LAKEGATE_HOME`` and the other
``LAKEGATE_*`` settings) as a local administrator: the CLI runs where the server
runs. ``--as USER`` names the actor recorded in commits. Every command goes
through the same domain calls as the HTTP API; where those check the acting
principal (policy changes, registering datasets and views, metrics), they
check ``--as``, whose default is the local administrator ``admin``.

A domain error is printed as one red ``error: <message>`` line and exits with
status 1; there is never a traceback for a known error.

The commands live in ``api.commands``, one module per resource, and are
imported only when run: ``lakegate --help`` and ``lakegate version`` load no
domain package (no pyarrow, Spark or SQLAlchemy), so they answer at once.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # Typer ships its own copy of click
    from typer._click import Command, Context, HelpFormatter

#: Each top-level command or group: the ``api.commands`` module that defines it,
#: the attribute there (``commands`` holds top-level commands; any other is a
#: group's ``typer.Typer``) and the one-line help ``lakegate --help`` shows
#: without importing the module (a test keeps it equal to the module's own).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("server", "commands", "Create the lake on this host and print a new admin token."),
    "serve": ("server", "commands", "Serve the HTTP API (HTTPS with --cert and --key)."),
    "demo": ("server", "commands",
             "Land the demo datasets (initialising the lake if needed), then serve the API."),
    "token": ("users", "commands", "API tokens."),
    "user": ("users", "commands", "Users and service principals."),
    "dataset": ("datasets", "commands", "Datasets and their contracts."),
    "ingest": ("datasets", "commands", "Land a batch file in a dataset, in one commit or not at all."),
    "history": ("datasets", "commands", "Show the Delta log of a dataset's table, newest first."),
    "quarantine": ("datasets", "commands",
                   "List a dataset's quarantined rows and why, or replay them against the current contract."),
    "vacuum": ("datasets", "commands",
               "Delete table files no version within the retention needs, orphans of failed writes included."),
    "views": ("views", "app", "Versioned SQL views: plan/apply view files, lineage, materialization."),
    "access": ("access", "app", "Access policy: roles, groups, grants, masks, row filters, requests."),
    "audit": ("audit", "app", "The tamper-evident audit log."),
    "metrics": ("metrics", "app", "Governed metrics: definitions, approval chains, review meetings, values."),
    "query": ("gateway", "app", "Run one governed SQL query as a user."),
    "engine": ("engine", "app", "The long-lived Spark engine: start, stop, status."),
    "subscribers": ("subscribers", "app",
                    "Engine subscribers: Redshift, EMR and SageMaker reading the lake under the access layer."),
}


def load_command(name: str) -> Command:
    """Import the module of a top-level command and build its click command."""
    module_name, attribute, _ = COMMANDS[name]
    module = importlib.import_module(f"api.commands.{module_name}")
    defined = getattr(module, attribute)
    if attribute == "commands":
        holder = defined
    else:
        holder = typer.Typer()
        holder.add_typer(defined, name=name)
    command = typer.main.get_group(holder).commands.get(name)
    if command is None:  # pragma: no cover - guarded by a test over COMMANDS
        raise RuntimeError(f"api.commands.{module_name} defines no command {name!r}")
    return command


class _Listed(TyperCommand):
    """A stand-in that only names and describes a command, for the help page."""

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help=help_text, short_help=help_text)


class LazyGroup(TyperGroup):
    """The root group: commands from :data:`COMMANDS`, imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if ctx.meta.get("lakegate.listing"):
            return _Listed(cmd_name, COMMANDS[cmd_name][2])
        if cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        ctx.meta["lakegate.listing"] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta.pop("lakegate.listing", None)


app = typer.Typer(
    name="lakegate",
    cls=LazyGroup,
    help="Lakegate: a governed data lake. Land datasets with data contracts and serve the API.",
    no_args_is_help=True,
    # A traceback must never print local variables: they may hold tokens or keys.
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root() -> None:
    # A callback keeps the root a group of commands (Typer would otherwise turn
    # an app with one eagerly defined command into that command).
    pass


@app.command()
def version() -> None:
    """Print the versions of Lakegate and of the engine it runs on."""
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    typer.echo(f"lakegate {installed('lakegate')}")
    for name in ("pyspark", "deltalake", "pyarrow", "sqlglot"):
        typer.echo(f"  {name} {installed(name)}")


def main() -> None:
    """The ``lakegate`` program: run one command, then end the process at once.

    Tearing the interpreter down (freeing every module of a process that
    imported pyspark's Connect client, gRPC, pyarrow and SQLAlchemy) takes
    about as long as a small query does on a warm engine. Once the command
    has finished and no other thread is still working, the exit handlers run,
    the output is flushed and the process ends, skipping only that teardown.
    """
    try:
        app()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if busy:  # a normal exit waits for them
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else int(code is not None)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # a reader gone (`| head`), or a closed stream
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
