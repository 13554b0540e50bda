"""Redshift statements as sqlglot trees, rendered for Redshift or for PostgreSQL.

sqlglot parses Redshift's ``CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG``
only as an opaque command and writes Spectrum's ``CREATE EXTERNAL TABLE``
in Hive's words (``PARTITION BY``, ``USING INPUTFORMAT``), so those two are
expression nodes of their own here (:class:`CreateExternalSchema`,
:class:`CreateExternalTable`), with ``CREATE ROLE``/``DROP ROLE``, rendered
by the :class:`LakegateRedshift` dialect. Everything else is sqlglot's own
``Create``, ``Drop``, ``Alter``, ``Grant`` and ``Revoke``. Identifiers are
always quoted.

:class:`Target` ``postgres`` renders the same plan so that it runs on
PostgreSQL: external schemas become schemas, external tables plain tables,
partitions nothing, and grantees carry no ``ROLE`` keyword. Tests apply it to
check the grant semantics for real.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.redshift import Redshift

from lake.errors import InvalidInput

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
SYMLINK_INPUT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
HIVE_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
#: Longest Redshift VARCHAR.
MAX_VARCHAR = 65535


class Target(enum.StrEnum):
    """Where the statements run."""

    REDSHIFT = "redshift"
    POSTGRES = "postgres"

    @classmethod
    def parse(cls, text: str) -> Target:
        try:
            return cls(text.strip().lower())
        except (ValueError, AttributeError):
            raise InvalidInput(f"unknown target {text!r}; expected redshift or postgres") from None


class CreateRole(exp.Expression):
    arg_types = {"this": True}


class DropRole(exp.Expression):
    arg_types = {"this": True}


class CreateExternalSchema(exp.Expression):
    """``CREATE EXTERNAL SCHEMA IF NOT EXISTS s FROM DATA CATALOG DATABASE 'db' IAM_ROLE 'arn'
    CREATE EXTERNAL DATABASE IF NOT EXISTS`` (``iam_role`` ``None``: ``IAM_ROLE default``)."""

    arg_types = {"this": True, "database": True, "iam_role": False}


class CreateExternalTable(exp.Expression):
    """Spectrum's ``CREATE EXTERNAL TABLE`` over a Delta symlink manifest."""

    arg_types = {"this": True, "columns": True, "partitions": False, "location": True}


def _create_role(self: Any, e: CreateRole) -> str:
    return f"CREATE ROLE {self.sql(e, 'this')}"


def _drop_role(self: Any, e: DropRole) -> str:
    return f"DROP ROLE {self.sql(e, 'this')}"


def _external_schema(self: Any, e: CreateExternalSchema) -> str:
    role = e.args.get("iam_role")
    role_sql = self.sql(role) if role is not None else "default"
    return (f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {self.sql(e, 'this')} FROM DATA CATALOG DATABASE "
            f"{self.sql(e, 'database')} IAM_ROLE {role_sql} CREATE EXTERNAL DATABASE IF NOT EXISTS")


def _external_table(self: Any, e: CreateExternalTable) -> str:
    columns = ", ".join(self.sql(c) for c in e.args["columns"])
    parts = e.args.get("partitions") or []
    partitioned = f" PARTITIONED BY ({', '.join(self.sql(c) for c in parts)})" if parts else ""
    return (f"CREATE EXTERNAL TABLE {self.sql(e, 'this')} ({columns}){partitioned} "
            f"ROW FORMAT SERDE {self.sql(exp.Literal.string(PARQUET_SERDE))} "
            f"STORED AS INPUTFORMAT {self.sql(exp.Literal.string(SYMLINK_INPUT))} "
            f"OUTPUTFORMAT {self.sql(exp.Literal.string(HIVE_OUTPUT))} "
            f"LOCATION {self.sql(e, 'location')}")


class LakegateRedshift(Redshift):
    """Redshift, plus the statements sqlglot keeps opaque."""

    class Generator(Redshift.Generator):  # type: ignore[misc, valid-type]
        TRANSFORMS = {
            **Redshift.Generator.TRANSFORMS,
            CreateRole: _create_role,
            DropRole: _drop_role,
            CreateExternalSchema: _external_schema,
            CreateExternalTable: _external_table,
        }


class LakegatePostgres(Postgres):
    """PostgreSQL, with the role statements."""

    class Generator(Postgres.Generator):  # type: ignore[misc, valid-type]
        TRANSFORMS = {**Postgres.Generator.TRANSFORMS, CreateRole: _create_role, DropRole: _drop_role}


def render(node: exp.Expression, target: Target) -> str:
    """One statement in the target's SQL."""
    return node.sql(dialect=LakegateRedshift if target is Target.REDSHIFT else LakegatePostgres)


# -- names and types -------------------------------------------------------------------------


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def table(schema: str, name: str) -> exp.Table:
    return exp.Table(this=ident(name), db=ident(schema))


def schema_ref(schema: str) -> exp.Table:
    return exp.Table(db=ident(schema))


def column_type(dtype: pa.DataType, *, pii: bool = False) -> exp.DataType | None:
    """The external-table type of an Arrow column (``None`` when Redshift has none);
    a PII column holds ciphertext: ``VARBYTE``."""
    if pii or pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return exp.DataType.build("varbinary")
    if pa.types.is_boolean(dtype):
        return exp.DataType.build("boolean")
    if pa.types.is_int8(dtype) or pa.types.is_int16(dtype) or pa.types.is_uint8(dtype):
        return exp.DataType.build("smallint")
    if pa.types.is_int32(dtype) or pa.types.is_uint16(dtype):
        return exp.DataType.build("int")
    if pa.types.is_int64(dtype) or pa.types.is_uint32(dtype):
        return exp.DataType.build("bigint")
    if pa.types.is_uint64(dtype):
        return exp.DataType.build("decimal(20,0)")
    if pa.types.is_float32(dtype):
        return exp.DataType.build("real")
    if pa.types.is_float64(dtype):
        return exp.DataType.build("double")
    if pa.types.is_decimal(dtype) and dtype.precision <= 38:
        return exp.DataType.build(f"decimal({dtype.precision},{dtype.scale})")
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return exp.DataType.build(f"varchar({MAX_VARCHAR})")
    if pa.types.is_date32(dtype):
        return exp.DataType.build("date")
    if pa.types.is_timestamp(dtype):
        return exp.DataType.build("timestamp")
    return None


def column_def(name: str, dtype: exp.DataType) -> exp.ColumnDef:
    return exp.ColumnDef(this=ident(name), kind=dtype)


# -- statements ------------------------------------------------------------------------------


def create_role(role: str) -> exp.Expression:
    return CreateRole(this=ident(role))


def drop_role(role: str) -> exp.Expression:
    return DropRole(this=ident(role))


def create_schema(schema: str) -> exp.Expression:
    return exp.Create(kind="SCHEMA", exists=True, this=schema_ref(schema))


def drop_schema(schema: str) -> exp.Expression:
    return exp.Drop(kind="SCHEMA", exists=True, tables=[schema_ref(schema)])


def create_external_schema(schema: str, database: str, iam_role: str | None, target: Target) -> exp.Expression:
    if target is Target.POSTGRES:
        return create_schema(schema)
    role = exp.Literal.string(iam_role) if iam_role else None
    return CreateExternalSchema(this=ident(schema), database=exp.Literal.string(database), iam_role=role)


def create_external_table(schema: str, name: str, columns: Sequence[tuple[str, exp.DataType]],
                          partitions: Sequence[tuple[str, exp.DataType]], location: str,
                          target: Target) -> exp.Expression:
    defs = [column_def(n, t) for n, t in columns]
    parts = [column_def(n, t) for n, t in partitions]
    if target is Target.POSTGRES:
        return exp.Create(kind="TABLE", this=exp.Schema(this=table(schema, name), expressions=defs + parts))
    return CreateExternalTable(this=table(schema, name), columns=defs, partitions=parts,
                               location=exp.Literal.string(location))


def drop_table(schema: str, name: str) -> exp.Expression:
    return exp.Drop(kind="TABLE", exists=True, tables=[table(schema, name)])


def _partition(values: Sequence[tuple[str, str]]) -> exp.Partition:
    return exp.Partition(expressions=[exp.EQ(this=exp.column(ident(k)), expression=exp.Literal.string(v))
                                      for k, v in values])


def add_partition(schema: str, name: str, values: Sequence[tuple[str, str]], location: str) -> exp.Expression:
    return exp.Alter(this=table(schema, name), kind="TABLE", actions=[exp.AddPartition(
        exists=True, this=_partition(values), location=exp.LocationProperty(this=exp.Literal.string(location)))])


def drop_partition(schema: str, name: str, values: Sequence[tuple[str, str]]) -> exp.Expression:
    return exp.Alter(this=table(schema, name), kind="TABLE",
                     actions=[exp.DropPartition(exists=True, expressions=[_partition(values)])])


def create_view(schema: str, name: str, query: exp.Query, target: Target) -> exp.Expression:
    """A late-binding view (``WITH NO SCHEMA BINDING``: Redshift needs it over external tables)."""
    return exp.Create(kind="VIEW", this=table(schema, name), expression=query,
                      no_schema_binding=target is Target.REDSHIFT)


def drop_view(schema: str, name: str) -> exp.Expression:
    return exp.Drop(kind="VIEW", exists=True, tables=[table(schema, name)])


def select_columns(schema: str, name: str, columns: Sequence[str]) -> exp.Query:
    return exp.select(*(exp.column(ident(c)) for c in columns)).from_(table(schema, name))


def _principal(role: str, target: Target) -> exp.GrantPrincipal:
    return exp.GrantPrincipal(this=ident(role), kind="ROLE" if target is Target.REDSHIFT else None)


def grant(privilege: str, kind: str, securable: exp.Table, role: str, target: Target) -> exp.Expression:
    return exp.Grant(privileges=[exp.GrantPrivilege(this=exp.var(privilege))], kind=kind, securable=securable,
                     principals=[_principal(role, target)])


def revoke(privilege: str, kind: str, securable: exp.Table, role: str, target: Target) -> exp.Expression:
    return exp.Revoke(privileges=[exp.GrantPrivilege(this=exp.var(privilege))], kind=kind, securable=securable,
                      principals=[_principal(role, target)])
