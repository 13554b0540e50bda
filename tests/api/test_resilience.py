"""Landing under concurrency and clean-up, over the API and the CLI: overlapping
upserts all land (never a 502 with a lake path), a busy table answers 409 with
advice, and ``vacuum`` (admin route and command) removes orphan files after
the retention, with a dry run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    lake: Lake = client.app.state.lake  # type: ignore[attr-defined]
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
