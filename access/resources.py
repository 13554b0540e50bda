"""Typed names for what the access layer decides about.

Callers write ``can(subject, Action.READ, Resource.table("ads.conversions"))``,
never raw Casbin strings. Resources form a hierarchy: a domain holds
datasets, views and metrics; a dataset or view holds columns. A grant on a
parent covers its children; a deny anywhere on the path wins.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lake.errors import InvalidInput

_PART = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Action(enum.StrEnum):
    DISCOVER = "discover"
    READ = "read"
    WRITE = "write"
    PROPOSE = "propose"
    APPROVE = "approve"
    GRANT = "grant"
    ADMIN = "admin"

    @classmethod
    def parse(cls, text: str) -> Action:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(a.value for a in cls)
            raise InvalidInput(f"unknown action {text!r}; expected one of: {allowed}") from None


class ResourceKind(enum.StrEnum):
    DOMAIN = "domain"
    DATASET = "dataset"
    VIEW = "view"
    METRIC = "metric"
    COLUMN = "column"

    @classmethod
    def parse(cls, text: str) -> ResourceKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(k.value for k in cls)
            raise InvalidInput(f"unknown resource kind {text!r}; expected one of: {allowed}") from None


@dataclass(frozen=True, order=True)
class Resource:
    """A governed object.

    Attributes:
        kind: What it is.
        domain: The domain it belongs to.
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
        if len(parts) != 2 or not all(_PART.match(p) for p in parts):
            raise InvalidInput(f"expected 'domain.name' in lower case, got {qualified!r}")
        return parts[0], parts[1]

    @classmethod
    def domain_(cls, domain: str) -> Resource:
        if not _PART.match(domain):
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
        if not _PART.match(column):
            raise InvalidInput(f"invalid column name {column!r}")
        return cls(ResourceKind.COLUMN, table.domain, table.name, column, table.kind)

    @property
    def qualified(self) -> str:
        """``domain``, ``domain.name`` or ``domain.name.column``."""
        return ".".join(p for p in (self.domain, self.name, self.column) if p)

    @property
    def parent(self) -> Resource | None:
        if self.kind is ResourceKind.COLUMN:
            assert self.parent_kind is not None and self.name is not None
            return Resource(self.parent_kind, self.domain, self.name)
        if self.kind is ResourceKind.DOMAIN:
            return None
        return Resource(ResourceKind.DOMAIN, self.domain)

    def lineage(self) -> list[Resource]:
        """This resource and its ancestors, nearest first."""
        out: list[Resource] = [self]
        while (p := out[-1].parent) is not None:
            out.append(p)
        return out

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.qualified}"
