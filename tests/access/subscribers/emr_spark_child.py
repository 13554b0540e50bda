"""A separate Spark process, an EMR stand-in, configured only from what ``vend`` returned.

``python emr_spark_child.py VENDED.json`` starts a plain ``SparkSession``
(no Lakegate code) with the vended Spark configuration. The one change: an
EMR cluster brings delta-spark and hadoop-aws itself and nothing is downloaded
in tests, so the ``spark.jars.packages`` coordinates are replaced by the same
locked jars on the class path (the file lists them under ``jars``). Then it
reads lines from stdin: ``read <s3 location>`` prints one JSON line with the
rows or the error; ``quit`` ends it.
"""

from __future__ import annotations

import json
import sys
import warnings


def main(path: str) -> int:
    with open(path) as f:
        vended = json.load(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[1]").appName("emr-subscriber")
    for key, value in vended["spark_conf"].items():
        if key == "spark.jars.packages":
            builder = builder.config("spark.driver.extraClassPath", ":".join(vended["jars"]))
            continue
        builder = builder.config(key, value)
    builder = builder.config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1") \
        .config("spark.driver.host", "127.0.0.1")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command, _, location = line.strip().partition(" ")
        if command == "quit":
            break
        try:
            rows = spark.read.format("delta").load(location.replace("s3://", "s3a://", 1)).collect()
            print(json.dumps({"ok": True, "rows": [r.asDict() for r in rows]}, default=str), flush=True)
        except Exception as exc:  # noqa: BLE001 - reported to the parent test
            text = str(exc).split("\nJVM stacktrace:", 1)[0]
            print(json.dumps({"ok": False, "error": text[:3000]}), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
