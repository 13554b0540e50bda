"""The exception tree of Lakegate.

Every error Lakegate raises on purpose derives from :class:`LakegateError` and
carries a stable machine-readable ``code`` plus the HTTP status the API answers
with. The API maps the whole tree in one exception handler.

    LakegateError
    ├── ConfigError                 settings are missing or unsafe
    ├── NotFound                    a domain, dataset, version or token does not exist
    ├── AlreadyExists               a name is taken
    ├── Conflict                    a concurrent change won, or state forbids the action
    │   ├── TableBusy               another writer holds a table's lock too long
    │   └── CommitConflict          a Delta commit lost to a concurrent one (nothing committed)
    ├── InvalidInput                a request or file is malformed
    │   ├── InvalidContract         a contract (YAML or JSON) is malformed
    │   ├── InvalidEncoding         a text body is not UTF-8 (400, with the byte offset)
    │   └── MalformedBatch          a batch cannot be read (bad CSV line, truncated Parquet)
    ├── ContractViolation           a batch breaks its contract (column, rows, samples)
    ├── BreakingChange              a contract change needs a new major version
    ├── PayloadTooLarge             an upload exceeds the size limit
    ├── TooManyRequests             a bound on concurrent work or on attempts was reached (429)
    ├── AuthenticationError         no token, or an invalid or expired one
    ├── AccessDenied                authenticated, but not allowed
    └── StorageError                the object store or a table refused an operation
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class LakegateError(Exception):
    """Root of every error Lakegate raises on purpose."""

    code: str = "lakegate_error"
    http_status: int = 500
    #: Seconds after which the same request may succeed (answered as ``Retry-After``), if it may.
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Structured fields for API clients, beside ``code`` and ``message``."""
        return {}


class ConfigError(LakegateError):
    code = "config_error"
    http_status = 500


class NotFound(LakegateError):
    code = "not_found"
    http_status = 404


class AlreadyExists(LakegateError):
    code = "already_exists"
    http_status = 409


class Conflict(LakegateError):
    code = "conflict"
    http_status = 409


class TableBusy(Conflict):
    """Another writer held a table's lock for longer than the wait allowed."""

    code = "table_busy"

    def __init__(self, what: str, waited: float) -> None:
        super().__init__(
            f"{what} is busy: another batch or maintenance task is being committed to it "
            f"(waited {waited:g} s); nothing was committed, retry the request in a few seconds"
        )


class CommitConflict(Conflict):
    """A Delta commit lost to a concurrent commit; nothing was committed."""

    code = "commit_conflict"

    def __init__(self, what: str, attempts: int) -> None:
        super().__init__(
            f"{what} was changed by another writer while this commit was made ({attempts} attempt(s)); "
            "nothing was committed: retry the request"
        )


class InvalidInput(LakegateError):
    code = "invalid_input"
    http_status = 422


class InvalidContract(InvalidInput):
    """A contract document is malformed; ``where`` says which field or line."""

    code = "invalid_contract"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where

    def details(self) -> dict[str, Any]:
        return {"where": self.where}


class InvalidEncoding(InvalidInput):
    """A text body is not UTF-8; ``offset`` is the first bad byte's, counted from 0."""

    code = "invalid_encoding"
    http_status = 400

    def __init__(self, what: str, offset: int, byte: int) -> None:
        super().__init__(f"{what} is not UTF-8 text: invalid byte 0x{byte:02x} at byte offset {offset}")
        self.offset = offset

    def details(self) -> dict[str, Any]:
        return {"offset": self.offset}


class MalformedBatch(InvalidInput):
    """A batch could not be parsed as the format it claims to be."""

    code = "malformed_batch"

    def __init__(
        self, message: str, *, dataset: str, fmt: str, line: int | None = None
    ) -> None:
        where = f" at line {line}" if line is not None else ""
        super().__init__(f"{dataset}: cannot read {fmt} batch{where}: {message}")
        self.dataset = dataset
        self.fmt = fmt
        self.line = line

    def details(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "format": self.fmt, "line": self.line}


@dataclass(frozen=True)
class Violation:
    """One rule a batch broke: which column, why, how many rows, which ones."""

    column: str | None
    reason: str
    failing_rows: int
    row_numbers: tuple[int, ...] = ()
    samples: tuple[Any, ...] = ()

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "batch"
        rows = ", ".join(str(r) for r in self.row_numbers)
        text = f"{where}: {self.reason} ({self.failing_rows} row(s)"
        if rows:
            text += f"; first rows {rows}"
        if self.samples:
            text += f"; sample values {list(self.samples)!r}"
        return text + ")"

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "reason": self.reason,
            "failing_rows": self.failing_rows,
            "row_numbers": list(self.row_numbers),
            "samples": [repr(s) if isinstance(s, bytes) else s for s in self.samples],
        }


class ContractViolation(LakegateError):
    """A batch broke its dataset's contract; nothing was committed.

    Row numbers count from 1 over the data rows of the batch (a CSV header is
    not a row).
    """

    code = "contract_violation"
    http_status = 422

    def __init__(self, dataset: str, violations: Sequence[Violation]) -> None:
        self.dataset = dataset
        self.violations = tuple(violations)
        lines = "; ".join(v.describe() for v in self.violations)
        super().__init__(f"batch for {dataset} breaks its contract: {lines}")

    @property
    def column(self) -> str | None:
        return self.violations[0].column if self.violations else None

    def details(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "violations": [v.as_dict() for v in self.violations]}


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two versions of a schema: a contract's, or a view's (``views.diff``)."""

    kind: str  # added, dropped (views: removed), renamed, retyped, required, relaxed, pii, primary_key, partition...
    column: str | None
    detail: str
    breaking: bool

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "detail": self.detail, "breaking": self.breaking}


class BreakingChange(LakegateError):
    """A contract change would break readers; it needs a new major version."""

    code = "breaking_change"
    http_status = 409

    def __init__(self, dataset: str, changes: Sequence[SchemaChange]) -> None:
        self.dataset = dataset
        self.changes = tuple(changes)
        lines = "; ".join(c.detail for c in self.changes if c.breaking)
        super().__init__(
            f"contract change for {dataset} is breaking: {lines}. "
            "Declare a new major version of the dataset (major=true) to make it."
        )

    def details(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "changes": [c.as_dict() for c in self.changes]}


class PayloadTooLarge(LakegateError):
    code = "payload_too_large"
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"upload exceeds the limit of {limit} bytes")
        self.limit = limit

    def details(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit}


class TooManyRequests(LakegateError):
    """A bound was reached: concurrent queries, a queue, or sign-in attempts.

    Answered 429 with ``Retry-After: <retry_after>``.
    """

    code = "too_many_requests"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, reason: str = "") -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"retry_after_seconds": self.retry_after, "reason": self.reason}


class AuthenticationError(LakegateError):
    code = "unauthenticated"
    http_status = 401


class AccessDenied(LakegateError):
    """The subject is known but may not perform the action on the resource."""

    code = "access_denied"
    http_status = 403

    def __init__(self, subject: str, action: str, resource: str, reason: str = "") -> None:
        text = f"{subject} may not {action} {resource}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.subject = subject
        self.action = action
        self.resource = resource

    def details(self) -> dict[str, Any]:
        return {"subject": self.subject, "action": self.action, "resource": self.resource}


class StorageError(LakegateError):
    code = "storage_error"
    http_status = 502
