"""Sign-in and sign-out.

The sign-in form is protected against login CSRF with a double-submit token:
``GET /ui/login`` sets a random value in an HttpOnly, SameSite=Strict cookie
scoped to the sign-in path and in a hidden field; ``POST`` refuses a form
whose field does not match the cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from starlette.responses import RedirectResponse

from lake.errors import AuthenticationError, TooManyRequests
from ui import services
from ui.errors import CsrfRejected, SignInRequired
from ui.routing import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Posted,
    UiRoute,
    clear_session_cookie,
    in_thread,
    safe_next,
    set_session_cookie,
    uses_tls,
)
from ui.sessions import SignInMethod, new_secret, tokens_match
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

LOGIN_PATH = f"{UI_PREFIX}/login"
_LOGIN_CSRF_SECONDS = 3600


def _login_page(request: Request, *, next_url: str, error: str = "", notice: str = "", method: str = "password",
                username: str = "", status_code: int = 200) -> Response:
    token = new_secret()
    request.state.login_csrf = token
    response = render(request, "login.html", {"next": next_url, "error": error, "notice": notice,
                                              "method": method, "username": username}, status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=_LOGIN_CSRF_SECONDS, path=LOGIN_PATH, httponly=True,
                        samesite="strict", secure=uses_tls(request))
    return response


def _audit_refusal(request: Request, username: str, exc: TooManyRequests) -> None:
    """A refused sign-in attempt, in the audit log (the password never is)."""
    from access import AuditKind

    services.access(request).audit.record(
        AuditKind.REFUSAL, actor=username[:255], action="sign_in", resource=LOGIN_PATH,
        detail={"reason": exc.reason, "retry_after_seconds": exc.retry_after,
                "address": request.client.host if request.client else None})


@router.get("/login")
def login_form(request: Request, next_url: Annotated[str, Query(alias="next", max_length=2048)] = "",
               ended: bool = False, signed_out: bool = False) -> Response:
    """The sign-in page (or straight on, when a valid session exists)."""
    target = safe_next(next_url)
    try:
        services.sessions(request).resolve(request.cookies.get(SESSION_COOKIE))
    except SignInRequired:
        pass
    else:
        return RedirectResponse(target, status_code=303)
    notice = "Your session ended; sign in again." if ended else ("You are signed out." if signed_out else "")
    return _login_page(request, next_url=target, notice=notice)


@router.post("/login")
async def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "password",
    username: Annotated[str, Form(max_length=255)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    token: Annotated[str, Form(max_length=1024)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2048)] = "",
) -> Response:
    """Check the credentials, open a session and go on to ``next``."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token:
        raise CsrfRejected(LOGIN_PATH, "missing")
    if not expected or not tokens_match(expected, csrf_token):
        raise CsrfRejected(LOGIN_PATH, "not the one this browser was given (sign-in pages expire after an hour)")
    target = safe_next(next_url)
    how = SignInMethod.parse(method)
    store = services.sessions(request)
    try:
        if how is SignInMethod.TOKEN:
            if not token.strip():
                raise AuthenticationError("paste an API token (it starts with lg_)")
            session_id, info = await in_thread(store.sign_in_token, token)
        else:
            if not username.strip() or not password:
                raise AuthenticationError("enter your user name and password")
            address = request.client.host if request.client else None
            session_id, info = await in_thread(store.sign_in_password, username, password, address=address)
    except AuthenticationError as exc:
        return _login_page(request, next_url=target, error=exc.message, method=how.value,
                           username=username.strip(), status_code=401)
    except TooManyRequests as exc:
        await in_thread(_audit_refusal, request, username.strip(), exc)
        page = _login_page(request, next_url=target, error=exc.message, method=how.value,
                           username=username.strip(), status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = RedirectResponse(target, status_code=303)
    max_age = int((info.expires_at - info.created_at).total_seconds())
    set_session_cookie(response, request, session_id, max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH, httponly=True, samesite="strict",
                           secure=uses_tls(request))
    return response


@router.post("/logout")
async def logout(request: Request, me: Posted) -> Response:
    """End the session: the row is deleted and the cookie cleared."""
    await in_thread(services.sessions(request).sign_out, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{LOGIN_PATH}?signed_out=1", status_code=303)
    clear_session_cookie(response, request)
    return response
