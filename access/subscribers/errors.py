"""Errors of engine subscribers.

    LakegateError
    ├── AccessDenied
    │   └── RawAccessRefused        a table is governed by masks, a row filter or hidden columns
    │                               for the subscriber: never vended raw (names the alternatives)
    ├── Conflict
    │   ├── SubscriberSuspended     the subscriber is suspended
    │   └── VendingUnavailable      the lake is not in S3 mode (no IAM roles, no STS)
    ├── InvalidInput
    │   └── WrongSubscriberKind     the operation is for other kinds of subscriber
    ├── ExportTooLarge              a governed export would exceed the row limit
    └── RedshiftApplyFailed         a statement of a Redshift plan failed on the cluster;
                                    nothing was recorded as applied
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lake.errors import AccessDenied, Conflict, InvalidInput, LakegateError

#: What a subscriber may use instead of raw files for a governed table.
GOVERNED_ALTERNATIVES = (
    "the query gateway (POST /api/v1/query, `lakegate query`), which applies row filters and masks",
    ("a governed export (POST /api/v1/subscribers/{name}/exports, `lakegate subscribers export`), "
     "a Parquet snapshot with row filters and masks applied"),
)


class RawAccessRefused(AccessDenied):
    """A table the subscriber may read only governed: raw files would show more than its grants."""

    code = "raw_access_refused"

    def __init__(self, subscriber: str, subject: str, table: str, reasons: Sequence[str]) -> None:
        self.subscriber = subscriber
        self.table = table
        self.reasons = tuple(reasons)
        self.alternatives = tuple(a.replace("{name}", subscriber) for a in GOVERNED_ALTERNATIVES)
        reason = ("; ".join(self.reasons) + f" (subscriber {subscriber}), so its files would show more than "
                  "the grants allow. Read it governed instead: " + "; or ".join(self.alternatives))
        super().__init__(subject, "read the raw files of", f"table {table}", reason)

    def details(self) -> dict[str, Any]:
        return {**super().details(), "subscriber": self.subscriber, "table": self.table,
                "reasons": list(self.reasons), "alternatives": list(self.alternatives)}


class SubscriberSuspended(Conflict):
    code = "subscriber_suspended"

    def __init__(self, name: str) -> None:
        super().__init__(f"subscriber {name} is suspended; resume it first (lakegate subscribers resume {name})")
        self.name = name

    def details(self) -> dict[str, Any]:
        return {"subscriber": self.name}


class VendingUnavailable(Conflict):
    """Credential vending needs IAM and STS: the lake must live in S3."""

    code = "vending_unavailable"

    def __init__(self, what: str = "credential vending") -> None:
        super().__init__(f"{what} needs the lake in S3 (LAKEGATE_STORAGE_URI=s3://bucket/prefix) with IAM and "
                         "STS; this lake is a local directory. Read through the query gateway or an export")


class WrongSubscriberKind(InvalidInput):
    code = "wrong_subscriber_kind"

    def __init__(self, name: str, kind: str, operation: str, expected: Sequence[str]) -> None:
        super().__init__(f"subscriber {name} is a {kind} subscriber; {operation} is for "
                         f"{' or '.join(expected)} subscribers")
        self.name = name
        self.kind = kind
        self.operation = operation

    def details(self) -> dict[str, Any]:
        return {"subscriber": self.name, "kind": self.kind, "operation": self.operation}


class ExportTooLarge(LakegateError):
    code = "export_too_large"
    http_status = 413

    def __init__(self, table: str, limit: int) -> None:
        super().__init__(f"the governed export of {table} has more than {limit} rows, the export limit "
                         "(LAKEGATE_SUBSCRIBERS_EXPORT_MAX_ROWS); nothing was written")
        self.table = table
        self.limit = limit

    def details(self) -> dict[str, Any]:
        return {"table": self.table, "limit": self.limit}


class RedshiftApplyFailed(LakegateError):
    """A statement of a Redshift plan failed on the cluster; the applied state was not recorded."""

    code = "redshift_apply_failed"
    http_status = 502

    def __init__(self, subscriber: str, index: int, total: int, statement: str, reason: str,
                 rolled_back: bool) -> None:
        self.subscriber = subscriber
        self.index = index
        self.statement = statement
        undone = ("the transaction was rolled back" if rolled_back else
                  f"statements 1 to {index - 1} stay applied (Redshift runs external DDL outside transactions)")
        super().__init__(f"statement {index} of {total} for {subscriber} failed: {reason}; {undone}; nothing "
                         "was recorded as applied, so the next plan starts from the previous state")

    def details(self) -> dict[str, Any]:
        return {"subscriber": self.subscriber, "statement_index": self.index}
