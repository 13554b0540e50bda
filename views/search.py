"""Views in the search index: one document per view, made from its current version.

:func:`views.registry.apply` writes the documents of the versions it creates in
its own transaction; the UI's indexer (``ui.indexing``) rebuilds them from the
same function.
"""

from __future__ import annotations

from typing import Protocol

from lake.search import SearchDocument
from views.columns import Dependency, ViewColumn

VIEW_KIND = "view"


class DescribedVersion(Protocol):
    """What a document is made of (a ``VersionRecord`` or a ``ViewInfo``)."""

    @property
    def owner(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def tags(self) -> tuple[str, ...]: ...

    @property
    def columns(self) -> tuple[ViewColumn, ...]: ...

    @property
    def dependencies(self) -> tuple[Dependency, ...]: ...


def view_document(name: str, version: DescribedVersion) -> SearchDocument:
    """The search document of view ``name`` (``domain.name``) at ``version``: its columns and inputs in the body."""
    columns = " ".join(c.name for c in version.columns)
    body = " ".join(filter(None, [version.description, columns, " ".join(d.name for d in version.dependencies)]))
    tags = tuple(version.tags) + (("pii",) if any(c.pii for c in version.columns) else ())
    return SearchDocument(kind=VIEW_KIND, key=name, domain=name.split(".", 1)[0], title=name, body=body, tags=tags,
                          owner=version.owner)
