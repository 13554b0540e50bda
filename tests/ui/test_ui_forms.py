"""Every UI form ends through ``ui.routing.form_outcome``: done → 303, a domain
refusal → the form's page again with its message and status, a server error or
a refusal the page lists → raised (the route turns it into an error page)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from starlette.responses import HTMLResponse, Response

from lake.errors import AccessDenied, Conflict, LakegateError, NotFound, StorageError
from ui.routing import form_outcome


def _outcome(call: Callable[[], object], error_pages: tuple[type[LakegateError], ...] = ()) -> Response:
    def refused(message: str, status: int) -> Response:
        return HTMLResponse(f"<p class=bad>{message}</p>", status_code=status)

    return asyncio.run(form_outcome(call, done="/ui/admin?done=grant#grants", refused=refused,
                                    error_pages=error_pages))


def test_a_done_action_redirects_so_a_reload_does_not_post_again() -> None:
    ran: list[bool] = []
    r = _outcome(lambda: ran.append(True))
    assert ran == [True]
    assert (r.status_code, r.headers["location"]) == (303, "/ui/admin?done=grant#grants")


def test_a_refusal_shows_the_page_again_with_its_message_and_status() -> None:
    def refuse() -> None:
        raise Conflict("tina already has allow read on dataset:sales.orders")

    r = _outcome(refuse)
    assert r.status_code == 409
    assert b"tina already has allow read" in r.body


@pytest.mark.parametrize(("error", "pages"), [
    (StorageError("the object store refused"), ()),  # server errors are never shown as a form refusal
    (AccessDenied("tina", "grant", "lake"), (AccessDenied,)),
    (NotFound("metric sales.basket does not exist"), (NotFound,)),
])
def test_server_errors_and_listed_refusals_are_raised(error: LakegateError, pages: tuple[type[LakegateError], ...]) -> None:
    def fail() -> None:
        raise error

    with pytest.raises(type(error)):
        _outcome(fail, pages)
