"""What waits for a person: proposals at a stage they may decide, access
requests they may decide, their own requests and their notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from ui import services
from ui.sessions import UiSessionInfo

if TYPE_CHECKING:
    from access.requests import AccessRequestInfo
    from lake.notify import ChannelInfo, Notice, PreferenceInfo
    from metrics_catalog import MetricInfo

_REVIEWABLE = ("proposed", "in_review")


@dataclass(frozen=True)
class Waiting:
    proposals: tuple[MetricInfo, ...] = ()
    requests: tuple[AccessRequestInfo, ...] = ()
    mine: tuple[AccessRequestInfo, ...] = ()
    notices: tuple[Notice, ...] = field(default=())
    preferences: PreferenceInfo | None = None
    channels: tuple[ChannelInfo, ...] = ()

    @property
    def count(self) -> int:
        return len(self.proposals) + len(self.requests)


def may_review(metric: MetricInfo, me: UiSessionInfo) -> bool:
    """Whether the metric waits at a stage whose roles ``me`` holds, and ``me`` may still decide there.

    Mirrors the chain's rules (no author, one stage per person per revision);
    the workflow checks them again, with the access layer, when deciding.
    """
    if metric.status.value not in _REVIEWABLE or me.user in metric.authors:
        return False
    current = next((st for st in metric.stages if st.current), None)
    if current is None or not set(current.roles) & set(me.principal.roles):
        return False
    return not any(me.user in st.approvers for st in metric.stages)


def proposals_for(request: Request, me: UiSessionInfo) -> list[MetricInfo]:
    catalog = services.metrics(request)
    found = [m for status in _REVIEWABLE for m in catalog.workflow.list(status=status)]
    return sorted((m for m in found if may_review(m, me)), key=lambda m: m.updated_at)


def requests_for(request: Request, me: UiSessionInfo) -> list[AccessRequestInfo]:
    from access.requests import RequestStatus

    control = services.access(request)
    pending = control.requests.list(status=RequestStatus.PENDING)
    return [r for r in pending if control.requests.can_decide(me.user, r)]


def waiting_for(request: Request, me: UiSessionInfo, *, notices: int = 20, settings: bool = False) -> Waiting:
    """What waits for ``me``; with ``settings``, also their notification preferences and channels."""
    control = services.access(request)
    notifier = services.notifier(request)
    return Waiting(
        proposals=tuple(proposals_for(request, me)),
        requests=tuple(requests_for(request, me)),
        mine=tuple(control.requests.list(requester=me.user, limit=20)),
        notices=tuple(notifier.inbox.list(me.user, limit=notices)),
        preferences=notifier.preferences.get(me.user) if settings else None,
        channels=tuple(notifier.channels.list(me.user)) if settings else (),
    )
