"""The gateway over Spark Connect (the scale-out engine): masks, denials, the time limit
and temporary views dropped after each query.

pyspark cannot hold a classic session and a local Connect server in one process,
so the cases run in a child process (``gateway_connect_cases.py``) that prints
JSON lines, as ``tests/lake/test_spark_connect.py`` does for the core.
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
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("gateway-connect")
    env = child_env(pythonpath=(REPO / "platform", REPO))
    proc = subprocess.run([sys.executable, str(HERE / "gateway_connect_cases.py"), str(workdir)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    found = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            found[record.pop("case")] = record
    assert proc.returncode == 0, proc.stderr[-3000:]
    return found


def test_the_session_is_a_connect_client(cases: dict[str, dict[str, Any]]) -> None:
    assert cases["session"] == {"connect": True}


def test_masks_and_row_filters_apply(cases: dict[str, dict[str, Any]]) -> None:
    rows = cases["masked"]["rows"]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert all(r[1] is None or len(r[1]) == 64 for r in rows)
    assert cases["masked"]["leaks"] == []


def test_denials_and_the_time_limit(cases: dict[str, dict[str, Any]]) -> None:
    assert cases["denied"] == {"raised": "AccessDenied"}
    assert cases["timeout"] == {"raised": "QueryTimeout"}


def test_the_shared_session_keeps_no_gateway_views(cases: dict[str, dict[str, Any]]) -> None:
    assert cases["after"]["rows"] == [[3]]
    assert [v for v in cases["after"]["temp_views"] if v.startswith("__lg_")] == []
