"""The rules of an approval chain, applied to one metric's current round.

A round starts when a draft is proposed and ends with approval, rejection or
withdrawal. Within it, each stage collects approvals until its quorum; the
current stage is the first one short of its quorum. The rules, each refused
with an :class:`~metrics_catalog.errors.ApprovalRefused` naming it:

* ``author``: nobody who wrote a revision of the metric may decide on it;
* ``role``: the approver holds one of the stage's roles;
* ``access``: the access layer lets the approver approve the metric;
* ``two_stages``: one person's approval counts at one stage of a revision
  (an approval that a revision has reset no longer counts);
* ``already_decided``: one approval per person per stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lake.auth import Principal
from lake.catalog.models import User
from metrics_catalog.authz import Permissions
from metrics_catalog.chains import ApprovalChain, Stage
from metrics_catalog.errors import ApprovalRefused
from metrics_catalog.info import StageProgress
from metrics_catalog.lifecycle import Decision
from metrics_catalog.models import ApprovalRow, MetricRow, RevisionRow


def round_approvals(s: Session, metric: MetricRow) -> list[ApprovalRow]:
    """Approvals that count in the metric's current round (not reset)."""
    return list(s.scalars(
        select(ApprovalRow).where(ApprovalRow.metric_id == metric.id, ApprovalRow.round == metric.round,
                                  ApprovalRow.decision == Decision.APPROVE.value, ApprovalRow.valid.is_(True))
        .order_by(ApprovalRow.id)))


def authors(s: Session, metric: MetricRow) -> list[str]:
    names = s.scalars(select(RevisionRow.author).where(RevisionRow.metric_id == metric.id)
                      .order_by(RevisionRow.number))
    return list(dict.fromkeys([metric.created_by, *names]))


def progress(chain: ApprovalChain, approvals: Sequence[ApprovalRow]) -> list[StageProgress]:
    out: list[StageProgress] = []
    current_found = False
    for stage in chain.stages:
        names = tuple(dict.fromkeys(a.approver for a in approvals if a.stage == stage.name))
        complete = len(names) >= stage.quorum
        current = not complete and not current_found
        current_found = current_found or current
        out.append(StageProgress(stage.name, stage.roles, stage.quorum, names, complete, current))
    return out


def current_stage(chain: ApprovalChain, approvals: Sequence[ApprovalRow]) -> Stage | None:
    """The first stage short of its quorum; ``None`` when every stage has approved."""
    for p in progress(chain, approvals):
        if p.current:
            return chain.stage(p.name)
    return None


def roles_of(s: Session, user: str) -> tuple[str, ...]:
    row = s.scalars(select(User).where(User.name == user)).first()
    return tuple(row.roles) if row is not None and row.is_active else ()


def holders(s: Session, roles: Sequence[str], *, exclude: Sequence[str] = ()) -> list[str]:
    """Active users holding any of ``roles``, by name."""
    wanted = set(roles)
    out = [u.name for u in s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name))
           if wanted & set(u.roles) and u.name not in exclude]
    return out


def check_decider(s: Session, metric: MetricRow, stage: Stage, approver: Principal, permissions: Permissions) -> None:
    """Refuse ``approver`` deciding at ``stage`` of ``metric`` unless every rule holds."""
    name = metric.name
    if approver.name in authors(s, metric):
        raise ApprovalRefused(name, approver.name, "author",
                              "authors of a metric may not decide on it; ask another approver")
    roles = roles_of(s, approver.name)
    if not set(stage.roles) & set(roles):
        raise ApprovalRefused(name, approver.name, "role",
                              f"stage {stage.name!r} needs one of the roles {', '.join(stage.roles)}; "
                              f"{approver.name} has {', '.join(roles) or 'none'}")
    if not permissions.may_approve(approver, name):
        raise ApprovalRefused(name, approver.name, "access", "the access layer does not grant approve on "
                              f"metric:{name}")
    for a in round_approvals(s, metric):
        if a.approver != approver.name:
            continue
        if a.stage == stage.name:
            raise ApprovalRefused(name, approver.name, "already_decided",
                                  f"{approver.name} already approved stage {stage.name!r} of this revision")
        raise ApprovalRefused(name, approver.name, "two_stages",
                              f"{approver.name} approved stage {a.stage!r} of this revision; one person may not "
                              "approve two stages")
