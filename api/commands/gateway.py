"""``lakegate query``: run one governed SQL SELECT as a user, on this host's lake.

The query goes through the same :class:`~access.gateway.Gateway` as the HTTP
API, with the row filters and column masks of the user named by ``--as``, and
is audited the same way. Output: a table for people (default), JSON, or an
Arrow IPC stream (to stdout or ``--output FILE``).
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.console import domain_errors, note, out

app = typer.Typer(
    help="Run one governed SQL query as a user.",
    pretty_exceptions_show_locals=False,
    # One command, no subcommands: options may follow the SQL argument.
    context_settings={"allow_interspersed_args": True},
    subcommand_metavar="",
)



class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    ARROW = "arrow"



def _cell(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@app.callback(invoke_without_command=True)
@domain_errors
def query(
    sql: Annotated[str, typer.Argument(help="One Spark SQL SELECT over catalog tables (domain.name).")],
    as_user: Annotated[str, typer.Option("--as", help="The user whose access applies (must exist).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", case_sensitive=False,
                                              help="table (for people), json, or arrow (IPC stream).")]
    = OutputFormat.TABLE,
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=1, help="Row cap (server default if unset).")]
    = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0.001,
                                                  help="Time limit in seconds (server default if unset).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", dir_okay=False,
                                                help="Write the result to this file instead of stdout.")] = None,
) -> None:
    """Run SQL through the governed gateway with the access of --as USER."""
    from api.console import engine_note
    from api.services import open_services

    with open_services() as services:
        subject = services.lake.users.get(as_user).name
        engine_note(services.settings)
        result = services.gateway.query(subject, sql, max_rows=max_rows, timeout_seconds=timeout)
    if fmt is OutputFormat.ARROW:
        data = result.to_ipc()
        if output is not None:
            output.write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    elif fmt is OutputFormat.JSON:
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if output is not None:
            output.write_text(text + "\n", encoding="utf-8")
        else:
            typer.echo(text)
    else:
        table = Table(*(c["name"] for c in result.columns()))
        for row in result.json_rows():
            table.add_row(*(_cell(v) for v in row))
        if output is not None:
            output.write_text(json.dumps(result.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            out.print(table)
    more = f" (truncated at {result.row_cap}; raise --max-rows)" if result.truncated else ""
    note(f"{result.row_count} row(s) in {result.elapsed_ms / 1000:.2f} s from {', '.join(result.tables) or 'no table'}"
         f"{more}")
