"""The lifecycle and the approval chain, walked through and attacked rule by rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from lake.errors import AccessDenied, Conflict, InvalidInput, NotFound
from lake.service import Lake
from metrics_catalog import (
    ApprovalRefused,
    IllegalTransition,
    InvalidMetric,
    MetricCatalog,
    Status,
)
from metrics_catalog.lifecycle import TRANSITIONS, MetricAction

from metric_factories import CHAIN, metric_doc

NAME = "playback.watch_per_viewer"


def actions(metrics: MetricCatalog, name: str = NAME) -> list[tuple[str, str, str]]:
    return [(e.action, e.to_status, e.actor) for e in metrics.workflow.history(name)]


def test_two_stage_chain_with_a_review_meeting(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    meeting = metrics.meetings.create("playback", title="Tech review", stage="tech", actor="admin",
                                      starts_at=dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC))
    biz = metrics.meetings.create("playback", title="Business review", stage="business", actor="bob",
                                  starts_at=dt.datetime(2026, 11, 4, 16, 0, tzinfo=dt.UTC), frequency="weekly",
                                  interval=2)
    draft = make_metric()
    assert draft.status is Status.DRAFT and draft.revision == 1
    assert draft.definition.view_version == 1  # pinned to the dataset's major version
    proposed = metrics.workflow.propose(NAME, actor="mia")
    assert proposed.status is Status.PROPOSED and proposed.stage == "tech"
    assert [n.title for n in metrics.inbox.list("tom")] == [f"{NAME} waits for your review at stage tech"]
    assert metrics.inbox.list("bob") == []  # not their stage yet

    # The tech meeting: its agenda is what waits at stage tech; opening takes it into review.
    assert [a.metric for a in metrics.meetings.agenda(meeting.id)] == [NAME]
    session = metrics.meetings.open_session(meeting.id, actor="tom", starts_at=dt.datetime(2026, 11, 9, 15, 0,
                                                                                           tzinfo=dt.UTC))
    assert [a.metric for a in session.agenda] == [NAME]
    assert metrics.workflow.get(NAME).status is Status.IN_REVIEW
    session = metrics.meetings.decide(session.id, NAME, "approve", actor="tom", reason="SQL checked")
    after_tech = metrics.workflow.get(NAME)
    assert after_tech.status is Status.IN_REVIEW and after_tech.stage == "business"
    assert [(m.kind, m.metric, m.decision, m.actor) for m in session.minutes if m.kind == "decision"] == [
        ("decision", NAME, "approve", "tom")]
    closed = metrics.meetings.close(session.id, actor="tom")
    assert closed.status.value == "closed"
    assert [n.title for n in metrics.inbox.list("bob")] == [f"{NAME} waits for your review at stage business"]
    assert metrics.meetings.agenda(meeting.id) == []
    assert [a.metric for a in metrics.meetings.agenda(biz.id)] == [NAME]

    certified = metrics.workflow.decide(NAME, "approve", actor="bob", revision=1)
    assert certified.status is Status.APPROVED and certified.certified_revision == 1 and certified.stage is None
    assert [n.title for n in metrics.inbox.list("mia")] == [f"{NAME} revision 1 is approved and certified"]
    assert [(a.stage, a.approver, a.session_id is not None) for a in metrics.workflow.approvals(NAME)] == [
        ("tech", "tom", True), ("business", "bob", False)]
    assert actions(metrics) == [
        ("create", "draft", "mia"), ("propose", "proposed", "mia"), ("start_review", "in_review", "tom"),
        ("approve", "in_review", "tom"), ("certify", "approved", "bob")]


def test_the_author_may_not_approve(metrics: MetricCatalog, make_metric: Callable[..., Any], lake: Lake) -> None:
    lake.users.ensure("mia", roles=["metric_tech"])  # even holding the stage's role
    make_metric(review=True)
    with pytest.raises(ApprovalRefused) as caught:
        metrics.workflow.decide(NAME, "approve", actor="mia")
    assert caught.value.rule == "author"
    # An author of a later revision is an author too.
    lake.users.ensure("admin", roles=["metric_tech"])
    metrics.workflow.revise(NAME, {"unit": "s"}, actor="admin")
    with pytest.raises(ApprovalRefused) as caught:
        metrics.workflow.decide(NAME, "approve", actor="admin")
    assert caught.value.rule == "author"
    assert metrics.workflow.approvals(NAME) == []


def test_only_holders_of_the_stage_roles_may_decide(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    for who in ("bob", "victor", "admin"):
        with pytest.raises(ApprovalRefused) as caught:
            metrics.workflow.decide(NAME, "approve", actor=who)
        assert caught.value.rule == "role"
        assert "metric_tech" in caught.value.message


def test_one_person_may_not_approve_two_stages_of_a_revision(metrics: MetricCatalog,
                                                             make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="dual")
    assert metrics.workflow.get(NAME).stage == "business"
    with pytest.raises(ApprovalRefused) as caught:
        metrics.workflow.decide(NAME, "approve", actor="dual")
    assert caught.value.rule == "two_stages"
    # A tech change resets the tech approval: dual's approval no longer counts,
    # and dual may approve again (tech, the first stage short of quorum).
    metrics.workflow.revise(NAME, {"expression": "SUM(watch_seconds) / COUNT(DISTINCT subscriber_id) + 0"},
                            actor="mia")
    assert metrics.workflow.get(NAME).stage == "tech"
    metrics.workflow.decide(NAME, "approve", actor="dual")
    with pytest.raises(ApprovalRefused) as caught:
        metrics.workflow.decide(NAME, "approve", actor="dual")
    assert caught.value.rule == "two_stages"
    metrics.workflow.decide(NAME, "approve", actor="bob")
    assert metrics.workflow.get(NAME).status is Status.APPROVED


def test_quorum(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    chain = {"stages": [{"name": "tech", "roles": ["metric_tech"], "quorum": 2},
                        {"name": "business", "roles": ["metric_business"]}]}
    metrics.chains.set("playback", chain, actor="admin")
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    info = metrics.workflow.get(NAME)
    assert info.stage == "tech" and info.stages[0].approvers == ("tom",) and not info.stages[0].complete
    with pytest.raises(ApprovalRefused) as caught:  # the same person twice is still one approval
        metrics.workflow.decide(NAME, "approve", actor="tom")
    assert caught.value.rule == "already_decided"
    assert metrics.workflow.get(NAME).stage == "tech"
    metrics.workflow.decide(NAME, "approve", actor="tara")
    info = metrics.workflow.get(NAME)
    assert info.stage == "business" and info.stages[0].complete and info.stages[0].approvers == ("tom", "tara")


def test_a_new_revision_resets_the_approvals_of_the_stages_it_affects(
        metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    chain = {"stages": [{"name": "tech", "roles": ["metric_tech"], "reviews": "technical"},
                        {"name": "business", "roles": ["metric_business"], "quorum": 2, "reviews": "business"}]}
    metrics.chains.set("playback", chain, actor="admin")
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    metrics.workflow.decide(NAME, "approve", actor="bob")
    # A business-only change resets business (bob) and keeps tech (tom).
    info = metrics.workflow.revise(NAME, {"description": "Average seconds watched per viewer."}, actor="mia",
                                   message="wording")
    assert info.revision == 2 and info.status is Status.IN_REVIEW and info.stage == "business"
    assert [(s.name, s.approvers) for s in info.stages] == [("tech", ("tom",)), ("business", ())]
    reset = [a for a in metrics.workflow.approvals(NAME) if not a.valid]
    assert [(a.approver, a.reset_by_revision) for a in reset] == [("bob", 2)]
    assert metrics.inbox.list("bob")[0].title == f"{NAME} revision 2 needs your review again"
    # A technical change resets tech: the chain goes back to the first stage.
    metrics.workflow.decide(NAME, "approve", actor="bob")
    info = metrics.workflow.revise(NAME, {"filters": ["country <> 'JP'"]}, actor="mia")
    assert info.stage == "tech" and [(s.name, s.approvers) for s in info.stages] == [
        ("tech", ()), ("business", ("bob",))]
    # An approval of an old revision is refused.
    with pytest.raises(Conflict, match="revision 3"):
        metrics.workflow.decide(NAME, "approve", actor="tara", revision=2)
    metrics.workflow.decide(NAME, "approve", actor="tara", revision=3)
    metrics.workflow.decide(NAME, "approve", actor="bea", revision=3)
    info = metrics.workflow.get(NAME)
    assert info.status is Status.APPROVED and info.certified_revision == 3


def test_a_rejection_ends_the_chain_with_a_reason(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    with pytest.raises(InvalidInput, match="reason"):
        metrics.workflow.decide(NAME, "reject", actor="tom")
    metrics.workflow.decide(NAME, "approve", actor="tom")
    info = metrics.workflow.decide(NAME, "reject", actor="bob", reason="duplicates the finance definition")
    assert info.status is Status.REJECTED and info.stage is None
    assert info.reason == "duplicates the finance definition"
    notice = metrics.inbox.list("mia")[0]
    assert notice.title == f"{NAME} revision 1 was rejected"
    assert "duplicates the finance definition" in notice.body
    for who in ("bea", "tara"):  # nobody decides on a rejected metric any more
        with pytest.raises(IllegalTransition) as caught:
            metrics.workflow.decide(NAME, "approve", actor=who)
        assert caught.value.allowed == ("revise", "retire")
    # A revision starts over as a draft; proposing again starts a new round without old approvals.
    metrics.workflow.revise(NAME, {"unit": "s"}, actor="mia")
    info = metrics.workflow.propose(NAME, actor="mia")
    assert info.round == 2 and info.stage == "tech" and all(not s.approvers for s in info.stages)


def test_request_changes_keeps_the_round(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    info = metrics.workflow.decide(NAME, "request_changes", actor="bob", reason="say what a viewer is")
    assert info.status is Status.CHANGES_REQUESTED
    metrics.workflow.revise(NAME, {"description": "Seconds watched per distinct viewer."}, actor="mia")
    info = metrics.workflow.propose(NAME, actor="mia")
    assert info.round == 1 and info.stage == "business"  # the business change kept tech's approval
    metrics.workflow.start_review(NAME, actor="bob")
    assert metrics.workflow.decide(NAME, "approve", actor="bob").status is Status.APPROVED


@pytest.mark.parametrize(("status_path", "action", "allowed"), [
    ([], "approve", ["revise", "propose", "retire"]),
    (["propose"], "approve", ["revise", "start_review", "withdraw"]),
    (["propose"], "deprecate", ["revise", "start_review", "withdraw"]),
    ([], "start_review", ["revise", "propose", "retire"]),
])
def test_illegal_transitions_name_the_allowed_ones(metrics: MetricCatalog, make_metric: Callable[..., Any],
                                                   status_path: list[str], action: str, allowed: list[str]) -> None:
    make_metric()
    for step in status_path:
        getattr(metrics.workflow, step)(NAME, actor="mia")

    def act() -> None:
        if action == "approve":
            metrics.workflow.decide(NAME, action, actor="tom")
        elif action == "deprecate":
            metrics.workflow.deprecate(NAME, actor="admin", reason="old")
        else:
            getattr(metrics.workflow, action)(NAME, actor="admin")

    with pytest.raises(IllegalTransition) as caught:
        act()
    assert list(caught.value.allowed) == allowed
    assert f"allowed actions: {', '.join(allowed)}" in caught.value.message


def test_every_state_refuses_what_its_transitions_do_not_list(metrics: MetricCatalog) -> None:
    from metrics_catalog.lifecycle import next_status

    for status, allowed in TRANSITIONS.items():
        for action in MetricAction:
            if action in allowed:
                assert next_status("x.y", status, action) is allowed[action]
            else:
                with pytest.raises(IllegalTransition):
                    next_status("x.y", status, action)
    assert TRANSITIONS[Status.RETIRED] == {}


def test_deprecate_reinstate_retire(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    metrics.workflow.decide(NAME, "approve", actor="bob")
    with pytest.raises(AccessDenied):
        metrics.workflow.deprecate(NAME, actor="victor", reason="old")
    assert metrics.workflow.deprecate(NAME, actor="mia", reason="use v2").status is Status.DEPRECATED
    assert metrics.workflow.reinstate(NAME, actor="mia").status is Status.APPROVED
    metrics.workflow.deprecate(NAME, actor="admin", reason="use v2")
    info = metrics.workflow.retire(NAME, actor="admin")
    assert info.status is Status.RETIRED and not info.certified
    with pytest.raises(IllegalTransition, match="the state is final"):
        metrics.workflow.revise(NAME, {"unit": "s"}, actor="mia")


def test_editing_a_certified_metric_keeps_the_certified_revision(metrics: MetricCatalog,
                                                                 make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    metrics.workflow.decide(NAME, "approve", actor="bob")
    info = metrics.workflow.revise(NAME, {"dimensions": ["country"]}, actor="mia")
    assert info.status is Status.DRAFT and info.revision == 2 and info.certified_revision == 1 and info.certified
    assert [r.changed for r in metrics.workflow.revisions(NAME)] == [(), ("dimensions",)]


def test_rules_for_authors_and_proposals(metrics: MetricCatalog, make_metric: Callable[..., Any], lake: Lake) -> None:
    make_metric(description="")
    with pytest.raises(InvalidMetric) as caught:
        metrics.workflow.propose(NAME, actor="mia")
    assert caught.value.field == "description"
    with pytest.raises(AccessDenied):
        metrics.workflow.revise(NAME, {"description": "x"}, actor="victor")
    with pytest.raises(InvalidInput, match="changes nothing"):
        metrics.workflow.revise(NAME, {"unit": "seconds"}, actor="mia")
    with pytest.raises(InvalidMetric, match="renamed"):
        metrics.workflow.revise(NAME, {"name": "playback.other"}, actor="mia")
    metrics.workflow.revise(NAME, {"description": "Seconds per viewer."}, actor="mia")
    metrics.workflow.create(metric_doc("ads.watch", view="playback.events"), actor="mia")
    with pytest.raises(NotFound, match="no approval chain"):
        metrics.workflow.propose("ads.watch", actor="mia")
    metrics.workflow.propose(NAME, actor="mia")
    with pytest.raises(AccessDenied):  # an author cannot take their own proposal into review
        metrics.workflow.start_review(NAME, actor="mia")
    assert metrics.workflow.withdraw(NAME, actor="mia").status is Status.DRAFT


def test_chain_changes_do_not_reshape_a_running_review(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.chains.set("playback", {"stages": [{"name": "only", "roles": ["admin"]}]}, actor="admin")
    info = metrics.workflow.decide(NAME, "approve", actor="tom")
    assert info.stage == "business"
    assert metrics.chains.get("playback").stages[0].name == "only"
    metrics.chains.set("playback", CHAIN, actor="admin")


def test_duplicates_are_flagged(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric()
    other = make_metric("playback.per_viewer_watch", actor="max",
                        expression="sum( WATCH_SECONDS )/count(distinct `subscriber_id`)")
    assert [(d.name, d.same_filters) for d in other.duplicates] == [(NAME, True)]
    filtered = make_metric("playback.per_viewer_watch_no_jp", actor="max", filters=["country <> 'JP'"],
                           expression="(SUM(watch_seconds)) / COUNT(DISTINCT subscriber_id)")
    assert {(d.name, d.same_filters) for d in filtered.duplicates} == {(NAME, False),
                                                                       ("playback.per_viewer_watch", False)}
    distinct = make_metric("playback.total_watch", actor="max", expression="SUM(watch_seconds)")
    assert distinct.duplicates == ()
    proposed = metrics.workflow.propose("playback.per_viewer_watch", actor="max")
    assert NAME in [d.name for d in proposed.duplicates]
    assert "Possible duplicate of: " in metrics.inbox.list("tom")[0].body
    metrics.workflow.retire(NAME, actor="admin")  # retired metrics are no longer duplicates
    assert NAME not in [d.name for d in metrics.workflow.get("playback.per_viewer_watch").duplicates]
