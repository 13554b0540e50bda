"""The one schema-diff algorithm: columns of two versions, paired and compared.

Contracts (``lake.contracts.diff_contracts``) and views
(``views.diff.diff_versions``) differ only in their rules: what a rename
looks like (a contract column at the same position with the same type; a
view column with the same type computed from the same sources), how each
change reads, and what a kept column's change means. They pass those rules
as a :class:`ColumnRules`; the pairing and the order of the changes are the
same for both:

1. every column of the old version that the new one lacks, in the old order:
   renamed (paired with the first added column its rule accepts and no
   earlier column took) or removed;
2. every column the new version adds that is not a rename, in the new order;
3. every column both have, in the old order: what the rules say changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from lake.errors import SchemaChange

C = TypeVar("C")


@dataclass(frozen=True)
class ColumnRules(Generic[C]):
    """How one kind of schema tells its column changes.

    Attributes:
        name: A column's name.
        is_rename: Whether an old column (and its position) and an added
            column (and its position) are one column renamed.
        removed: The change of an old column the new version lacks.
        renamed: The change of an old column renamed to a new one.
        added: The change of a new column.
        changed: The changes of a column both versions have (old, new).
    """

    name: Callable[[C], str]
    is_rename: Callable[[C, int, C, int], bool]
    removed: Callable[[C], SchemaChange]
    renamed: Callable[[C, C], SchemaChange]
    added: Callable[[C], SchemaChange]
    changed: Callable[[C, C], Iterable[SchemaChange]]


def diff_columns(old: Sequence[C], new: Sequence[C], rules: ColumnRules[C]) -> list[SchemaChange]:
    """The column changes from ``old`` to ``new``, in the order the module docstring gives."""
    old_at = {rules.name(c): (i, c) for i, c in enumerate(old)}
    new_at = {rules.name(c): (i, c) for i, c in enumerate(new)}
    gone = [name for name in old_at if name not in new_at]
    fresh = [name for name in new_at if name not in old_at]
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for d in gone:
        i, before = old_at[d]
        for a in fresh:
            if a in taken:
                continue
            j, after = new_at[a]
            if rules.is_rename(before, i, after, j):
                renames[d] = a
                taken.add(a)
                break
    changes: list[SchemaChange] = []
    for d in gone:
        before = old_at[d][1]
        changes.append(rules.renamed(before, new_at[renames[d]][1]) if d in renames else rules.removed(before))
    changes += [rules.added(new_at[a][1]) for a in fresh if a not in taken]
    for name, (_, before) in old_at.items():
        if name in new_at:
            changes += rules.changed(before, new_at[name][1])
    return changes
