"""The engine survives any query (issue 13, item 2).

A reader's query that builds a ~2 GB value makes Spark's driver (512 MB here)
throw ``OutOfMemoryError`` and exit its JVM. The query gets a clear 503
(``engine_restarting``), it is audited, and the next query runs on a new
engine. The JVM dies, so the scenario runs in a child process
(``engine_death_child.py``) whose JSON lines this module checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from child_env import child_env

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    home = tmp_path_factory.mktemp("engine-death") / "home"
    env = child_env(pythonpath=(REPO / "platform", REPO, HERE, REPO / "tests"))
    proc = subprocess.run([sys.executable, str(HERE / "engine_death_child.py"), str(home)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    found = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            found[record["step"]] = record
    if proc.returncode != 0 or "done" not in found:
        pytest.fail(f"child exited with {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
                    f"stderr:\n{proc.stderr[-6000:]}")
    return found


def test_engine_runs_with_the_configured_memory(steps: dict[str, dict[str, Any]]) -> None:
    assert steps["memory"]["value"] == "512m"
    assert steps["before"]["rows"] == [{"n": 3}]  # analyst sees the DE rows


def test_the_killing_query_gets_a_clear_error(steps: dict[str, dict[str, Any]]) -> None:
    oom = steps["oom"]
    assert oom["ok"], oom
    assert oom["error"] == "EngineLost" and oom["code"] == "engine_restarting" and oom["status"] == 503, oom
    assert "ran out of memory" in oom["message"] and "restarts on the next query" in oom["message"]
    assert "/" not in oom["message"]  # no path of the lake


def test_the_next_query_works_on_a_new_engine(steps: dict[str, dict[str, Any]]) -> None:
    assert steps["after"]["rows"] == [{"n": 3}]
    assert steps["after"]["new_engine"] is True


def test_the_failure_is_audited(steps: dict[str, dict[str, Any]]) -> None:
    assert steps["audit"]["outcomes"] == ["ok", "engine_restarting", "ok"]
