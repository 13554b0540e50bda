"""Notifications that arrive: an access request's two notices by e-mail through a real SMTP
server (aiosmtpd on loopback), a preference that keeps a kind out of e-mail, and the owners'
notices done once the request is decided."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from api.app import create_app
from lake.settings import MailSettings, Settings

from mail_fixtures import Mailbox

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

API = "/api/v1"
ORDERS: dict[str, Any] = {
    "dataset": "sales.orders", "owner": "sales", "description": "Orders.",
    "columns": [{"name": "order_id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}],
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_access_request_reaches_its_owner_and_its_decision_the_requester_by_email(
        tmp_path: Path, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    settings = Settings(home=tmp_path / "home", mail=MailSettings(smtp_url=f"smtp+plain://127.0.0.1:{port}",
                                                                  sender="lakegate@example.com"))
    app = create_app(settings)
    with TestClient(app) as client:
        lake = app.state.services.lake
        auth = {}
        for name, roles in {"root": ["admin"], "olga": ["producer", "sales"], "sam": ["sales"],
                            "rita": []}.items():
            lake.users.create(name, roles=roles)
            auth[name] = _bearer(lake.users.create_token(name, name="tests")[0])
        assert client.post(f"{API}/datasets", json=ORDERS, headers=auth["root"]).status_code == 201
        assert client.post(f"{API}/access/grants", headers=auth["root"], json={
            "subject": "rita", "action": "discover", "resource": "dataset:sales.orders"}).status_code == 201
        for name in ("olga", "sam", "rita"):
            r = client.post(f"{API}/inbox/channels", json={"kind": "email", "target": f"{name}@example.com"},
                            headers=auth[name])
            assert r.status_code == 201, r.text
        # sam keeps access requests out of his e-mail (inbox only).
        r = client.put(f"{API}/inbox/preferences", json={"deliveries": {"access_requested": ["inbox"]}},
                       headers=auth["sam"])
        assert r.status_code == 200 and r.json()["deliveries"]["access_requested"] == ["inbox"]
        bad = client.put(f"{API}/inbox/preferences", json={"deliveries": {"access_requested": ["pigeon"]}},
                         headers=auth["sam"])
        assert bad.status_code == 422 and "pigeon" in bad.json()["error"]["message"]

        r = client.post(f"{API}/access/requests", headers=auth["rita"], json={
            "resource": "dataset:sales.orders", "reason": "Quarterly churn analysis", "duration_days": 7})
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
        box.wait_for(1)
        [asked] = box.to("olga@example.com")
        assert asked["From"] == "lakegate@example.com"
        assert asked["Subject"] == "rita asks to read sales.orders"
        assert asked["X-Lakegate-Event"] == "access_requested"
        assert "Quarterly churn analysis" in asked.get_content()
        assert box.to("sam@example.com") == [] and box.to("root@example.com") == []
        # Both owners have it in their inbox; the admin, who is no owner, does not.
        for owner in ("olga", "sam"):
            [notice] = client.get(f"{API}/inbox", headers=auth[owner]).json()
            assert notice["kind"] == "access_requested" and not notice["done"]
        assert client.get(f"{API}/inbox", headers=auth["root"]).json() == []

        r = client.post(f"{API}/access/requests/{request_id}/approve", json={"note": "Go ahead"},
                        headers=auth["olga"])
        assert r.status_code == 200, r.text
        box.wait_for(2)
        [decided] = box.to("rita@example.com")
        assert decided["Subject"] == f"Your request #{request_id} to read sales.orders was approved by olga"
        assert "Go ahead" in decided.get_content() and "Access until" in decided.get_content()
        assert decided["X-Lakegate-Event"] == "access_decided"
        assert len(box.messages) == 2
        # The owners' notices are done: nothing waits for them any more.
        for owner in ("olga", "sam"):
            assert [n["done"] for n in client.get(f"{API}/inbox", headers=auth[owner]).json()] == [True]
            assert client.get(f"{API}/inbox", params={"open": True}, headers=auth[owner]).json() == []

