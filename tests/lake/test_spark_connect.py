"""Spark Connect reads Delta tables written by delta-rs: same rows, same types.

pyspark cannot hold a classic session and a local Spark Connect server in one
process: with a classic session running, ``builder.remote("local[2]")``
raises ``SESSION_ALREADY_EXIST``; with the Connect server running, a classic
``builder.master(...).getOrCreate()`` silently returns the Connect session
(pyspark sets ``SPARK_CONNECT_MODE_ENABLED`` for the whole process). So the
checks run in a child Python process (``delta_spark_cases.py`` as a script)
that starts ``spark_session(Settings(spark_remote="local[2]"))``, and this
module asserts on the JSON lines it prints. Any test order works, whatever
sessions the pytest process holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from child_env import child_env
from delta_spark_cases import CONNECT_CASES

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

pytestmark = pytest.mark.spark

@pytest.fixture(scope="module")
def connect_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("connect")
    env = child_env(pythonpath=(REPO / "platform", REPO))
    proc = subprocess.run(
        [sys.executable, str(HERE / "delta_spark_cases.py"), str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    results: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["check"]] = record
    if proc.returncode != 0 or "done" not in results:
        pytest.fail(
            f"Spark Connect child exited with {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}"
        )
    return results


def _assert_ok(results: dict[str, dict[str, Any]], check: str) -> None:
    assert check in results, f"check {check!r} did not run; ran {sorted(results)}"
    record = results[check]
    assert record["ok"], f"{check}: {record['detail']}"


@pytest.mark.parametrize("check", ["session", "session_cached", "session_time_zone", "delta_spark_loaded",
                                   "sql_with_args"])
def test_connect_session(connect_results: dict[str, dict[str, Any]], check: str) -> None:
    _assert_ok(connect_results, check)


@pytest.mark.parametrize("case", CONNECT_CASES)
def test_connect_reads_what_delta_rs_reads(connect_results: dict[str, dict[str, Any]], case: str) -> None:
    _assert_ok(connect_results, case)


def test_connect_spark_sql_over_registered_view(connect_results: dict[str, dict[str, Any]]) -> None:
    _assert_ok(connect_results, "sql_over_view")
