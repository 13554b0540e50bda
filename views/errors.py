"""Errors of the views package, each a subclass of the lake core's categories so
the API maps them with the right HTTP status and a stable ``code``.

    LakegateError
    ├── NotFound
    │   └── ViewNotFound              no such view, or no such version of it
    ├── InvalidInput
    │   ├── InvalidViewDefinition     a view file or request is malformed (header, name, keys)
    │   ├── ViewCompileError          the SQL is refused: syntax, statement kind, unknown table
    │   │   │                         or column, PII misuse, Spark disagreement (line, column)
    │   │   └── ViewCycle             the view would depend on itself
    │   └── TranspileError            a dialect cannot express the SQL
    ├── Conflict
    │   ├── BreakingViewChange        a breaking change without a declared major version
    │   └── NotMaterialized           an input view has no materialization to read yet
    ├── ViewSunset                    the version's sunset date has passed (HTTP 410)
    └── MaterializationFailed         Spark or storage failed during a run (recorded in the run)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lake.errors import Conflict, InvalidInput, LakegateError, NotFound

if TYPE_CHECKING:
    from views.diff import Change


class ViewNotFound(NotFound):
    code = "view_not_found"


class InvalidViewDefinition(InvalidInput):
    """A view definition is malformed; ``where`` names the file, line or field."""

    code = "invalid_view_definition"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where

    def details(self) -> dict[str, Any]:
        return {"where": self.where}


class ViewCompileError(InvalidInput):
    """The SQL of a view is refused, with the position of the problem.

    Attributes:
        view: ``domain.name`` of the view.
        version: The version being created, when known.
        line: 1-based line in the file (or in the SQL when there is no file).
        column: 1-based column.
        kind: What is wrong: ``syntax``, ``statement``, ``unknown_table``,
            ``unknown_column``, ``ambiguous_column``, ``alias``, ``pii``, ``cycle``,
            ``type``, ``spark`` or ``schema_mismatch``.
        reason: The problem, without the position.
        file: The view file, when the definition came from one.
    """

    code = "view_compile_error"

    def __init__(
        self,
        view: str,
        reason: str,
        *,
        kind: str,
        line: int | None = None,
        column: int | None = None,
        version: int | None = None,
        file: str | None = None,
    ) -> None:
        where = view + (f" v{version}" if version else "")
        if file:
            where = f"{file} ({where})"
        if line is not None:
            where += f" at line {line}, column {column}"
        super().__init__(f"{where}: {reason}")
        self.view = view
        self.reason = reason
        self.kind = kind
        self.line = line
        self.column = column
        self.version = version
        self.file = file

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "kind": self.kind, "line": self.line,
                "column": self.column, "file": self.file, "reason": self.reason}


class ViewCycle(ViewCompileError):
    """Views would depend on themselves; ``path`` is the cycle, first name repeated last."""

    code = "view_cycle"

    def __init__(self, view: str, path: Sequence[str], *, line: int | None = None, column: int | None = None,
                 file: str | None = None) -> None:
        self.path = tuple(path)
        super().__init__(view, "views would depend on themselves: " + " -> ".join(self.path), kind="cycle",
                         line=line, column=column, file=file)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "path": list(self.path)}


class TranspileError(InvalidInput):
    """A target dialect cannot express the view's SQL; no SQL is returned."""

    code = "transpile_unsupported"

    def __init__(self, view: str, version: int, dialect: str, reason: str) -> None:
        super().__init__(f"{view} v{version} cannot be written for {dialect}: {reason}")
        self.view = view
        self.version = version
        self.dialect = dialect
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "dialect": self.dialect, "reason": self.reason}


class BreakingViewChange(Conflict):
    """A new version would break readers and the author did not declare a major change."""

    code = "breaking_view_change"

    def __init__(self, view: str, changes: Sequence[Change]) -> None:
        self.view = view
        self.changes = tuple(changes)
        lines = "; ".join(c.detail for c in self.changes if c.breaking)
        super().__init__(
            f"the change to {view} is breaking: {lines}. Declare a major change (major=true, "
            "or --major on the command line) to make it; downstream views keep reading the previous version "
            "until they move to the new one"
        )

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "changes": [c.as_dict() for c in self.changes]}


class NotMaterialized(Conflict):
    """A table view that another run reads has never been materialized."""

    code = "view_not_materialized"

    def __init__(self, view: str, version: int, needed_by: str) -> None:
        super().__init__(
            f"{needed_by} reads {view} v{version}, which has not been materialized yet; refresh it first "
            f"(lakegate views refresh {needed_by} --upstream)"
        )
        self.view = view
        self.version = version
        self.needed_by = needed_by

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "needed_by": self.needed_by}


class ViewSunset(LakegateError):
    """The version was deprecated and its sunset date has passed."""

    code = "view_sunset"
    http_status = 410

    def __init__(self, view: str, version: int, sunset_on: dt.date, current: int | None,
                 needed_by: str | None = None) -> None:
        who = f"{needed_by} reads {view} v{version}, but it" if needed_by else f"{view} v{version}"
        hint = f"; read the current version v{current}" if current and current != version else ""
        super().__init__(f"{who} was retired on {sunset_on.isoformat()} (deprecated with a sunset date){hint}")
        self.view = view
        self.version = version
        self.sunset_on = sunset_on
        self.current = current

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "sunset_on": self.sunset_on.isoformat(),
                "current_version": self.current}


class MaterializationFailed(LakegateError):
    """A materialization run failed; the run is recorded with this error and the
    previous materialization stays readable."""

    code = "materialization_failed"
    http_status = 500

    def __init__(self, view: str, version: int, run_id: str, reason: str) -> None:
        super().__init__(f"materializing {view} v{version} failed (run {run_id}): {reason}")
        self.view = view
        self.version = version
        self.run_id = run_id
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "run_id": self.run_id, "reason": self.reason}
