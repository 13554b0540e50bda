"""Workflow actions are atomic: approvers acting at once never move a chain twice,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lake.errors import LakegateError
from metrics_catalog import MetricCatalog, Status

from metric_factories import metric_doc

METRICS = 6


def _race(fn: Any, jobs: list[tuple[Any, ...]]) -> list[str]:
    """Run ``fn(*job)`` for every job at once (released together by a barrier)."""
    barrier = threading.Barrier(len(jobs))

    def run(job: tuple[Any, ...]) -> str:
        barrier.wait()
        try:
            fn(*job)
        except LakegateError as exc:
            return f"refused:{exc.code}"
        return "ok"

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _proposals(metrics: MetricCatalog, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"playback.metric_{i}"
        metrics.workflow.create(metric_doc(name, expression=f"SUM(watch_seconds) + {i}"), actor="mia")
        metrics.workflow.propose(name, actor="mia")
        metrics.workflow.start_review(name, actor="admin")
        names.append(name)
    return names


def test_two_approvers_at_once_move_the_stage_once(any_metrics: MetricCatalog) -> None:
    metrics = any_metrics
    names = _proposals(metrics, METRICS)
    outcomes: Counter[str] = Counter()
    for name in names:
        # tom and tara both approve tech (quorum 1); dual could approve either stage.
        results = _race(lambda who, n=name: metrics.workflow.decide(n, "approve", actor=who), [("tom",), ("tara",)])
        outcomes.update(results)
        assert sorted(results) == ["ok", "refused:approval_refused"], results
        info = metrics.workflow.get(name)
        assert info.status is Status.IN_REVIEW and info.stage == "business"
        tech = [a for a in metrics.workflow.approvals(name) if a.stage == "tech"]
        assert len(tech) == 1
        assert [e.action for e in metrics.workflow.history(name)].count("approve") == 1
    # The losers re-ran on fresh state (that is how they saw the stage had moved).
    assert metrics.workflow.retries >= 1


def test_last_approvals_at_once_certify_once(any_metrics: MetricCatalog) -> None:
    metrics = any_metrics
    metrics.chains.set("playback", {"stages": [{"name": "tech", "roles": ["metric_tech"], "quorum": 2}]},
                       actor="admin")
    names = _proposals(metrics, METRICS)
    for name in names:
        results = _race(lambda who, n=name: metrics.workflow.decide(n, "approve", actor=who),
                        [("tom",), ("tara",), ("dual",)])
        info = metrics.workflow.get(name)
        assert info.status is Status.APPROVED and info.certified_revision == 1
        # Exactly two approvals make the quorum; the third finds the metric approved.
        assert sorted(results) == ["ok", "ok", "refused:illegal_transition"], results
        assert len(metrics.workflow.approvals(name)) == 2
        assert [e.action for e in metrics.workflow.history(name)].count("certify") == 1


def test_approve_and_reject_at_once_apply_one_after_the_other(any_metrics: MetricCatalog) -> None:
    metrics = any_metrics
    names = _proposals(metrics, METRICS)
    for name in names:
        results = _race(lambda who, decision, n=name: metrics.workflow.decide(n, decision, actor=who,
                                                                                 reason="no"),
                        [("tom", "approve"), ("tara", "reject")])
        info = metrics.workflow.get(name)
        events = [e.action for e in metrics.workflow.history(name)]
        if info.status is Status.REJECTED:
            # Either the rejection came first (the approval then found a rejected metric)
            # or the approval moved the chain to business, where tara may not decide.
            assert results.count("ok") == 1
            assert events[-1] == "reject" and events.count("approve") == 0
        else:
            assert info.stage == "business" and events.count("reject") == 0 and events.count("approve") == 1
            assert sorted(results) == ["ok", "refused:approval_refused"]


def test_concurrent_revisions_get_distinct_numbers(any_metrics: MetricCatalog) -> None:
    metrics = any_metrics
    metrics.workflow.create(metric_doc("playback.revised"), actor="mia")
    units = [(f"unit_{i}",) for i in range(6)]
    results = _race(lambda unit: metrics.workflow.revise("playback.revised", {"unit": unit}, actor="mia"), units)
    assert results == ["ok"] * 6
    revisions = metrics.workflow.revisions("playback.revised")
    assert [r.number for r in revisions] == list(range(1, 8))
    assert sorted(r.definition.unit for r in revisions[1:]) == sorted(u for (u,) in units)
