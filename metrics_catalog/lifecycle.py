"""The lifecycle of a metric: states, actions, and which action leads where.

::

    draft ──propose──▶ proposed ──start_review──▶ in_review ──(last stage approves)──▶ approved
      ▲                   │                          │  │                               │   ▲
      └──────withdraw─────┴────────withdraw──────────┘  ├─request_changes─▶ changes_requested
                                                        └─reject─▶ rejected             │   │
    approved ──deprecate──▶ deprecated ──retire──▶ retired      deprecated ──reinstate──┘

``revise`` (a new revision) keeps ``draft``, ``proposed``, ``in_review`` and
``changes_requested``, and turns ``approved`` (the certified revision keeps
being served) and ``rejected`` into ``draft``. ``retired`` is final.
"""

from __future__ import annotations

from lake.enums import ParsableEnum
from metrics_catalog.errors import IllegalTransition


class Status(ParsableEnum, label="metric status"):
    DRAFT = "draft"
    PROPOSED = "proposed"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    DEPRECATED = "deprecated"
    RETIRED = "retired"

    @property
    def certified(self) -> bool:
        return self is Status.APPROVED


class MetricAction(ParsableEnum, label="metric action"):
    REVISE = "revise"
    PROPOSE = "propose"
    START_REVIEW = "start_review"
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    DEPRECATE = "deprecate"
    REINSTATE = "reinstate"
    RETIRE = "retire"

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text.strip().lower().replace("-", "_")


class Decision(ParsableEnum, label="decision"):
    """What an approver decides at a stage."""

    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text.strip().lower().replace("-", "_")

    @property
    def action(self) -> MetricAction:
        return MetricAction(self.value)


S, A = Status, MetricAction

#: For each state, the actions it allows and the state each leads to. APPROVE
#: stays in review until the last stage reaches its quorum (then APPROVED).
TRANSITIONS: dict[Status, dict[MetricAction, Status]] = {
    S.DRAFT: {A.REVISE: S.DRAFT, A.PROPOSE: S.PROPOSED, A.RETIRE: S.RETIRED},
    S.PROPOSED: {A.REVISE: S.PROPOSED, A.START_REVIEW: S.IN_REVIEW, A.WITHDRAW: S.DRAFT},
    S.IN_REVIEW: {A.REVISE: S.IN_REVIEW, A.APPROVE: S.IN_REVIEW, A.REQUEST_CHANGES: S.CHANGES_REQUESTED,
                  A.REJECT: S.REJECTED, A.WITHDRAW: S.DRAFT},
    S.CHANGES_REQUESTED: {A.REVISE: S.CHANGES_REQUESTED, A.PROPOSE: S.PROPOSED, A.WITHDRAW: S.DRAFT,
                          A.RETIRE: S.RETIRED},
    S.APPROVED: {A.REVISE: S.DRAFT, A.DEPRECATE: S.DEPRECATED},
    S.REJECTED: {A.REVISE: S.DRAFT, A.RETIRE: S.RETIRED},
    S.DEPRECATED: {A.REINSTATE: S.APPROVED, A.RETIRE: S.RETIRED},
    S.RETIRED: {},
}


def allowed_actions(status: Status) -> list[str]:
    return [a.value for a in TRANSITIONS[status]]


def next_status(metric: str, status: Status, action: MetricAction) -> Status:
    """The state ``action`` leads to from ``status``.

    Raises:
        IllegalTransition: naming the actions ``status`` allows.
    """
    target = TRANSITIONS[status].get(action)
    if target is None:
        raise IllegalTransition(metric, status.value, action.value, allowed_actions(status))
    return target
