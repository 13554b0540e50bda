"""Domain values describing a view version: its columns with lineage and PII,
its dependencies and its grain. They are stored as JSON in the catalog and
handed to the rest of Lakegate (the access layer reads them through
:mod:`views.catalog`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lake.contracts import parse_type
from views import types


class SourceKind(enum.StrEnum):
    DATASET = "dataset"
    VIEW = "view"


class Transformation(enum.StrEnum):
    """How an output column is computed from its sources (as OpenLineage names them)."""

    IDENTITY = "identity"  # the source value, unchanged
    TRANSFORMATION = "transformation"  # computed row by row
    AGGREGATION = "aggregation"  # computed over groups of rows


@dataclass(frozen=True, order=True)
class ColumnSource:
    """A column of a dataset (at a major version) or of a view (at a version)."""

    kind: SourceKind
    name: str
    version: int
    column: str

    def __str__(self) -> str:
        return f"{self.name}.{self.column}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "version": self.version, "column": self.column}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ColumnSource:
        return cls(SourceKind(doc["kind"]), doc["name"], int(doc["version"]), doc["column"])


@dataclass(frozen=True)
class EncryptedWith:
    """A column holding ``nonce‖ciphertext‖tag`` under a dataset's data key.

    ``logical_type`` is the contract type the plaintext decrypts to.
    """

    dataset: str
    major: int
    column: str
    logical_type: str

    @property
    def arrow_logical_type(self) -> pa.DataType:
        return parse_type(self.logical_type)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "major": self.major, "column": self.column,
                "logical_type": self.logical_type}

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> EncryptedWith | None:
        if not doc:
            return None
        return cls(doc["dataset"], int(doc["major"]), doc["column"], doc["logical_type"])


@dataclass(frozen=True)
class ViewColumn:
    """An output column of a view version.

    Attributes:
        name: Column name.
        sql_type: Spark type name (``bigint``, ``decimal(16,6)``...); None if unknown
            (only for versions created without the Spark check).
        pii: Derived from a PII column somewhere upstream: masks apply.
        encrypted_with: Set when the stored value is a PII ciphertext passed
            through unchanged; names the dataset key that decrypts it.
        sources: Columns of the view's direct inputs this column is computed from.
        origins: The dataset columns at the root of its lineage.
        transformation: How it is computed from ``sources``.
        description: Column documentation from the definition.
    """

    name: str
    sql_type: str | None
    pii: bool = False
    encrypted_with: EncryptedWith | None = None
    sources: tuple[ColumnSource, ...] = ()
    origins: tuple[ColumnSource, ...] = ()
    transformation: Transformation = Transformation.TRANSFORMATION
    description: str = ""

    @property
    def type(self) -> pa.DataType | None:
        """The Arrow type of the stored column (binary for a PII ciphertext)."""
        return types.to_arrow(self.sql_type) if self.sql_type else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.sql_type,
            "pii": self.pii,
            "encrypted_with": self.encrypted_with.to_dict() if self.encrypted_with else None,
            "sources": [s.to_dict() for s in self.sources],
            "origins": [s.to_dict() for s in self.origins],
            "transformation": self.transformation.value,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ViewColumn:
        return cls(
            name=doc["name"],
            sql_type=doc.get("type"),
            pii=bool(doc.get("pii")),
            encrypted_with=EncryptedWith.from_dict(doc.get("encrypted_with")),
            sources=tuple(ColumnSource.from_dict(s) for s in doc.get("sources") or []),
            origins=tuple(ColumnSource.from_dict(s) for s in doc.get("origins") or []),
            transformation=Transformation(doc.get("transformation") or "transformation"),
            description=doc.get("description") or "",
        )


@dataclass(frozen=True, order=True)
class Dependency:
    """A dataset or view a version reads.

    For a dataset, ``version`` is the major version read. For a view it is the
    version current when this version was created; an unpinned dependency
    follows the view's later versions until one of them is a major (breaking)
    version, a pinned one reads exactly ``version``.
    """

    kind: SourceKind
    name: str
    version: int
    pinned: bool = False

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}" + ("" if self.pinned else "+")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "version": self.version, "pinned": self.pinned}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Dependency:
        return cls(SourceKind(doc["kind"]), doc["name"], int(doc["version"]), bool(doc.get("pinned")))


class GrainKind(enum.StrEnum):
    GROUP = "group"  # one row per group key
    DISTINCT = "distinct"  # one row per distinct output row
    ROWS = "rows"  # one row per row (or row combination) of its inputs
    UNION = "union"  # rows of several queries stacked


@dataclass(frozen=True)
class Grain:
    """What one row of a view stands for; changing it is a breaking change."""

    kind: GrainKind
    keys: tuple[str, ...]

    def describe(self) -> str:
        keys = ", ".join(self.keys)
        return {
            GrainKind.GROUP: f"one row per ({keys})" if keys else "one row in total",
            GrainKind.DISTINCT: f"one row per distinct ({keys})",
            GrainKind.ROWS: f"one row per row of {' x '.join(self.keys)}",
            GrainKind.UNION: f"rows of {' + '.join(self.keys)}",
        }[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Grain:
        return cls(GrainKind(doc["kind"]), tuple(doc.get("keys") or ()))
