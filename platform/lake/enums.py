"""A string enum that parses user input with one uniform error message.

Subclasses name the noun of their error message with a class keyword::

    class Grain(ParsableEnum, label="grain"):
        DAY = "day"
        WEEK = "week"

    Grain.parse(" Day ")   # Grain.DAY
    Grain.parse("year")    # InvalidInput: unknown grain 'year'; expected one of: day, week

The label is passed as a class keyword, not assigned in the class body,
because every plain assignment in an enum body becomes a member.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar, Self

from lake.errors import InvalidInput


class ParsableEnum(enum.StrEnum):
    """A :class:`enum.StrEnum` with :meth:`parse`.

    Attributes:
        label: The noun naming the enum in error messages (``"write mode"``).
    """

    label: ClassVar[str]

    def __init_subclass__(cls, *, label: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if label is not None:
            cls.label = label

    @classmethod
    def _normalize(cls, text: str) -> str:
        """The value ``text`` names; override for another spelling rule."""
        return text.strip().lower()

    @classmethod
    def parse(cls, text: str) -> Self:
        """The member ``text`` names, after :meth:`_normalize`.

        Raises:
            InvalidInput: ``unknown <label> '<text>'; expected one of: <values>``.
        """
        try:
            return cls(cls._normalize(text))
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise InvalidInput(f"unknown {cls.label} {text!r}; expected one of: {allowed}") from None
