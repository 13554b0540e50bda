"""Sign-in sessions and CSRF: through the real app and sign-in form, and the
session store on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from lake.catalog.models import utcnow
from lake.service import Lake
from ui.errors import SessionExpired, SignInRequired
from ui.models import UiSession
from ui.routing import LOGIN_CSRF_COOKIE, SESSION_COOKIE, safe_next
from ui.sessions import SessionPolicy, SessionStore, digest

from ui_helpers import TestClient, csrf_of, sign_in
from ui_world import PASSWORDS


def _set_cookie_headers(response: Any, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def _attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts[1:]}


def _session_rows(lake: Lake) -> list[UiSession]:
    with lake.catalog.session() as s:
        return list(s.scalars(select(UiSession)))


# -- signing in ------------------------------------------------------------------------------


def test_pages_need_a_session_and_come_back_after_sign_in(world: TestClient) -> None:
    r = world.get("/ui/search?q=orders")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Fsearch%3Fq%3Dorders"
    r = sign_in(world, "victor", PASSWORDS["victor"], next_url="/ui/search?q=orders")
    assert r.status_code == 303 and r.headers["location"] == "/ui/search?q=orders"
    page = world.get("/ui/search?q=orders")
    assert page.status_code == 200 and "sales.orders" in page.text


def test_root_redirects_to_the_ui(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/ui"


def test_session_cookie_flags_and_only_a_digest_is_stored(world: TestClient, ui_lake: Lake) -> None:
    r = sign_in(world, "alice", PASSWORDS["alice"])
    [header] = _set_cookie_headers(r, SESSION_COOKIE)
    attrs = _attributes(header)
    assert "httponly" in attrs and attrs["samesite"].lower() == "lax" and attrs["path"] == "/ui"
    assert "secure" not in attrs  # plain HTTP here; see the TLS test
    assert int(attrs["max-age"]) == 12 * 3600
    session_id = header.split(";", 1)[0].split("=", 1)[1]
    [row] = _session_rows(ui_lake)
    assert row.id_hash == digest(session_id) and row.id_hash != session_id
    assert row.user_name == "alice" and row.method == "password" and row.token_hash is None
    # The login CSRF cookie is cleared once it did its job.
    [cleared] = _set_cookie_headers(r, LOGIN_CSRF_COOKIE)
    assert _attributes(cleared)["max-age"] == "0"


def test_login_csrf_cookie_is_strict_and_scoped(client: TestClient) -> None:
    page = client.get("/ui/login")
    [header] = _set_cookie_headers(page, LOGIN_CSRF_COOKIE)
    attrs = _attributes(header)
    assert "httponly" in attrs and attrs["samesite"].lower() == "strict" and attrs["path"] == "/ui/login"
    assert header.split(";", 1)[0].split("=", 1)[1] == csrf_of(page.text)


def test_session_cookie_is_secure_over_tls(make_ui: Callable[..., TestClient]) -> None:
    from ui_world import make_users

    client = make_ui(base_url="https://testserver")
    make_users(client.app.state.services.lake)  # type: ignore[attr-defined]
    r = sign_in(client, "alice", PASSWORDS["alice"])
    assert r.status_code == 303
    [header] = _set_cookie_headers(r, SESSION_COOKIE)
    assert "secure" in _attributes(header)


def test_session_cookie_is_secure_behind_a_tls_proxy(make_ui: Callable[..., TestClient]) -> None:
    """The proxy speaks plain HTTP to us; the browser sees HTTPS and sends the Secure cookies."""
    from ui_world import make_users

    client = make_ui(behind_tls_proxy=True)
    make_users(client.app.state.services.lake)  # type: ignore[attr-defined]
    page = client.get("/ui/login")
    [login_cookie] = _set_cookie_headers(page, LOGIN_CSRF_COOKIE)
    assert "secure" in _attributes(login_cookie)
    token = csrf_of(page.text)
    r = client.post("/ui/login", headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"},
                    data={"csrf_token": token, "method": "password", "username": "alice",
                          "password": PASSWORDS["alice"]})
    assert r.status_code == 303
    [header] = _set_cookie_headers(r, SESSION_COOKIE)
    assert "secure" in _attributes(header)


def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused(world: TestClient, ui_lake: Lake) -> None:
    world.get("/ui/login")  # sets the login CSRF cookie
    form = {"method": "password", "username": "alice", "password": PASSWORDS["alice"]}
    missing = world.post("/ui/login", data=form)
    assert missing.status_code == 403 and "csrf_rejected" in missing.text and "missing" in missing.text
    wrong = world.post("/ui/login", data={**form, "csrf_token": "not-the-token"})
    assert wrong.status_code == 403 and "csrf_rejected" in wrong.text
    assert not _set_cookie_headers(missing, SESSION_COOKIE) and not _set_cookie_headers(wrong, SESSION_COOKIE)
    assert _session_rows(ui_lake) == []


def test_wrong_password_says_so_without_naming_which_part(world: TestClient, ui_lake: Lake) -> None:
    for user in ("alice", "nobody"):
        r = sign_in(world, user, "wrong-password")
        assert r.status_code == 401
        assert "unknown user or wrong password" in r.text
    assert _session_rows(ui_lake) == []


def test_sign_in_with_an_api_token_ends_when_the_token_is_revoked(world: TestClient, ui_lake: Lake) -> None:
    token, info = ui_lake.users.create_token("victor", name="ui")
    page = world.get("/ui/login")
    r = world.post("/ui/login", data={"csrf_token": csrf_of(page.text), "method": "token", "token": token})
    assert r.status_code == 303
    [row] = _session_rows(ui_lake)
    assert row.method == "token" and row.token_hash == digest(token)
    assert world.get("/ui").status_code == 200
    ui_lake.users.revoke_token(info.id)
    r = world.get("/ui")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?ended=1"
    assert _session_rows(ui_lake) == []


def test_a_new_sign_in_makes_a_new_session_id(world: TestClient) -> None:
    first = _set_cookie_headers(sign_in(world, "alice", PASSWORDS["alice"]), SESSION_COOKIE)[0]
    second = _set_cookie_headers(sign_in(world, "alice", PASSWORDS["alice"]), SESSION_COOKIE)[0]
    assert first.split(";")[0] != second.split(";")[0]


@pytest.mark.parametrize("target", ["https://evil.example/ui", "//evil.example/ui", "/api/v1/datasets",
                                    "/ui/login", "/ui\\..\\evil", ""])
def test_next_never_leaves_the_ui(target: str) -> None:
    assert safe_next(target) == "/ui"


def test_safe_next_keeps_ui_paths() -> None:
    assert safe_next("/ui/datasets/sales.orders?x=1") == "/ui/datasets/sales.orders?x=1"


# -- forms and CSRF --------------------------------------------------------------------------


def test_post_forms_need_the_session_csrf_token(world: TestClient, ui_lake: Lake) -> None:
    sign_in(world, "victor", PASSWORDS["victor"])
    page = world.get("/ui")
    token = csrf_of(page.text)
    body = {"reason": "I need it", "columns": ["email"], "duration_days": "30"}
    from access import AccessControl

    for data in (body, {**body, "csrf_token": ""}, {**body, "csrf_token": token[:-2] + "xx"}):
        r = world.post("/ui/datasets/sales.orders/request-access", data=data)
        assert r.status_code == 403, r.text
        assert "csrf_rejected" in r.text
    assert AccessControl(ui_lake, sync_users=False).requests.list() == []
    r = world.post("/ui/datasets/sales.orders/request-access", data={**body, "csrf_token": token})
    assert r.status_code == 303
    [created] = AccessControl(ui_lake, sync_users=False).requests.list()
    assert created.requester == "victor" and created.columns == ("email",)


def test_another_sessions_token_is_refused(make_ui: Callable[..., TestClient]) -> None:
    from ui_world import make_users

    one = make_ui()
    make_users(one.app.state.services.lake)  # type: ignore[attr-defined]
    sign_in(one, "alice", PASSWORDS["alice"])
    alice_token = csrf_of(one.get("/ui").text)
    sign_in(one, "victor", PASSWORDS["victor"])  # same browser, new session for victor
    r = one.post("/ui/logout", data={"csrf_token": alice_token})
    assert r.status_code == 403
    assert one.get("/ui").status_code == 200  # still signed in


def test_sign_out_deletes_the_session(world: TestClient, ui_lake: Lake) -> None:
    sign_in(world, "alice", PASSWORDS["alice"])
    cookie = world.cookies.get(SESSION_COOKIE)
    assert cookie
    r = world.post("/ui/logout", data={"csrf_token": csrf_of(world.get("/ui").text)})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?signed_out=1"
    [cleared] = _set_cookie_headers(r, SESSION_COOKIE)
    assert _attributes(cleared)["max-age"] == "0"
    assert _session_rows(ui_lake) == []
    world.cookies.set(SESSION_COOKIE, cookie, path="/ui")  # a copied cookie is worthless now
    assert world.get("/ui").status_code == 303


def test_expired_session_goes_to_sign_in(world: TestClient, ui_lake: Lake) -> None:
    sign_in(world, "alice", PASSWORDS["alice"])
    with ui_lake.catalog.session() as s:
        s.execute(update(UiSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    r = world.get("/ui/inbox")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Finbox&ended=1"
    assert _session_rows(ui_lake) == []
    assert "Your session ended" in world.get(r.headers["location"]).text


def test_deactivated_user_is_signed_out(world: TestClient, ui_lake: Lake) -> None:
    from lake.catalog.models import User

    sign_in(world, "alice", PASSWORDS["alice"])
    with ui_lake.catalog.session() as s:
        s.execute(update(User).where(User.name == "alice").values(is_active=False))
    assert world.get("/ui").status_code == 303


def test_pages_carry_security_headers(world: TestClient) -> None:
    for r in (world.get("/ui/login"), world.get("/ui")):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"


# -- the store itself, on SQLite and PostgreSQL ------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


def test_store_lifetime_idle_and_sign_out(any_lake: Lake) -> None:
    any_lake.users.create("ann", roles=["analyst"], password="ann-pass-1")
    clock = _Clock()
    store = SessionStore(any_lake, SessionPolicy(lifetime=dt.timedelta(hours=8), idle=dt.timedelta(hours=1),
                                                 touch_every=dt.timedelta(minutes=1)), clock=clock)
    sid, info = store.sign_in_password("ann", "ann-pass-1")
    assert info.user == "ann" and info.principal.roles == ("analyst",)
    assert store.resolve(sid).csrf_token == info.csrf_token
    for _ in range(3):  # used every 50 minutes: the idle limit keeps moving
        clock.now += dt.timedelta(minutes=50)
        store.resolve(sid)
    clock.now += dt.timedelta(minutes=61)
    with pytest.raises(SessionExpired, match="idle"):
        store.resolve(sid)
    with pytest.raises(SignInRequired):
        store.resolve(sid)  # deleted when found expired

    sid, _ = store.sign_in_password("ann", "ann-pass-1")
    for _ in range(8):  # 7 h 20 min of steady use
        clock.now += dt.timedelta(minutes=55)
        store.resolve(sid)
    clock.now += dt.timedelta(minutes=55)  # 8 h 15 min after sign-in
    with pytest.raises(SessionExpired, match="time limit"):
        store.resolve(sid)

    sid, _ = store.sign_in_password("ann", "ann-pass-1")
    assert store.sign_out(sid) is True
    assert store.sign_out(sid) is False
    with pytest.raises(SignInRequired):
        store.resolve(sid)
    with pytest.raises(SignInRequired):
        store.resolve(None)


def test_store_token_session_lasts_no_longer_than_the_token(any_lake: Lake) -> None:
    any_lake.users.create("ann")
    token, _ = any_lake.users.create_token("ann", ttl_days=0.25)
    store = SessionStore(any_lake)
    sid, info = store.sign_in_token(token)
    assert info.expires_at - info.created_at <= dt.timedelta(hours=6, seconds=1)
    assert store.resolve(sid).user == "ann"


def _ui_routes(client: TestClient) -> list[tuple[str, str]]:
    from fastapi.routing import iter_route_contexts

    routes: Any = list(iter_route_contexts(client.app.routes))  # type: ignore[attr-defined]
    return sorted({(m, r.path) for r in routes for m in (getattr(r, "methods", None) or ())
                   if m not in ("HEAD", "OPTIONS") and r.path.startswith("/ui")})


def test_every_ui_route_but_sign_in_needs_a_session(world: TestClient) -> None:
    routes = _ui_routes(world)
    public = {("GET", "/ui/login"), ("POST", "/ui/login")}
    assert public <= set(routes) and len(routes) >= 25
    values = {"name": "sales.orders", "path": "anything", "request_id": "1", "notice_id": "1", "grant_id": "1",
              "channel_id": "1", "domain": "sales", "meeting_id": "1", "session_id": "1",
              "query_id": "0" * 32}
    answers = {}
    for method, path in routes:
        if (method, path) in public:
            continue
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)
        r = world.request(method, url, data={"csrf_token": "x"} if method == "POST" else None)
        answers[(method, path)] = (r.status_code, r.headers.get("location", "").split("?")[0])
    assert all(a == (303, "/ui/login") for a in answers.values()), answers
