"""Errors of the metric catalog, beside the core tree in :mod:`lake.errors`.

    LakegateError
    ├── InvalidInput
    │   ├── InvalidMetric           a definition is wrong (field, and line/column in its SQL)
    │   └── InvalidChain            an approval chain document is malformed (where)
    ├── Conflict
    │   ├── IllegalTransition       the metric's state does not allow the action (names the allowed ones)
    │   ├── ApprovalRefused         an approval breaks a chain rule (self-approval, two stages, quorum...)
    │   └── ConcurrentChange        another action won the race on the same metric; retry
    └── AccessDenied                (core) the caller may not act on the metric
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lake.errors import Conflict, InvalidInput


class InvalidMetric(InvalidInput):
    """A metric definition that cannot be saved or proposed.

    ``field`` names the part of the definition (``expression``, ``filters[1]``,
    ``dimensions``...); for SQL fields ``line`` and ``column`` point into the
    text (counting from 1) and ``snippet`` shows it with a caret.
    """

    code = "invalid_metric"

    def __init__(self, metric: str, field: str, reason: str, *, text: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        where = f"{field}"
        if line is not None and column is not None:
            where += f" (line {line}, column {column})"
        message = f"metric {metric}: {where}: {reason}"
        self.snippet = _snippet(text, line, column) if text is not None else None
        if self.snippet:
            message += "\n" + self.snippet
        super().__init__(message)
        self.metric = metric
        self.field = field
        self.reason = reason
        self.line = line
        self.column = column

    def details(self) -> dict[str, Any]:
        return {"metric": self.metric, "field": self.field, "reason": self.reason,
                "line": self.line, "column": self.column, "snippet": self.snippet}


def _snippet(text: str, line: int | None, column: int | None) -> str | None:
    if line is None or column is None:
        return None
    lines = text.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return None
    return f"  {lines[line - 1]}\n  {' ' * (column - 1)}^"


class InvalidChain(InvalidInput):
    """An approval chain document that cannot be read."""

    code = "invalid_approval_chain"

    def __init__(self, domain: str, reason: str, *, where: str | None = None) -> None:
        super().__init__(f"approval chain of domain {domain}: {where + ': ' if where else ''}{reason}")
        self.domain = domain
        self.where = where

    def details(self) -> dict[str, Any]:
        return {"domain": self.domain, "where": self.where}


class IllegalTransition(Conflict):
    """The action is not allowed in the metric's current state."""

    code = "illegal_transition"

    def __init__(self, metric: str, status: str, action: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the state is final)"
        super().__init__(f"metric {metric} is {status}: cannot {action}; allowed actions: {allowed_text}")
        self.metric = metric
        self.status = status
        self.action = action
        self.allowed = tuple(allowed)

    def details(self) -> dict[str, Any]:
        return {"metric": self.metric, "status": self.status, "action": self.action,
                "allowed": list(self.allowed)}


class ApprovalRefused(Conflict):
    """An approval or decision that breaks a rule of the approval chain."""

    code = "approval_refused"
    http_status = 403

    def __init__(self, metric: str, approver: str, rule: str, reason: str) -> None:
        super().__init__(f"{approver} may not decide on metric {metric}: {reason}")
        self.metric = metric
        self.approver = approver
        self.rule = rule
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"metric": self.metric, "approver": self.approver, "rule": self.rule, "reason": self.reason}


class ConcurrentChange(Conflict):
    """Another action changed the metric between reading and writing, every retry."""

    code = "concurrent_change"

    def __init__(self, metric: str, attempts: int) -> None:
        super().__init__(f"metric {metric} kept changing under {attempts} attempts; try again")
        self.metric = metric

    def details(self) -> dict[str, Any]:
        return {"metric": self.metric}
