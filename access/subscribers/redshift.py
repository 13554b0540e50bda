"""Redshift subscribers: Spectrum external schemas and tables, views, and grants per role.

What a Redshift subscriber's cluster gets, all generated as sqlglot trees
(:mod:`access.subscribers.redshift_sql`):

* one **Lakegate role** → one Redshift role (``lakegate_<role>``) for each
  role or group the subscriber is bound to;
* per domain ``d`` with tables it may read raw, an **external schema**
  ``lake_d`` (Glue database ``lakegate_d``, the subscriber's IAM role) with
  an **external table** per dataset or materialized view, over the Delta
  table's symlink manifest (:mod:`access.subscribers.manifests`), and its
  partitions;
* a local schema ``d`` holding a late-binding **view** ``d.name`` for each of
  them (selecting every column of the external table), and each **virtual
  view** transpiled to Redshift (``views.transpile``) when every table it
  reads is exposed; ``d.name`` in Redshift is ``d.name`` in Lakegate, so
  transpiled SQL needs no renaming;
* ``GRANT USAGE ON SCHEMA`` and ``GRANT SELECT`` on exactly the views each
  role may read raw (the fail-closed rule of :mod:`access.subscribers.raw`,
  decided by the access layer for the role as subject; Redshift applies no
  Lakegate row filter or mask, so a filtered or masked role gets no grant).

The tables exposed at all are those the subscriber itself may read raw
(its IAM role's policy allows exactly those files). ``sync`` compares the
objects wanted now with those applied last time (stored per subscriber) and
emits only the difference: new objects are created, removed ones dropped
(grants revoked), changed ones dropped and created again together with
everything that depends on them (a recreated view gets its grants again).
"""

from __future__ import annotations

import builtins
import datetime as dt
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlalchemy import delete, select
from sqlglot import exp

from access.resources import ResourceKind
from access.subscribers import redshift_sql as rs
from access.subscribers.errors import RedshiftApplyFailed, WrongSubscriberKind
from access.subscribers.manifests import write_manifest
from access.subscribers.models import RedshiftObjectRow
from access.subscribers.raw import RawDecision, raw_decision
from access.subscribers.redshift_sql import Target
from access.subscribers.registry import SubscriberRegistry
from access.subscribers.settings import SubscriberSettings
from access.subscribers.tables import LakeTable, lake_tables
from access.subscribers.values import Subscriber, SubscriberKind
from lake.catalog.models import utcnow
from lake.errors import InvalidInput, LakegateError

if TYPE_CHECKING:
    from access.policy import AccessControl


class ObjectKind(enum.StrEnum):
    ROLE = "role"
    EXTERNAL_SCHEMA = "external_schema"
    SCHEMA = "schema"
    EXTERNAL_TABLE = "external_table"
    PARTITION = "partition"
    VIEW = "view"
    USAGE = "usage"
    SELECT = "select"


_ORDER = {k: i for i, k in enumerate(ObjectKind)}


@dataclass(frozen=True)
class RedshiftObject:
    """One object or grant in the cluster; ``spec`` is what makes it (compared between syncs)."""

    key: str
    kind: ObjectKind
    spec: Mapping[str, Any] = field(default_factory=dict)
    depends: tuple[str, ...] = ()

    @property
    def spec_hash(self) -> str:
        text = json.dumps({"spec": self.spec, "depends": sorted(self.depends)}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A table the subscriber can see but that is not exposed in Redshift, and why."""

    table: str
    reason: str


@dataclass(frozen=True)
class RedshiftPlan:
    """The statements that bring a cluster from the applied state to the wanted one.

    Attributes:
        subscriber: The subscriber.
        target: Redshift, or PostgreSQL (for testing grant semantics).
        statements: SQL statements, in order.
        objects: Every object wanted now.
        created: Keys of objects created (or created again).
        dropped: Keys of objects dropped (or revoked).
        skipped: Tables readable but not exposed, with the reason.
        grants: For each Redshift role, the views it may select.
    """

    subscriber: str
    target: Target
    statements: tuple[str, ...]
    objects: tuple[RedshiftObject, ...] = field(repr=False)
    created: tuple[str, ...]
    dropped: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    grants: Mapping[str, tuple[str, ...]]

    def script(self) -> str:
        """The statements as one script."""
        return "".join(s + ";\n" for s in self.statements)


@dataclass
class _Exposed:
    table: LakeTable
    schema: str
    name: str
    key: str


class RedshiftSync:
    """Plans and records the Redshift side of Redshift subscribers.

    Args:
        access: The access layer.
        registry: The subscriber registry.
        settings: Role, schema and database name prefixes.
    """

    def __init__(self, access: AccessControl, registry: SubscriberRegistry, settings: SubscriberSettings) -> None:
        self.access = access
        self.registry = registry
        self.settings = settings

    # -- names ---------------------------------------------------------------------------------

    def role_name(self, role: str) -> str:
        """The Redshift role of a Lakegate role."""
        return self.settings.redshift_role_prefix + role

    def external_schema(self, domain: str) -> str:
        return self.settings.redshift_external_schema_prefix + domain

    def glue_database(self, domain: str) -> str:
        return self.settings.glue_database_prefix + domain

    # -- the wanted state ------------------------------------------------------------------------

    def wanted(self, sub: Subscriber, *, write_manifests: bool = True,
               applied: Mapping[str, RedshiftObject] | None = None
               ) -> tuple[list[RedshiftObject], list[Skipped], dict[str, tuple[str, ...]]]:
        """The objects ``sub``'s cluster should have now, what is not exposed and why,
        and the grants per Redshift role."""
        if not sub.active:
            return [], [], {}
        objects: dict[str, RedshiftObject] = {}
        skipped: list[Skipped] = []
        roles = sorted(sub.roles)
        for role in roles:
            name = self.role_name(role)
            objects[f"role:{name}"] = RedshiftObject(f"role:{name}", ObjectKind.ROLE, {"role": name})
        tables = lake_tables(self.access.lake)
        datasets = {t.name for t in tables if t.kind is ResourceKind.DATASET}
        exposed: dict[str, _Exposed] = {}
        virtual: list[RawDecision] = []
        for table in tables:
            if table.kind is ResourceKind.VIEW and table.name in datasets:
                skipped.append(Skipped(table.name, f"view {table.name} is shadowed by the dataset of that name"))
                continue
            is_virtual = table.kind is ResourceKind.VIEW and table.table_uri is None
            decision = raw_decision(self.access, sub.subject, table, need_files=not is_virtual)
            if not decision.allowed:
                continue
            if not decision.raw:
                skipped.append(Skipped(table.name, "; ".join(decision.reasons)))
                continue
            if is_virtual:
                virtual.append(decision)
                continue
            reason = self._add_external(objects, exposed, table, sub, write_manifests, applied or {})
            if reason:
                skipped.append(Skipped(table.name, reason))
        self._add_virtual(objects, exposed, virtual, skipped)
        grants: dict[str, tuple[str, ...]] = {}
        for role in roles:
            rs_role = self.role_name(role)
            readable: list[str] = []
            for item in exposed.values():
                is_virtual = item.table.table_uri is None
                if raw_decision(self.access, role, item.table, need_files=not is_virtual).raw:
                    readable.append(f"{item.schema}.{item.name}")
                    key = f"select:{item.schema}.{item.name}:{rs_role}"
                    objects[key] = RedshiftObject(key, ObjectKind.SELECT,
                                                  {"schema": item.schema, "name": item.name, "role": rs_role},
                                                  (item.key, f"role:{rs_role}"))
            for schema in sorted({r.split(".", 1)[0] for r in readable}):
                key = f"usage:{schema}:{rs_role}"
                objects[key] = RedshiftObject(key, ObjectKind.USAGE, {"schema": schema, "role": rs_role},
                                              (f"schema:{schema}", f"role:{rs_role}"))
            grants[rs_role] = tuple(sorted(readable))
        return list(objects.values()), skipped, grants

    def _add_external(self, objects: dict[str, RedshiftObject], exposed: dict[str, _Exposed], table: LakeTable,
                      sub: Subscriber, write_manifests: bool, applied: Mapping[str, RedshiftObject]) -> str | None:
        assert table.resource.name is not None and table.table_uri is not None
        columns: list[tuple[str, str]] = []
        for col in table.columns:
            dtype = rs.column_type(col.type, pii=col.pii)
            if dtype is None:
                return f"column {col.name} has type {col.type}, which Redshift external tables lack"
            columns.append((col.name, dtype.sql(dialect="redshift")))
        parts = [c for c in columns if c[0] in table.partition_by]
        data = [c for c in columns if c[0] not in table.partition_by]
        schema, name = self.external_schema(table.domain), table.resource.name
        location = table.table_uri.rstrip("/") + "/_symlink_format_manifest/"
        ext_key = f"external_schema:{schema}"
        objects[ext_key] = RedshiftObject(ext_key, ObjectKind.EXTERNAL_SCHEMA, {
            "schema": schema, "database": self.glue_database(table.domain), "iam_role": sub.role_arn})
        table_key = f"external_table:{schema}.{name}"
        objects[table_key] = RedshiftObject(table_key, ObjectKind.EXTERNAL_TABLE, {
            "schema": schema, "name": name, "columns": data, "partitions": parts, "location": location,
            "source": table.key}, (ext_key,))
        if table.partition_by:
            if write_manifests:
                manifest = write_manifest(self.access.lake, table)
                for part in manifest.partitions:
                    label = "/".join(f"{k}={v}" for k, v in part.values)
                    key = f"partition:{schema}.{name}:{label}"
                    objects[key] = RedshiftObject(key, ObjectKind.PARTITION, {
                        "schema": schema, "name": name, "values": [list(v) for v in part.values],
                        "location": part.location}, (table_key,))
            else:
                for key, obj in applied.items():
                    if obj.kind is ObjectKind.PARTITION and table_key in obj.depends:
                        objects[key] = obj
        elif write_manifests:
            write_manifest(self.access.lake, table)
        self._add_view(objects, exposed, table, table.domain, name,
                       rs.select_columns(schema, name, [c.name for c in table.columns]), (table_key,))
        return None

    def _add_view(self, objects: dict[str, RedshiftObject], exposed: dict[str, _Exposed], table: LakeTable,
                  schema: str, name: str, query: exp.Query, depends: Iterable[str]) -> None:
        schema_key = f"schema:{schema}"
        objects[schema_key] = RedshiftObject(schema_key, ObjectKind.SCHEMA, {"schema": schema})
        key = f"view:{schema}.{name}"
        objects[key] = RedshiftObject(key, ObjectKind.VIEW, {
            "schema": schema, "name": name, "sql": query.sql(dialect="redshift"), "source": table.key},
            (schema_key, *depends))
        exposed[table.name] = _Exposed(table, schema, name, key)

    def _add_virtual(self, objects: dict[str, RedshiftObject], exposed: dict[str, _Exposed],
                     pending: builtins.list[RawDecision], skipped: builtins.list[Skipped]) -> None:
        from views.errors import TranspileError
        from views.transpile import transpile_sql

        waiting = list(pending)
        progress = True
        while waiting and progress:
            progress = False
            for decision in list(waiting):
                table = decision.table
                if not all(dep in exposed for dep in table.dependencies):
                    continue
                waiting.remove(decision)
                progress = True
                assert table.resource.name is not None and table.compiled_sql is not None
                try:
                    sql = transpile_sql(table.name, table.version, table.compiled_sql, "redshift").sql
                    query = sqlglot.parse_one(sql, read="redshift")
                except (TranspileError, sqlglot.errors.ParseError) as exc:
                    skipped.append(Skipped(table.name, f"cannot be written for Redshift: {exc}"))
                    continue
                pinned = [t for t in query.find_all(exp.Table) if "@" in t.name]
                if pinned or not isinstance(query, exp.Query):
                    skipped.append(Skipped(table.name, "reads a pinned table version, which Redshift views cannot"))
                    continue
                deps = [exposed[d].key for d in table.dependencies]
                self._add_view(objects, exposed, table, table.domain, table.resource.name, query, deps)
        for decision in waiting:
            missing = [d for d in decision.table.dependencies if d not in exposed]
            skipped.append(Skipped(decision.table.name,
                                   f"reads {', '.join(missing)}, which is not exposed to this subscriber"))

    # -- applied state ------------------------------------------------------------------------------

    def applied(self, name: str) -> dict[str, RedshiftObject]:
        """The objects recorded as applied last time."""
        with self.access.lake.catalog.session() as s:
            rows = s.scalars(select(RedshiftObjectRow).where(RedshiftObjectRow.subscriber == name))
            return {r.object_key: RedshiftObject(r.object_key, ObjectKind(r.kind), dict(r.spec.get("spec") or {}),
                                                 tuple(r.spec.get("depends") or ()))
                    for r in rows}

    def applied_at(self, name: str) -> dt.datetime | None:
        """When the applied state was last recorded (``None``: never)."""
        from sqlalchemy import func

        with self.access.lake.catalog.session() as s:
            when: dt.datetime | None = s.scalar(select(func.max(RedshiftObjectRow.applied_at))
                                                .where(RedshiftObjectRow.subscriber == name))
            return when

    def record(self, plan: RedshiftPlan) -> None:
        """Remember ``plan``'s objects as applied (the next sync starts from them)."""
        now = utcnow()
        with self.access.lake.catalog.session() as s:
            s.execute(delete(RedshiftObjectRow).where(RedshiftObjectRow.subscriber == plan.subscriber))
            for obj in plan.objects:
                s.add(RedshiftObjectRow(subscriber=plan.subscriber, object_key=obj.key, kind=obj.kind.value,
                                        spec={"spec": dict(obj.spec), "depends": list(obj.depends)},
                                        spec_hash=obj.spec_hash, applied_at=now))

    def forget(self, name: str) -> None:
        with self.access.lake.catalog.session() as s:
            s.execute(delete(RedshiftObjectRow).where(RedshiftObjectRow.subscriber == name))

    # -- planning -------------------------------------------------------------------------------

    def plan(self, name: str, *, target: Target | str = Target.REDSHIFT, full: bool = False,
             write_manifests: bool = True, teardown: bool = False) -> RedshiftPlan:
        """The statements from the applied state (nothing, with ``full``) to the wanted one.

        Args:
            name: A Redshift subscriber.
            target: ``redshift``, or ``postgres`` to run the same plan on PostgreSQL.
            full: Start from an empty cluster instead of the applied state.
            write_manifests: Write the Delta symlink manifests (and so find the partitions).
            teardown: Want nothing: drop and revoke everything applied.

        Raises:
            WrongSubscriberKind: Not a Redshift subscriber.
        """
        target = target if isinstance(target, Target) else Target.parse(target)
        sub = self.registry.get(name)
        if sub.kind is not SubscriberKind.REDSHIFT:
            raise WrongSubscriberKind(name, sub.kind.value, "redshift sync", [SubscriberKind.REDSHIFT.value])
        applied = {} if full else self.applied(name)
        if teardown:
            wanted: list[RedshiftObject] = []
            skipped: list[Skipped] = []
            grants: dict[str, tuple[str, ...]] = {}
        else:
            wanted, skipped, grants = self.wanted(sub, write_manifests=write_manifests, applied=applied)
        statements, created, dropped = diff(applied, wanted, target)
        return RedshiftPlan(name, target, tuple(statements), tuple(wanted), tuple(created), tuple(dropped),
                            tuple(skipped), grants)

    def sync(self, name: str, *, target: Target | str = Target.REDSHIFT, full: bool = False,
             commit: bool = True) -> RedshiftPlan:
        """:meth:`plan`, and with ``commit`` record it as applied (run its statements on the cluster)."""
        plan = self.plan(name, target=target, full=full)
        if commit:
            self.record(plan)
        return plan


    def apply(self, name: str, connection_url: str, *, target: Target | str = Target.REDSHIFT,
              full: bool = False) -> RedshiftPlan:
        """Run the plan on the cluster over ``connection_url``; record it as applied only if every
        statement succeeded.

        On PostgreSQL the statements run in one transaction. Redshift refuses
        external schema and table DDL inside a transaction, so there each
        statement commits on its own; a failure then leaves the earlier ones
        applied, and the recorded state stays the previous one.

        Args:
            name: A Redshift subscriber.
            connection_url: ``postgresql://user:password@host:5439/db`` (psycopg); never logged.
            target: ``redshift``, or ``postgres`` for a PostgreSQL server.
            full: Every statement for an empty cluster.

        Returns:
            The plan that was applied and recorded.

        Raises:
            WrongSubscriberKind: Not a Redshift subscriber.
            RedshiftApplyFailed: A statement failed (which one, and why).
            InvalidInput: The connection URL is not a PostgreSQL URL.
        """
        import psycopg

        target = target if isinstance(target, Target) else Target.parse(target)
        plan = self.plan(name, target=target, full=full)
        url = connection_url.replace("postgresql+psycopg://", "postgresql://", 1)
        if not url.startswith(("postgresql://", "postgres://", "redshift://")):
            raise InvalidInput("the cluster's connection URL must be postgresql://user:password@host:port/db")
        url = url.replace("redshift://", "postgresql://", 1)
        in_transaction = target is Target.POSTGRES
        try:
            conn = psycopg.connect(url, autocommit=not in_transaction, connect_timeout=30)
        except psycopg.Error as exc:
            raise RedshiftApplyFailed(name, 0, len(plan.statements), "", f"cannot connect: {_pg_reason(exc)}",
                                      rolled_back=True) from None
        with conn:
            index = 0
            try:
                for index, statement in enumerate(plan.statements, start=1):  # noqa: B007 - names the failing one
                    conn.execute(statement)
                if in_transaction:
                    conn.commit()
            except psycopg.Error as exc:
                if in_transaction:
                    conn.rollback()
                raise RedshiftApplyFailed(name, index, len(plan.statements), plan.statements[index - 1],
                                          _pg_reason(exc), rolled_back=in_transaction or index == 1) from None
        self.record(plan)
        return plan


def _pg_reason(exc: Exception) -> str:
    """The server's message, first line, without the connection's parameters."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = str(primary or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def _depth(key: str, objects: Mapping[str, RedshiftObject], memo: dict[str, int]) -> int:
    if key in memo:
        return memo[key]
    memo[key] = 0
    obj = objects.get(key)
    depth = 0 if obj is None else 1 + max((_depth(d, objects, memo) for d in obj.depends), default=-1)
    memo[key] = depth
    return depth


def diff(applied: Mapping[str, RedshiftObject], wanted: Sequence[RedshiftObject],
         target: Target) -> tuple[list[str], list[str], list[str]]:
    """Statements from ``applied`` to ``wanted``: drops (dependents first), then creates.

    Returns:
        The statements, the keys created and the keys dropped.
    """
    want = {o.key: o for o in wanted}
    changed = {k for k in want.keys() & applied.keys() if want[k].spec_hash != applied[k].spec_hash}
    removed = set(applied) - set(want)
    dependents: dict[str, set[str]] = {}
    for obj in applied.values():
        for dep in obj.depends:
            dependents.setdefault(dep, set()).add(obj.key)
    drop = set()
    frontier = list(changed | removed)
    while frontier:
        key = frontier.pop()
        if key in drop:
            continue
        drop.add(key)
        frontier.extend(dependents.get(key, ()))
    create = (set(want) - set(applied)) | (drop & set(want))
    old_memo: dict[str, int] = {}
    new_memo: dict[str, int] = {}
    drops = sorted(drop, key=lambda k: (-_ORDER[applied[k].kind], -_depth(k, applied, old_memo), k))
    creates = sorted(create, key=lambda k: (_ORDER[want[k].kind], _depth(k, want, new_memo), k))
    statements: list[str] = []
    for key in drops:
        statements.extend(rs.render(node, target) for node in _drop(applied[key], target))
    for key in creates:
        statements.extend(rs.render(node, target) for node in _create(want[key], target))
    return statements, creates, drops


def _create(obj: RedshiftObject, target: Target) -> list[exp.Expression]:
    s = obj.spec
    match obj.kind:
        case ObjectKind.ROLE:
            return [rs.create_role(s["role"])]
        case ObjectKind.EXTERNAL_SCHEMA:
            return [rs.create_external_schema(s["schema"], s["database"], s.get("iam_role"), target)]
        case ObjectKind.SCHEMA:
            return [rs.create_schema(s["schema"])]
        case ObjectKind.EXTERNAL_TABLE:
            types = [(n, exp.DataType.build(t, dialect="redshift")) for n, t in s["columns"]]
            parts = [(n, exp.DataType.build(t, dialect="redshift")) for n, t in s["partitions"]]
            return [rs.create_external_table(s["schema"], s["name"], types, parts, s["location"], target)]
        case ObjectKind.PARTITION:
            if target is Target.POSTGRES:
                return []
            return [rs.add_partition(s["schema"], s["name"], [tuple(v) for v in s["values"]], s["location"])]
        case ObjectKind.VIEW:
            query = sqlglot.parse_one(s["sql"], read="redshift")
            assert isinstance(query, exp.Query)
            return [rs.create_view(s["schema"], s["name"], query, target)]
        case ObjectKind.USAGE:
            return [rs.grant("USAGE", "SCHEMA", rs.schema_ref(s["schema"]), s["role"], target)]
        case ObjectKind.SELECT:
            return [rs.grant("SELECT", "TABLE", rs.table(s["schema"], s["name"]), s["role"], target)]
    raise LakegateError(f"unknown Redshift object kind {obj.kind}")  # pragma: no cover


def _drop(obj: RedshiftObject, target: Target) -> list[exp.Expression]:
    s = obj.spec
    match obj.kind:
        case ObjectKind.ROLE:
            return [rs.drop_role(s["role"])]
        case ObjectKind.EXTERNAL_SCHEMA | ObjectKind.SCHEMA:
            return [rs.drop_schema(s["schema"])]
        case ObjectKind.EXTERNAL_TABLE:
            return [rs.drop_table(s["schema"], s["name"])]
        case ObjectKind.PARTITION:
            if target is Target.POSTGRES:
                return []
            return [rs.drop_partition(s["schema"], s["name"], [tuple(v) for v in s["values"]])]
        case ObjectKind.VIEW:
            return [rs.drop_view(s["schema"], s["name"])]
        case ObjectKind.USAGE:
            return [rs.revoke("USAGE", "SCHEMA", rs.schema_ref(s["schema"]), s["role"], target)]
        case ObjectKind.SELECT:
            return [rs.revoke("SELECT", "TABLE", rs.table(s["schema"], s["name"]), s["role"], target)]
    raise LakegateError(f"unknown Redshift object kind {obj.kind}")  # pragma: no cover
