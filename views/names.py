"""Names of views and of the tables a view reads, and how versions are pinned.

A view is named ``domain.name`` (lower case letters, digits and ``_``, like a
dataset). In SQL a view or dataset is referenced as ``domain.name``; a
reference is pinned to one version by putting ``@v<N>`` after the name inside
backquotes, so Spark SQL (and sqlglot) still parse it as an identifier::

    SELECT * FROM analytics.`daily_viewers@v2`        -- view version 2
    SELECT * FROM `analytics.daily_viewers@v2`        -- the same, quoted whole
    SELECT * FROM ads.`conversions@v1`                -- dataset major version 1

Outside SQL (API paths, the CLI, :func:`views.catalog.get_view`) the same
spelling without backquotes is accepted: ``analytics.daily_viewers@v2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from lake.contracts import NAME_RE
from views.errors import InvalidViewDefinition

#: ``name@vN``, matched whole; the name part is :data:`lake.contracts.NAME_RE`.
_PINNED = re.compile(
    rf"(?P<name>{NAME_RE.pattern})@v(?P<version>[1-9][0-9]{{0,8}})")


@dataclass(frozen=True, order=True)
class Ref:
    """A reference to a dataset or view, optionally pinned to a version.

    For a dataset the pin is its major version; for a view, its version.
    """

    domain: str
    name: str
    pin: int | None = None

    @property
    def qualified(self) -> str:
        """``domain.name`` without the pin."""
        return f"{self.domain}.{self.name}"

    def __str__(self) -> str:
        return self.qualified + (f"@v{self.pin}" if self.pin is not None else "")

    @property
    def table_identifier(self) -> str:
        """The table part as written in SQL (``name`` or ``name@vN``)."""
        return self.name + (f"@v{self.pin}" if self.pin is not None else "")

    def to_table(self) -> exp.Table:
        """A sqlglot table node ``domain.`name@vN```, quoted."""
        return exp.Table(
            this=exp.to_identifier(self.table_identifier, quoted=True),
            db=exp.to_identifier(self.domain, quoted=True),
        )


def _split_pin(text: str, where: str) -> tuple[str, int | None]:
    m = _PINNED.fullmatch(text)
    if m:
        return m.group("name"), int(m.group("version"))
    if "@" in text:
        raise InvalidViewDefinition(f"{text!r}: a pinned version is written name@v<N>, e.g. daily_viewers@v2",
                                    where=where)
    return text, None


def parse_ref(text: str, *, where: str = "name") -> Ref:
    """Parse ``domain.name`` or ``domain.name@vN``.

    Raises:
        InvalidViewDefinition: The text is not such a name.
    """
    if not isinstance(text, str):
        raise InvalidViewDefinition(f"expected 'domain.name', got {text!r}", where=where)
    parts = text.strip().split(".")
    if len(parts) != 2:
        raise InvalidViewDefinition(
            f"expected 'domain.name' (optionally 'domain.name@v<N>'), got {text!r}", where=where)
    domain, rest = parts
    name, pin = _split_pin(rest, where)
    for part in (domain, name):
        if not NAME_RE.fullmatch(part):
            raise InvalidViewDefinition(
                f"{text!r}: names are lower case letters, digits and '_', starting with a letter", where=where)
    return Ref(domain, name, pin)


def parse_view_name(text: str, *, where: str = "view") -> Ref:
    """Parse the name of a view being defined: ``domain.name`` with no pin."""
    ref = parse_ref(text, where=where)
    if ref.pin is not None:
        raise InvalidViewDefinition(f"a view is defined as 'domain.name', without a version: {text!r}", where=where)
    return ref


def ref_of_table(table: exp.Table) -> Ref | None:
    """The reference a table node makes, or None for a bare name (a CTE, or an error
    the caller reports). Raises for malformed qualified names.

    Raises:
        ValueError: The node is qualified but not a valid ``domain.name[@vN]``.
    """
    parts = [p.name for p in table.parts]
    if len(parts) == 1:
        if "." not in parts[0]:
            return None
        parts = parts[0].split(".")  # `domain.name@v2` quoted as one identifier
    if len(parts) != 2:
        raise ValueError(f"{'.'.join(parts)!r} is not 'domain.name': catalogs and paths cannot be read by a view")
    domain, rest = parts[0].lower(), parts[1]
    m = _PINNED.fullmatch(rest.lower())
    name, pin = (m.group("name"), int(m.group("version"))) if m else (rest.lower(), None)
    if not NAME_RE.fullmatch(domain) or not NAME_RE.fullmatch(name):
        raise ValueError(f"{'.'.join(parts)!r} is not 'domain.name' (optionally 'name@v<N>' in backquotes)")
    return Ref(domain, name, pin)
