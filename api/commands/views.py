"""``lakegate views``: plan and apply view files, inspect versions, lineage and
impact, compile, materialize and refresh, transpile, deprecate.

Each command calls the ``views`` package on the lake of this host, like the
other ``lakegate`` commands; a domain error is one red ``error:`` line and
exit status 1.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from api.console import domain_errors, note, open_lake, out
from lake.service import Lake
from views import catalog, inspect, registry
from views.files import load_directory
from views.materialize import materialize as materialize_view_version
from views.materialize import refresh, runs
from views.registry import Plan, PlanAction
from views.transpile import transpile

app = typer.Typer(help="Versioned SQL views: plan/apply view files, lineage, materialization.",
                  no_args_is_help=True)


AsOpt = Annotated[str, typer.Option("--as", help="The user recorded as author or actor.")]
NameArg = Annotated[str, typer.Argument(help="domain.name (or domain.name@vN)")]
VersionOpt = Annotated[int | None, typer.Option("--version", "-v", min=1, help="A version; the current by default.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]





def _actor(lake: Lake, name: str) -> str:
    return lake.users.get(name).name


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _show_plan(plan: Plan, *, applied: bool) -> None:
    table = Table("view", "action", "version", "breaking", "changes", title="applied" if applied else "plan")
    for item in plan.items:
        changes = "; ".join(c.detail for c in item.diff.changes) if item.diff else ""
        if item.diff and item.diff.sql_summary and not item.diff.changes:
            changes = "; ".join(item.diff.sql_summary)
        version = f"v{item.record.version}" if item.action is not PlanAction.UNCHANGED else f"v{item.previous}"
        table.add_row(item.name, item.action.value, version,
                      Text("yes", style="red") if item.breaking else "", changes)
    out.print(table)
    for item in plan.changed:
        for i in item.impact:
            note(f"  {item.name}: {i.describe()}", style="yellow" if i.relation.value == "stays" else "")


@app.command("apply")
@domain_errors
def apply_cmd(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A directory of view files.")],
    major: Annotated[list[str] | None, typer.Option("--major", help="Declare a breaking change to this view "
                                                                    "(repeat for several).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "--plan", help="Only show the plan.")] = False,
    message: Annotated[str, typer.Option("--message", "-m", help="Recorded with each new version.")] = "",
    as_user: AsOpt = "admin",
) -> None:
    """Plan the view files of a directory (like a diff), then apply them in one transaction, as --as
    (propose on a new view's domain, write on an existing view); each view's owner gets admin on it."""
    from access.registration import apply_views
    from api.services import open_services

    definitions = load_directory(directory)
    with open_services() as services:
        lake = services.lake
        if dry_run:
            _show_plan(registry.plan(lake, definitions), applied=False)
            return
        applied = apply_views(services.access, definitions, by=_actor(lake, as_user), major=set(major or ()),
                              message=message)
    queued = [i.name for i in applied.changed if i.record.materialization.value == "table"]
    _show_plan(applied, applied=True)
    created = len(applied.changed)
    typer.echo(f"{created} new version(s), {len(applied.items) - created} unchanged")
    if queued:
        typer.echo(f"refresh queued for {', '.join(queued)}: the server's scheduler runs it "
                   "(or `lakegate views refresh --due`); readers get the previous version until then")


@app.command("list")
@domain_errors
def list_cmd(domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None,
             as_json: JsonOpt = False) -> None:
    """List views (current versions)."""
    with open_lake() as lake:
        infos = catalog.list_views(lake, domain=domain)
    if as_json:
        _print_json([i.to_dict() for i in infos])
        return
    if not infos:
        note("no views yet: write view files and run 'lakegate views apply DIR'")
        return
    table = Table("view", "version", "kind", "columns", "materialized", "owner", "description", title="views")
    for i in infos:
        table.add_row(i.name, f"v{i.version}", i.materialization.value, str(len(i.columns)),
                      i.materialized_at.isoformat(timespec="seconds") if i.materialized_at else "", i.owner,
                      i.description)
    out.print(table)


@app.command("show")
@domain_errors
def show_cmd(name: NameArg, version: VersionOpt = None, as_json: JsonOpt = False) -> None:
    """Show a version: columns with types, PII and lineage, the compiled SQL."""
    with open_lake() as lake:
        info = catalog.get_view(lake, name, version, allow_retired=True)
    if as_json:
        _print_json(info.to_dict())
        return
    out.print(Text(f"{info.name} v{info.version} ({info.status.value}, current v{info.current_version})  "
                   f"{info.materialization.value}  owner {info.owner or '-'}", style="bold"), soft_wrap=True)
    if info.description:
        out.print(Text(info.description), soft_wrap=True)
    out.print(Text(f"grain: {info.grain.describe()}"), soft_wrap=True)
    out.print(Text(f"reads: {', '.join(str(d) for d in info.dependencies)}"), soft_wrap=True)
    if info.table_uri:
        out.print(Text(f"table: {info.table_uri} (Delta version {info.table_version})"), soft_wrap=True)
    if info.sunset_on:
        out.print(Text(f"deprecated; sunset on {info.sunset_on.isoformat()}", style="yellow"), soft_wrap=True)
    table = Table("column", "type", "pii", "from", "how", "description")
    for c in info.columns:
        table.add_row(c.name, c.sql_type or "?", "yes" if c.pii else "", ", ".join(str(s) for s in c.sources),
                      c.transformation.value, c.description)
    out.print(table)
    out.print(Text(info.compiled_sql), soft_wrap=True)


@app.command("versions")
@domain_errors
def versions_cmd(name: NameArg) -> None:
    """List every version of a view."""
    with open_lake() as lake:
        infos = catalog.list_versions(lake, name)
    table = Table("version", "status", "major", "author", "created", "message", "sunset")
    for i in infos:
        table.add_row(f"v{i.version}", i.status.value, "yes" if i.major else "", i.author,
                      i.created_at.isoformat(timespec="seconds") if i.created_at else "", i.message,
                      i.sunset_on.isoformat() if i.sunset_on else "")
    out.print(table)


@app.command("diff")
@domain_errors
def diff_cmd(name: NameArg,
             from_version: Annotated[int, typer.Argument(min=1, help="The older version.")],
             to_version: Annotated[int | None, typer.Argument(min=1, help="The newer version (current).")] = None,
             as_json: JsonOpt = False) -> None:
    """Show what changed between two versions, and whether it breaks readers."""
    with open_lake() as lake:
        d = inspect.diff(lake, name, from_version, to_version)
    if as_json:
        _print_json(d.as_dict())
        return
    typer.echo(f"{d.view} v{d.from_version} -> v{d.to_version}" + (" (breaking)" if d.breaking else ""))
    for c in d.changes:
        typer.echo(f"  {'!' if c.breaking else '-'} {c.detail}")
    for line in d.sql_summary:
        typer.echo(f"  * {line}")
    if d.sql_diff:
        typer.echo(d.sql_diff, nl=False)


@app.command("lineage")
@domain_errors
def lineage_cmd(name: NameArg, version: VersionOpt = None,
                upstream: Annotated[bool, typer.Option("--upstream/--no-upstream")] = True,
                downstream: Annotated[bool, typer.Option("--downstream/--no-downstream")] = True) -> None:
    """Print the lineage graph (tables and columns) as JSON."""
    with open_lake() as lake:
        _print_json(inspect.lineage(lake, name, version=version, upstream=upstream, downstream=downstream))


@app.command("impact")
@domain_errors
def impact_cmd(name: NameArg,
               compatible: Annotated[bool, typer.Option("--compatible", help="Assess a non-breaking change.")]
               = False) -> None:
    """List the downstream views a new version of a view affects."""
    with open_lake() as lake:
        items = inspect.impact_of(lake, name, breaking=not compatible)
    if not items:
        typer.echo(f"no view reads {name}")
    for i in items:
        typer.echo(i.describe())


@app.command("compile")
@domain_errors
def compile_cmd(name: NameArg, as_json: JsonOpt = False) -> None:
    """Compile a view's current definition with sqlglot and Spark (creates nothing)."""
    with open_lake() as lake:
        result = inspect.compile_current(lake, name)
    if as_json:
        _print_json(result.to_dict())
        return
    for c in result.columns:
        typer.echo(f"{c.name}: {c.sql_type}" + ("  (pii)" if c.pii else ""))
    typer.echo(result.compiled_sql)


@app.command("materialize")
@domain_errors
def materialize_cmd(name: NameArg, version: VersionOpt = None, as_user: AsOpt = "admin") -> None:
    """Materialize one version of a table view (its owner with write on it, or an admin)."""
    from access.registration import may_refresh_view
    from api.services import open_services

    with open_services() as services:
        actor = may_refresh_view(services.access, name, by=_actor(services.lake, as_user))
        run = materialize_view_version(services.lake, name, version, actor=actor)
    typer.echo(f"{run.view} v{run.version}: {run.rows:,} rows in {run.duration_ms} ms "
               f"(Delta version {run.table_version}, run {run.run_id})")


@app.command("refresh")
@domain_errors
def refresh_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Views to refresh; all views when none.")] = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="Also refresh what they read.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Also refresh what reads them.")] = False,
    due: Annotated[bool, typer.Option("--due", help="Run what is queued (new versions) and due on a schedule, "
                                                    "as the server's scheduler does.")] = False,
    as_user: AsOpt = "admin",
) -> None:
    """Rebuild table views in dependency order; a failure skips what reads the failed view. Each named
    view needs its owner with write on it, or an admin; all views (or --due) need the lake's admin."""
    from access import Action, Resource
    from access.registration import may_refresh_view
    from api.services import open_services
    from views.refreshes import run_due

    with open_services() as services:
        lake, control = services.lake, services.access
        actor = _actor(lake, as_user)
        if names and not due:
            for name in names:
                may_refresh_view(control, name, by=actor)
        else:
            control.require(control.acting(actor), Action.ADMIN, Resource.lake())
        if due:
            done = run_due(lake, limit=1000)
            for run in done.runs:
                typer.echo(f"ok      {run.view} v{run.version} ({run.trigger}): {run.rows:,} rows")
            for view, error in done.failed:
                typer.echo(f"failed  {view}: {error}")
            if done.failed:
                raise typer.Exit(1)
            return
        result = refresh(lake, names or None, actor=actor, upstream=upstream, downstream=downstream)
    for run in result.runs:
        typer.echo(f"ok      {run.view} v{run.version}: {run.rows:,} rows in {run.duration_ms} ms")
    for view, error in result.failed:
        typer.echo(f"failed  {view}: {error}")
    for view, reason in result.skipped:
        typer.echo(f"skipped {view}: {reason}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("schedule")
@domain_errors
def schedule_cmd(name: NameArg,
                 cron: Annotated[str | None, typer.Argument(help="Five-field cron (UTC) or @daily...; "
                                                                 "'none' for no schedule; omit to show it.")] = None,
                 as_user: AsOpt = "admin") -> None:
    """Show or set a view's refresh schedule (its owner with write on it, or an admin)."""
    from access.registration import may_refresh_view
    from api.services import open_services
    from views.refreshes import get_schedule, set_schedule

    with open_services() as services:
        if cron is None:
            schedule = get_schedule(services.lake, name)
        else:
            may_refresh_view(services.access, name, by=_actor(services.lake, as_user))
            schedule = set_schedule(services.lake, name, None if cron.strip().lower() == "none" else cron)
    typer.echo(f"{schedule.view}: {schedule.cron or 'no schedule'}"
               + (f", next at {schedule.next_at.isoformat(timespec='minutes')}" if schedule.next_at else ""))


@app.command("runs")
@domain_errors
def runs_cmd(name: NameArg, version: VersionOpt = None,
             limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """Materialization runs, newest first."""
    with open_lake() as lake:
        found = runs(lake, name, version=version, limit=limit)
    table = Table("run", "version", "status", "rows", "ms", "started", "error")
    for r in found:
        table.add_row(r.run_id[:8], f"v{r.version}", r.status.value, "" if r.rows is None else f"{r.rows:,}",
                      "" if r.duration_ms is None else str(r.duration_ms), r.started_at.isoformat(timespec="seconds"),
                      r.error or "")
    out.print(table)


@app.command("transpile")
@domain_errors
def transpile_cmd(name: NameArg,
                  dialect: Annotated[str, typer.Option("--dialect", "-d", help="redshift, trino, athena, duckdb.")],
                  version: VersionOpt = None) -> None:
    """Print a version's SQL for another engine."""
    with open_lake() as lake:
        typer.echo(transpile(lake, name, dialect, version=version).sql)


@app.command("deprecate")
@domain_errors
def deprecate_cmd(
    name: NameArg,
    version: Annotated[int, typer.Option("--version", "-v", min=1, help="The version to deprecate.")],
    sunset: Annotated[str | None, typer.Option("--sunset", help="YYYY-MM-DD from which reading it fails.")] = None,
    note_text: Annotated[str, typer.Option("--note", help="Why, and what to read instead.")] = "",
    as_user: AsOpt = "admin",
) -> None:
    """Deprecate a version, optionally with a sunset date."""
    try:
        sunset_on = dt.date.fromisoformat(sunset) if sunset else None
    except ValueError:
        raise typer.BadParameter("must be a date YYYY-MM-DD", param_hint="--sunset") from None
    with open_lake() as lake:
        record = registry.deprecate(lake, name, version, actor=_actor(lake, as_user), sunset_on=sunset_on,
                                    note=note_text)
    when = f"; reading it fails from {record.sunset_on.isoformat()}" if record.sunset_on else ""
    typer.echo(f"{record.view} v{record.version} deprecated{when}")
