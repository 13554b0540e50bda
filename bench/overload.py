"""Overload: 400 concurrent gateway queries against one server, with light requests beside them.

Starts ``lakegate serve`` on a free 127.0.0.1 port over a fresh lake (one
dataset of ``--rows`` rows, ``--users`` readers), warms Spark up with one
query, then:

1. idle: a steady stream of light requests (``/health`` and the dataset
   listing, authenticated) for ``--light-seconds``, to measure their latency
   on an idle server;
2. load: ``--queries`` gateway queries sent at once, spread over the users,
   while the same stream of light requests goes on.

Prints how many queries were answered (200), refused (429, with
``Retry-After``) and failed otherwise; the light requests' p50/p99 under load
against idle, measured in the same run (target: p99 at most 200 ms); and the
server's memory (resident set of the server and its engine) before the load,
right after it and after a short rest.

Bounded in count and time: loopback only, ``--queries`` requests, each with a
client timeout, and the whole run stops by ``--max-seconds``.

    .venv/bin/python bench/overload.py [--queries 400] [--users 40] [--rows 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

import pyarrow as pa  # noqa: E402

from access.policy import AccessControl  # noqa: E402
from access.resources import Action, Resource  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

HOST = "127.0.0.1"
TARGET_P99_MS = 200.0
LIGHT_PER_SECOND = 20
QUERY = ("SELECT country, count(*) AS n, sum(amount) AS total, count(DISTINCT user_id) AS users "
         "FROM bench.events GROUP BY country ORDER BY country")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (the server and its Spark JVM)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[int(fields[1])].append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, ()))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _prepare(home: Path, users: int, rows: int) -> dict[str, str]:
    lake = Lake(Settings(home=home))
    try:
        lake.register({"dataset": "bench.events", "owner": "bench", "columns": [
            {"name": "event_id", "type": "int64", "nullable": False},
            {"name": "user_id", "type": "int64"},
            {"name": "country", "type": "string"},
            {"name": "amount", "type": "decimal(12,2)"},
        ]}, actor="bench")
        countries = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"]
        import decimal

        lake.ingest_table("bench.events", pa.table({
            "event_id": pa.array(range(rows), pa.int64()),
            "user_id": pa.array([i % 5000 for i in range(rows)], pa.int64()),
            "country": [countries[i % len(countries)] for i in range(rows)],
            "amount": pa.array([decimal.Decimal(i % 10000) / 100 for i in range(rows)], pa.decimal128(12, 2)),
        }), actor="bench")
        tokens = {}
        for i in range(users):
            name = f"reader{i}"
            lake.users.create(name)
            tokens[name], _ = lake.users.create_token(name, name="bench")
        access = AccessControl(lake)
        access.grant("everyone", Action.READ, Resource.table("bench.events"))
    finally:
        lake.close()
    return tokens


async def _light_stream(url: str, token: str, seconds: float, stop: Any) -> dict[str, list[float]]:
    """Light requests at a steady rate: latencies in ms per kind (failures listed apart)."""
    out: dict[str, list[float]] = collections.defaultdict(list)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    n = 0

    async def one(client: httpx.AsyncClient, kind: str, path: str, extra: dict[str, str]) -> None:
        t = time.perf_counter()
        try:
            r = await client.get(path, headers=extra, timeout=30)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        out[kind if ok else kind + " (failed)"].append((time.perf_counter() - t) * 1000)

    async with httpx.AsyncClient(base_url=url) as client:
        pending: list[asyncio.Task[None]] = []
        while time.perf_counter() - started < seconds and not stop.is_set():
            kind, path, extra = (("health", "/health", {}) if n % 2 == 0 else
                                 ("datasets", "/api/v1/datasets", headers))
            pending.append(asyncio.create_task(one(client, kind, path, extra)))
            n += 1
            await asyncio.sleep(max(0.0, started + n / LIGHT_PER_SECOND - time.perf_counter()))
        await asyncio.gather(*pending)
    return dict(out)


def _light_worker(url: str, token: str, seconds: float, ready: Any, stop: Any, results: Any) -> None:
    """The light stream in a process of its own, so the burst's client does not slow it down."""
    ready.set()
    results.put(asyncio.run(_light_stream(url, token, seconds, stop)))


def _light(url: str, token: str, seconds: float) -> tuple[Any, Any, Any]:
    """Start the light stream; returns once it is sending."""
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=_light_worker, args=(url, token, seconds, ready, stop, results), daemon=True)
    process.start()
    if not ready.wait(120):
        raise RuntimeError("the light-request process did not start")
    return process, stop, results


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(url: str, tokens: dict[str, str], args: argparse.Namespace, pid: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.queries + 50, max_keepalive_connections=args.queries + 50)
    names = list(tokens)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        warm = await client.post("/api/v1/query", json={"sql": QUERY, "timeout_seconds": 290}, timeout=300,
                                 headers={"Authorization": f"Bearer {tokens[names[0]]}"})
        assert warm.status_code == 200, warm.text
        process, stop, results = await asyncio.to_thread(_light, url, tokens[names[0]], args.light_seconds)
        idle = await asyncio.to_thread(results.get, True, args.light_seconds + 120)
        process.join(10)
        rss_before = _rss_bytes(pid)

        statuses: collections.Counter[str] = collections.Counter()
        retry_after: set[str] = set()
        query_ms: list[float] = []

        async def query(i: int) -> None:
            token = tokens[names[i % len(names)]]
            t = time.perf_counter()
            try:
                r = await client.post("/api/v1/query", json={"sql": QUERY, "timeout_seconds": 60},
                                      headers={"Authorization": f"Bearer {token}"}, timeout=args.query_timeout)
                statuses[str(r.status_code)] += 1
                if r.status_code == 429:
                    retry_after.add(r.headers.get("Retry-After", "missing"))
                elif r.status_code == 200:
                    query_ms.append((time.perf_counter() - t) * 1000)
            except httpx.TimeoutException:
                statuses["client timeout"] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

        process, stop, results = await asyncio.to_thread(_light, url, tokens[names[1 % len(names)]],
                                                          args.max_seconds)
        await asyncio.sleep(2.0)  # the light stream runs before the burst
        started = time.perf_counter()
        await asyncio.gather(*(query(i) for i in range(args.queries)))
        load_seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)
        stop.set()
        loaded = await asyncio.to_thread(results.get, True, 120)
        process.join(10)
        rss_after = _rss_bytes(pid)
        await asyncio.sleep(args.rest_seconds)
        rss_rest = _rss_bytes(pid)
    return {"idle": collections.defaultdict(list, idle), "loaded": collections.defaultdict(list, loaded),
            "statuses": statuses, "retry_after": retry_after, "query_ms": query_ms,
            "load_seconds": load_seconds, "rss": (rss_before, rss_after, rss_rest)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--light-seconds", type=float, default=10.0)
    parser.add_argument("--query-timeout", type=float, default=90.0)
    parser.add_argument("--rest-seconds", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="LAKEGATE_MAX_CONCURRENT_QUERIES of the server (its default otherwise)")
    args = parser.parse_args()
    if not 1 <= args.queries <= 2000:
        parser.error("--queries must be between 1 and 2000")

    with tempfile.TemporaryDirectory(prefix="lakegate-overload-") as tmp:
        home = Path(tmp) / "home"
        tokens = _prepare(home, args.users, args.rows)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEGATE_")}
        env["LAKEGATE_HOME"] = str(home)
        if args.max_concurrent is not None:
            env["LAKEGATE_MAX_CONCURRENT_QUERIES"] = str(args.max_concurrent)
        bounds = Settings(home=home, **({"max_concurrent_queries": args.max_concurrent}
                                        if args.max_concurrent is not None else {}))
        log = (Path(tmp) / "server.log").open("wb")
        server = subprocess.Popen([str(Path(sys.executable).parent / "lakegate"), "serve", "--host", HOST,
                                   "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://{HOST}:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            result = asyncio.run(asyncio.wait_for(_run(url, tokens, args, server.pid), args.max_seconds + 300))
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()

    load = os.getloadavg()
    statuses = result["statuses"]
    print(f"overload: {args.queries} concurrent gateway queries from {args.users} users, "
          f"{args.rows:,} rows; light requests at {LIGHT_PER_SECOND}/s; machine load {load[0]:.2f} "
          f"(1 min), {os.cpu_count()} cores")
    gw = bounds.gateway
    print(f"  server bounds: {gw.max_concurrent_queries} queries at once, {gw.max_queued_queries} queued "
          f"for up to {gw.queue_timeout_seconds:g} s, {gw.max_queries_per_user} per user")
    print(f"  queries: {statuses.get('200', 0)} answered, {statuses.get('429', 0)} refused with 429 "
          f"(Retry-After {', '.join(sorted(result['retry_after'])) or '-'}), "
          f"{sum(v for k, v in statuses.items() if k not in ('200', '429'))} other "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()) if k not in ('200', '429')) or 'none'}); "
          f"burst over in {result['load_seconds']:.1f} s")
    if result["query_ms"]:
        print(f"  answered queries: p50 {statistics.median(result['query_ms']):.0f} ms, "
              f"p99 {_pct(result['query_ms'], 0.99):.0f} ms")
    worst = 0.0
    for kind in ("health", "datasets"):
        idle, loaded = result["idle"][kind], result["loaded"][kind]
        failed = len(result["loaded"].get(kind + " (failed)", []))
        p99_idle, p99_load = _pct(idle, 0.99), _pct(loaded, 0.99)
        worst = max(worst, p99_load)
        print(f"  light {kind:9s}: idle p50 {_pct(idle, 0.5):6.1f} ms p99 {p99_idle:6.1f} ms | under load "
              f"p50 {_pct(loaded, 0.5):6.1f} ms p99 {p99_load:6.1f} ms ({len(loaded)} requests, {failed} failed)"
              f" | p99 ratio {p99_load / p99_idle:.1f}x")
    before, after, rest = (r / 2**20 for r in result["rss"])
    print(f"  memory (server + engine RSS): before {before:.0f} MiB, after the burst {after:.0f} MiB, "
          f"after {args.rest_seconds:g} s rest {rest:.0f} MiB")
    verdict = "PASS" if worst <= TARGET_P99_MS else "FAIL"
    print(f"  light p99 under load {worst:.0f} ms vs target {TARGET_P99_MS:.0f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
