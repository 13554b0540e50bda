"""How several grants combine into one :class:`~access.policy.TableAccess`.

Each principal in the subject's closure (the subject itself and every role and
group it holds) that has a live grant allowing ``read`` on the table, on one
of its columns, or above them, contributes a **slice**:

* its **rows**: the AND of that principal's row filters on the table, its
  domain and the lake (all rows if it has none);
* its **columns**: the columns its grants cover that no deny hides from the
  subject, each with what that principal's mask rules reveal (the most
  specific rule wins; with no rule a column is clear, a PII column redacted).

Slices are grouped by their row filter (normal form). Within a group, each
column shows the most any slice of the group shows (those slices cover the
same rows). Across groups:

* rows are the union (OR) of the groups' filters;
* if one group covers every row (no filter), its masks apply to all rows,
  since every row returned is one that group reveals;
* otherwise each column shows the meet (the most restrictive) of the groups;
  a column a group does not show at all is left out.

So every cell returned is one that some single principal's grants reveal,
masked at least as much as that principal's masks say: combining grants never
reveals more than one of them does. ``tests/access/test_combine.py`` checks
this property against a cell-by-cell evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from access import rowfilter
from access.masks import HIDDEN, Reveal, preferred


@dataclass(frozen=True)
class Slice:
    """What one principal's grants reveal of a table."""

    principal: str
    row_filter: str | None  # normal form; None = every row
    columns: Mapping[str, Reveal]


@dataclass(frozen=True)
class Combined:
    columns: tuple[tuple[str, Reveal], ...]  # in table order, hidden ones left out
    row_filter: str | None
    principals: tuple[str, ...]  # whose slices decided the answer


def combine(table_columns: Sequence[str], slices: Sequence[Slice]) -> Combined:
    """Combine slices by the rules of the module docstring."""
    groups: dict[str | None, dict[str, Reveal]] = {}
    members: dict[str | None, list[str]] = {}
    for sl in slices:
        if not sl.columns:
            continue
        group = groups.setdefault(sl.row_filter, {})
        members.setdefault(sl.row_filter, []).append(sl.principal)
        for name, reveal in sl.columns.items():
            group[name] = preferred(group[name], reveal) if name in group else reveal
    if not groups:
        return Combined((), None, ())
    chosen = {None: groups[None]} if None in groups else groups
    row_filter = None if None in groups else rowfilter.any_of([f for f in chosen if f is not None])
    out = []
    for name in table_columns:
        shown: Reveal | None = None
        for group in chosen.values():
            r = group.get(name, HIDDEN)
            shown = r if shown is None else shown.meet(r)
        if shown is not None and shown != HIDDEN:
            out.append((name, shown))
    principals = tuple(sorted(p for f in chosen for p in members[f]))
    return Combined(tuple(out), row_filter, principals)
