"""Subscriber pages: the list shows only the subscribers a person may act for; a subscriber's page
shows its roles, what it may read raw and why not, its vends and exports, the Redshift plan and
applied state; suspend and resume follow the API's rule (itself, its owner or an admin suspends;
only an admin resumes), and a person without the right is refused and shown nothing of it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

from access.subscribers import Subscribers, SubscriberStatus
from lake.service import Lake
from ui import services

from ui_helpers import TestClient, app_request, csrf_of
from ui_world import PASSWORDS


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def subs(world: TestClient) -> Subscribers:
    """``etl`` (EMR, owned by alice, bound to analyst) and ``warehouse`` (Redshift, owned by root)."""
    found = services.subscribers(app_request(world))
    found.create("etl", "emr", owner="alice", roles=["analyst"], description="Nightly **Spark** jobs.", actor="root")
    found.create("warehouse", "redshift", owner="root", roles=["analyst"], actor="root")
    return found


def test_the_list_shows_only_the_subscribers_a_person_may_act_for(world: TestClient, subs: Subscribers,
                                                                  login: Callable[..., Any]) -> None:
    login(world, "alice", PASSWORDS["alice"])
    mine = world.get("/ui/subscribers")
    assert mine.status_code == 200
    assert 'href="/ui/subscribers/etl"' in mine.text and "warehouse" not in mine.text
    login(world, "root", PASSWORDS["root"])
    every = world.get("/ui/subscribers").text
    assert 'href="/ui/subscribers/etl"' in every and 'href="/ui/subscribers/warehouse"' in every
    login(world, "victor", PASSWORDS["victor"])
    assert "No subscriber you own or run" in world.get("/ui/subscribers").text


def test_a_subscriber_page_says_what_it_reads_raw_and_why_not(world: TestClient, subs: Subscribers,
                                                              login: Callable[..., Any]) -> None:
    login(world, "alice", PASSWORDS["alice"])
    page = world.get("/ui/subscribers/etl")
    assert page.status_code == 200
    text = _text(page.text)
    assert "EMR (Spark)" in text and "analyst" in text and "sub.etl" in text
    assert "<strong>Spark</strong>" in page.text  # the description as Markdown
    # The analyst sees e-mails masked, so the files (which hold every column) are not handed out raw.
    assert re.search(r"sales\.orders Governed only|Governed only.*sales\.orders.*PII column email is masked", text)
    assert "No credentials were vended to it." in text and "No exports yet." in text
    assert "Suspend etl" in text and "Redshift" not in text.split("Exports")[-1]


def test_the_redshift_page_shows_the_plan_and_the_applied_state(world: TestClient, subs: Subscribers,
                                                                login: Callable[..., Any]) -> None:
    login(world, "root", PASSWORDS["root"])
    text = _text(world.get("/ui/subscribers/warehouse").text)
    assert "Applied state: nothing applied yet" in text
    assert "CREATE ROLE" in text and "lakegate_analyst" in text
    subs.redshift_sync("warehouse")  # recorded as applied
    text = _text(world.get("/ui/subscribers/warehouse").text)
    assert re.search(r"Applied state: \d+ objects?, recorded \d{4}-", text)
    assert "0 statements" in text and "in line" in text


def test_the_owner_suspends_only_an_admin_resumes(world: TestClient, ui_lake: Lake, subs: Subscribers,
                                                 login: Callable[..., Any]) -> None:
    login(world, "alice", PASSWORDS["alice"])
    page = world.get("/ui/subscribers/etl")
    r = world.post("/ui/subscribers/etl/suspend", data={"csrf_token": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/ui/subscribers/etl?done=suspended")
    assert subs.get("etl").status is SubscriberStatus.SUSPENDED
    after = _text(world.get(r.headers["location"]).text)
    assert "The subscriber is suspended" in after and "Only an admin may resume it." in after
    refused = world.post("/ui/subscribers/etl/resume", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403
    assert subs.get("etl").status is SubscriberStatus.SUSPENDED
    token, _ = ui_lake.users.create_token("alice", name="ui")  # the API answers alike
    api = world.post("/api/v1/subscribers/etl/resume", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403

    login(world, "root", PASSWORDS["root"])
    page = world.get("/ui/subscribers/etl")
    assert "Resume etl" in page.text
    r = world.post("/ui/subscribers/etl/resume", data={"csrf_token": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/ui/subscribers/etl?done=resumed")
    assert subs.get("etl").status is SubscriberStatus.ACTIVE


def test_a_person_without_the_right_is_refused_and_sees_nothing(world: TestClient, subs: Subscribers,
                                                                login: Callable[..., Any]) -> None:
    login(world, "victor", PASSWORDS["victor"])
    page = world.get("/ui/subscribers/etl")
    assert page.status_code == 403
    assert "only the subscriber (sub.etl), its owner (alice) or an admin may" in _text(page.text)
    assert "analyst" not in page.text and "Suspend" not in page.text
    r = world.post("/ui/subscribers/etl/suspend", data={"csrf_token": csrf_of(world.get("/ui").text)})
    assert r.status_code == 403
    assert subs.get("etl").status is SubscriberStatus.ACTIVE
    assert world.get("/ui/subscribers/nobody").status_code == 404
