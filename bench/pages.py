"""Web UI page times, warm, in a real browser, against the 300 ms target.

Starts the demo server (``lakegate demo``: demo data, views and metrics in a
fresh temporary home) on a free loopback port, signs in to the UI with the
demo's admin token in Chromium (Playwright), opens every page once to warm it
(the dataset page until its sample rows have arrived, so they are cached),
then loads each page N times, each load followed by one load of ``/health``
from the same browser, and prints one line per page as soon as it is
measured: its p95 beside the p95 of the ``/health`` loads between its own,
and the page p95 against 300 ms as a ratio::

    page /ui/datasets p95: floor 300 ms (target; /health p95 9.8 ms), Lakegate 61.2 ms, target <= 1.00, ratio 0.20

Bounded: the server gets --start-timeout seconds to come up, the whole run
--budget seconds (the loads stop there and the figures cover what ran); the
server this script started is stopped at the end.

    .venv/bin/python bench/pages.py [--loads 12] [--scale 0.05] [--budget 285]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import ratio_line

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 300.0
PAGES = (
    "/ui", "/ui/search?q=revenue", "/ui/datasets", "/ui/views", "/ui/metrics", "/ui/domains", "/ui/domains/ads",
    "/ui/datasets/ads.conversions", "/ui/views/ads.attributed_conversions", "/ui/metrics/ads.conversion_rate",
    "/ui/inbox", "/ui/workspace", "/ui/meetings", "/ui/meetings/ads", "/ui/subscribers", "/ui/subscribers/etl",
    "/ui/datasets/ads.conversions/quarantine", "/ui/metrics/new", "/ui/metrics/ads.conversion_rate/edit",
    "/ui/views/ads.attributed_conversions/diff?from=1", "/ui/admin", "/ui/audit",
)
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{24,}$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


@contextlib.contextmanager
def demo_server(home: Path, port: int, scale: float, start_timeout: float) -> Iterator[tuple[str, str]]:
    """``lakegate demo`` on ``127.0.0.1:port``; yields (base URL, admin token); stops it afterwards."""
    env = {**os.environ, "LAKEGATE_HOME": str(home)}
    log = (home.parent / "server.log").open("w+")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/lakegate"), "demo", "--scale", str(scale), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        token = ""
        deadline = time.monotonic() + start_timeout
        while not token:  # the token is the one line of its own on stdout (shown once)
            if time.monotonic() > deadline:
                raise SystemExit(f"the demo server did not start within {start_timeout:.0f} s:\n" + _tail(log))
            if not select.select([proc.stdout], [], [], 1.0)[0]:
                continue
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the demo server ended before it printed its token:\n" + _tail(log))
            if _TOKEN.fullmatch(line.strip()):
                token = line.strip()
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:  # noqa: S310 - our loopback URL
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the demo server did not answer /health:\n" + _tail(log))
            time.sleep(0.2)
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group this script started, and only it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _tail(log: Any, lines: int = 20) -> str:
    log.flush()
    log.seek(0)
    return "".join(log.readlines()[-lines:])


def _load(page: Any, url: str) -> float:
    started = time.perf_counter()
    response = page.goto(url, wait_until="load")
    elapsed = (time.perf_counter() - started) * 1000
    if response is None or response.status != 200:
        raise SystemExit(f"{url} answered {response and response.status}")
    return elapsed


def measure(base: str, token: str, loads: int, deadline: float) -> None:
    """Warm every page, then time each one ``loads`` times (each load followed by one of ``/health``)
    and print its line; pages the budget leaves no time for are named as not measured."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{base}/ui/login")
            page.get_by_role("radio", name="API token").check()
            page.locator("#token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/ui")
            for path in PAGES:
                if time.monotonic() > deadline:
                    print(f"page {path}: not measured (the budget ran out)", flush=True)
                    continue
                _load(page, base + path)  # warm: templates, caches, and a dataset page's sample rows
                if page.locator(".sample-box").count():
                    page.locator(".sample-box:not([aria-busy])").first.wait_for(timeout=120_000)
                times: list[float] = []
                health: list[float] = []
                for _ in range(loads):
                    if time.monotonic() > deadline:
                        break
                    times.append(_load(page, base + path))
                    health.append(_load(page, f"{base}/health"))
                _report(path, times, health)
        finally:
            browser.close()


def _report(path: str, times: list[float], health: list[float]) -> None:
    if not times:
        print(f"page {path}: not measured (the budget ran out)", flush=True)
        return
    p95, health_p95 = _p95(times), _p95(health)
    print(ratio_line(f"page {path} p95", f"{TARGET_MS:.0f} ms (target; /health p95 {health_p95:.1f} ms)",
                     f"{p95:.1f} ms over {len(times)} loads", p95 / TARGET_MS, "<=", 1.0), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=12, help="timed loads of each page (default 12)")
    parser.add_argument("--scale", type=float, default=0.05, help="demo data size multiplier (default 0.05)")
    parser.add_argument("--budget", type=float, default=285.0, help="seconds for the whole run (default 285)")
    parser.add_argument("--start-timeout", type=float, default=240.0, help="seconds for the server to start (default 240)")
    args = parser.parse_args()
    if args.loads < 1:
        parser.error("--loads must be at least 1")
    # A TERM (a timeout, Ctrl-C's cousin) unwinds like an error, so the demo server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lakegate-bench-pages-") as tmp:
        home = Path(tmp) / "home"
        with demo_server(home, _free_port(), args.scale, min(args.start_timeout, args.budget)) as (base, token):
            print(f"demo server up in {time.monotonic() - started:.1f} s at {base}", flush=True)
            measure(base, token, args.loads, started + args.budget)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.monotonic() - started:.0f} s in all")

if __name__ == "__main__":
    main()
