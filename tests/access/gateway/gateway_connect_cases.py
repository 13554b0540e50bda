"""Gateway queries over Spark Connect, run as a script in a child process (see
``test_gateway_connect.py``): prints one JSON line per case."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from access.gateway import QueryTimeout  # noqa: E402
from lake.errors import AccessDenied  # noqa: E402
from lake.spark import spark_session, stop_spark  # noqa: E402

from gateway_world import HEAVY_QUERY, build_world  # noqa: E402


def emit(name: str, **fields: Any) -> None:
    print(json.dumps({"case": name, **fields}, default=str), flush=True)


def main(workdir: str) -> None:
    world = build_world(Path(workdir) / "home", spark_remote="local[2]")
    try:
        spark = spark_session(world.lake.settings)
        emit("session", connect=type(spark).__module__.startswith("pyspark.sql.connect"))
        result = world.gateway.query("analyst", "SELECT conversion_id, email FROM ads.conversions ORDER BY 1")
        emit("masked", rows=result.json_rows(), leaks=world.result_leaks(result))
        try:
            world.gateway.query("analyst", "SELECT revenue FROM ads.conversions")
            emit("denied", raised=None)
        except AccessDenied as exc:
            emit("denied", raised=type(exc).__name__)
        try:
            world.gateway.query("analyst", HEAVY_QUERY, timeout_seconds=2)
            emit("timeout", raised=None)
        except QueryTimeout as exc:
            emit("timeout", raised=type(exc).__name__)
        after = world.gateway.query("analyst", "SELECT count(*) AS n FROM ads.campaigns")
        views = [r.name for r in spark.catalog.listTables() if r.isTemporary]
        emit("after", rows=after.json_rows(), temp_views=views)
    finally:
        world.lake.close()
        stop_spark()


if __name__ == "__main__":
    main(sys.argv[1])
