"""The metric page: definition, certification, the approval chain with each
stage's state, decisions, the comment thread, and a chart of its values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from access import Resource
from lake.errors import InvalidInput, LakegateError, NotFound
from metrics_catalog.formatting import format_value
from metrics_catalog.lifecycle import allowed_actions
from ui import chart, services
from ui.highlight import highlight_sql
from ui.inbox import may_review
from ui.routing import Me, Posted, UiRoute, form_outcome, in_thread
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render
from ui.visibility import not_found_message, require_discover

router = APIRouter(prefix=f"{UI_PREFIX}/metrics", route_class=UiRoute, include_in_schema=False)

#: Outcomes a redirect after a form may announce (fixed texts: nothing from the URL is shown).
DONE = {
    "approve": "Your approval is recorded.",
    "request_changes": "Changes were requested from the authors.",
    "reject": "The proposal was rejected.",
    "start_review": "The review has started; approvers of this stage may decide now.",
    "comment": "Your comment was added.",
    "propose": "The metric is proposed; the approvers of its first stage are told.",
    "withdraw": "The proposal was withdrawn; the metric is a draft again.",
}


def _resource(request: Request, user: str, name: str) -> Resource:
    try:
        resource = Resource.metric(name)
    except InvalidInput:
        raise NotFound(f"there is no metric named {name}") from None
    require_discover(services.access(request), user, resource)
    return resource


def _series(values: Any) -> list[chart.Series]:
    """Chart series from metric values: one per combination of dimension values."""
    columns = list(values.columns)
    period_at, value_at = columns.index("period"), columns.index("value")
    dims = [i for i, c in enumerate(columns) if c not in ("period", "value")]
    series: dict[str, list[tuple[str, float | None]]] = {}
    for row in values.rows:
        label = " / ".join(str(row[i]) for i in dims) or values.metric
        v = row[value_at]
        number = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
        if number is not None and not math.isfinite(number):
            number = None
        series.setdefault(label, []).append((str(row[period_at])[:10], number))
    return [chart.Series(k, tuple(v)) for k, v in sorted(series.items())]


def _thread(comments: list[Any]) -> dict[int | None, list[Any]]:
    """Comments by the comment they answer (``None``: the metric itself), oldest first."""
    out: dict[int | None, list[Any]] = {}
    for c in comments:
        out.setdefault(c.parent_id, []).append(c)
    return out


@dataclass(frozen=True)
class Picked:
    """What the values form asks for: a grain, a dimension to split by, a date range (empty: the default)."""

    grain: str = ""
    dimension: str = ""
    start: str = ""
    end: str = ""


def _values(request: Request, me: UiSessionInfo, info: Any, picked: Picked) -> tuple[Any, str]:
    """The metric's values for the chart, or why there are none (a bad pick is named by the domain's error)."""
    catalog = services.metrics(request)
    try:
        return catalog.values.get(info.name, actor=me.user, grain=picked.grain or None,
                                  dimensions=[picked.dimension] if picked.dimension else (),
                                  start=picked.start or None, end=picked.end or None,
                                  uncertified=not info.certified), ""
    except LakegateError as exc:
        return None, exc.message


def metric_page(request: Request, me: UiSessionInfo, name: str, *, picked: Picked = Picked(), flash: str = "",
                flash_tone: str = "ok", status_code: int = 200) -> Response:
    resource = _resource(request, me.user, name)
    catalog = services.metrics(request)
    try:
        info = catalog.workflow.get(name)
    except NotFound:
        raise NotFound(not_found_message(resource)) from None
    values, values_error = _values(request, me, info, picked)
    every_series = _series(values) if values is not None else []
    series = chart.largest(every_series)
    # The values are of the revision they were computed with (the certified one), and so is their format.
    unit = values.unit if values is not None else info.definition.unit
    value_format = values.format if values is not None else info.definition.format

    def fmt(value: float, compact: bool) -> str:
        return format_value(value, value_format, unit, compact=compact)

    return render(request, "metric.html", {
        "info": info, "d": info.definition, "expression": highlight_sql(info.definition.expression),
        "filters": [highlight_sql(f) for f in info.definition.filters],
        "approvals": catalog.workflow.approvals(name), "history": list(reversed(catalog.workflow.history(name))),
        "revisions": list(reversed(catalog.workflow.revisions(name))), "thread": _thread(catalog.comments.list(name)),
        "can_review": may_review(info, me), "may_edit": catalog.workflow.may_edit(name, actor=me.user),
        "allowed": allowed_actions(info.status),
        "values": values, "values_error": values_error,
        "chart": chart.render_sizes(series, title=f"{info.name} by {values.grain.value if values else 'period'}",
                                    unit=unit, fmt=fmt) if series else None,
        "legend": chart.legend(series) if len(series) > 1 else [], "series_total": len(every_series),
        "picked": picked, "grain": values.grain.value if values is not None else picked.grain, "flash": flash,
        "flash_tone": flash_tone,
    }, status_code=status_code, section="metrics")


@router.get("/{name}")
def metric_view(request: Request, me: Me, name: str,
                grain: Annotated[str, Query(max_length=10)] = "",
                dimension: Annotated[str, Query(max_length=255)] = "",
                start: Annotated[str, Query(alias="from", max_length=10)] = "",
                end: Annotated[str, Query(alias="to", max_length=10)] = "",
                done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """A metric as the viewer may see it; its values by ``grain``, split by one ``dimension``,
    between ``from`` and ``to`` (days, both included)."""
    picked = Picked(grain.strip(), dimension.strip(), start.strip(), end.strip())
    return metric_page(request, me, name, picked=picked, flash=DONE.get(done or "", ""))


async def _act(request: Request, me: UiSessionInfo, name: str, action: str, call: Any, back: str) -> Response:
    """Run a workflow action; back to the page (or the inbox) with its outcome, or with the refusal."""
    from ui.routes.inbox import inbox_page

    await in_thread(_resource, request, me.user, name)
    if back == "inbox":
        return await form_outcome(call, done=f"{UI_PREFIX}/inbox?done={action}#proposals",
                                  refused=lambda message, status: inbox_page(
                                      request, me, flash=f"{name}: {message}", flash_tone="bad", status_code=status),
                                  error_pages=(NotFound,))
    anchor = "#comments" if action == "comment" else "#chain"
    return await form_outcome(call, done=f"{UI_PREFIX}/metrics/{name}?done={action}{anchor}",
                              refused=lambda message, status: metric_page(
                                  request, me, name, flash=message, flash_tone="bad", status_code=status),
                              error_pages=(NotFound,))


@router.post("/{name}/decision")
async def decide(
    request: Request, me: Posted, name: str,
    decision: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=5000)] = "",
    revision: Annotated[int | None, Form(ge=1)] = None,
    back: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Approve, request changes or reject at the current stage (as the signed-in approver)."""
    from metrics_catalog import Decision

    choice = Decision.parse(decision)
    workflow = services.metrics(request).workflow
    return await _act(request, me, name, choice.value,
                      lambda: workflow.decide(name, choice, actor=me.user, reason=reason, revision=revision), back)


@router.post("/{name}/start-review")
async def start_review(request: Request, me: Posted, name: str,
                       back: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Take a proposal into review (an approver of its first stage)."""
    workflow = services.metrics(request).workflow
    return await _act(request, me, name, "start_review", lambda: workflow.start_review(name, actor=me.user), back)


@router.post("/{name}/comments")
async def comment(
    request: Request, me: Posted, name: str,
    body: Annotated[str, Form(max_length=20000)] = "",
    parent_id: Annotated[int | None, Form(ge=1)] = None,
    back: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Add a comment to the thread (or answer one)."""
    comments = services.metrics(request).comments
    return await _act(request, me, name, "comment",
                      lambda: comments.add(name, body, actor=me.user, parent_id=parent_id), back)
