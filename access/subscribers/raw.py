"""When a table may be handed to an engine as raw files: the fail-closed rule.

Raw files hold every row and every column, PII as AES-GCM ciphertext. An
engine reading them applies no row filter and no mask, so a subject may read a
table raw only when the access layer's decision (:meth:`AccessControl.table_access`)
would show it everything the files hold:

* the decision allows reading;
* **every** column of the table is permitted (no column is hidden by a deny
  or left out by a column-level grant);
* **no** column is masked: the mask is ``None``, or ``decrypt`` on a PII
  column (the subject may see it in clear; the files hold its ciphertext,
  which shows less);
* **no** row filter applies;
* the table has files (a virtual or never-materialized view has none).

Anything else (a PII column the subject would see redacted, hashed or
partial, a masked or hidden column, a row filter) is refused with the reasons,
and the subject reads it governed: through the query gateway or an export.
"""

from __future__ import annotations

from dataclasses import dataclass

from access.masks import MaskKind
from access.policy import AccessControl, TableAccess
from access.subscribers.tables import LakeTable


@dataclass(frozen=True)
class RawDecision:
    """Whether ``subject`` may read ``table`` raw, and why not.

    Attributes:
        table: The table.
        subject: Who asked (a subscriber, or a role for Redshift grants).
        access: The access layer's decision.
        reasons: Why raw reading is refused (empty when it is allowed).
    """

    table: LakeTable
    subject: str
    access: TableAccess
    reasons: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        """May read it at all (governed, at least)."""
        return self.access.allowed

    @property
    def raw(self) -> bool:
        """May read its files."""
        return not self.reasons


def governed_reasons(table: LakeTable, access: TableAccess, *, need_files: bool = True) -> list[str]:
    """Why the raw files of ``table`` show more than ``access`` allows (empty: they do not)."""
    if not access.allowed:
        return [access.reason]
    reasons: list[str] = []
    if access.row_filter is not None:
        reasons.append(f"a row filter applies ({access.row_filter})")
    permitted = {c.name.lower(): c for c in access.columns}
    hidden = [c.name for c in table.columns if c.name.lower() not in permitted]
    if hidden:
        reasons.append(f"column(s) {', '.join(hidden)} are not readable")
    for col in table.columns:
        shown = permitted.get(col.name.lower())
        if shown is None or shown.mask is None:
            continue
        if col.pii and shown.mask.kind is MaskKind.DECRYPT:
            continue
        what = "PII column" if col.pii else "column"
        reasons.append(f"{what} {col.name} is masked ({shown.mask})")
    if need_files and table.table_uri is None:
        reasons.append(f"{table.name} has no files (a virtual view, or one not materialized yet)")
    return reasons


def raw_decision(access: AccessControl, subject: str, table: LakeTable, *, need_files: bool = True) -> RawDecision:
    """The access layer's decision for ``subject`` on ``table``, and the fail-closed rule applied to it."""
    decision = access.table_access(subject, table.resource, table.column_pii())
    return RawDecision(table, subject, decision, tuple(governed_reasons(table, decision, need_files=need_files)))
