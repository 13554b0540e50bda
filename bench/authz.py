"""Decisions of the access layer against casbin.Enforcer, and the gateway's overhead.

One run builds one policy (10k users, 1k roles, 10k objects by default: 20
domains, 500 datasets, 9,480 columns; ~6k p lines, ~22k g lines) in a fresh
lake's catalog, loads it into ``AccessControl`` (its decision index) and into
``casbin.Enforcer`` with ``access/model.conf`` (plus the g2 resource hierarchy),
and asks both the same random requests. It prints decisions/s and p50/p99
latency of each, the speed-up, checks that both answered every shared request
the same, and then the query gateway's overhead per query (parse, check,
rewrite) from ``bench/_gateway.py``.

The floor, measured in the same run with the same per-call timer: a Python
dict lookup of a 3-tuple key (the request's subject, action and object key
strings). Targets: the index's p50 at most 10x the floor, its p99 at most 3x
its p50, and at least 100x Casbin's decisions/s. The floor and the index take
turns over ``--rounds`` timed passes of every request, and each request
counts with its median over them (see :class:`Timings` for why, and for what
is printed beside it: the p99 over every sample, the collections and the
other threads during the passes).

    .venv/bin/python bench/authz.py [--users 10000] [--roles 1000] [--objects 10000]
                                    [--requests 100000] [--casbin-requests 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import random
import statistics
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from sqlalchemy import insert  # noqa: E402

from access.enforcer import casbin_enforcer  # noqa: E402
from access.models import AccessGrant, AccessMembership, AccessRole  # noqa: E402
from access.policy import AccessControl  # noqa: E402
from access.resources import Action, Resource  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

from _report import ratio_line  # noqa: E402

P50_TARGET = 10.0  # index p50 / floor p50
P99_TARGET = 3.0  # index p99 / index p50
ACTIONS = list(Action)
ACTION_WEIGHTS = [3, 10, 2, 1, 1, 1, 1]  # discover, read, write, propose, approve, grant, admin


def build_policy(users: int, roles: int, objects: int, seed: int) -> dict[str, Any]:
    """A deterministic policy: objects, p lines, g lines."""
    rng = random.Random(seed)
    domains = [Resource.domain_(f"d{i:02d}") for i in range(20)]
    per_dataset = 19
    n_datasets = max(1, (objects - len(domains)) // (per_dataset + 1))
    datasets = [Resource.table(f"d{i % len(domains):02d}.t{i:04d}") for i in range(n_datasets)]
    columns = [Resource.column_of(t, f"c{j:02d}") for t in datasets for j in range(per_dataset)]
    columns = columns[: max(0, objects - len(domains) - len(datasets))]
    role_names = [f"role{i:04d}" for i in range(roles)]
    user_names = [f"user{i:05d}" for i in range(users)]

    def target() -> Resource:
        x = rng.random()
        if x < 0.1:
            return rng.choice(domains)
        if x < 0.6:
            return rng.choice(datasets)
        return rng.choice(columns)

    p: set[tuple[str, str, str, str]] = set()
    for role in role_names:
        for _ in range(rng.randint(3, 8)):
            action = rng.choices(ACTIONS, ACTION_WEIGHTS)[0].value
            p.add((role, target().key, action, "deny" if rng.random() < 0.05 else "allow"))
    for user in user_names:
        if rng.random() < 0.1:
            p.add((user, target().key, rng.choices(ACTIONS, ACTION_WEIGHTS)[0].value,
                   "deny" if rng.random() < 0.2 else "allow"))
    g: set[tuple[str, str]] = set()
    for i, role in enumerate(role_names[:-1]):  # a DAG: roles inherit from roles with a higher number
        for _ in range(rng.choice((0, 1, 1, 2))):
            g.add((role, role_names[rng.randint(i + 1, len(role_names) - 1)]))
    for user in user_names:
        for role in rng.sample(role_names, rng.randint(1, 3)):
            g.add((user, role))
    resources = [*domains, *datasets, *columns]
    return {"users": user_names, "roles": role_names, "resources": resources, "p": sorted(p), "g": sorted(g)}


def make_requests(policy: dict[str, Any], n: int, seed: int) -> list[tuple[str, Action, Resource]]:
    """Half random requests, half aimed at what one of the user's roles was granted (or denied)."""
    rng = random.Random(seed)
    roles_of: dict[str, list[str]] = {}
    for member, role in policy["g"]:
        roles_of.setdefault(member, []).append(role)
    lines_of: dict[str, list[tuple[str, str, str, str]]] = {}
    for line in policy["p"]:
        lines_of.setdefault(line[0], []).append(line)
    by_key = {r.key: r for r in policy["resources"]}
    children: dict[str, list[Resource]] = {}
    for r in policy["resources"]:
        if r.parent is not None:
            children.setdefault(r.parent.key, []).append(r)
    out = []
    for i in range(n):
        user = rng.choice(policy["users"])
        lines = [ln for role in roles_of.get(user, []) for ln in lines_of.get(role, [])]
        if i % 2 or not lines:
            out.append((user, rng.choice(ACTIONS), rng.choice(policy["resources"])))
            continue
        _, obj, act, _ = rng.choice(lines)
        target = by_key[obj]
        while children.get(target.key) and rng.random() < 0.6:
            target = rng.choice(children[target.key])
        out.append((user, Action(act), target))
    return out


def load_lake(policy: dict[str, Any], home: Path) -> Lake:
    """A lake whose catalog holds the policy (bulk insert; the same rows the API would write)."""
    lake = Lake(Settings(home=home))
    now = dt.datetime.now(dt.UTC)
    common = {"created_by": "bench", "created_at": now}
    with lake.catalog.session() as s:
        s.execute(insert(AccessRole), [{"name": r, "kind": "role", "description": "", **common}
                                       for r in policy["roles"]])
        s.execute(insert(AccessMembership), [{"member": m, "role": r, "expires_at": None, **common}
                                             for m, r in policy["g"]])
        s.execute(insert(AccessGrant), [{"subject": sub, "resource": obj, "action": act, "effect": eft,
                                         "expires_at": None, "reason": "", "request_id": None, **common}
                                        for sub, obj, act, eft in policy["p"]])
    return lake


def casbin_csv(policy: dict[str, Any]) -> str:
    lines = [f"p, {s}, {o}, {a}, {e}" for s, o, a, e in policy["p"]]
    lines += [f"g, {m}, {r}" for m, r in policy["g"]]
    seen = set()
    for r in policy["resources"]:
        if r.parent is not None and (r.key, r.parent.key) not in seen:
            seen.add((r.key, r.parent.key))
            lines.append(f"g2, {r.key}, {r.parent.key}")
    return "\n".join(lines)


def timed_pass(decide: Callable[[Any], bool], requests: Sequence[Any], lat: array[int]) -> list[bool]:
    """One pass over ``requests``: each call's wall-clock time (ns) into ``lat``; the answers.

    The timed region holds the call and the store of its answer, as before, but
    both stores go into room allocated beforehand: appending to growing lists
    there put the harness's page faults and list copies on some calls. The
    collector stays on, as a caller has it.
    """
    clock = time.perf_counter_ns
    answers = [False] * len(requests)
    for i, req in enumerate(requests):
        t0 = clock()
        answers[i] = decide(req)
        lat[i] = clock() - t0
    return answers


def rate_pass(decide: Callable[[Any], bool], requests: Sequence[Any]) -> float:
    """Decisions per second over ``requests``, without per-call timers."""
    t0 = time.perf_counter()
    for req in requests:
        decide(req)
    return len(requests) / (time.perf_counter() - t0)


class Timings:
    """The calls of several passes over the same requests, and their percentiles.

    A request's latency is its median over the passes: what a caller asking it
    sees, apart from events that strike one call of one pass at random. The
    shared 2-core virtual machine these figures come from stalls a core for
    1-5 µs some 4,000-7,000 times a second (a C loop that only reads the clock
    sees it, and so does the dict-lookup floor: its p99 is 5-6x its p50), so a
    2-3 µs call meets a stall in 1-3% of a pass whatever it runs, and one
    pass's p99 is the host's. A cost of the decision itself (a request slow
    every time: a large view, a deep lineage, a view built on the way, the
    lock) is in every pass and stays. What the median would hide of the
    process's own doing is counted instead: the collections during the timed
    passes and their time, and the other threads alive (each could take the GIL
    from a call). The p99 over every sample of every pass is printed too.

    Five passes by default: at the guard's size and load 12-19 the p99 of the
    medians was 2.0-2.2x their p50 over three passes, 1.7-1.8x over five and
    1.65-1.7x over seven, and the requests slowest over one set of passes were
    not those of the next (14 of 300 alike): what three passes leave is the
    host's as well.
    """

    def __init__(self, decide: Callable[[Any], bool], requests: Sequence[Any]) -> None:
        self.decide = decide
        self.requests = requests
        self.passes: list[array[int]] = []
        self.rates: list[float] = []
        self.answers: list[bool] = []
        self.collections = 0
        self.collection_ns = 0
        self.threads = 0

    def run(self, *, rate: bool = True) -> None:
        """One timed pass (its collections and other threads counted), then one for the rate."""
        lat = array("q", bytes(8 * len(self.requests)))
        started: list[int] = []

        def count(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started.append(time.perf_counter_ns())
            elif started:
                self.collection_ns += time.perf_counter_ns() - started.pop()
                self.collections += 1

        self.threads = max(self.threads, threading.active_count() - 1)
        gc.callbacks.append(count)
        try:
            self.answers = timed_pass(self.decide, self.requests, lat)
        finally:
            gc.callbacks.remove(count)
        self.threads = max(self.threads, threading.active_count() - 1)
        self.passes.append(lat)
        self.rates.append(rate_pass(self.decide, self.requests) if rate
                          else len(lat) / (sum(lat) / 1e9))

    def summary(self) -> dict[str, float]:
        """Rate (best pass), p50, p99 and mean of the per-request medians (µs), and p99 of every sample."""
        per_request = sorted(statistics.median_low(xs) for xs in zip(*self.passes, strict=True))
        every = sorted(x for lat in self.passes for x in lat)
        n = len(per_request)
        return {"rate": max(self.rates), "p50": per_request[n // 2] / 1000,
                "p99": per_request[int(n * 0.99)] / 1000, "mean": statistics.fmean(per_request) / 1000,
                "p50_every": every[len(every) // 2] / 1000, "p99_every": every[int(len(every) * 0.99)] / 1000}


def gateway_overhead() -> None:
    path = Path(__file__).with_name("_gateway.py")
    if not path.exists():
        print("gateway overhead: bench/_gateway.py is missing (the query gateway's benchmark); not measured")
        return
    spec = importlib.util.spec_from_file_location("_gateway", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_gateway"] = module
    spec.loader.exec_module(module)
    measure_fn = getattr(module, "measure_gateway_overhead", None)
    if measure_fn is None:
        print("gateway overhead: bench/_gateway.py has no measure_gateway_overhead(); not measured")
        return
    result = measure_fn()
    if isinstance(result, dict):
        print("gateway overhead per query (parse, check, rewrite):")
        for key, value in result.items():
            print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    elif isinstance(result, (int, float)):
        print(f"gateway overhead per query (parse, check, rewrite): {result:.3f} ms")
    elif result is not None:
        print(f"gateway overhead per query (parse, check, rewrite): {result}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--roles", type=int, default=1_000)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000, help="requests asked of the index")
    parser.add_argument("--casbin-requests", type=int, default=400, help="of those, asked of Casbin too")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating timed passes of the floor and the index; each request counts "
                             "with its median over them")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-gateway", action="store_true", help="skip the gateway's overhead")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    policy = build_policy(args.users, args.roles, args.objects, args.seed)
    print(f"policy: {len(policy['users']):,} users, {len(policy['roles']):,} roles, "
          f"{len(policy['resources']):,} objects, {len(policy['p']):,} p lines, {len(policy['g']):,} g lines "
          f"({time.perf_counter() - t0:.1f} s to generate)")
    requests = make_requests(policy, args.requests, args.seed + 1)

    with tempfile.TemporaryDirectory() as tmp:
        lake = load_lake(policy, Path(tmp) / "home")
        try:
            t0 = time.perf_counter()
            ac = AccessControl(lake, sync_users=False, refresh_seconds=1.0)
            print(f"index: loaded from the catalog in {time.perf_counter() - t0:.2f} s "
                  f"({ac._state.index.rules:,} rules, {ac._state.index.links:,} links)")
            t0 = time.perf_counter()
            enforcer = casbin_enforcer(casbin_csv(policy))
            print(f"casbin.Enforcer: loaded in {time.perf_counter() - t0:.2f} s")

            shared = requests[: args.casbin_requests]
            for req in requests:  # every object's lineage keys cached, as a running server has them
                ac.can(*req)
            floor_table = {(u, a.value, r.key): True for u, a, r in requests}
            floor_requests = [(u, a.value, r.key) for u, a, r in requests]
            floor = Timings(lambda r: floor_table[r], floor_requests)
            idx_t = Timings(lambda r: ac.can(*r), requests)
            for _ in range(max(1, args.rounds)):  # alternating, so both see the machine alike
                floor.run()
                idx_t.run()
            mine = idx_t.answers
            flo, idx = floor.summary(), idx_t.summary()
            cas_t = Timings(lambda r: enforcer.enforce(r[0], r[2].key, r[1].value), shared)
            cas_t.run(rate=False)
            cas, theirs = cas_t.summary(), cas_t.answers
            disagree = sum(a != b for a, b in zip(mine, theirs, strict=False))
            allowed = sum(theirs)
        finally:
            lake.close()

    print()
    print(f"{'':18}{'decisions/s':>14}{'p50 µs':>10}{'p99 µs':>10}{'requests':>11}")
    print(f"{'Lakegate index':18}{idx['rate']:>14,.0f}{idx['p50']:>10.1f}{idx['p99']:>10.1f}{len(requests):>11,}")
    print(f"{'casbin.Enforcer':18}{cas['rate']:>14,.0f}{cas['p50']:>10.1f}{cas['p99']:>10.1f}{len(shared):>11,}")
    speedup = idx["rate"] / cas["rate"]
    print()
    print(f"speed-up: {speedup:,.0f}x (target >= 100x: {'met' if speedup >= 100 else 'MISSED'}); "
          f"index p99 {idx['p99']:.1f} µs (target <= 50 µs: {'met' if idx['p99'] <= 50 else 'MISSED'})")
    print(f"agreement: {len(shared) - disagree:,}/{len(shared):,} shared requests answered the same "
          f"({allowed:,} allowed)")
    print(f"every sample of the {max(1, args.rounds)} passes: index p50 {idx['p50_every']:.2f} µs, "
          f"p99 {idx['p99_every']:.2f} µs ({idx['p99_every'] / idx['p50_every']:.2f}x); floor p50 "
          f"{flo['p50_every']:.2f} µs, p99 {flo['p99_every']:.2f} µs ({flo['p99_every'] / flo['p50_every']:.2f}x)")
    print(f"during the index's timed passes: {idx_t.collections} collections ({idx_t.collection_ns / 1e6:.1f} ms "
          f"in all), {idx_t.threads} other threads")
    print(ratio_line("access decision p50", f"{flo['p50']:.2f} µs (dict lookup of a 3-tuple key)",
                     f"{idx['p50']:.2f} µs", idx["p50"] / flo["p50"], "<=", P50_TARGET))
    print(ratio_line("access decision p99", f"{idx['p50']:.2f} µs (the index's own p50)",
                     f"p99 {idx['p99']:.2f} µs", idx["p99"] / idx["p50"], "<=", P99_TARGET))
    if not args.no_gateway:
        print()
        gateway_overhead()
    return 0 if disagree == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
