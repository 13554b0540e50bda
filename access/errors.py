"""Errors of the access layer, beside :class:`lake.errors.AccessDenied`.

    LakegateError
    ├── InvalidInput
    │   ├── InvalidRowFilter        a row filter is not a safe SQL predicate (where: position)
    │   └── InvalidPolicy           a Casbin CSV line or a policy value is malformed (where: line)
    ├── Conflict
    │   └── RequestNotPending       an access request was decided already
    └── AuditChainBroken            ``verify()`` found edited, removed or reordered entries
"""

from __future__ import annotations

from typing import Any

from lake.errors import Conflict, InvalidInput, LakegateError


class InvalidRowFilter(InvalidInput):
    """A row filter that is not a single safe predicate."""

    code = "invalid_row_filter"

    def __init__(self, predicate: str, reason: str) -> None:
        super().__init__(f"row filter {predicate!r} is refused: {reason}")
        self.predicate = predicate
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"predicate": self.predicate, "reason": self.reason}


class InvalidPolicy(InvalidInput):
    """A policy line (Casbin CSV) or value that cannot be read."""

    code = "invalid_policy"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line

    def details(self) -> dict[str, Any]:
        return {"line": self.line}


class RequestNotPending(Conflict):
    code = "request_not_pending"

    def __init__(self, request_id: int, status: str) -> None:
        super().__init__(f"access request {request_id} is {status}, not pending; it cannot be decided again")
        self.request_id = request_id
        self.status = status

    def details(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "status": self.status}


class AuditChainBroken(LakegateError):
    """The audit log does not verify; ``problems`` says where."""

    code = "audit_chain_broken"
    http_status = 409

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0]["message"] if problems else "unknown problem"
        super().__init__(f"the audit log does not verify: {len(problems)} problem(s); first: {first}")
        self.problems = problems

    def details(self) -> dict[str, Any]:
        return {"problems": self.problems}
