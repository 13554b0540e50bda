"""Typed names for what the access layer decides about.

Callers write ``can(subject, Action.READ, Resource.table("ads.conversions"))``,
never raw Casbin strings. Resources form a hierarchy: the lake holds domains,
a domain holds datasets, views and metrics; a dataset or view holds columns.
A grant on a parent covers its children; a deny anywhere on the path wins.

Each resource has a Casbin object string, :attr:`Resource.key`::

    lake                            the whole lake
    domain:ads                      a domain
    dataset:ads.conversions         a dataset (view:..., metric:... alike)
    dataset:ads.conversions.email   a column of that dataset (view:ads.x.col for a view's)

:meth:`Resource.parse` reads these keys, ``column:ads.conversions.email`` (a
dataset's column) and the short forms ``ads``, ``ads.conversions`` and
``ads.conversions.email``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cached_property

from lake.enums import ParsableEnum
from lake.errors import InvalidInput

_PART = re.compile(r"[a-z][a-z0-9_]{0,62}")


class Action(ParsableEnum, label="action"):
    DISCOVER = "discover"
    READ = "read"
    WRITE = "write"
    PROPOSE = "propose"
    APPROVE = "approve"
    GRANT = "grant"
    ADMIN = "admin"


class ResourceKind(ParsableEnum, label="resource kind"):
    LAKE = "lake"
    DOMAIN = "domain"
    DATASET = "dataset"
    VIEW = "view"
    METRIC = "metric"
    COLUMN = "column"


@dataclass(frozen=True, order=True)
class Resource:
    """A governed object.

    Attributes:
        kind: What it is.
        domain: The domain it belongs to (``""`` for the lake).
        name: The object's name inside the domain (``None`` for a domain).
        column: The column (only for ``COLUMN``).
        parent_kind: For a column, whether its table is a dataset or a view.
    """

    kind: ResourceKind
    domain: str
    name: str | None = None
    column: str | None = None
    parent_kind: ResourceKind | None = None

    @staticmethod
    def _split(qualified: str) -> tuple[str, str]:
        parts = qualified.split(".")
        if len(parts) != 2 or not all(_PART.fullmatch(p) for p in parts):
            raise InvalidInput(f"expected 'domain.name' in lower case, got {qualified!r}")
        return parts[0], parts[1]

    @classmethod
    def lake(cls) -> Resource:
        """The whole lake: the root of the hierarchy."""
        return _LAKE

    @classmethod
    def domain_(cls, domain: str) -> Resource:
        if not _PART.fullmatch(domain):
            raise InvalidInput(f"invalid domain name {domain!r}")
        return cls(ResourceKind.DOMAIN, domain)

    @classmethod
    def table(cls, qualified: str) -> Resource:
        """A dataset (data primitive) ``domain.dataset``."""
        d, n = cls._split(qualified)
        return cls(ResourceKind.DATASET, d, n)

    @classmethod
    def view(cls, qualified: str) -> Resource:
        d, n = cls._split(qualified)
        return cls(ResourceKind.VIEW, d, n)

    @classmethod
    def metric(cls, qualified: str) -> Resource:
        d, n = cls._split(qualified)
        return cls(ResourceKind.METRIC, d, n)

    @classmethod
    def column_of(cls, table: Resource, column: str) -> Resource:
        if table.kind not in (ResourceKind.DATASET, ResourceKind.VIEW) or table.name is None:
            raise InvalidInput("columns belong to datasets and views")
        if not _PART.fullmatch(column):
            raise InvalidInput(f"invalid column name {column!r}")
        return cls(ResourceKind.COLUMN, table.domain, table.name, column, table.kind)

    @property
    def qualified(self) -> str:
        """``domain``, ``domain.name`` or ``domain.name.column``."""
        return ".".join(p for p in (self.domain, self.name, self.column) if p)

    @classmethod
    def parse(cls, text: str) -> Resource:
        """Read a resource from its key (see the module docstring) or a short form.

        Raises:
            InvalidInput: naming what is wrong with ``text``.
        """
        raw = text.strip()
        if raw in ("lake", "*"):
            return _LAKE
        kind_text, sep, rest = raw.partition(":")
        if not sep:
            kind, rest = None, raw
        else:
            kind = ResourceKind.parse(kind_text)
            if kind is ResourceKind.LAKE:
                if rest not in ("", "*"):
                    raise InvalidInput(f"resource {text!r}: the lake has no name; write 'lake'")
                return _LAKE
        parts = rest.split(".")
        if not all(_PART.fullmatch(p) for p in parts) or len(parts) > 3:
            raise InvalidInput(
                f"invalid resource {text!r}: expected 'lake', 'domain:<d>', 'dataset:<d>.<name>', "
                "'view:<d>.<name>', 'metric:<d>.<name>' or a column 'dataset:<d>.<name>.<column>' "
                "(lower-case names)"
            )
        if kind is None:
            kind = (ResourceKind.DOMAIN, ResourceKind.DATASET, ResourceKind.COLUMN)[len(parts) - 1]
        if kind is ResourceKind.COLUMN:
            if len(parts) != 3:
                raise InvalidInput(f"resource {text!r}: a column is 'column:<domain>.<dataset>.<column>'")
            return cls(ResourceKind.COLUMN, parts[0], parts[1], parts[2], ResourceKind.DATASET)
        if kind is ResourceKind.DOMAIN:
            if len(parts) != 1:
                raise InvalidInput(f"resource {text!r}: a domain is one name, e.g. 'domain:ads'")
            return cls(ResourceKind.DOMAIN, parts[0])
        if len(parts) == 1:
            raise InvalidInput(f"resource {text!r}: a {kind.value} is '{kind.value}:<domain>.<name>'")
        if len(parts) == 3:
            if kind not in (ResourceKind.DATASET, ResourceKind.VIEW):
                raise InvalidInput(f"resource {text!r}: only datasets and views have columns")
            return cls(ResourceKind.COLUMN, parts[0], parts[1], parts[2], kind)
        return cls(kind, parts[0], parts[1])

    @property
    def key(self) -> str:
        """The Casbin object string: ``lake``, ``domain:ads``, ``dataset:ads.x``, ``dataset:ads.x.col``."""
        if self.kind is ResourceKind.LAKE:
            return "lake"
        if self.kind is ResourceKind.COLUMN:
            assert self.parent_kind is not None
            return f"{self.parent_kind.value}:{self.qualified}"
        return f"{self.kind.value}:{self.qualified}"

    @property
    def as_table(self) -> Resource | None:
        """For a column, its dataset or view; for a dataset or view, itself; else ``None``."""
        if self.kind is ResourceKind.COLUMN:
            return self.parent
        if self.kind in (ResourceKind.DATASET, ResourceKind.VIEW):
            return self
        return None

    @property
    def parent(self) -> Resource | None:
        if self.kind is ResourceKind.COLUMN:
            assert self.parent_kind is not None and self.name is not None
            return Resource(self.parent_kind, self.domain, self.name)
        if self.kind is ResourceKind.LAKE:
            return None
        if self.kind is ResourceKind.DOMAIN:
            return _LAKE
        return Resource(ResourceKind.DOMAIN, self.domain)

    def lineage(self) -> list[Resource]:
        """This resource and its ancestors, nearest first."""
        out: list[Resource] = [self]
        while (p := out[-1].parent) is not None:
            out.append(p)
        return out

    def column_key(self, column: str) -> str:
        """The key of this table's column ``column`` (lower-cased), as
        ``Resource.column_of(self, column).key`` gives it, without building the resource."""
        return f"{self.key}.{column.lower()}"

    @cached_property
    def lineage_keys(self) -> tuple[str, ...]:
        """The keys of :meth:`lineage` (what a decision looks up), computed once per object."""
        return tuple(sys.intern(r.key) for r in self.lineage())

    def contains(self, other: Resource) -> bool:
        """Whether ``other`` is this resource or lies under it."""
        return self in other.lineage()

    def __str__(self) -> str:
        if self.kind is ResourceKind.LAKE:
            return "lake"
        return f"{self.kind.value}:{self.qualified}"


_LAKE = Resource(ResourceKind.LAKE, "")
