"""Landing under concurrency and clean-up, over the API and the CLI: overlapping
upserts all land (never a 502 with a lake path), a busy table answers 409 with
advice, and ``vacuum`` (admin route and command) removes orphan files after
the retention, with a dry run."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli_app
from lake.service import Lake

API = "/api/v1"
Headers = dict[str, str]

WEEK_AND_A_DAY = 8 * 24 * 3600


def upsert_csv(first: int, amount: str) -> bytes:
    rows = "".join(f"{k},{amount},US,\n" for k in range(first, first + 50))
    return ("order_id,amount,country,email\n" + rows).encode()


def plant_orphan(table_dir: Path, name: str, *, age: float) -> Path:
    """A data file no commit references, as a killed writer leaves it, ``age`` seconds old."""
    path = table_dir / f"part-00000-{name}.parquet"
    path.write_bytes(b"written by a writer that died before its commit")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_overlapping_upserts_over_the_api_all_land(client: TestClient, lake: Lake, auth: dict[str, Headers],
                                                   orders: dict[str, Any]) -> None:
    url = f"{API}/datasets/sales.orders/batches?mode=upsert"
    headers = {**auth["alice"], "Content-Type": "text/csv"}
    assert client.post(url, content=upsert_csv(0, "1.00"), headers=headers).status_code == 201
    barrier, answers = threading.Barrier(4), [None] * 4

    def upsert(i: int) -> None:
        barrier.wait()
        r = client.post(url, content=upsert_csv(i * 10, f"{i}.50"), headers=headers)
        answers[i] = (r.status_code, r.text)  # type: ignore[call-overload]

    threads = [threading.Thread(target=upsert, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [a[0] for a in answers] == [201] * 4, answers  # type: ignore[index]
    assert lake.read("sales.orders").num_rows == 80
    assert len(lake.commits("sales.orders")) == 5


def test_a_busy_table_answers_409_with_advice_and_no_path(make_client: Callable[..., TestClient],
                                                           users_for: Callable[[Lake], dict[str, Headers]],
                                                           make_contract: Callable[..., dict[str, Any]],
                                                           tmp_path: Path) -> None:
    client = make_client(commit_lock_timeout=0.2)
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    auth = users_for(lake)
    assert client.post(f"{API}/datasets", json=make_contract(), headers=auth["alice"]).status_code == 201
    info = lake.dataset("sales.orders")
    with lake.catalog.table_lock(info.id, timeout=1):
        r = client.post(f"{API}/datasets/sales.orders/batches", content=upsert_csv(0, "1.00"),
                        headers={**auth["alice"], "Content-Type": "text/csv", "Idempotency-Key": "b-1"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "table_busy" and "retry" in error["message"] and str(tmp_path) not in r.text
    r = client.post(f"{API}/datasets/sales.orders/batches", content=upsert_csv(0, "1.00"),
                    headers={**auth["alice"], "Content-Type": "text/csv", "Idempotency-Key": "b-1"})
    assert r.status_code == 201 and r.json()["rows"] == 50


def test_vacuum_route_is_for_admins_and_has_a_dry_run(client: TestClient, lake: Lake, auth: dict[str, Headers],
                                                      orders: dict[str, Any], good_csv: bytes) -> None:
    r = client.post(f"{API}/datasets/sales.orders/batches", content=good_csv,
                    headers={**auth["alice"], "Content-Type": "text/csv"})
    assert r.status_code == 201
    table_dir = Path(lake.dataset("sales.orders").table_uri)
    old = plant_orphan(table_dir, "old", age=WEEK_AND_A_DAY)
    fresh = plant_orphan(table_dir, "fresh", age=60)
    url = f"{API}/datasets/sales.orders/vacuum"

    assert client.post(url, headers=auth["alice"]).status_code == 403  # the owner is no admin
    r = client.post(url, params={"dry_run": "true"}, headers=auth["root"])
    assert r.status_code == 200, r.text
    assert r.json()["files"] == [old.name] and r.json()["dry_run"] is True and old.exists()
    r = client.post(url, headers=auth["root"])
    assert r.json()["files"] == [old.name] and not old.exists() and fresh.exists()
    r = client.post(url, params={"retention_hours": 0}, headers=auth["root"])
    assert r.json()["files"] == [fresh.name] and not fresh.exists()
    assert client.post(url, params={"retention_hours": -1}, headers=auth["root"]).status_code == 422
    assert lake.read("sales.orders").num_rows == 2


def test_vacuum_command(runner: CliRunner, cli_home: Path, cli_lake: Any, contract_yaml: str,
                        tmp_path: Path) -> None:
    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    run("init")
    contract = tmp_path / "orders.yml"
    contract.write_text(contract_yaml)
    run("dataset", "create", "-f", str(contract))
    with cli_lake() as lake:
        lake.ingest("sales.orders", upsert_csv(0, "1.00"), "csv", actor="admin")
        table_dir = Path(lake.dataset("sales.orders").table_uri)
    old = plant_orphan(table_dir, "old", age=WEEK_AND_A_DAY)

    listed = run("vacuum", "--dry-run").stdout
    assert "sales.orders (major 1): would delete 1 file(s)" in listed and old.name in listed and old.exists()
    assert "deleted 1 file(s)" in run("vacuum", "sales.orders").stdout and not old.exists()
    assert "deleted 0 file(s)" in run("vacuum", "sales.orders", "--retention-hours", "0").stdout
    with cli_lake() as lake:
        assert lake.read("sales.orders").num_rows == 50


# -- the server killed mid-commit ---------------------------------------------------------------

#: Runs ``lakegate serve`` with one step of the commit wrapped so that the
#: server reports (by creating the marker file) and waits at the chosen point;
#: the test then kills it with SIGKILL. The crash is real, only its moment is chosen.
STOPPING_SERVER = """
import sys, time
from pathlib import Path
point, marker, port = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
from lake import tables
real_write = tables.DeltaTableIO._write
def write(self, *args, **kwargs):
    main = "quarantine" not in self.label
    if main and point == "before_commit":
        marker.touch(); time.sleep(600)
    version = real_write(self, *args, **kwargs)
    if main and point == "after_delta_commit":
        marker.touch(); time.sleep(600)
    return version
tables.DeltaTableIO._write = write
from api.cli import app
app(["serve", "--host", "127.0.0.1", "--port", port])
"""


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server:
    """A server subprocess on a free loopback port (plain HTTP)."""

    def __init__(self, home: Path, argv: list[str], log: Path) -> None:
        import subprocess
        import sys

        self.port = _free_port()
        self.log = log.open("ab")
        env = {**os.environ, "LAKEGATE_HOME": str(home)}
        self.proc = subprocess.Popen([sys.executable, *[a.replace("{port}", str(self.port)) for a in argv]],
                                     cwd=home.parent, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:  # noqa: BLE001 - then kill it
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_delta_commit"])
def test_server_killed_mid_commit_then_the_retry_lands_once(tmp_path: Path, point: str,
                                                            make_contract: Callable[..., dict[str, Any]]) -> None:
    import signal

    import httpx

    from lake.settings import Settings

    home = tmp_path / "home"
    setup = Lake(Settings(home=home))
    setup.users.create("root", roles=["admin"])
    token, _ = setup.users.create_token("root", name="tests")
    setup.register(make_contract(), actor="root")
    setup.close()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv", "Idempotency-Key": "nightly-1"}
    url = "/api/v1/datasets/sales.orders/batches?on_error=quarantine"
    payload = upsert_csv(0, "1.00") + b"900,1.00,XX,\n"  # one row for the quarantine

    marker = tmp_path / "stopped"
    doomed = _Server(home, ["-c", STOPPING_SERVER, point, str(marker), "{port}"], tmp_path / "server.log")
    try:
        doomed.wait_ready()
        sender = threading.Thread(target=lambda: _post_ignoring_errors(f"{doomed.url}{url}", payload, headers))
        sender.start()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.05)
        os.kill(doomed.proc.pid, signal.SIGKILL)
        doomed.proc.wait(30)
        sender.join(30)
    finally:
        doomed.stop()

    server = _Server(home, ["-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", "{port}"],
                     tmp_path / "server.log")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            retry = http.post(url, content=payload, headers=headers)
            assert retry.status_code == (201 if point == "before_commit" else 200), retry.text
            assert (retry.json()["rows"], retry.json()["rejected_rows"]) == (50, 1)
            commits = http.get("/api/v1/datasets/sales.orders/commits", headers=headers).json()
            history = http.get("/api/v1/datasets/sales.orders/history", headers=headers).json()
    finally:
        server.stop()
    assert [(c["idempotency_key"], c["rows"], c["rejected_rows"]) for c in commits] == [("nightly-1", 50, 1)]
    assert history[0]["version"] == commits[0]["table_version"] == retry.json()["table_version"]
    assert history[0]["idempotency_key"] == "nightly-1"
    check = Lake(Settings(home=home))
    info = check.dataset("sales.orders")
    assert check.read("sales.orders").num_rows == 50
    assert check.datasets.table(info, quarantine=True).read().num_rows == 1
    check.close()


def _post_ignoring_errors(url: str, body: bytes, headers: dict[str, str]) -> None:
    import httpx

    with contextlib.suppress(httpx.TransportError):  # the server was killed under the request
        httpx.post(url, content=body, headers=headers, timeout=120)
