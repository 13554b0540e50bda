"""Creating view versions: plan (analyze, compile, diff, impact) then apply.

A plan analyzes definitions in dependency order against the catalog, each
one seeing the planned versions of the views it reads; compiles each with
Spark (unless asked not to); diffs it against the current version; and lists
the downstream views it affects. Applying writes every new version in one
catalog transaction, or nothing: a breaking change without a declared major,
a cycle, or a concurrent change refuses the whole plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlglot import exp

from lake.errors import Conflict, InvalidInput
from lake.search import SearchIndex
from lake.service import Lake
from views.analysis import Parsed, analyze
from views.analysis.context import Context
from views.columns import SourceKind
from views.definition import ViewDefinition
from views.diff import VersionDiff, diff_versions
from views.errors import BreakingViewChange, InvalidViewDefinition, ViewCycle
from views.graph import CycleFound, Impact, find_cycle, impact, iter_topological
from views.models import View, ViewVersion
from views.names import parse_ref, ref_of_table
from views.search import view_document
from views.sources import Snapshot
from views.versions import VersionRecord


class PlanAction(enum.StrEnum):
    CREATE = "create"  # a new view, version 1
    UPDATE = "update"  # a new version of an existing view
    UNCHANGED = "unchanged"  # same compiled SQL and metadata as the current version


@dataclass(frozen=True)
class PlanItem:
    """What applying one definition does."""

    name: str
    action: PlanAction
    record: VersionRecord
    previous: int | None
    diff: VersionDiff | None
    impact: tuple[Impact, ...]
    file: str | None = None

    @property
    def breaking(self) -> bool:
        return self.diff is not None and self.diff.breaking

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.name, "action": self.action.value, "version": self.record.version,
            "previous_version": self.previous, "breaking": self.breaking, "file": self.file,
            "materialization": self.record.materialization.value,
            "columns": [c.to_dict() for c in self.record.columns],
            "diff": self.diff.as_dict() if self.diff else None,
            "impact": [i.as_dict() for i in self.impact],
        }


@dataclass(frozen=True)
class Plan:
    """Planned versions in dependency order."""

    items: tuple[PlanItem, ...]
    spark_checked: bool

    @property
    def changed(self) -> list[PlanItem]:
        return [i for i in self.items if i.action is not PlanAction.UNCHANGED]

    def item(self, name: str) -> PlanItem:
        for i in self.items:
            if i.name == name:
                return i
        raise KeyError(name)

    def refuse_unmarked_breaking(self, major: Collection[str]) -> None:
        """Raise for the first breaking change whose view is not declared major."""
        for i in self.changed:
            if i.breaking and i.name not in major:
                assert i.diff is not None
                raise BreakingViewChange(i.name, i.diff.changes)

    def as_dict(self) -> dict[str, Any]:
        return {"spark_checked": self.spark_checked, "items": [i.as_dict() for i in self.items]}


def _reads(parsed: Parsed) -> set[str]:
    """Names a definition's SQL reads (best effort: analysis reports errors later)."""
    if parsed.error is not None or not parsed.statements or parsed.statements[0] is None:
        return set()
    census = parsed.census
    tables = census.tables if census is not None else [
        table for statement in parsed.statements if statement is not None for table in statement.find_all(exp.Table)]
    names = set()
    for table in tables:
        try:
            ref = ref_of_table(table)
        except ValueError:
            continue
        if ref is not None:
            names.add(ref.qualified)
    return names


def _cycle_error(definition: ViewDefinition, path: list[str]) -> ViewCycle:
    """The cycle, positioned at the reference to the next view in it."""
    ctx = Context(definition.name, definition.sql, definition.file, definition.sql_line)
    line = column = None
    if len(path) > 1:
        try:
            for table in sqlglot.parse_one(definition.sql, read="spark").find_all(exp.Table):
                ref = ref_of_table(table)
                if ref is not None and ref.qualified == path[1]:
                    line, column = ctx.position(table)
                    break
        except (sqlglot.errors.SqlglotError, ValueError):
            pass
    return ViewCycle(definition.name, path, line=line, column=column, file=definition.file)


def _unchanged(current: VersionRecord, planned: VersionRecord) -> bool:
    return (current.compiled_sql, current.materialization, current.owner, current.description, current.tags,
            [(c.name, c.description) for c in current.columns]) == (
            planned.compiled_sql, planned.materialization, planned.owner, planned.description, planned.tags,
            [(c.name, c.description) for c in planned.columns])


def plan(lake: Lake, definitions: Sequence[ViewDefinition], *, spark_check: bool = True,
         snapshot: Snapshot | None = None) -> Plan:
    """Plan new versions for definitions without changing anything.

    Args:
        lake: The lake whose catalog the views live in.
        definitions: Views to create or change (e.g. a directory of view files).
        spark_check: Compile each version with Spark's analyzer (starts Spark).
        snapshot: The catalog to plan against (loaded from ``lake`` by default).

    Returns:
        One item per definition, in dependency order.

    Raises:
        InvalidViewDefinition: Duplicate names, or a view named like a dataset.
        ViewCompileError: A definition's SQL is refused (with line and column).
        ViewCycle: Views would read each other in a circle.
    """
    snapshot = snapshot or Snapshot.load(lake)
    by_name: dict[str, ViewDefinition] = {}
    for d in definitions:
        if d.name in by_name:
            raise InvalidViewDefinition(f"{d.name} is defined twice", where=d.file or d.name)
        if d.name in snapshot.datasets:
            raise InvalidViewDefinition(f"{d.name} is a dataset; a view needs a name of its own",
                                        where=d.file or d.name)
        by_name[d.name] = d
    parsed: dict[str, Parsed] = {}  # one parse each, for the order and the analysis

    def reads(name: str) -> set[str]:
        parsed[name] = Parsed.of(by_name[name].sql)
        return _reads(parsed[name])

    # Each definition is parsed when the dependency order reaches it and analyzed as soon as its
    # inputs are, so its tree is short-lived; with Spark, the whole order comes first.
    order = iter_topological(by_name.keys(), reads)
    if spark_check:
        order = iter(_complete(order, by_name))
    try:
        return _plan_in_order(lake, by_name, order, parsed, snapshot, spark_check)
    except CycleFound as found:
        raise _cycle_error(by_name[found.path[0]], found.path) from None
    except Exception:
        _complete(order, by_name)  # a cycle is refused before anything else, as if the order came first
        raise


def _complete(order: Iterator[str], by_name: Mapping[str, ViewDefinition]) -> list[str]:
    """The rest of a dependency order.

    Raises:
        ViewCycle: The definitions read each other in a circle.
    """
    try:
        return list(order)
    except CycleFound as found:
        raise _cycle_error(by_name[found.path[0]], found.path) from None


def _plan_in_order(lake: Lake, by_name: Mapping[str, ViewDefinition], order: Iterator[str],
                   parsed: dict[str, Parsed], snapshot: Snapshot, spark_check: bool) -> Plan:
    spark: Any = None
    items: list[PlanItem] = []
    for name in order:
        definition = by_name[name]
        state = snapshot.views.get(name)
        current = state.current_record() if state else None
        version = snapshot.next_version(name)
        analysis = analyze(definition, snapshot, version=version, parsed=parsed.pop(name))
        owner = definition.owner or (current.owner if current else "")
        record = VersionRecord(
            view=name, version=version, sql=definition.sql, compiled_sql=analysis.compiled,
            materialization=definition.materialization, owner=owner, description=definition.description,
            tags=definition.tags, columns=analysis.columns, dependencies=analysis.dependencies,
            grain=analysis.grain, major=False, spark_checked=spark_check,
        )
        if current is not None and _unchanged(current, record):
            items.append(PlanItem(name, PlanAction.UNCHANGED, current, current.version, None, (), definition.file))
            continue
        if spark_check:
            from lake.spark import spark_session
            from views.compile import spark_check as check

            spark = spark or spark_session(lake.settings)
            analysis = check(lake, spark, snapshot, analysis, version=version)
            record = dataclasses.replace(record, columns=analysis.columns)
        diff = diff_versions(current, record) if current is not None else None
        if diff is not None:
            record = dataclasses.replace(record, changes=tuple(c.as_dict() for c in diff.changes))
        affected = tuple(impact(snapshot, name, breaking=bool(diff and diff.breaking))) if current else ()
        snapshot.add_version(record)
        path = find_cycle(snapshot, name)
        if path is not None:
            raise _cycle_error(definition, path)
        items.append(PlanItem(name, PlanAction.UPDATE if current else PlanAction.CREATE, record,
                              current.version if current else None, diff, affected, definition.file))
    return Plan(tuple(items), spark_check)


def apply(lake: Lake, definitions: Sequence[ViewDefinition], *, actor: str, major: Collection[str] = (),
          message: str = "", spark_check: bool = True,
          within: Callable[[Session, Sequence[PlanItem]], None] | None = None) -> Plan:
    """Plan and create every new version in one catalog transaction.

    Args:
        lake: The lake.
        definitions: Views to create or change.
        actor: The author recorded on each version (and owner of new views without one).
        major: Views whose breaking change the author declares as a new major version.
        message: Recorded with each new version.
        spark_check: Compile with Spark's analyzer first.
        within: Called with the transaction's session and every item (unchanged
            ones too, each record naming its owner) before it commits, to write
            more in the same transaction (the access layer's owner grants); if
            it raises, no version is created.

    Returns:
        The applied plan (records carry their catalog ids).

    Raises:
        BreakingViewChange: A breaking change to a view not in ``major``.
        Conflict: Another change was applied to one of the views meanwhile.
        ViewCompileError, ViewCycle, InvalidViewDefinition: As for :func:`plan`.
    """
    planned = plan(lake, definitions, spark_check=spark_check)
    planned.refuse_unmarked_breaking(major)
    unknown = set(major) - {i.name for i in planned.items}
    if unknown:
        raise InvalidInput(f"--major names views that are not being applied: {sorted(unknown)}")
    applied: list[PlanItem] = []
    try:
        with lake.catalog.session() as s:
            for item in planned.items:
                if item.action is PlanAction.UNCHANGED:
                    applied.append(item)
                    continue
                record = dataclasses.replace(
                    item.record, owner=item.record.owner or actor, author=actor, message=message,
                    major=item.name in major,
                )
                domain_name, short = item.name.split(".", 1)
                domain = lake.datasets.ensure_domain(s, domain_name, record.owner)
                view = s.scalars(select(View).where(View.domain_id == domain.id, View.name == short)).one_or_none()
                if view is None:
                    if item.previous is not None:
                        raise Conflict(f"view {item.name} was removed while this change was planned")
                    view = View(domain_id=domain.id, name=short, created_by=actor)
                    s.add(view)
                    s.flush()
                elif view.current_version != item.previous:
                    raise Conflict(f"view {item.name} changed while this change was planned (now at "
                                   f"v{view.current_version}, planned from v{item.previous}); plan again")
                row = record.to_row(view)
                s.add(row)
                s.flush()
                view.current_version = record.version
                applied.append(dataclasses.replace(item, record=dataclasses.replace(
                    record, row_id=row.id, created_at=row.created_at)))
            SearchIndex(lake.catalog).upsert(
                [view_document(i.name, i.record) for i in applied if i.action is not PlanAction.UNCHANGED], session=s)
            if within is not None:
                within(s, applied)
    except IntegrityError as exc:
        raise Conflict(f"another change to these views was applied at the same time; plan again ({exc.orig})") \
            from exc
    return Plan(tuple(applied), planned.spark_checked)


def create_version(lake: Lake, definition: ViewDefinition, *, actor: str, major: bool = False, message: str = "",
                   spark_check: bool = True,
                   within: Callable[[Session, Sequence[PlanItem]], None] | None = None) -> PlanItem:
    """Create the next version of one view (version 1 of a new one).

    Returns:
        The plan item: its action is ``unchanged`` when nothing differs from
        the current version (no version is created then).

    Raises:
        As for :func:`apply`.
    """
    done = apply(lake, [definition], actor=actor, major={definition.name} if major else (), message=message,
                 spark_check=spark_check, within=within)
    return done.items[0]


def deprecate(lake: Lake, name: str, version: int, *, actor: str, sunset_on: dt.date | None = None,
              note: str = "") -> VersionRecord:
    """Deprecate a version; from ``sunset_on`` on, reading it fails.

    Raises:
        ViewNotFound: No such view or version.
    """
    snapshot = Snapshot.load(lake)
    name = parse_ref(name).qualified
    record = snapshot.record(name, version)
    with lake.catalog.session() as s:
        row = s.get_one(ViewVersion, record.row_id)
        row.deprecated_at = row.deprecated_at or dt.datetime.now(dt.UTC)
        row.deprecated_by = actor
        row.sunset_on = sunset_on
        row.deprecation_note = note
        s.flush()
        return VersionRecord.from_row(name, row)


def dependency_names(record: VersionRecord) -> list[str]:
    return [d.name for d in record.dependencies if d.kind is SourceKind.VIEW]
