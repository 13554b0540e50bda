"""A gateway query kills the engine; the next one runs on a new engine.

Run as a script in a child process (the engine's JVM dies, so it must not be
the test process's): ``python engine_death_child.py HOME``. The engine's
driver gets 512 MB (``LAKEGATE_SPARK_DRIVER_MEMORY``). Prints one JSON line
per step: ``{"step": ..., "ok": bool, ...}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

#: A value of 30 million copies of a 64-character hash: about 1.9 GB in one string.
OOM_SQL = "SELECT length(repeat(email, 30000000)) AS n FROM ads.conversions"
NORMAL_SQL = "SELECT count(*) AS n FROM ads.conversions"


def _emit(step: str, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields}, default=str), flush=True)


def main(home: str) -> int:
    os.environ["LAKEGATE_SPARK_DRIVER_MEMORY"] = "512m"
    from lake.settings import get_settings
    from lake.spark import spark_session, stop_spark

    from gateway_world import build_world

    get_settings.cache_clear()
    world = build_world(Path(home))
    try:
        spark = spark_session(world.lake.settings)
        pid_before = spark.sparkContext._gateway.proc.pid
        _emit("memory", ok=True, value=spark.sparkContext.getConf().get("spark.driver.memory"))
        first = world.gateway.query("analyst", NORMAL_SQL, timeout_seconds=300)
        _emit("before", ok=True, rows=first.table.to_pylist())
        started = time.monotonic()
        try:
            world.gateway.query("analyst", OOM_SQL, timeout_seconds=240)
        except Exception as exc:  # noqa: BLE001 - reported to the parent test
            _emit("oom", ok=True, error=type(exc).__name__, code=getattr(exc, "code", None),
                  status=getattr(exc, "http_status", None), message=str(exc),
                  seconds=round(time.monotonic() - started, 1))
        else:
            _emit("oom", ok=False, error="the query returned")
        after = world.gateway.query("analyst", NORMAL_SQL, timeout_seconds=300)
        pid_after = spark_session(world.lake.settings).sparkContext._gateway.proc.pid
        _emit("after", ok=True, rows=after.table.to_pylist(), new_engine=pid_after != pid_before)
        from access.audit import AuditKind

        entries = world.access.audit.query(kind=AuditKind.QUERY, actor="analyst", limit=10, newest_first=False)
        _emit("audit", ok=True, outcomes=[e.detail.get("outcome") for e in entries])
    finally:
        world.lake.close()
        stop_spark()
    _emit("done", ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
