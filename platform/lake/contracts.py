"""Data contracts: what a producer promises about a dataset.

A contract names the dataset (``domain.dataset``), its owner and columns. Each
column has an Arrow type, nullability, an optional allowed set or range, a PII
tag and a description. Contracts are written in YAML or sent as JSON over the
API; both go through :func:`parse_contract`.

Example::

    dataset: ads.conversions
    owner: ads-team
    description: Purchases attributed to an ad impression.
    primary_key: [conversion_id]
    partition_by: [country]
    columns:
      - {name: conversion_id, type: string, nullable: false}
      - {name: country, type: string, nullable: false, allowed: [US, DE, FR]}
      - {name: revenue, type: "decimal(12,2)", min: 0}
      - {name: email, type: string, pii: true}
    freshness: 1d        # a batch lands at least once a day (optional)

``freshness`` is the producer's promise of how often new data lands: a
number and a unit, ``m`` (minutes), ``h`` (hours), ``d`` (days) or ``w``
(weeks). It is optional and there is none by default; a dataset whose last
batch landed longer ago than its promise is shown as late (see
:mod:`lake.freshness`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import yaml

from lake.errors import InvalidContract, SchemaChange
from lake.nesting import load_yaml
from lake.schemadiff import ColumnRules, diff_columns

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int": pa.int32(),
    "int64": pa.int64(),
    "bigint": pa.int64(),
    "float32": pa.float32(),
    "float": pa.float32(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "string": pa.string(),
    "utf8": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "date32": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_FRESHNESS_RE = re.compile(r"\s*(\d{1,6})\s*([mhdw])\s*")
_FRESHNESS_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DECIMAL_RE = re.compile(r"decimal(?:128)?\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_TIMESTAMP_RE = re.compile(r"timestamp\[\s*(s|ms|us|ns)\s*(?:,\s*tz\s*=\s*([\w/+:-]+))?\s*\]")

# Widening a type keeps every old value representable; the reverse narrows.
_WIDENINGS: set[tuple[str, str]] = {
    ("int8", "int16"), ("int8", "int32"), ("int8", "int64"),
    ("int16", "int32"), ("int16", "int64"), ("int32", "int64"),
    ("float", "double"),
}


def parse_type(text: str, *, where: str = "type") -> pa.DataType:
    """Parse a contract type name (``int64``, ``decimal(12,2)``, ``timestamp[us, tz=UTC]``)."""
    key = text.strip().lower()
    if key in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[key]
    if m := _DECIMAL_RE.fullmatch(key):
        precision, scale = int(m.group(1)), int(m.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise InvalidContract(f"decimal precision must be 1..38 and scale <= precision, got {text!r}", where=where)
        return pa.decimal128(precision, scale)
    if m := _TIMESTAMP_RE.fullmatch(text.strip()):
        unit, tz = m.group(1), m.group(2)
        return pa.timestamp(unit, tz=tz)
    known = ", ".join(sorted({"bool", "int8", "int16", "int32", "int64", "float32", "float64",
                               "string", "binary", "date", "timestamp", "timestamp[us, tz=UTC]",
                               "decimal(p,s)"}))
    raise InvalidContract(f"unknown type {text!r}; expected one of: {known}", where=where)


def type_name(dtype: pa.DataType) -> str:
    """The contract spelling of an Arrow type (inverse of :func:`parse_type`)."""
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if pa.types.is_timestamp(dtype):
        return f"timestamp[{dtype.unit}, tz={dtype.tz}]" if dtype.tz else f"timestamp[{dtype.unit}]"
    if pa.types.is_date32(dtype):
        return "date"
    return str(dtype).replace("large_", "")


def to_scalar(value: Any, dtype: pa.DataType) -> pa.Scalar:
    """A contract literal (allowed value, min, max) as an Arrow scalar of ``dtype``."""
    if pa.types.is_decimal(dtype):
        return pa.scalar(Decimal(str(value)), type=dtype)
    if isinstance(value, str) and not pa.types.is_string(dtype):
        return pa.scalar(value).cast(dtype)
    return pa.scalar(value).cast(dtype)


def to_array(values: Sequence[Any], dtype: pa.DataType) -> pa.Array:
    """Contract literals as an Arrow array of ``dtype``."""
    return pa.array([to_scalar(v, dtype).as_py() for v in values], type=dtype)


@dataclass(frozen=True)
class Column:
    """One column of a contract."""

    name: str
    type: pa.DataType
    nullable: bool = True
    description: str = ""
    pii: bool = False
    allowed: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None
    tags: tuple[str, ...] = ()

    @property
    def storage_type(self) -> pa.DataType:
        """Type in the Delta table: PII columns hold ``nonce‖ciphertext‖tag`` bytes."""
        return pa.binary() if self.pii else self.type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": type_name(self.type), "nullable": self.nullable}
        if self.description:
            out["description"] = self.description
        if self.pii:
            out["pii"] = True
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.tags:
            out["tags"] = list(self.tags)
        return out


@dataclass(frozen=True)
class Contract:
    """A versionless contract document; the catalog numbers its versions."""

    domain: str
    name: str
    columns: tuple[Column, ...]
    owner: str = ""
    description: str = ""
    primary_key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: How often a batch is promised to land (``"1d"``), or ``None``: no promise.
    freshness: str | None = None

    @property
    def freshness_sla(self) -> dt.timedelta | None:
        """The freshness promise as a duration (``None``: no promise)."""
        return parse_freshness(self.freshness) if self.freshness else None

    @property
    def dataset(self) -> str:
        """The qualified name ``domain.dataset``."""
        return f"{self.domain}.{self.name}"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def arrow_schema(self) -> pa.Schema:
        """Logical schema: what producers send and readers get back after decryption."""
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def storage_schema(self) -> pa.Schema:
        """Physical Delta schema. Every column is nullable in storage: required-ness
        is enforced by the contract at ingest, so relaxing it needs no rewrite."""
        return pa.schema([pa.field(c.name, c.storage_type, nullable=True) for c in self.columns])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset}
        if self.owner:
            out["owner"] = self.owner
        if self.description:
            out["description"] = self.description
        if self.primary_key:
            out["primary_key"] = list(self.primary_key)
        if self.partition_by:
            out["partition_by"] = list(self.partition_by)
        if self.tags:
            out["tags"] = list(self.tags)
        if self.freshness:
            out["freshness"] = self.freshness
        out["columns"] = [c.to_dict() for c in self.columns]
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_owner(self, owner: str) -> Contract:
        return replace(self, owner=owner)


def split_dataset_name(name: str, *, where: str = "dataset") -> tuple[str, str]:
    """Split ``domain.dataset`` into its parts, checking both are valid names."""
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) != 2 or not all(NAME_RE.fullmatch(p) for p in parts):
        raise InvalidContract(
            f"dataset must be 'domain.dataset' in lower case letters, digits and '_', got {name!r}",
            where=where,
        )
    return parts[0], parts[1]


_COLUMN_KEYS = {"name", "type", "nullable", "description", "pii", "allowed", "min", "max", "tags"}
_CONTRACT_KEYS = {"dataset", "owner", "description", "primary_key", "partition_by", "columns", "tags", "freshness"}


def parse_freshness(text: str, *, where: str = "freshness") -> dt.timedelta:
    """A freshness promise (``30m``, ``6h``, ``1d``, ``1w``) as a duration.

    Raises:
        InvalidContract: not a positive number followed by m, h, d or w.
    """
    m = _FRESHNESS_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None or int(m.group(1)) == 0:
        raise InvalidContract(f"freshness must be a positive number and a unit m, h, d or w "
                              f"(for example 6h or 1d), got {text!r}", where=where)
    return dt.timedelta(**{_FRESHNESS_UNITS[m.group(2)]: int(m.group(1))})


def _freshness(value: Any) -> str | None:
    """The contract's freshness promise, normalized (``" 6H "`` → ``"6h"``)."""
    if value is None:
        return None
    text = "".join(value.split()).lower() if isinstance(value, str) else ""
    sla = parse_freshness(text or repr(value))
    unit = text[-1]
    return f"{sla // dt.timedelta(**{_FRESHNESS_UNITS[unit]: 1})}{unit}"


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise InvalidContract("must be a list of names", where=where)
    return tuple(value)


def _parse_column(raw: Any, index: int) -> Column:
    where = f"columns[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidContract("each column must be a mapping with at least 'name' and 'type'", where=where)
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise InvalidContract(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_COLUMN_KEYS)}", where=where)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidContract(f"column name must match ^{NAME_RE.pattern}$, got {name!r}", where=f"{where}.name")
    where = f"columns[{index}] ({name})"
    if "type" not in raw or not isinstance(raw["type"], str):
        raise InvalidContract("missing 'type'", where=where)
    dtype = parse_type(raw["type"], where=f"{where}.type")
    nullable = raw.get("nullable", True)
    pii = raw.get("pii", False)
    if not isinstance(nullable, bool) or not isinstance(pii, bool):
        raise InvalidContract("'nullable' and 'pii' must be true or false", where=where)
    allowed = raw.get("allowed")
    if allowed is not None:
        if not isinstance(allowed, list) or not allowed:
            raise InvalidContract("'allowed' must be a non-empty list", where=f"{where}.allowed")
        try:
            to_array(allowed, dtype)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, InvalidOperation) as exc:
            raise InvalidContract(f"allowed values do not fit type {raw['type']}: {exc}", where=f"{where}.allowed") from exc
        allowed = tuple(allowed)
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is None:
            continue
        if not (pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
                or pa.types.is_temporal(dtype) or pa.types.is_string(dtype)):
            raise InvalidContract(f"'{bound}' is not supported for type {raw['type']}", where=f"{where}.{bound}")
        try:
            to_scalar(value, dtype)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, InvalidOperation) as exc:
            raise InvalidContract(f"{bound} {value!r} does not fit type {raw['type']}", where=f"{where}.{bound}") from exc
    return Column(
        name=name,
        type=dtype,
        nullable=nullable,
        description=str(raw.get("description") or ""),
        pii=pii,
        allowed=allowed,
        min=raw.get("min"),
        max=raw.get("max"),
        tags=_str_tuple(raw.get("tags"), f"{where}.tags"),
    )


def parse_contract(raw: Mapping[str, Any] | str, *, dataset: str | None = None) -> Contract:
    """Build a contract from a mapping (JSON) or YAML text, with errors that say where.

    Args:
        raw: The contract document.
        dataset: The expected ``domain.dataset``; fills in or must match the document's.

    Raises:
        InvalidContract: naming the field (and the YAML line for syntax errors).
    """
    if isinstance(raw, str):
        try:
            loaded = load_yaml(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
            raise InvalidContract(f"not valid YAML: {getattr(exc, 'problem', exc)}", where=where) from exc
        raw = loaded
    if not isinstance(raw, Mapping):
        raise InvalidContract("a contract must be a mapping with 'dataset' and 'columns'")
    unknown = set(raw) - _CONTRACT_KEYS
    if unknown:
        raise InvalidContract(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_CONTRACT_KEYS)}")
    name = raw.get("dataset", dataset)
    if dataset is not None and name != dataset:
        raise InvalidContract(f"contract is for {name!r}, not {dataset!r}", where="dataset")
    if not isinstance(name, str):
        raise InvalidContract("missing 'dataset' (domain.dataset)", where="dataset")
    domain, table = split_dataset_name(name)
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, list) or not columns_raw:
        raise InvalidContract("'columns' must be a non-empty list", where="columns")
    columns = tuple(_parse_column(c, i) for i, c in enumerate(columns_raw))
    names = [c.name for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidContract(f"duplicate column name(s) {dupes}", where="columns")
    pk = _str_tuple(raw.get("primary_key"), "primary_key")
    parts = _str_tuple(raw.get("partition_by"), "partition_by")
    by_name = {c.name: c for c in columns}
    for key_name, keys in (("primary_key", pk), ("partition_by", parts)):
        for k in keys:
            if k not in by_name:
                raise InvalidContract(f"{k!r} is not a column", where=key_name)
            if by_name[k].pii:
                raise InvalidContract(f"PII column {k!r} cannot be in {key_name}: it is stored encrypted", where=key_name)
    for k in pk:
        if by_name[k].nullable:
            raise InvalidContract(f"primary key column {k!r} must be required (nullable: false)", where="primary_key")
    return Contract(
        domain=domain,
        name=table,
        columns=columns,
        owner=str(raw.get("owner") or ""),
        description=str(raw.get("description") or ""),
        primary_key=pk,
        partition_by=parts,
        tags=_str_tuple(raw.get("tags"), "tags"),
        freshness=_freshness(raw.get("freshness")),
    )


def _widens(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether every value of ``old`` is representable in ``new`` (a decimal keeps its integer digits and scale)."""
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        scale: int = new.scale - old.scale
        digits: int = (new.precision - new.scale) - (old.precision - old.scale)
        return scale >= 0 and digits >= 0
    return (type_name(old), type_name(new)) in _WIDENINGS


def _narrows(old: pa.DataType, new: pa.DataType) -> bool:
    return old != new and _widens(new, old)


def _column_added(col: Column) -> SchemaChange:
    if col.nullable:
        return SchemaChange("added", col.name, f"nullable column {col.name!r} added", False)
    return SchemaChange("added", col.name, f"required column {col.name!r} added (existing rows have no value)", True)


def _column_changed(oc: Column, nc: Column) -> Iterator[SchemaChange]:
    name = oc.name
    if oc.type != nc.type:
        kind = "widened" if _widens(oc.type, nc.type) else "narrowed" if _narrows(oc.type, nc.type) else "changed"
        yield SchemaChange(
            "retyped", name, f"column {name!r} type {kind} from {type_name(oc.type)} to {type_name(nc.type)}", True)
    if oc.nullable and not nc.nullable:
        yield SchemaChange("required", name, f"column {name!r} made required", True)
    elif not oc.nullable and nc.nullable:
        yield SchemaChange("relaxed", name, f"column {name!r} made nullable", False)
    if oc.pii != nc.pii:
        yield SchemaChange("pii", name, f"column {name!r} PII tag changed (storage format changes)", True)
    if (oc.allowed, oc.min, oc.max) != (nc.allowed, nc.min, nc.max):
        yield SchemaChange("constraint", name, f"column {name!r} allowed values or range changed", False)
    if (oc.description, oc.tags) != (nc.description, nc.tags):
        yield SchemaChange("docs", name, f"column {name!r} description or tags changed", False)


#: A contract's rules for the shared diff: a dropped and an added column of the
#: same type at the same position read as a rename.
_CONTRACT_COLUMNS: ColumnRules[Column] = ColumnRules(
    name=lambda c: c.name,
    is_rename=lambda old, i, new, j: old.type == new.type and i == j,
    removed=lambda c: SchemaChange("dropped", c.name, f"column {c.name!r} dropped", True),
    renamed=lambda old, new: SchemaChange("renamed", old.name, f"column {old.name!r} renamed to {new.name!r}", True),
    added=_column_added,
    changed=_column_changed,
)


def diff_contracts(old: Contract, new: Contract) -> list[SchemaChange]:
    """Differences between two contracts, each marked breaking or not.

    Adding a nullable column, relaxing a required column, and editing
    descriptions, tags, allowed values or ranges are compatible. Dropping,
    renaming, retyping (narrowing or widening; the table keeps one physical
    type per column), making a column required, adding a required column,
    changing the PII tag, the primary key or the partitioning are breaking.
    """
    changes = diff_columns(old.columns, new.columns, _CONTRACT_COLUMNS)
    if old.primary_key != new.primary_key:
        changes.append(SchemaChange(
            "primary_key", None, f"primary key changed from {list(old.primary_key)} to {list(new.primary_key)}", True))
    if old.partition_by != new.partition_by:
        changes.append(SchemaChange(
            "partition", None, f"partitioning changed from {list(old.partition_by)} to {list(new.partition_by)}", True))
    if old.freshness != new.freshness:
        changes.append(SchemaChange("freshness", None, f"freshness promise changed from {old.freshness or 'none'} "
                                    f"to {new.freshness or 'none'}", False))
    if (old.owner, old.description, old.tags) != (new.owner, new.description, new.tags):
        changes.append(SchemaChange("docs", None, "dataset owner, description or tags changed", False))
    return changes
