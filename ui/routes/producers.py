"""Producer pages: a dataset's quarantine (the rows ingestion rejected, the rule each broke, the
violation trend per day and rule) and its replay against the current contract.

Who may see and replay a quarantine is the access layer's rule
(:mod:`access.producers`: the dataset's producers, owner and admins), asked
here as for the API and the CLI; a person who may not even discover the
dataset is told it does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from access import producers
from api.params import MAX_INT
from lake.errors import AccessDenied
from lake.quarantine import ReplayResult
from ui import services
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=f"{UI_PREFIX}/datasets", route_class=UiRoute, include_in_schema=False)

#: Rows listed on the page (the oldest first); the count says how many wait in all.
ROWS_SHOWN = 100
TREND_DAYS = 30


def _replayed_message(landed: int, left: int) -> str:
    rows = f"{landed} row{'' if landed == 1 else 's'}"
    head = f"Replay: {rows} landed" if landed else "Replay: no row passes the current contract yet; nothing landed"
    if left:
        head += ("; 1 row still breaks it and stays in quarantine" if left == 1
                 else f"; {left} rows still break it and stay in quarantine")
    return head + "."


def quarantine_page(request: Request, me: UiSessionInfo, name: str, *, flash: str = "", flash_tone: str = "ok",
                    status_code: int = 200) -> Response:
    producers.may_manage_quarantine(services.access(request), name, by=me.user)  # audited once per page
    lake = services.lake_of(request)
    listing = lake.quarantine.rows(name, limit=ROWS_SHOWN)
    trend = lake.quarantine.trend(name, days=TREND_DAYS)
    info = lake.dataset(name)
    return render(request, "quarantine.html", {
        "info": info, "contract": info.contract, "listing": listing, "trend": trend,
        "top": max((p.rows for p in trend), default=0), "days": TREND_DAYS,
        "flash": flash, "flash_tone": flash_tone,
    }, status_code=status_code, section="search")


@router.get("/{name}/quarantine")
def quarantine(request: Request, me: Me, name: str,
               landed: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
               left: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None) -> Response:
    """The rows waiting in the dataset's quarantine, why each was rejected, and the trend."""
    flash = _replayed_message(landed, left or 0) if landed is not None else ""
    return quarantine_page(request, me, name, flash=flash, flash_tone="ok" if landed else "warn")


@router.post("/{name}/quarantine/replay")
async def replay(request: Request, me: Posted, name: str,
                 reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Check the waiting rows against the current contract and land those that pass; the page
    then says how many landed and how many stay."""
    control = services.access(request)

    def done(result: ReplayResult) -> str:
        return (f"{UI_PREFIX}/datasets/{result.dataset}/quarantine"
                f"?landed={result.landed}&left={len(result.still_failing)}")

    return await form_outcome(
        lambda: producers.replay_quarantine(control, name, by=me.user, reason=reason), done=done,
        refused=lambda message, status: quarantine_page(request, me, name, flash=message, flash_tone="bad",
                                                        status_code=status),
        error_pages=(AccessDenied,))
