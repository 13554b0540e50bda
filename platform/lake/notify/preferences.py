"""Who wants which notices where: per-person preferences with defaults.

A notice of a kind goes to some of the recipient's *deliveries*: the in-app
``inbox``, their ``email`` channels, their ``webhook`` channels. By default
every kind goes everywhere the person has a channel, except comments, which
stay out of e-mail (a busy thread would flood it). A person changes this per
kind; kinds they never chose keep the default, so a kind added later reaches
them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.enums import ParsableEnum
from lake.errors import InvalidInput
from lake.notify.models import PreferenceRow


class Delivery(ParsableEnum, label="delivery"):
    INBOX = "inbox"
    EMAIL = "email"
    WEBHOOK = "webhook"


ALL = frozenset(Delivery)
#: Kinds whose default leaves some delivery out.
DEFAULTS: Mapping[str, frozenset[Delivery]] = {"comment": frozenset({Delivery.INBOX, Delivery.WEBHOOK})}


def default_of(kind: str) -> frozenset[Delivery]:
    return DEFAULTS.get(kind, ALL)


def _kinds() -> list[str]:
    from lake.notify.inbox import NoticeKind

    return [k.value for k in NoticeKind]


@dataclass(frozen=True)
class PreferenceInfo:
    """A person's deliveries per notice kind (every kind, the defaults filled in)."""

    subject: str
    choices: Mapping[str, frozenset[Delivery]]
    chosen: frozenset[str]

    def to_dict(self) -> dict[str, list[str]]:
        return {kind: sorted(d.value for d in deliveries) for kind, deliveries in self.choices.items()}


def deliveries_of(s: Session, people: Iterable[str], kind: str) -> dict[str, frozenset[Delivery]]:
    """The deliveries each of ``people`` wants for ``kind`` (read in ``s``)."""
    names = list(people)
    chosen = {r.subject: r.choices for r in s.scalars(select(PreferenceRow).where(PreferenceRow.subject.in_(names)))}
    out: dict[str, frozenset[Delivery]] = {}
    for person in names:
        mine = chosen.get(person) or {}
        out[person] = frozenset(Delivery(d) for d in mine[kind]) if kind in mine else default_of(kind)
    return out


def _parse(changes: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    kinds = _kinds()
    out: dict[str, list[str]] = {}
    for kind, deliveries in changes.items():
        if kind not in kinds:
            raise InvalidInput(f"preferences: {kind!r} is not a notice kind; use one of {', '.join(kinds)}")
        if isinstance(deliveries, str):
            raise InvalidInput(f"preferences: {kind} takes a list of deliveries (inbox, email, webhook)")
        parsed = []
        for d in deliveries:
            try:
                parsed.append(Delivery.parse(d).value)
            except InvalidInput as exc:
                raise InvalidInput(f"preferences: {kind}: {exc.message}") from None
        out[kind] = sorted(set(parsed))
    return out


class Preferences:
    """Reading and changing people's notification preferences."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def get(self, subject: str) -> PreferenceInfo:
        with self.catalog.session() as s:
            row = s.get(PreferenceRow, subject)
            mine = dict(row.choices) if row is not None else {}
        choices = {k: frozenset(Delivery(d) for d in mine[k]) if k in mine else default_of(k) for k in _kinds()}
        return PreferenceInfo(subject, choices, frozenset(k for k in mine if k in choices))

    def set(self, subject: str, changes: Mapping[str, Iterable[str]], *, reset: Iterable[str] = ()) -> PreferenceInfo:
        """Choose the deliveries of some kinds (an empty list: none at all); ``reset`` kinds go back to the default.

        Raises:
            InvalidInput: An unknown kind or delivery, naming it.
        """
        parsed = _parse(changes)
        back = list(reset)
        unknown = [k for k in back if k not in _kinds()]
        if unknown:
            raise InvalidInput(f"preferences: cannot reset {', '.join(unknown)}: not a notice kind")
        with self.catalog.session() as s:
            row = s.get(PreferenceRow, subject)
            if row is None:
                row = PreferenceRow(subject=subject, choices={})
                s.add(row)
            merged = {**dict(row.choices or {}), **parsed}
            for kind in back:
                merged.pop(kind, None)
            row.choices = merged
            row.updated_at = utcnow()
        return self.get(subject)
