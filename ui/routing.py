"""How UI routes run: who is signed in, CSRF checks on forms, HTML error pages.

Every UI router is built with ``route_class=UiRoute``. Its handlers turn the
errors a page can meet into what a person sees: no session → a redirect to
the sign-in page (back to the page afterwards); a refused CSRF token → a 403
page; any :class:`~lake.errors.LakegateError` → a page with its status, code
and message. Every answer carries a strict Content-Security-Policy (no inline
script or style), ``nosniff``, ``no-store`` and a same-origin referrer policy.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse

from lake.errors import AuthenticationError, LakegateError
from ui import services
from ui.errors import CsrfRejected, SessionExpired, SignInRequired
from ui.sessions import UiSessionInfo, tokens_match
from ui.templating import UI_PREFIX, render

log = logging.getLogger("lakegate.ui")
T = TypeVar("T")

SESSION_COOKIE = "lakegate_session"
LOGIN_CSRF_COOKIE = "lakegate_login_csrf"
CSRF_FIELD = "csrf_token"

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def uses_tls(request: Request) -> bool:
    """Whether the browser talks to us over TLS (directly, or through a TLS-terminating proxy)."""
    if request.url.scheme == "https":
        return True
    services = getattr(request.app.state, "services", None)
    settings = getattr(services, "settings", None)
    return bool(settings is not None and (settings.behind_tls_proxy or settings.production))


def set_session_cookie(response: Response, request: Request, session_id: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, max_age=max_age, path=UI_PREFIX, httponly=True,
                        samesite="lax", secure=uses_tls(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX, httponly=True, samesite="lax", secure=uses_tls(request))


def safe_next(target: str | None) -> str:
    """A place inside the UI to return to after sign-in; anything else goes home."""
    if not target:
        return UI_PREFIX
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(UI_PREFIX) or target.startswith("//") \
            or "\\" in target or parts.path.startswith(f"{UI_PREFIX}/login"):
        return UI_PREFIX
    return target


def login_url(request: Request, *, ended: bool = False) -> str:
    url = f"{UI_PREFIX}/login"
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = []
    if request.method == "GET" and back != UI_PREFIX:
        params.append("next=" + quote(back, safe=""))
    if ended:
        params.append("ended=1")
    return url + ("?" + "&".join(params) if params else "")


def _error_page(request: Request, status: int, code: str, message: str) -> Response:
    title = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Error"
    return render(request, "error.html", {"status": status, "title": title, "code": code, "message": message},
                  status_code=status)


class UiRoute(APIRoute):
    """A route whose errors become HTML pages or a redirect to sign-in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as exc:
                response = RedirectResponse(login_url(request, ended=isinstance(exc, SessionExpired)),
                                            status_code=303)
                clear_session_cookie(response, request)
            except CsrfRejected as exc:
                response = _error_page(request, 403, exc.code, exc.message)
            except AuthenticationError as exc:
                response = _error_page(request, 401, exc.code, exc.message)
            except LakegateError as exc:
                if exc.http_status >= 500:
                    log.error("%s %s failed: %s: %s", request.method, request.url.path, exc.code, exc.message)
                response = _error_page(request, exc.http_status, exc.code, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
                message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
                response = _error_page(request, 422, "invalid_request", message)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(exc.status_code).phrase
                response = _error_page(request, exc.status_code, "http_error", detail)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                response = _error_page(request, 500, "internal_error",
                                       "something went wrong on the server; the server log has the details")
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return run


def signed_in(request: Request) -> UiSessionInfo:
    """The signed-in session (a dependency of every page but sign-in).

    Raises:
        SignInRequired: no valid session (the route redirects to sign-in).
    """
    info = services.sessions(request).resolve(request.cookies.get(SESSION_COOKIE))
    request.state.ui_session = info
    from access import Action, Resource

    control = services.access(request)
    control.ensure_subject(info.user, info.principal.roles)
    request.state.ui_is_admin = control.can(info.user, Action.ADMIN, Resource.lake())
    request.state.ui_unread = _unread(request, info.user)
    return info


def _unread(request: Request, user: str) -> int:
    return services.notifier(request).inbox.unread(user)


Me = Annotated[UiSessionInfo, Depends(signed_in)]


async def csrf_checked(request: Request, me: Me) -> UiSessionInfo:
    """The signed-in session, if the posted form carries its CSRF token.

    Raises:
        CsrfRejected: the token is missing or is not this session's.
    """
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not given:
        raise CsrfRejected(request.url.path, "missing")
    if not tokens_match(me.csrf_token, given):
        raise CsrfRejected(request.url.path, "not the one of your session")
    return me


Posted = Annotated[UiSessionInfo, Depends(csrf_checked)]


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking domain call in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def form_outcome(call: Callable[[], T], *, done: str | Callable[[T], str],
                       refused: Callable[[str, int], Response],
                       error_pages: tuple[type[LakegateError], ...] = ()) -> Response:
    """How every form's action ends: done, or its page again with the refusal.

    Args:
        call: The domain action (blocking: it runs in a worker thread).
        done: Where a success goes (303, so reloading the page does not post the form again),
            or a function of the action's result that says where.
        refused: The form's page again, given the refusal's message and HTTP status
            (built in a worker thread); the page shows the message and answers with the status.
        error_pages: Refusals shown as an error page instead, as every server error is.
    """
    try:
        result = await in_thread(call)
    except LakegateError as exc:
        if exc.http_status >= 500 or isinstance(exc, error_pages):
            raise
        return await in_thread(refused, exc.message, exc.http_status)
    return RedirectResponse(done(result) if callable(done) else done, status_code=303)
