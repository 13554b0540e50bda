"""Domain values the catalog hands out; ORM rows never leave the package."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from metrics_catalog.definition import MetricDefinition
from metrics_catalog.lifecycle import Status


@dataclass(frozen=True)
class RevisionInfo:
    number: int
    definition: MetricDefinition
    changed: tuple[str, ...]
    author: str
    message: str
    created_at: dt.datetime


@dataclass(frozen=True)
class ApprovalInfo:
    id: int
    round: int
    stage: str
    revision: int
    approver: str
    decision: str
    reason: str
    valid: bool
    reset_by_revision: int | None
    session_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class StageProgress:
    """One stage of the chain as it stands for the current round."""

    name: str
    roles: tuple[str, ...]
    quorum: int
    approvers: tuple[str, ...]
    complete: bool
    current: bool


@dataclass(frozen=True)
class Duplicate:
    """Another metric over the same view with the same canonical expression."""

    name: str
    status: str
    same_filters: bool


@dataclass(frozen=True)
class EventInfo:
    action: str
    from_status: str
    to_status: str
    revision: int
    stage: str | None
    actor: str
    reason: str
    session_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class MetricInfo:
    """A metric: its state, its current definition and where its chain stands."""

    id: int
    name: str
    domain: str
    status: Status
    owner: str
    created_by: str
    revision: int
    certified_revision: int | None
    definition: MetricDefinition
    stage: str | None
    round: int
    reason: str
    created_at: dt.datetime
    updated_at: dt.datetime
    stages: tuple[StageProgress, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    authors: tuple[str, ...] = field(default=())

    @property
    def certified(self) -> bool:
        """Whether a certified revision is served (approved, or deprecated but not retired)."""
        return self.certified_revision is not None and self.status is not Status.RETIRED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "domain": self.domain, "status": self.status.value, "owner": self.owner,
            "created_by": self.created_by, "revision": self.revision,
            "certified_revision": self.certified_revision, "stage": self.stage, "round": self.round,
            "reason": self.reason, "definition": self.definition.to_dict(),
            "duplicates": [d.__dict__ for d in self.duplicates],
        }
