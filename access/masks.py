"""Column masks and the order of what they reveal.

A mask says how a column is shown to a subject:

=========  ====================================================================
``null``   every value becomes NULL
``redact`` a non-null value becomes the constant ``'***'`` (nulls stay NULL)
``hash``   a keyed hash (HMAC-SHA-256 under the table's hash key, hex): equal
           values stay equal, so the column still joins and groups
``partial`` only the last ``keep_last`` characters, the rest replaced by a fixed
           ``'***'`` prefix (the length is not revealed)
``decrypt`` a PII column in clear; on other columns it is the same as no mask
=========  ====================================================================

On a PII column every mask but ``null`` and ``redact`` applies to the
decrypted value (the gateway decrypts, then hashes or cuts).

Combining grants needs to compare masks by what they reveal. :class:`Reveal`
is that order: ``hidden < null < redact < hash``, ``redact < partial(1) <
partial(2) < ...``, and ``clear`` above all. ``hash`` and ``partial`` reveal
different things, so neither is above the other; their meet is ``redact``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lake.enums import ParsableEnum
from lake.errors import InvalidInput

#: Longest suffix a partial mask may keep.
MAX_KEEP_LAST = 64


class MaskKind(ParsableEnum, label="mask"):
    NULL = "null"
    REDACT = "redact"
    HASH = "hash"
    PARTIAL = "partial"
    DECRYPT = "decrypt"


@dataclass(frozen=True)
class Mask:
    """How a column is shown. ``keep_last`` matters for ``PARTIAL`` only."""

    kind: MaskKind
    keep_last: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.kind, MaskKind):
            object.__setattr__(self, "kind", MaskKind.parse(str(self.kind)))
        if self.kind is MaskKind.PARTIAL:
            if not 1 <= self.keep_last <= MAX_KEEP_LAST:
                raise InvalidInput(f"a partial mask keeps 1 to {MAX_KEEP_LAST} characters, not {self.keep_last}")
        elif self.keep_last != 4:
            object.__setattr__(self, "keep_last", 4)  # one spelling per mask, so equal masks compare equal

    @classmethod
    def parse(cls, text: str) -> Mask:
        """``null``, ``redact``, ``hash``, ``decrypt``, ``partial`` or ``partial:N``."""
        kind_text, _, n = text.strip().partition(":")
        kind = MaskKind.parse(kind_text)
        if n:
            if kind is not MaskKind.PARTIAL:
                raise InvalidInput(f"mask {text!r}: only 'partial' takes a length, e.g. 'partial:4'")
            if not n.isdigit():
                raise InvalidInput(f"mask {text!r}: the length after 'partial:' must be a number")
            return cls(kind, int(n))
        return cls(kind)

    def __str__(self) -> str:
        return f"partial:{self.keep_last}" if self.kind is MaskKind.PARTIAL else self.kind.value


class Level(enum.IntEnum):
    HIDDEN = 0
    NULL = 1
    REDACT = 2
    HASH = 3
    PARTIAL = 4
    CLEAR = 5


@dataclass(frozen=True, order=True)
class Reveal:
    """What a subject may learn of a column's values (a point of the mask lattice).

    ``HIDDEN`` is not a mask: it means "this column is not shown at all".
    """

    level: Level
    keep_last: int = 0

    @classmethod
    def of(cls, mask: Mask | None, *, pii: bool) -> Reveal:
        """What ``mask`` reveals on a column; no mask on a PII column shows ``redact``."""
        if mask is None:
            return REDACTED if pii else CLEAR
        return {
            MaskKind.NULL: NULLED,
            MaskKind.REDACT: REDACTED,
            MaskKind.HASH: HASHED,
            MaskKind.DECRYPT: CLEAR,
        }.get(mask.kind) or cls(Level.PARTIAL, mask.keep_last)

    def to_mask(self, *, pii: bool) -> Mask | None:
        """The mask that shows this much (``None`` is clear for a non-PII column)."""
        if self.level is Level.HIDDEN:
            raise ValueError("a hidden column has no mask")
        if self.level is Level.CLEAR:
            return Mask(MaskKind.DECRYPT) if pii else None
        if self.level is Level.PARTIAL:
            return Mask(MaskKind.PARTIAL, self.keep_last)
        return Mask({Level.NULL: MaskKind.NULL, Level.REDACT: MaskKind.REDACT, Level.HASH: MaskKind.HASH}[self.level])

    def reveals_at_most(self, other: Reveal) -> bool:
        """Whether everything this shows can be computed from what ``other`` shows."""
        if self == other or self.level is Level.HIDDEN or other.level is Level.CLEAR:
            return True
        if self.level is Level.CLEAR:
            return False
        if self.level in (Level.NULL, Level.REDACT):
            return other.level >= self.level
        if self.level is Level.PARTIAL:
            return other.level is Level.PARTIAL and self.keep_last <= other.keep_last
        return False  # HASH only below itself and CLEAR

    def meet(self, other: Reveal) -> Reveal:
        """The most that may be shown without revealing more than either."""
        if self.reveals_at_most(other):
            return self
        if other.reveals_at_most(self):
            return other
        return REDACTED  # hash against partial

    def __str__(self) -> str:
        if self.level is Level.PARTIAL:
            return f"partial:{self.keep_last}"
        return self.level.name.lower()


HIDDEN = Reveal(Level.HIDDEN)
NULLED = Reveal(Level.NULL)
REDACTED = Reveal(Level.REDACT)
HASHED = Reveal(Level.HASH)
CLEAR = Reveal(Level.CLEAR)


def preferred(a: Reveal, b: Reveal) -> Reveal:
    """Of two masks that single grants give, the one to show (the more revealing;
    ``partial`` before ``hash`` when neither is above the other)."""
    if a.reveals_at_most(b):
        return b
    if b.reveals_at_most(a):
        return a
    return a if a.level is Level.PARTIAL else b
