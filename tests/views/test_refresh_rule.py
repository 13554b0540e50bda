"""Who may refresh a view or set its schedule is one rule (``access.registration.may_refresh_view``),
asked alike by the API, the CLI and the UI: the view's owner with write on it, or an admin;
write alone, or ownership alone, is not enough. The UI's button queues a run that the view
page shows; the schedule is a cron stored with the view. No Spark: nothing is materialized."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from access import Action, Resource
from access.registration import apply_views, can_refresh_view
from api.app import create_app
from api.commands.views import app as views_cli
from lake.settings import Settings, get_settings
from views.cron import parse_cron
from views.definition import ViewDefinition

from view_cases import register_demo

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
API = "/api/v1"
VIEW = "analytics.plays_by_country"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    home = tmp_path / "home"
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    get_settings.cache_clear()
    app = create_app(Settings(home=home))
    with TestClient(app, follow_redirects=False) as client:
        services = app.state.services
        lake, access = services.lake, services.access
        register_demo(lake)
        for name, roles in {"root": ["admin"], "pat": [], "wes": []}.items():
            lake.users.create(name, roles=roles, password=PASSWORD)
        # pat owns the view (the owner's grant gives pat admin on it); wes may write it but owns nothing.
        apply_views(access, [ViewDefinition.from_mapping({
            "view": VIEW, "owner": "pat", "sql": "SELECT e.country, COUNT(*) AS plays FROM playback.events AS e "
                                                "GROUP BY e.country"})], by="root", spark_check=False)
        for action in (Action.WRITE, Action.DISCOVER):
            access.grant("wes", action, Resource.view(VIEW), actor="root")
        yield client
    get_settings.cache_clear()


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, user: str) -> int:
    client.cookies.clear()
    page = client.get("/ui/login")
    return client.post("/ui/login", data={"csrf_token": csrf_of(page.text), "method": "password",
                                          "username": user, "password": PASSWORD}).status_code


def _bearer(client: TestClient, user: str) -> dict[str, str]:
    lake = client.app.state.services.lake  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {lake.users.create_token(user, name='tests')[0]}"}


def test_the_refresh_rule_is_the_same_on_the_api_the_cli_and_the_ui(world: TestClient) -> None:
    client = world
    access = client.app.state.services.access  # type: ignore[attr-defined]
    assert [can_refresh_view(access, u, "pat", VIEW) for u in ("pat", "wes", "root")] == [True, False, True]

    # The API.
    for user, status in (("wes", 403), ("pat", 200)):
        r = client.put(f"{API}/views/{VIEW}/schedule", json={"cron": "0 3 * * *"}, headers=_bearer(client, user))
        assert r.status_code == status, r.text
    assert "owner (pat) with write" in client.post(f"{API}/views/{VIEW}/refresh",
                                                   headers=_bearer(client, "wes")).text
    r = client.get(f"{API}/views/{VIEW}/schedule", headers=_bearer(client, "wes")).json()
    assert r["cron"] == "0 3 * * *"

    # The CLI (the same catalog: LAKEGATE_HOME).
    runner = CliRunner()
    denied = runner.invoke(views_cli, ["schedule", VIEW, "@hourly", "--as", "wes"])
    assert denied.exit_code != 0 and "owner (pat) with write" in denied.output, denied.output
    done = runner.invoke(views_cli, ["schedule", VIEW, "@hourly", "--as", "pat"])
    assert done.exit_code == 0 and "@hourly, next at" in done.output, done.output
    assert runner.invoke(views_cli, ["refresh", VIEW, "--as", "wes"]).exit_code != 0

    # The UI: the button and the schedule form are shown to pat only, and refused to wes.
    assert sign_in(client, "wes") == 303
    page = client.get(f"/ui/views/{VIEW}")
    assert page.status_code == 200 and "Refresh analytics.plays_by_country now" not in page.text
    assert "<code>@hourly</code>" in page.text
    refused = client.post(f"/ui/views/{VIEW}/refresh", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403 and "owner (pat) with write" in refused.text, refused.text
    assert sign_in(client, "pat") == 303
    page = client.get(f"/ui/views/{VIEW}")
    assert "Refresh analytics.plays_by_country now" in page.text
    queued = client.post(f"/ui/views/{VIEW}/refresh", data={"csrf_token": csrf_of(page.text)})
    assert queued.status_code == 303, queued.text
    # The refresh the apply queued still waits: asking again queues no second run; the page shows it.
    runs = client.get(f"{API}/views/{VIEW}/runs", headers=_bearer(client, "pat")).json()
    assert [(r["status"], r["trigger"], r["actor"]) for r in runs] == [("queued", "apply", "root")]
    page = client.get(queued.headers["location"])
    assert "A refresh is queued" in page.text and "queued" in page.text
    bad = client.post(f"/ui/views/{VIEW}/schedule", data={"csrf_token": csrf_of(page.text), "cron": "61 * * * *"})
    assert bad.status_code == 422 and "minute" in bad.text


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("*/15 * * * *", "2026-12-07T10:07:30+00:00", "2026-12-07T10:15:00+00:00"),
    ("0 3 * * *", "2026-12-07T03:00:00+00:00", "2026-12-08T03:00:00+00:00"),
    ("@weekly", "2026-12-07T10:00:00+00:00", "2026-12-13T00:00:00+00:00"),          # next Sunday
    ("0 0 1 * 1", "2026-12-02T00:00:00+00:00", "2026-12-07T00:00:00+00:00"),        # 1st or Monday
    ("30 2 29 2 *", "2026-03-01T00:00:00+00:00", "2028-02-29T02:30:00+00:00"),
    ("0 9-17/4 * * 1-5", "2026-12-11T17:30:00+00:00", "2026-12-14T09:00:00+00:00"),  # Friday evening
])
def test_cron_next_times(expr: str, after: str, expected: str) -> None:
    import datetime as dt

    assert parse_cron(expr).next_after(dt.datetime.fromisoformat(after)).isoformat() == expected


@pytest.mark.parametrize(("expr", "word"), [("* * *", "five fields"), ("60 * * * *", "minute"),
                                             ("* * 31 2 *", "no time"), ("*/0 * * * *", "minute"),
                                             ("a * * * *", "minute")])
def test_bad_cron_is_refused_naming_the_field(expr: str, word: str) -> None:
    from lake.errors import InvalidInput

    with pytest.raises(InvalidInput, match=word):
        parse_cron(expr)


def test_a_background_refresh_that_fails_is_recorded_and_its_owners_are_told(world: TestClient) -> None:
    import datetime as dt

    from api.scheduler import Scheduler
    from views import registry

    services = world.app.state.services  # type: ignore[attr-defined]
    # The version the apply queued cannot be built any more (retired today): no Spark needed to fail.
    registry.deprecate(services.lake, VIEW, 1, actor="root", sunset_on=dt.date.today(), note="gone")
    tick = Scheduler(services, interval=0, max_runs=2).tick()
    assert tick.refreshed == [] and [what for what, _ in tick.failed] == [f"{VIEW}@v1"]
    runs = world.get(f"{API}/views/{VIEW}/runs", headers=_bearer(world, "pat")).json()
    assert [(r["status"], r["trigger"]) for r in runs] == [("failed", "apply")] and runs[0]["error"]
    [notice] = services.notifier.inbox.list("pat")
    assert notice.kind.value == "view_refresh" and notice.about == f"view:{VIEW}" and "failed" in notice.title
    assert notice.link == f"/views/{VIEW}"
    assert services.notifier.inbox.list("wes") == []
