"""``lakegate metrics``: metric definitions, the approval workflow, review meetings,
comments, notices and values.

Every command calls :class:`metrics_catalog.MetricCatalog` on the lake of this
host as the user named by ``--as`` (``admin`` by default): the workflow's
rules (stage roles, no self-approval, one stage per person) and the access
layer apply to that user. A domain error is one red ``error:`` line and exit
status 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from api.console import domain_errors, fail, note, out, read_text
from api.services import open_services
from lake.errors import InvalidInput
from lake.nesting import load_yaml
from lake.timestamps import as_utc
from metrics_catalog import MetricCatalog, MetricInfo, parse_definition

app = typer.Typer(help="Governed metrics: definitions, approval chains, review meetings, values.",
                  no_args_is_help=True)
chain_app = typer.Typer(help="Approval chains of domains.", no_args_is_help=True)
meeting_app = typer.Typer(help="Review meetings, their sessions and minutes.", no_args_is_help=True)
outbox_app = typer.Typer(help="The notification outbox.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(meeting_app, name="meeting")
app.add_typer(outbox_app, name="outbox")


AsOpt = Annotated[str, typer.Option("--as", help="The user acting (their roles and rights apply).")]
NameArg = Annotated[str, typer.Argument(help="domain.metric")]
FileOpt = Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False, help="YAML or JSON file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded and sent to the author).")]



@contextlib.contextmanager
def _catalog() -> Iterator[MetricCatalog]:
    with open_services() as services:
        yield services.metrics


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _show(info: MetricInfo, as_json: bool = False) -> None:
    if as_json:
        _json(info.to_dict() | {"stages": [s.__dict__ for s in info.stages]})
        return
    d = info.definition
    certified = f"certified r{info.certified_revision}" if info.certified_revision else "not certified"
    out.print(f"[bold]{info.name}[/bold]  {info.status.value}  revision {info.revision}  ({certified})",
              soft_wrap=True)
    out.print(f"view {d.view}@v{d.view_version}  owner {info.owner}  unit {d.unit or '-'}  format {d.format.value}")
    out.print(f"expression: {d.expression}", soft_wrap=True, markup=False)
    if d.filters:
        out.print("filters: " + " AND ".join(d.filters), soft_wrap=True, markup=False)
    out.print(f"time: {d.time_dimension} by {', '.join(g.value for g in d.grains)}; dimensions: "
              f"{', '.join(d.dimensions) or '-'}")
    for s in info.stages:
        mark = "✓" if s.complete else ("→" if s.current else " ")
        out.print(f" {mark} stage {s.name}: {len(s.approvers)}/{s.quorum} ({', '.join(s.approvers) or 'none'}); "
                  f"roles {', '.join(s.roles)}")
    if info.reason:
        out.print(f"reason: {info.reason}", markup=False)
    if info.duplicates:
        note("possible duplicates: " + ", ".join(d.name for d in info.duplicates), style="yellow")
    if d.description:
        out.print(d.description, markup=False)


# -- definitions ---------------------------------------------------------------------------


@app.command("list")
@domain_errors
def list_metrics(domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None,
                 status: Annotated[str | None, typer.Option(help="Only this state.")] = None,
                 as_json: JsonOpt = False) -> None:
    """List metrics with their state."""
    with _catalog() as mc:
        infos = mc.workflow.list(domain=domain, status=status)
    if as_json:
        _json([i.to_dict() for i in infos])
        return
    if not infos:
        note("no metrics yet: create one with 'lakegate metrics create -f metric.yml'")
        return
    table = Table("metric", "status", "rev", "certified", "stage", "view", "owner", title="metrics")
    for i in infos:
        table.add_row(i.name, i.status.value, str(i.revision), str(i.certified_revision or "-"), i.stage or "-",
                      i.definition.view, i.owner)
    out.print(table)


@app.command()
@domain_errors
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """Show a metric: definition, state, chain progress, duplicates."""
    with _catalog() as mc:
        _show(mc.workflow.get(name), as_json)


@app.command()
@domain_errors
def create(file: FileOpt, as_user: AsOpt = "admin",
           message: Annotated[str, typer.Option(help="Why (kept with revision 1).")] = "") -> None:
    """Create a metric (a draft) from a definition file."""
    text = read_text(file)
    with _catalog() as mc:
        _show(mc.workflow.create(text, actor=as_user, message=message))


@app.command()
@domain_errors
def validate(file: FileOpt) -> None:
    """Check a definition against its view without saving it."""
    text = read_text(file)
    with _catalog() as mc:
        pinned = mc.workflow.check(parse_definition(text))
    typer.echo(f"{pinned.name}: valid over {pinned.view}@v{pinned.view_version}")


@app.command()
@domain_errors
def edit(name: NameArg, file: Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False,
                                                             help="YAML with the fields to change.")],
         message: Annotated[str, typer.Option(help="What changed and why.")] = "", as_user: AsOpt = "admin") -> None:
    """Make a new revision with the fields in the file."""
    changes = load_yaml(read_text(file))
    if not isinstance(changes, dict):
        raise InvalidInput(f"{file} must hold a mapping of definition fields")
    with _catalog() as mc:
        _show(mc.workflow.revise(name, changes, actor=as_user, message=message))


@app.command()
@domain_errors
def revisions(name: NameArg, as_json: JsonOpt = False) -> None:
    """List a metric's revisions."""
    with _catalog() as mc:
        revs = mc.workflow.revisions(name)
    if as_json:
        _json([{"number": r.number, "author": r.author, "changed": list(r.changed), "message": r.message,
                "definition": r.definition.to_dict()} for r in revs])
        return
    table = Table("rev", "author", "changed", "message", "at", title=name)
    for r in revs:
        table.add_row(str(r.number), r.author, ", ".join(r.changed) or "-", r.message, f"{r.created_at:%Y-%m-%d %H:%M}")
    out.print(table)


@app.command()
@domain_errors
def history(name: NameArg) -> None:
    """Show a metric's state changes and decisions."""
    with _catalog() as mc:
        events = mc.workflow.history(name)
    table = Table("at", "action", "from", "to", "rev", "stage", "actor", "reason", title=name)
    for e in events:
        table.add_row(f"{e.created_at:%Y-%m-%d %H:%M}", e.action, e.from_status or "-", e.to_status, str(e.revision),
                      e.stage or "-", e.actor, e.reason)
    out.print(table)


# -- lifecycle -----------------------------------------------------------------------------


def _act(call: Callable[[MetricCatalog], MetricInfo]) -> None:
    with _catalog() as mc:
        info = call(mc)
    typer.echo(f"{info.name}: {info.status.value}" + (f" (stage {info.stage})" if info.stage else ""))


@app.command()
@domain_errors
def propose(name: NameArg, as_user: AsOpt = "admin", message: Annotated[str, typer.Option()] = "") -> None:
    """Submit a draft to its domain's approval chain."""
    _act(lambda mc: mc.workflow.propose(name, actor=as_user, message=message))


@app.command()
@domain_errors
def review(name: NameArg, as_user: AsOpt = "admin") -> None:
    """Take a proposal into review."""
    _act(lambda mc: mc.workflow.start_review(name, actor=as_user))


@app.command()
@domain_errors
def approve(name: NameArg, as_user: AsOpt = "admin", reason: ReasonOpt = "",
            revision: Annotated[int | None, typer.Option(help="The revision you reviewed.")] = None) -> None:
    """Approve at the current stage."""
    _act(lambda mc: mc.workflow.decide(name, "approve", actor=as_user, reason=reason, revision=revision))


@app.command()
@domain_errors
def reject(name: NameArg, reason: ReasonOpt, as_user: AsOpt = "admin") -> None:
    """Reject: ends the chain, with a reason."""
    _act(lambda mc: mc.workflow.decide(name, "reject", actor=as_user, reason=reason))


@app.command("request-changes")
@domain_errors
def request_changes(name: NameArg, reason: ReasonOpt, as_user: AsOpt = "admin") -> None:
    """Send a proposal back to its authors for changes."""
    _act(lambda mc: mc.workflow.decide(name, "request_changes", actor=as_user, reason=reason))


@app.command()
@domain_errors
def withdraw(name: NameArg, as_user: AsOpt = "admin", reason: ReasonOpt = "") -> None:
    """Take a proposal back to draft."""
    _act(lambda mc: mc.workflow.withdraw(name, actor=as_user, reason=reason))


@app.command()
@domain_errors
def deprecate(name: NameArg, reason: ReasonOpt, as_user: AsOpt = "admin") -> None:
    """Deprecate a certified metric (still served, flagged)."""
    _act(lambda mc: mc.workflow.deprecate(name, actor=as_user, reason=reason))


@app.command()
@domain_errors
def reinstate(name: NameArg, as_user: AsOpt = "admin") -> None:
    """Undo a deprecation."""
    _act(lambda mc: mc.workflow.reinstate(name, actor=as_user))


@app.command()
@domain_errors
def retire(name: NameArg, as_user: AsOpt = "admin", reason: ReasonOpt = "") -> None:
    """Retire a metric for good."""
    _act(lambda mc: mc.workflow.retire(name, actor=as_user, reason=reason))


# -- comments, values ----------------------------------------------------------------------


@app.command()
@domain_errors
def comment(name: NameArg, text: Annotated[str, typer.Argument(help="The comment.")], as_user: AsOpt = "admin",
            reply_to: Annotated[int | None, typer.Option("--reply-to", help="Answer this comment id.")] = None,
            ) -> None:
    """Comment on a metric (or answer a comment)."""
    with _catalog() as mc:
        c = mc.comments.add(name, text, actor=as_user, parent_id=reply_to)
    typer.echo(f"comment {c.id} on {name} r{c.revision}")


@app.command()
@domain_errors
def comments(name: NameArg) -> None:
    """Show a metric's comment threads."""
    with _catalog() as mc:
        items = mc.comments.list(name)
    children: dict[int | None, list[Any]] = {}
    for c in items:
        children.setdefault(c.parent_id, []).append(c)

    def show_thread(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.print(f"{'  ' * depth}#{c.id} {c.author} (r{c.revision}): {c.body}", markup=False, soft_wrap=True)
            show_thread(c.id, depth + 1)

    show_thread(None, 0)


@app.command()
@domain_errors
def values(name: NameArg, as_user: AsOpt = "admin",
           grain: Annotated[str | None, typer.Option(help="day, week or month.")] = None,
           dimension: Annotated[list[str] | None, typer.Option("--dimension", "-d", help="Group by; repeat.")] = None,
           start: Annotated[str | None, typer.Option("--from", help="First day, e.g. 2026-10-01.")] = None,
           end: Annotated[str | None, typer.Option("--to", help="Last day (included).")] = None,
           uncertified: Annotated[bool, typer.Option(help="The latest revision (authors, approvers).")] = False,
           as_json: JsonOpt = False) -> None:
    """Compute a certified metric's values as the acting user."""
    from api.console import engine_note
    from lake.settings import get_settings

    engine_note(get_settings())
    with _catalog() as mc:
        v = mc.values.get(name, actor=as_user, grain=grain, dimensions=dimension or [], start=start, end=end,
                          uncertified=uncertified)
    if as_json:
        _json({"metric": v.metric, "revision": v.revision, "grain": v.grain.value, "cached": v.cached,
               "columns": list(v.columns), "rows": v.records()})
        return
    from metrics_catalog import format_value

    table = Table(*v.columns, title=f"{v.metric} r{v.revision} by {v.grain.value} ({v.unit or v.format})")
    value_at = list(v.columns).index("value") if "value" in v.columns else -1
    for row in v.rows:
        table.add_row(*[format_value(c, v.format, v.unit) if i == value_at
                        else f"{c:,.4f}".rstrip("0").rstrip(".") if isinstance(c, float) else str(c)
                        for i, c in enumerate(row)])
    out.print(table)
    if v.deprecated:
        note("this metric is deprecated", style="yellow")


@app.command()
@domain_errors
def sql(name: NameArg, grain: Annotated[str | None, typer.Option()] = None,
        dimension: Annotated[list[str] | None, typer.Option("--dimension", "-d")] = None,
        start: Annotated[str | None, typer.Option("--from")] = None,
        end: Annotated[str | None, typer.Option("--to")] = None) -> None:
    """Print the Spark SQL a value request compiles to."""
    with _catalog() as mc:
        typer.echo(mc.values.sql(name, grain=grain, dimensions=dimension or [], start=start, end=end))


# -- chains ----------------------------------------------------------------------------------


@chain_app.command("set")
@domain_errors
def chain_set(domain: Annotated[str, typer.Argument(help="The domain.")], file: FileOpt,
              as_user: AsOpt = "admin") -> None:
    """Create or replace a domain's approval chain."""
    text = read_text(file)
    with _catalog() as mc:
        if not mc.workflow.permissions.may_administer(mc.lake.users.get(as_user), domain):
            fail(f"{as_user} may not set the approval chain of domain {domain}")
        chain = mc.chains.set(domain, text, actor=as_user)
    typer.echo(f"{domain}: " + " → ".join(f"{s.name} ({'/'.join(s.roles)}, quorum {s.quorum})" for s in chain.stages))


@chain_app.command("show")
@domain_errors
def chain_show(domain: Annotated[str, typer.Argument(help="The domain.")]) -> None:
    """Print a domain's approval chain as YAML."""
    with _catalog() as mc:
        typer.echo(yaml.safe_dump(mc.chains.get(domain).to_dict(), sort_keys=False), nl=False)


# -- meetings ------------------------------------------------------------------------------


def _when(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"expected a date and time like 2026-11-02T15:00Z, got {text!r}") from None
    return as_utc(value)


@meeting_app.command("create")
@domain_errors
def meeting_create(domain: Annotated[str, typer.Argument()],
                   title: Annotated[str, typer.Option()], stage: Annotated[str, typer.Option()],
                   starts_at: Annotated[str, typer.Option("--starts-at", help="First occurrence (UTC if no offset).")],
                   every: Annotated[str, typer.Option(help="daily, weekly or monthly.")] = "weekly",
                   interval: Annotated[int, typer.Option(min=1)] = 1,
                   count: Annotated[int | None, typer.Option(min=1)] = None,
                   duration: Annotated[int, typer.Option(help="Minutes.")] = 60,
                   location: Annotated[str, typer.Option()] = "", as_user: AsOpt = "admin") -> None:
    """Schedule a recurring review meeting for one stage of a domain's chain."""
    with _catalog() as mc:
        m = mc.meetings.create(domain, title=title, stage=stage, starts_at=_when(starts_at), actor=as_user,
                               duration_minutes=duration, frequency=every, interval=interval, count=count,
                               location=location)
    typer.echo(f"meeting {m.id}: {m.title} ({m.rrule}) from {m.starts_at.isoformat()}")


@meeting_app.command("list")
@domain_errors
def meeting_list(domain: Annotated[str | None, typer.Option()] = None) -> None:
    """List review meetings."""
    with _catalog() as mc:
        meetings = mc.meetings.list(domain=domain)
    table = Table("id", "domain", "title", "stage", "schedule", "next", title="review meetings")
    now = dt.datetime.now(dt.UTC)
    for m in meetings:
        nxt = m.occurrences(now, limit=1)
        table.add_row(str(m.id), m.domain, m.title, m.stage, m.rrule, nxt[0].isoformat() if nxt else "-")
    out.print(table)


@meeting_app.command("agenda")
@domain_errors
def meeting_agenda(meeting_id: Annotated[int, typer.Argument()]) -> None:
    """What the next session would review."""
    with _catalog() as mc:
        items = mc.meetings.agenda(meeting_id)
    if not items:
        note("nothing waits at this meeting's stage")
    for a in items:
        dup = f"  (possible duplicate of {', '.join(a.duplicates)})" if a.duplicates else ""
        typer.echo(f"{a.metric} r{a.revision} [{a.status}]{dup}")


def _minutes(session: Any) -> None:
    typer.echo(f"session {session.id} of meeting {session.meeting_id} at {session.starts_at.isoformat()} "
               f"[{session.status.value}]")
    typer.echo("agenda: " + (", ".join(f"{a.metric} r{a.revision}" for a in session.agenda) or "empty"))
    typer.echo(session.minutes_text())


@meeting_app.command("open")
@domain_errors
def meeting_open(meeting_id: Annotated[int, typer.Argument()],
                 at: Annotated[str | None, typer.Option("--at", help="The occurrence; the current or next by default.")]
                 = None, as_user: AsOpt = "admin") -> None:
    """Open a session: snapshot its agenda and take waiting proposals into review."""
    with _catalog() as mc:
        _minutes(mc.meetings.open_session(meeting_id, actor=as_user, starts_at=_when(at) if at else None))


@meeting_app.command("decide")
@domain_errors
def meeting_decide(session_id: Annotated[int, typer.Argument()], metric: Annotated[str, typer.Argument()],
                   decision: Annotated[str, typer.Argument(help="approve, request_changes or reject")],
                   reason: ReasonOpt = "", as_user: AsOpt = "admin") -> None:
    """Decide on an agenda item in a session (applied and minuted together)."""
    with _catalog() as mc:
        _minutes(mc.meetings.decide(session_id, metric, decision, actor=as_user, reason=reason))


@meeting_app.command("note")
@domain_errors
def meeting_note(session_id: Annotated[int, typer.Argument()], text: Annotated[str, typer.Argument()],
                 as_user: AsOpt = "admin") -> None:
    """Add a note to a session's minutes."""
    with _catalog() as mc:
        mc.meetings.note(session_id, text, actor=as_user)
    typer.echo(f"noted in session {session_id}")


@meeting_app.command("close")
@domain_errors
def meeting_close(session_id: Annotated[int, typer.Argument()], as_user: AsOpt = "admin") -> None:
    """Close a session; undecided items carry over to the next."""
    with _catalog() as mc:
        _minutes(mc.meetings.close(session_id, actor=as_user))


@meeting_app.command("minutes")
@domain_errors
def meeting_minutes(session_id: Annotated[int, typer.Argument()]) -> None:
    """Print a session's agenda and minutes."""
    with _catalog() as mc:
        _minutes(mc.meetings.session(session_id))


@meeting_app.command("ics")
@domain_errors
def meeting_ics(domain: Annotated[str | None, typer.Option()] = None,
                meeting_id: Annotated[int | None, typer.Option("--id")] = None,
                output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")] = None) -> None:
    """Export the review schedule as iCalendar."""
    with _catalog() as mc:
        text = mc.meetings.ical(domain=domain, meeting_id=meeting_id)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_bytes(text.encode("utf-8"))
        note(f"wrote {output}")


# -- notices -----------------------------------------------------------------------------------


@app.command()
@domain_errors
def inbox(as_user: AsOpt = "admin", unread: Annotated[bool, typer.Option(help="Only unread.")] = False,
          mark_read: Annotated[bool, typer.Option("--mark-read", help="Mark them read.")] = False) -> None:
    """Show your metric notices."""
    with _catalog() as mc:
        notices = mc.inbox.list(as_user, unread_only=unread)
        if mark_read:
            mc.inbox.mark_all_read(as_user)
    for n in notices:
        typer.echo(f"{'  ' if n.read else '* '}#{n.id} {n.created_at:%Y-%m-%d %H:%M} {n.title}")


@app.command()
@domain_errors
def channel(kind: Annotated[str, typer.Argument(help="webhook or email")],
            target: Annotated[str, typer.Argument(help="URL or address")], as_user: AsOpt = "admin") -> None:
    """Also send your notices to a webhook or an email address."""
    with _catalog() as mc:
        ch = mc.channels.add(as_user, kind, target)
    typer.echo(f"channel {ch.id}: {ch.kind.value} {ch.target}")
    if ch.secret:
        note("webhook signing secret (shown once; requests carry X-Lakegate-Signature):", style="bold")
        typer.echo(ch.secret)


@outbox_app.command("deliver")
@domain_errors
def outbox_deliver() -> None:
    """Send pending webhooks and email now."""
    with _catalog() as mc:
        report = mc.outbox.deliver()
    typer.echo(f"sent {len(report.sent)}, failed {len(report.failed)}")
    for message_id, error in report.failed:
        note(f"  {message_id}: {error}", style="yellow")
