"""What an author writes: a view definition (name, SQL, docs, materialization).

Definitions come from ``.sql`` files with a YAML header (:mod:`views.files`) or
from JSON over the API (:meth:`ViewDefinition.from_mapping`). Each applied
change to a definition becomes a new immutable version of the view.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lake.contracts import NAME_RE
from views.errors import InvalidViewDefinition
from views.names import parse_view_name


class Materialization(enum.StrEnum):
    """How a view is served: a Delta table rebuilt by runs, or SQL expanded on read."""

    TABLE = "table"
    VIRTUAL = "virtual"

    @classmethod
    def parse(cls, text: str, *, where: str = "materialization") -> Materialization:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise InvalidViewDefinition(f"unknown materialization {text!r}; expected one of: table, virtual",
                                        where=where) from None


#: Keys a definition (file header or API body) may have.
DEFINITION_KEYS = frozenset({"view", "owner", "description", "materialization", "tags", "columns", "sql"})


@dataclass(frozen=True)
class ViewDefinition:
    """One view as its author defines it.

    Attributes:
        name: ``domain.name``.
        sql: One SELECT (or WITH ... SELECT) in the Spark dialect.
        owner: A user or team; defaults to the author.
        description: What the view means.
        column_docs: Column name to its description, as pairs in file order.
        tags: Free-form labels for discovery.
        materialization: ``table`` (a Delta table per version) or ``virtual``.
        file: The file it came from, if any (for error messages).
        sql_line: Line of the file on which the SQL starts (1 without a file).
    """

    name: str
    sql: str
    owner: str = ""
    description: str = ""
    column_docs: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    materialization: Materialization = Materialization.TABLE
    file: str | None = field(default=None, compare=False)
    sql_line: int = field(default=1, compare=False)

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def doc_of(self, column: str) -> str:
        return dict(self.column_docs).get(column, "")

    def metadata(self) -> dict[str, Any]:
        """Everything but the SQL, as stored with each version."""
        return {
            "owner": self.owner,
            "description": self.description,
            "columns": dict(self.column_docs),
            "tags": list(self.tags),
            "materialization": self.materialization.value,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.name, **self.metadata(), "sql": self.sql}

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], *, sql: str | None = None, file: str | None = None,
                     sql_line: int = 1) -> ViewDefinition:
        """Build a definition from a mapping (an API body or a file header).

        Args:
            doc: Keys ``view``, ``sql`` (unless given), and optionally ``owner``,
                ``description``, ``materialization``, ``tags``, ``columns`` (a
                mapping of column name to description).
            sql: The SQL, when it is not in ``doc`` (a file's body).
            file: Where the definition came from, for error messages.
            sql_line: Line of the file where the SQL starts.

        Raises:
            InvalidViewDefinition: Naming the field that is wrong.
        """
        where = file or "definition"
        if not isinstance(doc, Mapping):
            raise InvalidViewDefinition("a view definition must be a mapping with 'view' and 'sql'", where=where)
        unknown = set(doc) - DEFINITION_KEYS
        if unknown:
            raise InvalidViewDefinition(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(DEFINITION_KEYS)}",
                                        where=where)
        if "view" not in doc:
            raise InvalidViewDefinition("missing 'view' (the view's name, domain.name)", where=where)
        name = str(parse_view_name(doc["view"], where=f"{where}: view"))
        text = sql if sql is not None else doc.get("sql")
        if not isinstance(text, str) or not text.strip():
            raise InvalidViewDefinition("the view has no SQL", where=where)
        for key in ("owner", "description"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise InvalidViewDefinition(f"'{key}' must be text", where=f"{where}: {key}")
        tags = doc.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidViewDefinition("'tags' must be a list of words", where=f"{where}: tags")
        columns = doc.get("columns") or {}
        if not isinstance(columns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise InvalidViewDefinition("'columns' must map column names to descriptions", where=f"{where}: columns")
        for col in columns:
            if not NAME_RE.fullmatch(col):
                raise InvalidViewDefinition(f"column {col!r} is not a valid column name", where=f"{where}: columns")
        return cls(
            name=name,
            sql=text.strip("\n").rstrip(),
            owner=str(doc.get("owner") or ""),
            description=str(doc.get("description") or "").strip(),
            column_docs=tuple((k, v.strip()) for k, v in columns.items()),
            tags=tuple(tags),
            materialization=Materialization.parse(doc.get("materialization") or "table",
                                                  where=f"{where}: materialization"),
            file=file,
            sql_line=sql_line,
        )
