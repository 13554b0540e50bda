"""The composition root: one set of services per app, wired once, from one settings tree."""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from access import AccessControl, Action, Resource
from access.gateway import GatewayLimits
from access.subscribers.policy_sync import policy_changed
from api.app import create_app
from api.services import build_services, open_services
from lake.errors import AccessDenied
from lake.service import Lake
from lake.settings import MailSettings, Settings, SubscriberSettings, get_settings
from metrics_catalog import MetricCatalog

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient


API = "/api/v1"
USERS: dict[str, list[str]] = {"root": ["admin"], "alice": ["producer", "sales"], "victor": []}
ORDERS: dict[str, Any] = {
    "dataset": "sales.orders", "owner": "sales", "description": "Orders.",
    "columns": [{"name": "order_id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _access_controls(lake: Lake) -> list[AccessControl]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, AccessControl) and o.lake is lake]


def test_one_access_control_per_app_even_when_first_requests_race(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path / "home"))
    with TestClient(app) as client:
        services = app.state.services
        lake = services.lake
        auth = {}
        for name, roles in USERS.items():
            lake.users.create(name, roles=roles)
            auth[name] = bearer(lake.users.create_token(name, name="tests")[0])
        # The first requests of every kind at once: grants (access), queries (gateway),
        # subscribers, metrics, inbox, UI pages.
        paths = [("get", f"{API}/access/roles"), ("post", f"{API}/query"), ("get", f"{API}/subscribers"),
                 ("get", f"{API}/metrics"), ("get", f"{API}/inbox"), ("get", f"{API}/datasets")]
        barrier = threading.Barrier(len(paths) * 2)
        answers: list[int] = []

        def hit(method: str, path: str) -> None:
            barrier.wait()
            kwargs: dict[str, Any] = {"json": {"sql": "SELECT * FROM nowhere.nothing"}} if method == "post" else {}
            answers.append(getattr(client, method)(path, headers=auth["root"], **kwargs).status_code)

        threads = [threading.Thread(target=hit, args=p) for p in paths * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == len(threads) and 500 not in answers, answers
        # Everything decides with the one AccessControl the lifespan built, and no other exists.
        access = services.access
        assert _access_controls(lake) == [access]
        assert services.gateway.access is access and services.subscribers.access is access
        assert services.metrics.access is access and services.metrics.workflow.permissions.control is access
        assert services.catalog_sync.metrics is services.metrics
        # The subscribers' role policy sync is registered once, at wiring time.
        assert access.change_listeners == (policy_changed,)
        r = client.post(f"{API}/access/grants", headers=auth["root"],
                        json={"subject": "victor", "action": "discover", "resource": "lake"})
        assert r.status_code == 201, r.text
        assert access.change_listeners == (policy_changed,)
        assert app.state.services is services


def test_settings_given_to_create_app_control_the_gateway_subscribers_and_mail(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", gateway=GatewayLimits(default_rows=3, max_rows=5),
                        subscribers=SubscriberSettings(credential_seconds=1800, export_max_rows=10),
                        mail=MailSettings(sender="governance@example.com"), max_queued_queries=3)
    app = create_app(settings)
    with TestClient(app) as client:
        services = app.state.services
        assert services.gateway.limits.max_rows == 5 and services.gateway.limits.rows(None) == 3
        assert services.subscribers.settings.credential_seconds == 1800
        assert services.subscribers.vending.settings.credential_seconds == 1800
        assert services.subscribers.exports.settings.export_max_rows == 10
        assert services.notifier.outbox.mail.sender == "governance@example.com"
        assert services.notifier.outbox.outbox_dir == tmp_path / "home" / "outbox"
        assert app.state.admission.limits.max_queued == 3
        lake = services.lake
        lake.users.create("alice", roles=["producer", "sales"])
        alice = bearer(lake.users.create_token("alice", name="tests")[0])
        assert client.post(f"{API}/datasets", json=ORDERS, headers=alice).status_code == 201
        # Over the server's maximum row cap of this app's settings: refused before anything runs.
        r = client.post(f"{API}/query", json={"sql": "SELECT * FROM sales.orders", "max_rows": 6}, headers=alice)
        assert r.status_code == 422, r.text
        assert "above this server's maximum of 5" in r.json()["error"]["message"]


def test_every_variable_keeps_its_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"LAKEGATE_HOME": str(tmp_path), "LAKEGATE_GATEWAY_MAX_ROWS": "77",
                        "LAKEGATE_MAX_CONCURRENT_QUERIES": "3", "LAKEGATE_QUERY_RETRY_AFTER_SECONDS": "9",
                        "LAKEGATE_SUBSCRIBERS_EXPORT_URL_SECONDS": "60", "LAKEGATE_SPARK_MASTER": "local[1]",
                        "LAKEGATE_MAIL_FROM": "a@example.com", "LAKEGATE_SMTP_URL": "smtp://mail:25"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        s = get_settings()
    finally:
        get_settings.cache_clear()
    assert s.gateway.max_rows == 77 and s.gateway.max_concurrent_queries == 3
    assert s.gateway.retry_after_seconds == 9
    assert s.subscribers.export_url_seconds == 60 and s.engine.master == "local[1]"
    assert s.mail.sender == "a@example.com" and s.mail.smtp_url is not None
    assert s.mail.outbox_dir == tmp_path / "outbox" and s.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    # The flat keyword names work as the variables do.
    flat = Settings(home=tmp_path, spark_master="local[2]", max_queries_per_user=2, outbox_dir=tmp_path / "mail")
    assert flat.engine.master == "local[2]" and flat.gateway.max_queries_per_user == 2
    assert flat.mail.outbox_dir == tmp_path / "mail"


def test_cli_services_come_from_the_same_builder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", gateway=GatewayLimits(max_rows=9))
    with open_services(settings) as services:
        assert services.gateway.limits.max_rows == 9
        assert services.metrics.access is services.access
        assert services.access.change_listeners == (policy_changed,)
        assert services.owns_lake
    # A lake given to the builder stays the caller's: closing the services leaves it open.
    given = Lake(settings)
    try:
        built = build_services(lake=given)
        assert built.lake is given and not built.owns_lake
        built.close()
        given.users.ensure("still-open")
    finally:
        given.close()


def test_a_metric_action_with_no_access_layer_wired_is_refused(tmp_path: Path) -> None:
    lake = Lake(Settings(home=tmp_path / "home"))
    try:
        lake.users.ensure("admin", roles=["admin"])
        lake.users.ensure("mia", roles=["analyst"])
        unwired = MetricCatalog(lake, access=None)
        doc = {"name": "playback.minutes", "view": "playback.events", "expression": "SUM(watch_seconds)",
               "time_dimension": "event_ts", "grains": ["day"]}
        for actor in ("mia", "admin"):  # not even an admin passes without a decision
            with pytest.raises(AccessDenied):
                unwired.workflow.create(doc, actor=actor)
        assert unwired.workflow.list() == []
        # With the access layer wired, the same catalog decides by its grants.
        access = AccessControl(lake)
        access.grant("analyst", Action.PROPOSE, Resource.domain_("playback"), actor="admin")
        wired = MetricCatalog(lake, access=access)
        assert wired.workflow.permissions.may_author(lake.users.get("mia"), "playback.minutes")
        assert not unwired.workflow.permissions.may_author(lake.users.get("mia"), "playback.minutes")
    finally:
        lake.close()


def test_the_app_runs_one_background_scheduler_from_its_lifespan(tmp_path: Path) -> None:
    import time

    app = create_app(Settings(home=tmp_path / "home", scheduler_interval_seconds=0.05))
    with TestClient(app):
        scheduler = app.state.scheduler
        deadline = time.monotonic() + 60  # a bound on waiting, not a speed requirement
        while scheduler.ticks < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduler.ticks >= 2
    assert scheduler._task is None  # stopped with the app
    off = create_app(Settings(home=tmp_path / "off", scheduler_interval_seconds=0))
    with TestClient(off):
        assert off.state.scheduler._task is None
