"""What a dataset's producers may see and do: its quarantine and its replay.

A dataset's quarantine holds rows its producers sent that broke the contract,
values included (PII stays encrypted and is never shown). Who may read it and
replay it is one rule, asked by the API, the CLI and the UI alike:
``write`` on the dataset — its producers (whoever may land batches), its
owner (who holds ``admin`` on it) and the lake's admins (``admin`` covers
every action). A reader of the dataset is not enough: quarantined rows never
passed the contract nor the row filters and masks its readers get.

Each decision is audited (action ``quarantine``); a subject that may not even
discover the dataset is told it does not exist, as everywhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from access.audit import AuditKind, Decision
from access.resources import Action, Resource
from lake.errors import AccessDenied, NotFound
from lake.quarantine import DEFAULT_LIMIT, QuarantineListing, ReplayResult, TrendPoint

if TYPE_CHECKING:
    from access.policy import AccessControl

#: The action audited for reading or replaying a quarantine.
QUARANTINE_ACTION = "quarantine"


def can_manage_quarantine(access: AccessControl, subject: str, dataset: str) -> bool:
    """Whether ``subject`` may read and replay ``dataset``'s quarantine (``write`` on it; not audited)."""
    return access.can(subject, Action.WRITE, Resource.table(dataset))


def may_manage_quarantine(access: AccessControl, dataset: str, *, by: str) -> str:
    """Pass if ``by`` may read and replay ``dataset``'s quarantine; the decision is audited.

    Returns:
        The acting principal.

    Raises:
        NotFound: No such dataset, or one ``by`` may not discover.
        AccessDenied: ``by`` may discover it but is no producer, owner or admin of it.
    """
    actor = access.acting(by)
    resource = Resource.table(dataset)
    if not access.can(actor, Action.DISCOVER, resource):
        raise NotFound(f"there is no dataset named {resource.qualified} that you can see")
    access.lake.dataset(dataset)  # NotFound for a dataset that is not there
    allowed = can_manage_quarantine(access, actor, dataset)
    reason = "" if allowed else ("only the dataset's producers (write on it), its owner or an admin "
                                 "may see its quarantine or replay it")
    access.audit.record(AuditKind.DECISION, actor=actor, action=QUARANTINE_ACTION, resource=resource.key,
                        decision=Decision.ALLOW if allowed else Decision.DENY,
                        detail={"reason": reason} if reason else None)
    if not allowed:
        raise AccessDenied(actor, QUARANTINE_ACTION, f"dataset {resource.qualified}", reason)
    return actor


def quarantined_rows(access: AccessControl, dataset: str, *, by: str, limit: int = DEFAULT_LIMIT
                     ) -> QuarantineListing:
    """The rows waiting in ``dataset``'s quarantine, for a producer, owner or admin."""
    may_manage_quarantine(access, dataset, by=by)
    return access.lake.quarantine.rows(dataset, limit=limit)


def violation_trend(access: AccessControl, dataset: str, *, by: str, days: int = 30) -> list[TrendPoint]:
    """Rows quarantined per day and rule, for a producer, owner or admin."""
    may_manage_quarantine(access, dataset, by=by)
    return access.lake.quarantine.trend(dataset, days=days)


def replay_quarantine(access: AccessControl, dataset: str, *, by: str, dry_run: bool = False,
                      reason: str = "") -> ReplayResult:
    """Check ``dataset``'s quarantined rows against its current contract and land those that pass
    (:meth:`lake.quarantine.Quarantine.replay`), as ``by``, a producer, owner or admin."""
    actor = may_manage_quarantine(access, dataset, by=by)
    return access.lake.quarantine.replay(dataset, actor=actor, dry_run=dry_run, reason=reason)
