"""Sign-in throttling through the real form: after the free attempts, 429 with
Retry-After and a clear message, even for the right password; the refusal audited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from access import AuditKind
from ui import services

from ui_helpers import TestClient, app_request


def test_repeated_wrong_passwords_back_off(make_ui: Callable[..., TestClient], login: Callable[..., Any]) -> None:
    client = make_ui(sign_in_free_attempts=3)
    lake = client.app.state.services.lake
    lake.users.create("ann", password="ann-pass-1")
    now = [time.monotonic()]
    lake.users.throttle.clock = lambda: now[0]  # the throttle's clock, moved forward below
    for _ in range(3):
        r = login(client, "ann", "wrong")
        assert r.status_code == 401, r.text
    r = login(client, "ann", "ann-pass-1")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert "too many failed sign-ins for this account; try again in 1 second" in r.text
    [entry] = services.access(app_request(client)).audit.query(kind=AuditKind.REFUSAL)
    assert (entry.actor, entry.action, entry.detail["reason"]) == ("ann", "sign_in", "sign_in_backoff")
    now[0] += 1.1
    r = login(client, "ann", "wrong")  # waited: this attempt is checked, fails, and the wait doubles
    assert r.status_code == 401
    r = login(client, "ann", "ann-pass-1")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    now[0] += 2.1
    assert login(client, "ann", "ann-pass-1").status_code == 303
