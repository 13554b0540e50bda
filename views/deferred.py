"""Text computed when it is first read: a view version's compiled SQL.

Analysis knows a version's columns, lineage and grain without writing its
compiled SQL (sqlglot's qualify and pretty printer, the costliest part of
it); only storing, showing, diffing or running a version reads that text.
So planning a DAG keeps, for each version, a :class:`Deferred` that writes it
on first read, once, and the record's field reads as a plain ``str``
(:class:`DeferredText`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Deferred:
    """A text written by ``produce`` when first asked for (once, thread-safe)."""

    __slots__ = ("_lock", "_produce", "_text")

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce: Callable[[], str] | None = produce
        self._text: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        if self._text is None:
            with self._lock:
                if self._text is None:
                    assert self._produce is not None
                    self._text = self._produce()
                    self._produce = None  # let the tree it kept go
        return self._text

    def __eq__(self, other: object) -> bool:
        return self.get() == other.get() if isinstance(other, Deferred) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.get())

    @classmethod
    def written(cls, text: str) -> Deferred:
        """A text already written."""
        done = cls(lambda: text)
        done.get()
        return done

    def __reduce__(self) -> tuple[Any, ...]:
        # Copies and pickles hold the text, not what writes it (a parsed tree).
        return (Deferred.written, (self.get(),))

    def __repr__(self) -> str:
        return f"Deferred({self.get()!r})"


class DeferredText:
    """A dataclass field holding a ``str`` that may be given as a :class:`Deferred`.

    Reading the field writes the text (first read only) and returns it; a frozen
    dataclass stays frozen (only its ``__init__`` sets the field).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_text"

    def __get__(self, obj: object | None, objtype: type | None = None) -> str:
        if obj is None:
            raise AttributeError("no default")  # dataclasses: the field has no default
        value = obj.__dict__[self._slot]
        if isinstance(value, Deferred):
            value = value.get()
            obj.__dict__[self._slot] = value
        assert isinstance(value, str)
        return value

    def __set__(self, obj: object, value: str | Deferred) -> None:
        obj.__dict__[self._slot] = value
