"""The decision index against ``casbin.Enforcer`` on the same model and policy.

Random policies (grants and denies on every level of the resource hierarchy,
role graphs with cycles and long chains, expiring lines) are checked on every
request of a small universe: the index and Casbin must agree on each one.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.enforcer import casbin_enforcer
from access.index import MAX_HOPS, DecisionIndex
from access.resources import Action, Resource

NOW = 1_800_000_000.0
USERS = [f"u{i}" for i in range(4)]
ROLES = [f"r{i}" for i in range(8)]
SUBJECTS = USERS + ROLES
RESOURCES = [
    Resource.lake(),
    Resource.domain_("d0"),
    Resource.domain_("d1"),
    Resource.table("d0.t0"),
    Resource.table("d0.t1"),
    Resource.view("d1.v0"),
    Resource.metric("d1.m0"),
    Resource.column_of(Resource.table("d0.t0"), "c0"),
    Resource.column_of(Resource.table("d0.t0"), "c1"),
    Resource.column_of(Resource.view("d1.v0"), "c0"),
]
ACTIONS = [a.value for a in Action]
UNIVERSE = list(itertools.product(SUBJECTS, RESOURCES, ACTIONS))
G2 = sorted({(r.key, r.parent.key) for r in RESOURCES if r.parent is not None})

expiry = st.sampled_from([None, None, None, NOW - 10, NOW + 10])
p_line = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(RESOURCES), st.sampled_from(ACTIONS),
                   st.sampled_from(["allow", "allow", "deny"]), expiry)
g_line = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(ROLES), expiry)


def _live(exp: float | None) -> bool:
    return exp is None or exp > NOW


def _build(ps: list[Any], gs: list[Any]) -> tuple[DecisionIndex, Any]:
    index = DecisionIndex()
    enforcer = casbin_enforcer()
    for sub, res, act, eft, exp in ps:
        index.add_rule(sub, res.key, act, eft, exp)
    for member, role, exp in gs:
        index.add_link(member, role, exp)
    # Casbin sees the lines that are live now; a later duplicate replaces an earlier one in the index.
    final_p = {(s, r.key, a, e): x for s, r, a, e, x in ps}
    final_g = {(m, r): x for m, r, x in gs}
    for line, exp in final_p.items():
        if _live(exp):
            enforcer.add_policy(*line)
    for line, exp in final_g.items():
        if _live(exp):
            enforcer.add_grouping_policy(*line)
    for child, parent in G2:
        enforcer.add_named_grouping_policy("g2", child, parent)
    return index, enforcer


def _disagreements(index: DecisionIndex, enforcer: Any, requests: list[tuple[str, Resource, str]]) -> list[Any]:
    out = []
    for sub, res, act in requests:
        mine = index.allowed(sub, act, [r.key for r in res.lineage()], NOW)
        theirs = enforcer.enforce(sub, res.key, act)
        if mine != theirs:
            out.append((sub, res.key, act, mine, theirs))
    return out


def test_index_agrees_with_casbin_on_random_policies() -> None:
    checked = [0]

    @settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ps=st.lists(p_line, max_size=40), gs=st.lists(g_line, max_size=16))
    def check(ps: list[Any], gs: list[Any]) -> None:
        index, enforcer = _build(ps, gs)
        assert _disagreements(index, enforcer, UNIVERSE) == []
        checked[0] += len(UNIVERSE)

    check()
    assert checked[0] >= 10_000, checked[0]


op = st.one_of(
    st.tuples(st.just("add_p"), p_line),
    st.tuples(st.just("remove_p"), p_line),
    st.tuples(st.just("add_g"), g_line),
    st.tuples(st.just("remove_g"), g_line),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start_p=st.lists(p_line, max_size=20), start_g=st.lists(g_line, max_size=8),
       ops=st.lists(op, min_size=1, max_size=25), seed=st.integers(0, 2**32))
def test_incremental_changes_agree_with_casbin(start_p: list[Any], start_g: list[Any], ops: list[Any],
                                               seed: int) -> None:
    """Apply random adds and removes to both; after each, they agree on sampled requests."""
    start_p = [(s, r, a, e, None) for s, r, a, e, _ in start_p]
    start_g = [(m, r, None) for m, r, _ in start_g]
    index, enforcer = _build(start_p, start_g)
    rng = random.Random(seed)
    for kind, line in ops:
        if kind == "add_p":
            sub, res, act, eft, _ = line
            index.add_rule(sub, res.key, act, eft)
            enforcer.add_policy(sub, res.key, act, eft)
        elif kind == "remove_p":
            sub, res, act, eft, _ = line
            index.remove_rule(sub, res.key, act, eft)
            enforcer.remove_policy(sub, res.key, act, eft)
        elif kind == "add_g":
            member, role, _ = line
            index.add_link(member, role)
            enforcer.add_grouping_policy(member, role)
        else:
            member, role, _ = line
            index.remove_link(member, role)
            enforcer.remove_grouping_policy(member, role)
        assert _disagreements(index, enforcer, rng.sample(UNIVERSE, 60)) == []


def test_role_chains_stop_where_casbin_stops() -> None:
    """A role nine links away counts; ten links away does not (Casbin's default depth)."""
    chain = [f"c{i}" for i in range(MAX_HOPS + 3)]
    index, enforcer = _build([], [])
    for a, b in itertools.pairwise(["user", *chain]):
        index.add_link(a, b)
        enforcer.add_grouping_policy(a, b)
    for child, parent in G2:
        enforcer.add_named_grouping_policy("g2", child, parent)
    res = Resource.table("d0.t0")
    for role in chain:
        index.add_rule(role, res.key, "read", "allow")
        enforcer.add_policy(role, res.key, "read", "allow")
    verdicts = []
    for depth, role in enumerate(chain, start=1):
        solo_index = DecisionIndex()
        solo_enforcer = casbin_enforcer()
        for a, b in itertools.pairwise(["user", *chain]):
            solo_index.add_link(a, b)
            solo_enforcer.add_grouping_policy(a, b)
        for child, parent in G2:
            solo_enforcer.add_named_grouping_policy("g2", child, parent)
        solo_index.add_rule(role, res.key, "read", "allow")
        solo_enforcer.add_policy(role, res.key, "read", "allow")
        mine = solo_index.allowed("user", "read", [r.key for r in res.lineage()], NOW)
        assert mine == solo_enforcer.enforce("user", res.key, "read"), depth
        verdicts.append(mine)
    assert verdicts == [True] * MAX_HOPS + [False] * 3


def test_expiry_is_checked_at_decision_time() -> None:
    index = DecisionIndex()
    res = Resource.table("d0.t0")
    keys = [r.key for r in res.lineage()]
    index.add_link("u0", "r0", NOW + 100)
    index.add_rule("r0", res.key, "read", "allow")
    index.add_rule("u1", res.key, "read", "allow", NOW + 50)
    assert index.allowed("u0", "read", keys, NOW)
    assert index.allowed("u1", "read", keys, NOW)
    assert not index.allowed("u1", "read", keys, NOW + 50)  # the grant ran out, nobody removed it
    assert index.allowed("u0", "read", keys, NOW + 99)
    assert not index.allowed("u0", "read", keys, NOW + 100)  # the membership ran out (cached closure too)
    index.add_rule("u1", res.key, "read", "deny", NOW + 10)
    assert not index.allowed("u1", "read", keys, NOW)
    index.add_rule("u1", res.key, "read", "allow")
    assert not index.allowed("u1", "read", keys, NOW + 5)
    assert index.allowed("u1", "read", keys, NOW + 10)  # the deny expired: the allow counts again


def test_closure_cache_follows_membership_changes() -> None:
    index = DecisionIndex()
    keys = [r.key for r in Resource.table("d0.t0").lineage()]
    index.add_rule("r1", "dataset:d0.t0", "read", "allow")
    index.add_link("u0", "r0")
    assert not index.allowed("u0", "read", keys, NOW)
    index.add_link("r0", "r1")  # a change above u0 reaches u0's cached closure
    assert index.allowed("u0", "read", keys, NOW)
    index.remove_link("r0", "r1")
    assert not index.allowed("u0", "read", keys, NOW)
    assert index.closure("u0", NOW) == {"u0", "r0"}


def _casbin_at(ps: list[Any], gs: list[Any], now: float) -> Any:
    """A ``casbin.Enforcer`` holding the lines live at ``now`` (the last of duplicates wins, as in the index)."""
    enforcer = casbin_enforcer()
    for (s, r, a, e), x in {(s, r.key, a, e): x for s, r, a, e, x in ps}.items():
        if x is None or x > now:
            enforcer.add_policy(s, r, a, e)
    for (m, r), x in {(m, r): x for m, r, x in gs}.items():
        if x is None or x > now:
            enforcer.add_grouping_policy(m, r)
    for child, parent in G2:
        enforcer.add_named_grouping_policy("g2", child, parent)
    return enforcer


TIMES = [NOW - 20, NOW - 10, NOW - 5, NOW, NOW + 5, NOW + 10, NOW + 20]
expiring = st.sampled_from([None, None, NOW - 10, NOW - 5, NOW + 5, NOW + 10])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=st.lists(st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(RESOURCES), st.sampled_from(ACTIONS),
                             st.sampled_from(["allow", "allow", "deny"]), expiring), max_size=30),
       gs=st.lists(st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(ROLES), expiring), max_size=14),
       times=st.lists(st.sampled_from(TIMES), min_size=3, max_size=6))
def test_precomputed_views_follow_the_clock_both_ways(ps: list[Any], gs: list[Any], times: list[float]) -> None:
    """One index asked at times in any order (the clock may go back past an expiry) answers
    as Casbin does with the lines live at each time; precomputed views answer without a rebuild."""
    index = DecisionIndex()
    for sub, res, act, eft, exp in ps:
        index.add_rule(sub, res.key, act, eft, exp)
    for member, role, exp in gs:
        index.add_link(member, role, exp)
    index.precompute(times[0])
    for sub in {p[0] for p in ps} | {g[0] for g in gs}:
        res = RESOURCES[0]
        assert index.decided(sub, "read", [r.key for r in res.lineage()], times[0]) is not None
    for now in times:
        enforcer = _casbin_at(ps, gs, now)
        for sub, res, act in UNIVERSE[::3]:
            keys = [r.key for r in res.lineage()]
            mine = index.allowed(sub, act, keys, now)
            assert mine == enforcer.enforce(sub, res.key, act), (sub, res.key, act, now)
            assert index.decided(sub, act, keys, now) == mine
            assert index.allowed_by_rules(sub, act, keys, now) == mine


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start_p=st.lists(p_line, max_size=20), start_g=st.lists(g_line, max_size=8),
       ops=st.lists(op, min_size=1, max_size=25), seed=st.integers(0, 2**32))
def test_views_follow_incremental_changes_of_expiring_lines(start_p: list[Any], start_g: list[Any],
                                                            ops: list[Any], seed: int) -> None:
    """Adds and removes of expiring lines after the views were built: each answer is the rule-by-rule one."""
    index, _ = _build(start_p, start_g)
    index.precompute(NOW)
    rng = random.Random(seed)
    for kind, line in ops:
        if kind == "add_p":
            sub, res, act, eft, exp = line
            index.add_rule(sub, res.key, act, eft, exp)
        elif kind == "remove_p":
            sub, res, act, eft, _ = line
            index.remove_rule(sub, res.key, act, eft)
        elif kind == "add_g":
            member, role, exp = line
            index.add_link(member, role, exp)
        else:
            member, role, _ = line
            index.remove_link(member, role)
        now = rng.choice([NOW, NOW + 20])
        for sub, res, act in rng.sample(UNIVERSE, 60):
            keys = [r.key for r in res.lineage()]
            assert index.allowed(sub, act, keys, now) == index.allowed_by_rules(sub, act, keys, now)


def test_a_decision_after_the_clock_went_back_sees_the_lines_live_again() -> None:
    index = DecisionIndex()
    keys = [r.key for r in Resource.table("d0.t0").lineage()]
    index.add_link("u0", "r0", NOW - 5)
    index.add_rule("r0", "dataset:d0.t0", "read", "allow")
    index.add_rule("u1", "dataset:d0.t0", "read", "allow", NOW - 5)
    index.precompute(NOW)
    assert not index.allowed("u0", "read", keys, NOW)
    assert not index.allowed("u1", "read", keys, NOW)
    assert index.allowed("u0", "read", keys, NOW - 10)  # the membership was live then
    assert index.allowed("u1", "read", keys, NOW - 10)  # and so was the grant
    assert not index.allowed("u0", "read", keys, NOW)


def test_unknown_actions_are_decided_rule_by_rule() -> None:
    index = DecisionIndex()
    keys = [r.key for r in Resource.table("d0.t0").lineage()]
    index.add_rule("u0", "domain:d0", "export", "allow")
    index.add_rule("u1", "lake", "admin", "allow")
    index.precompute(NOW)
    assert index.decided("u0", "export", keys, NOW) is None
    assert index.allowed("u0", "export", keys, NOW)
    assert not index.allowed("u0", "read", keys, NOW)
    assert index.allowed("u1", "export", keys, NOW)  # admin matches every action, as in Casbin
