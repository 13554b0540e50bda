"""``lakegate access``: roles, groups, grants, masks, row filters, decisions,
access requests and the policy as Casbin CSV.

The CLI acts on the lake of this host as the principal ``--as`` names: the
local administrator ``admin`` (made by ``lakegate init``) by default. A policy
change goes through ``AccessControl.changes`` as that principal, so it is
allowed or refused by the same rule as on the API and in the UI
(``access/README.md``), and recorded under its name in the audit log; ``--as``
also names the requester or decider of an access request. A domain error
(a refusal included) is one red ``error:`` line and exit status 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from access import AccessControl, Action, Effect, Mask, Resource, RoleKind
from access.requests import RequestStatus
from api.console import ADMIN_USER, domain_errors, note, open_lake, out, read_text

app = typer.Typer(help="Access policy: roles, groups, grants, masks, row filters, requests.", no_args_is_help=True)
role_app = typer.Typer(help="Roles and groups, and their members.", no_args_is_help=True)
mask_app = typer.Typer(help="Column masks.", no_args_is_help=True)
filter_app = typer.Typer(help="Row filters.", no_args_is_help=True)
request_app = typer.Typer(help="Access requests.", no_args_is_help=True)
app.add_typer(role_app, name="role")
app.add_typer(mask_app, name="mask")
app.add_typer(filter_app, name="filter")
app.add_typer(request_app, name="request")


AsOpt = Annotated[str, typer.Option("--as", help="The principal making the change (it must be allowed to); "
                                                  "recorded in the audit log.")]
ResourceArg = Annotated[str, typer.Argument(help="lake, domain:ads, dataset:ads.x, view:ads.v, "
                                                 "dataset:ads.x.column ...")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]



@contextlib.contextmanager
def _access() -> Iterator[AccessControl]:
    with open_lake() as lake:
        yield AccessControl(lake)


def _expiry(days: float | None) -> dt.datetime | None:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


# -- roles and groups ---------------------------------------------------------------------


@role_app.command("create")
@domain_errors
def role_create(
    name: Annotated[str, typer.Argument(help="Lower-case name.")],
    group: Annotated[bool, typer.Option("--group", help="A group of people rather than a role.")] = False,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Create a role (or, with --group, a group)."""
    with _access() as ac:
        role = ac.changes.create_role(name, kind=RoleKind.GROUP if group else RoleKind.ROLE,
                                      description=description, by=as_user)
    typer.echo(f"created {role.kind.value} {role.name}")


@role_app.command("list")
@domain_errors
def role_list(as_json: JsonOpt = False) -> None:
    """Every role and group with its members."""
    with _access() as ac:
        roles = ac.policies.roles()
        members = {r.name: [m.member for m in ac.policies.memberships(role=r.name)] for r in roles}
    if as_json:
        typer.echo(json.dumps([{"name": r.name, "kind": r.kind.value, "description": r.description,
                                "members": members[r.name]} for r in roles], indent=2))
        return
    table = Table("name", "kind", "members", "description", title="roles and groups")
    for r in roles:
        table.add_row(r.name, r.kind.value, ", ".join(members[r.name]), r.description)
    out.print(table)


@role_app.command("delete")
@domain_errors
def role_delete(name: str, as_user: AsOpt = ADMIN_USER) -> None:
    """Delete a role or group with its memberships, grants, masks and row filters."""
    with _access() as ac:
        ac.changes.delete_role(name, by=as_user)
    typer.echo(f"deleted {name}")


@role_app.command("add-member")
@domain_errors
def role_add_member(
    role: str,
    member: Annotated[str, typer.Argument(help="A user, service principal, group or role.")],
    days: Annotated[float | None, typer.Option("--days", min=0, help="Membership ends after this many days.")] = None,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Add a member to a role or group."""
    with _access() as ac:
        m = ac.changes.add_member(role, member, expires_at=_expiry(days), by=as_user)
    typer.echo(f"{m.member} is a member of {m.role}" + (f" until {_when(m.expires_at)}" if m.expires_at else ""))


@role_app.command("remove-member")
@domain_errors
def role_remove_member(role: str, member: str, as_user: AsOpt = ADMIN_USER) -> None:
    with _access() as ac:
        ac.changes.remove_member(role, member, by=as_user)
    typer.echo(f"{member} is no longer a member of {role}")


# -- grants --------------------------------------------------------------------------------


@app.command("grant")
@domain_errors
def grant(
    subject: Annotated[str, typer.Argument(help="A user, service principal, group or role.")],
    action: Annotated[str, typer.Argument(help="discover, read, write, propose, approve, grant or admin.")],
    resource: ResourceArg,
    deny: Annotated[bool, typer.Option("--deny", help="Deny instead of allow (a deny wins everywhere below).")]
    = False,
    days: Annotated[float | None, typer.Option("--days", min=0, help="The grant ends after this many days.")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the grant).")] = "",
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Allow (or --deny) a subject an action on a resource and everything under it."""
    with _access() as ac:
        g = ac.changes.grant(subject, Action.parse(action), Resource.parse(resource),
                             effect=Effect.DENY if deny else Effect.ALLOW, expires_at=_expiry(days), reason=reason,
                             by=as_user)
    typer.echo(f"grant {g.id}: {g.effect.value} {g.subject} {g.action.value} on {g.resource.key}"
               + (f" until {_when(g.expires_at)}" if g.expires_at else ""))


@app.command("revoke")
@domain_errors
def revoke(grant_id: Annotated[int, typer.Argument(help="The grant's id (see 'lakegate access grants').")],
           as_user: AsOpt = ADMIN_USER) -> None:
    """Remove a grant."""
    with _access() as ac:
        g = ac.changes.revoke(grant_id, by=as_user)
    typer.echo(f"revoked grant {grant_id}: {g.effect.value} {g.subject} {g.action.value} on {g.resource.key}")


@app.command("grants")
@domain_errors
def grants(
    subject: Annotated[str | None, typer.Option(help="Only this subject's grants.")] = None,
    resource: Annotated[str, typer.Option(help="Grants on this resource and below it.")] = "lake",
    expired: Annotated[bool, typer.Option("--expired", help="Include expired grants.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List grants."""
    with _access() as ac:
        rows = ac.policies.grants(subject=subject, resource=Resource.parse(resource), include_expired=expired)
    if as_json:
        typer.echo(json.dumps([{"id": g.id, "subject": g.subject, "action": g.action.value,
                                "resource": g.resource.key, "effect": g.effect.value,
                                "expires_at": _when(g.expires_at) if g.expires_at else None} for g in rows], indent=2))
        return
    table = Table("id", "subject", "action", "resource", "effect", "expires", title="grants")
    for g in rows:
        table.add_row(str(g.id), g.subject, g.action.value, g.resource.key, g.effect.value, _when(g.expires_at))
    out.print(table)


# -- masks and row filters ----------------------------------------------------------------------


@mask_app.command("set")
@domain_errors
def mask_set(subject: str, resource: ResourceArg,
             mask: Annotated[str, typer.Argument(help="null, redact, hash, partial[:N] or decrypt.")],
             days: Annotated[float | None, typer.Option("--days", min=0,
                                                        help="The rule stops applying after this many days.")] = None,
             as_user: AsOpt = ADMIN_USER) -> None:
    """How a subject sees a column (or the PII columns under a table, domain or the lake)."""
    with _access() as ac:
        rule = ac.changes.set_mask(subject, Resource.parse(resource), Mask.parse(mask), expires_at=_expiry(days),
                                   by=as_user)
    typer.echo(f"{rule.subject} sees {rule.resource.key} as {rule.mask}"
               + (f" until {_when(rule.expires_at)}" if rule.expires_at else ""))


@mask_app.command("remove")
@domain_errors
def mask_remove(subject: str, resource: ResourceArg, as_user: AsOpt = ADMIN_USER) -> None:
    with _access() as ac:
        ac.changes.remove_mask(subject, Resource.parse(resource), by=as_user)
    typer.echo(f"removed the mask of {subject} on {resource}")


@mask_app.command("list")
@domain_errors
def mask_list() -> None:
    with _access() as ac:
        rules = ac.policies.masks()
    table = Table("subject", "resource", "mask", "expires", title="masks")
    for r in rules:
        table.add_row(r.subject, r.resource.key, str(r.mask), _when(r.expires_at))
    out.print(table)


@filter_app.command("set")
@domain_errors
def filter_set(subject: str, resource: ResourceArg,
               predicate: Annotated[str, typer.Argument(help="A Spark SQL predicate, e.g. \"country IN ('DE')\".")],
               days: Annotated[float | None, typer.Option(
                   "--days", min=0, help="The filter stops applying after this many days.")] = None,
               as_user: AsOpt = ADMIN_USER) -> None:
    """Limit the rows a subject's grants give on the tables under a resource."""
    with _access() as ac:
        rule = ac.changes.set_row_filter(subject, Resource.parse(resource), predicate, expires_at=_expiry(days),
                                         by=as_user)
    typer.echo(f"{rule.subject} reads the rows of {rule.resource.key} where {rule.predicate}"
               + (f" until {_when(rule.expires_at)}" if rule.expires_at else ""))


@filter_app.command("remove")
@domain_errors
def filter_remove(subject: str, resource: ResourceArg, as_user: AsOpt = ADMIN_USER) -> None:
    with _access() as ac:
        ac.changes.remove_row_filter(subject, Resource.parse(resource), by=as_user)
    typer.echo(f"removed the row filter of {subject} on {resource}")


@filter_app.command("list")
@domain_errors
def filter_list() -> None:
    with _access() as ac:
        rules = ac.policies.row_filters()
    table = Table("subject", "resource", "predicate", title="row filters")
    for r in rules:
        table.add_row(r.subject, r.resource.key, r.predicate)
    out.print(table)


# -- decisions ------------------------------------------------------------------------------------


@app.command("check")
@domain_errors
def check(subject: str, action: str, resource: ResourceArg) -> None:
    """Whether a subject may do an action on a resource, and which grants decide it. Exit 1 if not."""
    with _access() as ac:
        e = ac.explain(subject, Action.parse(action), Resource.parse(resource))
    typer.echo(f"{'allowed' if e.allowed else 'denied'}: {e.reason()}")
    if not e.allowed:
        raise typer.Exit(1)


@app.command("show")
@domain_errors
def show(subject: str, dataset: Annotated[str, typer.Argument(help="domain.dataset")], as_json: JsonOpt = False) -> None:
    """What a subject may read of a dataset: columns, masks and rows."""
    with _access() as ac:
        info = ac.lake.datasets.get(dataset)
        t = ac.table_access(subject, Resource.table(info.name), [(c.name, c.pii) for c in info.contract.columns])
    if as_json:
        typer.echo(json.dumps({"allowed": t.allowed, "row_filter": t.row_filter, "reason": t.reason,
                               "columns": {c.name: str(c.mask) if c.mask else None for c in t.columns}}, indent=2))
        return
    typer.echo(f"{subject} on {dataset}: {'allowed' if t.allowed else 'denied'} ({t.reason})")
    for c in t.columns:
        typer.echo(f"  {c.name}: {c.mask or 'clear'}")
    if t.allowed:
        typer.echo(f"  rows: {t.row_filter or 'all'}")


@app.command("export")
@domain_errors
def export(output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None) -> None:
    """The whole policy as a Casbin CSV (casbin.Enforcer loads it with access/model.conf)."""
    with _access() as ac:
        text = ac.export_csv()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        note(f"wrote {output}")


@app.command("import")
@domain_errors
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A Casbin CSV policy.")],
    replace: Annotated[bool, typer.Option("--replace", help="Remove what the file does not list.")] = False,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Load a Casbin CSV policy, all or nothing."""
    text = read_text(file)
    with _access() as ac:
        counts = ac.changes.import_csv(text, replace=replace, by=as_user)
    typer.echo(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))


# -- access requests ----------------------------------------------------------------------------


@request_app.command("create")
@domain_errors
def request_create(
    resource: ResourceArg,
    reason: Annotated[str, typer.Option(help="Why you need it.")],
    as_user: Annotated[str, typer.Option("--as", help="The requester.")],
    column: Annotated[list[str] | None, typer.Option("--column", help="Only this column; repeat for several.")]
    = None,
    days: Annotated[float, typer.Option("--days", min=0, help="For how long.")] = 30,
) -> None:
    """Ask for read access to a resource."""
    with _access() as ac:
        r = ac.requests.create(as_user, Resource.parse(resource), reason=reason, columns=column or [],
                               duration=dt.timedelta(days=days))
    typer.echo(f"request {r.id}: {r.requester} asks to read {r.resource.key}"
               + (f" ({', '.join(r.columns)})" if r.columns else ""))


@request_app.command("list")
@domain_errors
def request_list(status: Annotated[str | None, typer.Option(help="pending, approved, rejected, cancelled.")] = None
                 ) -> None:
    with _access() as ac:
        rows = ac.requests.list(status=RequestStatus.parse(status) if status else None)
    table = Table("id", "requester", "resource", "columns", "status", "expires", "reason", title="access requests")
    for r in rows:
        state = "expired" if r.expired() else r.status.value
        table.add_row(str(r.id), r.requester, r.resource.key, ", ".join(r.columns) or "all", state,
                      _when(r.expires_at), r.reason)
    out.print(table)


@request_app.command("approve")
@domain_errors
def request_approve(request_id: int, as_user: Annotated[str, typer.Option("--as", help="The decider.")],
                    note_: Annotated[str, typer.Option("--note")] = "",
                    days: Annotated[float | None, typer.Option("--days", min=0, help="Approve for this long.")] = None,
                    reveal_pii: Annotated[bool, typer.Option(
                        "--reveal-pii", help="Also show the PII columns it covers in clear until the grants "
                                             "expire (needs admin on them).")] = False,
                    ) -> None:
    """Approve: the requester gets grants that expire on their own."""
    with _access() as ac:
        r = ac.requests.approve(request_id, as_user, note=note_, duration=dt.timedelta(days=days) if days else None,
                                reveal_pii=reveal_pii)
    typer.echo(f"request {r.id} approved until {_when(r.expires_at)}")


@request_app.command("reject")
@domain_errors
def request_reject(request_id: int, as_user: Annotated[str, typer.Option("--as", help="The decider.")],
                   note_: Annotated[str, typer.Option("--note")] = "") -> None:
    with _access() as ac:
        r = ac.requests.reject(request_id, as_user, note=note_)
    typer.echo(f"request {r.id} rejected")


@request_app.command("cancel")
@domain_errors
def request_cancel(request_id: int, as_user: Annotated[str, typer.Option("--as", help="The requester.")]) -> None:
    with _access() as ac:
        r = ac.requests.cancel(request_id, as_user)
    typer.echo(f"request {r.id} cancelled")
