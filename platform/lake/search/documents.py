"""What the index holds and answers: documents, hits, pages and groups of hits."""

from __future__ import annotations

from dataclasses import dataclass, field

from lake.enums import ParsableEnum


class SearchKind(ParsableEnum, label="kind"):
    """The kinds of catalog object the index holds, in the order grouped results show them."""

    DATASET = "dataset"
    VIEW = "view"
    METRIC = "metric"
    COLUMN = "column"

    @property
    def plural(self) -> str:
        """The heading of this kind's hits (``Datasets``)."""
        return self.value.capitalize() + "s"


@dataclass(frozen=True)
class SearchDocument:
    """One searchable object.

    Attributes:
        kind: ``dataset``, ``column``, ``view``, ``metric``...
        key: Unique within the kind, e.g. ``ads.conversions`` or ``ads.conversions.email``.
        domain: The owning domain (for filters and for access checks).
        title: Short name shown in results.
        body: Description and other text.
        tags: Tags (and PII markers) to match and filter on.
        owner: Owning person or team.
        certified: Whether the object is certified (metrics) or otherwise endorsed.
    """

    kind: str
    key: str
    domain: str
    title: str
    body: str = ""
    tags: tuple[str, ...] = ()
    owner: str = ""
    certified: bool = False


@dataclass(frozen=True)
class SearchHit:
    kind: str
    key: str
    domain: str
    title: str
    snippet: str
    owner: str
    tags: tuple[str, ...]
    certified: bool
    score: float


@dataclass(frozen=True)
class Correction:
    """A query word that starts no known word, and the known words it was also matched as."""

    word: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked hits.

    Attributes:
        hits: At most ``limit`` hits, after the first ``offset`` ones.
        offset: Hits skipped before this page.
        limit: The page size asked for.
        has_more: Whether a next page has at least one hit.
        corrections: Misspelt-looking query words and the words they also matched.
    """

    hits: tuple[SearchHit, ...]
    offset: int
    limit: int
    has_more: bool
    corrections: tuple[Correction, ...] = ()


@dataclass(frozen=True)
class KindGroup:
    """The best hits of one kind."""

    kind: str
    hits: tuple[SearchHit, ...]
    has_more: bool


@dataclass(frozen=True)
class GroupedResults:
    """The best hits of each kind that has any, in a fixed order of kinds."""

    groups: tuple[KindGroup, ...]
    corrections: tuple[Correction, ...] = field(default=())
