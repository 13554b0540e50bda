"""``lakegate audit``: read the audit log and verify its hash chain."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from access import AuditKind, Decision
from api.console import domain_errors, fail, note, out
from api.services import open_services

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)




@app.command("verify")
@domain_errors
def verify(
    expected_head: Annotated[str | None, typer.Option("--expected-head",
                                                      help="A head hash noted earlier; it must still be there.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Walk the hash chain; exit 1 if any entry was edited, removed or reordered."""
    with open_services() as services:
        result = services.access.audit.verify(expected_head=expected_head)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "entries": result.entries, "head_seq": result.head_seq,
                               "head_hash": result.head_hash, "problems": [p.as_dict() for p in result.problems]},
                              indent=2))
    elif result.ok:
        typer.echo(f"ok: {result.entries} entries, head {result.head_seq} {result.head_hash}")
        note("keep the head hash somewhere else; pass it as --expected-head next time")
    else:
        for p in result.problems:
            note(f"entry {p.seq}: {p.kind}: {p.message}", style="red")
    if not result.ok:
        fail(f"the audit log does not verify ({len(result.problems)} problem(s))")


@app.command("list")
@domain_errors
def list_(
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    kind: Annotated[str | None, typer.Option(help="decision, query, policy_change, access_request, token_use")]
    = None,
    resource: Annotated[str | None, typer.Option(help="A resource key; entries on it and below it.")] = None,
    decision: Annotated[str | None, typer.Option(help="allow or deny")] = None,
    since_hours: Annotated[float | None, typer.Option("--since-hours", min=0, help="Only the last N hours.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Audit entries, newest first."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=since_hours) if since_hours else None
    with open_services() as services:
        entries = services.access.audit.query(
            actor=actor, kind=AuditKind.parse(kind) if kind else None, resource=resource,
            decision=Decision(decision) if decision in ("allow", "deny") else None, since=since, limit=limit)
    if as_json:
        for e in entries:
            typer.echo(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind.value, "actor": e.actor,
                                   "action": e.action, "resource": e.resource, "decision": e.decision.value,
                                   "detail": e.detail, "hash": e.hash}))
        return
    table = Table("seq", "at", "kind", "actor", "action", "resource", "decision", title="audit log")
    for e in entries:
        table.add_row(str(e.seq), e.at.isoformat(timespec="seconds"), e.kind.value, e.actor, e.action, e.resource,
                      e.decision.value)
    out.print(table)
