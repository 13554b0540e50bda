"""UI pages bound their integers like the API: a number past 64 bits is refused
(422), never a 500 from the catalog's driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ui_helpers import TestClient, csrf_of

HUGE = 10**30


def test_integer_parameters_of_pages_and_forms_are_bounded(world: TestClient, login: Callable[..., Any]) -> None:
    assert login(world, "root", "root-pass-1").status_code == 303
    for url in (f"/ui/datasets/sales.orders?requested={HUGE}", f"/ui/audit?after_seq={HUGE}"):
        r = world.get(url)
        assert r.status_code == 422, (url, r.status_code, r.text[:300])
    csrf = csrf_of(world.get("/ui/admin").text)
    for url in (f"/ui/admin/grants/{HUGE}/revoke", f"/ui/inbox/requests/{HUGE}/reject",
                f"/ui/inbox/requests/{HUGE}/cancel", f"/ui/inbox/notices/{HUGE}/read"):
        r = world.post(url, data={"csrf_token": csrf})
        assert r.status_code == 422, (url, r.status_code, r.text[:300])
