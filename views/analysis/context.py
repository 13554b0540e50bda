"""Where an analysis is: the view, its SQL and file, and positions of nodes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from sqlglot import exp

from views.errors import ViewCompileError

_LINE_COL = re.compile(r"Line: (\d+), Col: (\d+)")
_UNKNOWN = re.compile(r"Unknown (column|table): (\S+)")


def _offset(node: exp.Expr) -> int | None:
    """Start offset of the first token of ``node`` in the parsed SQL, if known."""
    best: int | None = None
    for sub in node.walk():
        meta = sub.meta if isinstance(sub, exp.Expr) else None
        if meta and "start" in meta:
            start = int(meta["start"])
            best = start if best is None else min(best, start)
    return best


@dataclass(frozen=True)
class Context:
    """The view being analyzed and how to report a problem in it."""

    view: str
    sql: str
    file: str | None = None
    sql_line: int = 1
    version: int | None = None

    def line_col(self, offset: int) -> tuple[int, int]:
        """File line and column (both 1-based) of an offset into the SQL."""
        line = self.sql.count("\n", 0, offset) + 1
        column = offset - (self.sql.rfind("\n", 0, offset) + 1) + 1
        return self.sql_line + line - 1, column

    def position(self, node: exp.Expr | None) -> tuple[int | None, int | None]:
        if node is None:
            return None, None
        offset = _offset(node)
        if offset is None:
            return None, None
        return self.line_col(offset)

    def fail(self, reason: str, *, kind: str, node: exp.Expr | None = None,
             at: tuple[int, int] | None = None) -> NoReturn:
        """Raise a :class:`ViewCompileError` at ``node`` (or at a SQL line and column)."""
        line, column = self.position(node)
        if at is not None:
            line, column = self.sql_line + at[0] - 1, at[1]
        raise ViewCompileError(self.view, reason, kind=kind, line=line, column=column,
                               version=self.version, file=self.file)

    def fail_from_message(self, message: str, *, kind: str, root: exp.Expr | None = None) -> NoReturn:
        """Raise for a sqlglot message: ``... Line: L, Col: C``, or ``Unknown column: x``
        (positioned at the first such column of ``root``)."""
        m = _LINE_COL.search(message)
        reason = _LINE_COL.sub("", message).strip(" .,")
        if m:
            self.fail(reason, kind=kind, at=(int(m.group(1)), int(m.group(2))))
        named = _UNKNOWN.match(reason)
        if named and root is not None:
            what, name = named.group(1).lower(), named.group(2)
            for node in root.find_all(exp.Column if what == "column" else exp.Table):
                target = node.this if isinstance(node, exp.Column) else node.args.get("this")
                if isinstance(target, exp.Identifier) and target.name == name:
                    self.fail(f"{what} {name!r} is not in the table it is read from", kind=kind, node=node)
        self.fail(reason, kind=kind)
