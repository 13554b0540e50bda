"""``lakegate subscribers``: engine subscribers (Redshift, EMR, SageMaker) on this host's lake.

The CLI acts as the local administrator; ``--as`` names the actor recorded in
the audit log. Vended credentials are printed once (as JSON, shell exports or
Spark settings) and never stored. A domain error is one red ``error:`` line
and exit status 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from access.subscribers import SubscriberKind, Subscribers, SubscriberStatus, Target
from access.subscribers.schemas import (
    CredentialPublic,
    ExportPublic,
    PolicyPublic,
    RedshiftPlanPublic,
    SubscriberPublic,
    VendedPublic,
)
from api.console import domain_errors, fail, note, out
from api.services import open_services

app = typer.Typer(help="Engine subscribers: Redshift, EMR and SageMaker reading the lake under the access layer.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)

ADMIN_USER = "admin"

AsOpt = Annotated[str, typer.Option("--as", help="The actor recorded in the audit log.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArg = Annotated[str, typer.Argument(help="The subscriber's name.")]


class CredentialFormat(enum.StrEnum):
    JSON = "json"
    ENV = "env"
    SPARK = "spark"



@contextlib.contextmanager
def _subscribers() -> Iterator[Subscribers]:
    with open_services() as services:
        yield services.subscribers


def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def _show(sub: SubscriberPublic) -> None:
    typer.echo(f"{sub.name} ({sub.kind}, {sub.status}) principal {sub.subject}, owner {sub.owner}")
    typer.echo(f"  roles: {', '.join(sub.roles) or 'none'}")
    typer.echo(f"  role policy: {', '.join(sub.policy_tables) or 'no tables'}"
               + (f" (until {_when(sub.policy_valid_until)})" if sub.policy_valid_until else ""))
    if sub.role_arn:
        typer.echo(f"  IAM role: {sub.role_arn}")
    if sub.policy_error:
        note(f"  last policy write failed: {sub.policy_error}", style="yellow")


@app.command("create")
@domain_errors
def create(
    name: NameArg,
    kind: Annotated[str, typer.Option("--kind", help="redshift, emr or sagemaker.")],
    owner: Annotated[str, typer.Option("--owner", help="The user or team role responsible for it.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="A role to bind it to; repeat for several.")]
    = None,
    description: Annotated[str, typer.Option(help="What it is.")] = "",
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Register a subscriber (principal sub.NAME) bound to roles; its role policy is written."""
    with _subscribers() as subs:
        sub = subs.create(name, SubscriberKind.parse(kind), owner=owner, roles=role or [], description=description,
                          actor=as_user)
    _show(SubscriberPublic.of(sub))


@app.command("list")
@domain_errors
def list_(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[str | None, typer.Option(help="active or suspended.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every subscriber."""
    with _subscribers() as subs:
        found = [SubscriberPublic.of(s) for s in subs.list(kind=SubscriberKind.parse(kind) if kind else None,
                                                          status=SubscriberStatus.parse(status) if status else None)]
    if as_json:
        _dump([s.model_dump(mode="json") for s in found])
        return
    if not found:
        note("no subscribers yet: lakegate subscribers create NAME --kind emr --owner TEAM --role ROLE")
        return
    table = Table("name", "kind", "status", "owner", "roles", "raw tables", title="subscribers")
    for s in found:
        table.add_row(s.name, s.kind, s.status, s.owner, ", ".join(s.roles), str(len(s.policy_tables)))
    out.print(table)


@app.command("show")
@domain_errors
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """A subscriber and what it may read: raw, and governed only (with the reasons)."""
    with _subscribers() as subs:
        sub = SubscriberPublic.of(subs.get(name))
        policy = PolicyPublic.of(subs.plan_policy(name))
    if as_json:
        _dump({"subscriber": sub.model_dump(mode="json"), "policy": policy.model_dump(mode="json")})
        return
    _show(sub)
    for g in policy.governed:
        typer.echo(f"  governed only: {g.table}: {'; '.join(g.reasons)}")


@app.command("bind")
@domain_errors
def bind(name: NameArg, role: str, days: Annotated[float | None, typer.Option(
        "--days", min=0, help="The binding ends after this many days.")] = None, as_user: AsOpt = ADMIN_USER) -> None:
    """Bind a subscriber to a role or group."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    with _subscribers() as subs:
        sub = subs.bind(name, role, expires_at=expires, actor=as_user)
    _show(SubscriberPublic.of(sub))


@app.command("unbind")
@domain_errors
def unbind(name: NameArg, role: str, as_user: AsOpt = ADMIN_USER) -> None:
    with _subscribers() as subs:
        sub = subs.unbind(name, role, actor=as_user)
    _show(SubscriberPublic.of(sub))


@app.command("suspend")
@domain_errors
def suspend(name: NameArg, as_user: AsOpt = ADMIN_USER) -> None:
    """Suspend: its role policy is removed at once, its tokens stop working."""
    with _subscribers() as subs:
        subs.suspend(name, actor=as_user)
    typer.echo(f"suspended {name}: its role policy is removed and its credentials no longer read anything")


@app.command("resume")
@domain_errors
def resume(name: NameArg, as_user: AsOpt = ADMIN_USER) -> None:
    with _subscribers() as subs:
        sub = subs.resume(name, actor=as_user)
    _show(SubscriberPublic.of(sub))


@app.command("delete")
@domain_errors
def delete(name: NameArg, target: Annotated[str, typer.Option(help="Dialect of a Redshift teardown.")] = "redshift",
           as_user: AsOpt = ADMIN_USER) -> None:
    """Delete a subscriber; for a Redshift one, print the statements that clear its cluster."""
    with _subscribers() as subs:
        _, teardown = subs.delete(name, actor=as_user, target=Target.parse(target))
    note(f"deleted {name}")
    if teardown is not None:
        typer.echo(teardown.script(), nl=False)


@app.command("sync")
@domain_errors
def sync(
    name: Annotated[str | None, typer.Argument(help="One subscriber; all active ones by default.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only those whose policy outlived a grant or failed.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write to IAM even when unchanged.")] = False,
) -> None:
    """Rewrite IAM role policies from the access layer (run `sync --due` from cron)."""
    with _subscribers() as subs:
        done = [subs.sync_policy(name, force=force)] if name else subs.sync_policies(due_only=due, force=force)
    for synced in done:
        plan = synced.plan
        typer.echo(f"{plan.subscriber.name}: {len(plan.raw)} raw table(s)"
                   + (" (written)" if synced.written else ""))


@app.command("vend")
@domain_errors
def vend(
    name: NameArg,
    tables: Annotated[list[str], typer.Argument(help="domain.name of each table.")],
    duration: Annotated[int | None, typer.Option("--duration", min=900, max=3600, help="Seconds (900-3600).")]
    = None,
    fmt: Annotated[CredentialFormat, typer.Option("--format", case_sensitive=False,
                                                  help="json, env (shell exports) or spark (--conf lines).")]
    = CredentialFormat.JSON,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Issue short-lived credentials to read TABLES raw (printed once, never stored)."""
    with _subscribers() as subs:
        vended = VendedPublic.of(subs.vend(name, tables, duration_seconds=duration, actor=as_user))
    if fmt is CredentialFormat.ENV:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                    "AWS_ENDPOINT_URL"):
            if key in vended.storage_options:
                typer.echo(f"export {key}={shlex.quote(vended.storage_options[key])}")
    elif fmt is CredentialFormat.SPARK:
        for key, value in vended.spark_conf.items():
            typer.echo(f"--conf {shlex.quote(f'{key}={value}')}")
    else:
        _dump(vended.model_dump(mode="json"))
    note(f"credential {vended.record.id} for {', '.join(t.name for t in vended.tables)} expires "
         f"{_when(vended.expiration)}")


@app.command("credentials")
@domain_errors
def credentials(name: NameArg, all_: Annotated[bool, typer.Option("--all", help="Also expired and revoked.")] = False,
                as_json: JsonOpt = False) -> None:
    """Credentials issued to a subscriber (active ones by default; never a secret)."""
    with _subscribers() as subs:
        found = [CredentialPublic.of(c) for c in subs.credentials(name, include_inactive=all_)]
    if as_json:
        _dump([c.model_dump(mode="json") for c in found])
        return
    table = Table("id", "key", "tables", "issued", "expires", "revoked", title=f"credentials of {name}")
    for c in found:
        table.add_row(str(c.id), c.access_key_prefix + "…", ", ".join(c.tables), _when(c.issued_at),
                      _when(c.expires_at), _when(c.revoked_at))
    out.print(table)


redshift_app = typer.Typer(help="A Redshift subscriber's statements: plan them, or apply them to the cluster.",
                           no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(redshift_app, name="redshift")

TargetOpt = Annotated[str, typer.Option(help="redshift, or postgres (the same plan for PostgreSQL).")]
FullOpt = Annotated[bool, typer.Option("--full", help="Every statement for an empty cluster.")]


def _show_plan(plan: Any, as_json: bool, *, script: bool = True, output: Path | None = None) -> None:
    """The plan as JSON, or its SQL script (to ``output`` or stdout); then what it leaves out."""
    if as_json:
        _dump(RedshiftPlanPublic.of(plan).model_dump(mode="json"))
    elif script and output is not None:
        output.write_text(plan.script(), encoding="utf-8")
    elif script:
        typer.echo(plan.script(), nl=False)
    for skipped in plan.skipped:
        note(f"not exposed: {skipped.table}: {skipped.reason}", style="yellow")


@redshift_app.command("plan")
@domain_errors
def redshift_plan(
    name: NameArg,
    target: TargetOpt = "redshift",
    full: FullOpt = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", dir_okay=False, help="Write the SQL here.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the statements (external schema, tables, views, grants) since the last apply; record nothing."""
    with _subscribers() as subs:
        plan = subs.redshift_sync(name, target=Target.parse(target), full=full, commit=False)
    _show_plan(plan, as_json, output=output)
    note(f"{len(plan.statements)} statement(s); nothing recorded (`lakegate subscribers redshift apply` runs them)")


@redshift_app.command("apply")
@domain_errors
def redshift_apply(
    name: NameArg,
    target: TargetOpt = "redshift",
    full: FullOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the statements on the cluster of LAKEGATE_SUBSCRIBERS_REDSHIFT_URL; record them only if all succeed."""
    with _subscribers() as subs:
        url = subs.settings.redshift_url
        if url is None:
            fail("set LAKEGATE_SUBSCRIBERS_REDSHIFT_URL to the cluster's postgresql://user:password@host:5439/db")
        plan = subs.redshift_apply(name, url.get_secret_value(), target=Target.parse(target), full=full)
    _show_plan(plan, as_json, script=False)
    note(f"{len(plan.statements)} statement(s) applied on the cluster and recorded")


@app.command("export")
@domain_errors
def export(
    name: NameArg,
    table: Annotated[str, typer.Argument(help="domain.name")],
    role: Annotated[str | None, typer.Option(help="One of the subscriber's roles instead of all.")] = None,
    url_seconds: Annotated[int | None, typer.Option("--url-seconds", min=1, help="Presigned URL lifetime.")] = None,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """A governed Parquet export of TABLE as the subscriber sees it (manifest and data card included)."""
    with _subscribers() as subs:
        done = ExportPublic.of(subs.export(name, table, role=role, url_seconds=url_seconds, actor=as_user))
    _dump(done.model_dump(mode="json", exclude={"datacard"}))
    note(f"exported {done.rows} row(s) of {done.table} to {done.location}")
