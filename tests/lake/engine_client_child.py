"""A Spark Connect client of a Lakegate engine, run as a script in a child process
(see ``test_engine.py``): ``python engine_client_child.py URL WORKDIR``.

Reads commands from stdin, one per line, and answers one JSON line each:
``read``   writes a Delta table with delta-rs (once), reads it through the engine;
``write``  writes a table with the engine, reads it with delta-rs;
``quit``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(url: str, workdir: str) -> int:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from lake.settings import Settings
    from lake.spark import engine_lost, read_delta, spark_session, stop_spark, write_delta

    settings = Settings(home=Path(workdir) / "home", spark_remote=url)
    table = str(Path(workdir) / "t")
    write_deltalake(table, pa.table({"id": pa.array([1, 2, 3], pa.int64())}), mode="overwrite")
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        started = time.monotonic()
        try:
            spark = spark_session(settings)
            if command == "read":
                rows = sorted(r["id"] for r in read_delta(spark, table).collect())
                print(json.dumps({"ok": True, "rows": rows}), flush=True)
            elif command == "write":
                out = str(Path(workdir) / "w")
                result = write_delta(spark.range(4).toDF("id"), out)
                rows = sorted(DeltaTable(out).to_pyarrow_table()["id"].to_pylist())
                print(json.dumps({"ok": True, "version": result.version, "rows": rows}), flush=True)
        except Exception as exc:  # noqa: BLE001 - reported to the parent test
            lost = engine_lost(exc)
            error = lost if lost is not None else exc
            print(json.dumps({"ok": False, "error": type(error).__name__, "code": getattr(error, "code", None),
                              "message": str(error)[:2000], "seconds": time.monotonic() - started}), flush=True)
    stop_spark()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
