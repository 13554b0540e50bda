"""A real Spark cluster in the tests (issue 12, item 5).

A Spark standalone master and two workers start on loopback from pyspark's
own distribution (``org.apache.spark.deploy.master.Master`` and
``...worker.Worker``), a Lakegate engine (a Spark Connect server with the
lake's jars, ``lakegate engine start --master spark://...``) attaches to
it, and view materialization, a governed gateway query and a metric value run
there against the moto S3 lake: the jobs run on the workers' executors, the
view's objects carry SSE-KMS under the domain's key, and the results equal an
independent computation.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lake.service import Lake
from lake.settings import Settings
from lake.spark import spark_session, stop_spark

sys.path.insert(0, str(Path(__file__).resolve().parent / "metrics_catalog"))
from child_env import child_env
from metric_factories import events_table, metric_doc, open_catalog, setup_playback

pytestmark = [pytest.mark.spark, pytest.mark.s3, pytest.mark.slow]

SPARK_HOME = Path(__import__("pyspark").__file__).resolve().parent
METRIC = "playback.watch_per_viewer"
VIEW = "playback.watch_by_country"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    master: str
    ui: str
    procs: list[subprocess.Popen[bytes]]

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as answer:  # noqa: S310 - loopback
            return dict(json.load(answer))


def _spark_class(name: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = child_env(drop_prefixes=("PYSPARK_", "SPARK_"))
    env.update({"SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"})
    with open(log, "wb") as out:
        return subprocess.Popen([str(SPARK_HOME / "bin" / "spark-class"), name, *args], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("cluster")
    port, ui = _free_port(), _free_port()
    procs = [_spark_class("org.apache.spark.deploy.master.Master",
                          ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)], work / "master.log")]
    found = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}", procs)
    try:
        for i in (1, 2):
            procs.append(_spark_class(
                "org.apache.spark.deploy.worker.Worker",
                [found.master, "--host", "127.0.0.1", "--webui-port", str(_free_port()), "--cores", "1",
                 "--memory", "1g", "--work-dir", str(work / f"worker{i}")], work / f"worker{i}.log"))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if found.state().get("aliveworkers") == 2:
                    break
            except OSError:
                pass
            assert all(p.poll() is None for p in procs), (work / "master.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail(f"the workers did not register: {(work / 'worker1.log').read_text()[-3000:]}")
        yield found
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def lake(cluster: Cluster, moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    from lake.engine import start, stop

    stop_spark()  # this process becomes a client of the cluster's engine
    home = tmp_path_factory.mktemp("cluster-lake")
    settings = Settings(home=home, storage_uri=f"s3://lake-{uuid.uuid4().hex[:16]}/lake", s3_endpoint_url=moto_server)
    lk = Lake(settings)
    setup_playback(lk, rows=events_table(400))
    info = start(settings, master=cluster.master, port=_free_port())
    remote = Lake(settings.model_copy(update={"engine": settings.engine.model_copy(update={"remote": info.url})}))
    try:
        yield remote
    finally:
        stop_spark()
        remote.close()
        lk.close()
        stop(settings)


def test_the_engine_runs_on_the_cluster(cluster: Cluster, lake: Lake) -> None:
    spark = spark_session(lake.settings)
    assert type(spark).__module__.startswith("pyspark.sql.connect")
    assert spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"] == 45
    apps = cluster.state()["activeapps"]
    assert [a["name"] for a in apps] == ["lakegate-engine"], apps
    assert apps[0]["cores"] == 2  # one executor on each worker


def test_a_view_is_materialized_on_the_cluster_into_s3(lake: Lake) -> None:
    from views.definition import ViewDefinition
    from views.materialize import materialize, read_view
    from views.registry import create_version

    doc = {"view": VIEW, "sql": "SELECT country, sum(watch_seconds) AS seconds, count(*) AS n "
                                "FROM playback.events GROUP BY country"}
    create_version(lake, ViewDefinition.from_mapping(doc), actor="admin")
    run = materialize(lake, VIEW, actor="admin")
    rows = lake.read("playback.events").to_pylist()
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        want[r["country"]][0] += r["watch_seconds"]
        want[r["country"]][1] += 1
    got = {r["country"]: [r["seconds"], r["n"]] for r in read_view(lake, VIEW).to_pylist()}
    assert got == dict(want) and run.rows == len(want)
    s3, kms = lake.store.s3_client(), lake.store.kms_client()  # type: ignore[attr-defined]
    bucket = lake.store.bucket  # type: ignore[attr-defined]
    domain_key = kms.describe_key(KeyId=lake.store.ensure_domain("playback"))["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    prefix = lake.store.object_key(f"views/{VIEW}/v{run.version}") + "/"  # type: ignore[attr-defined]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert any(k.endswith(".parquet") for k in keys)
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert kms.describe_key(KeyId=head["SSEKMSKeyId"])["KeyMetadata"]["KeyId"] == domain_key, key


def test_a_gateway_query_and_a_metric_value_run_on_the_cluster(lake: Lake) -> None:
    from access import AccessControl, Action, Resource
    from access.gateway import Gateway

    access = AccessControl(lake)
    events = Resource.table("playback.events")
    access.grant("victor", Action.READ, events)
    access.set_row_filter("victor", events, "country = 'US'")
    access.grant("victor", Action.READ, Resource.metric(METRIC))
    access.grant("analyst", Action.PROPOSE, Resource.domain_("playback"))
    access.grant("metric_tech", Action.APPROVE, Resource.domain_("playback"))
    access.grant("metric_business", Action.APPROVE, Resource.domain_("playback"))
    rows = [r for r in lake.read("playback.events").to_pylist() if r["country"] == "US"]

    result = Gateway(lake, access).query("victor", "SELECT count(*) AS n, sum(watch_seconds) AS s "
                                                   "FROM playback.events", timeout_seconds=300)
    assert result.table.to_pylist() == [{"n": len(rows), "s": sum(r["watch_seconds"] for r in rows)}]

    metrics = open_catalog(lake, access=access, gateway=Gateway(lake, access))
    metrics.workflow.create(metric_doc(METRIC), actor="mia")
    metrics.workflow.propose(METRIC, actor="mia")
    metrics.workflow.start_review(METRIC, actor="tom")
    metrics.workflow.decide(METRIC, "approve", actor="tom")
    metrics.workflow.decide(METRIC, "approve", actor="bob")
    values = metrics.values.get(METRIC, actor="victor", grain="month", use_cache=False)
    seconds: dict[str, int] = defaultdict(int)
    viewers: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        month = r["event_ts"].date().replace(day=1).isoformat()
        seconds[month] += r["watch_seconds"]
        viewers[month].add(r["subscriber_id"])
    assert [r[0] for r in values.rows] == sorted(seconds)
    for period, value in values.rows:
        assert value == pytest.approx(seconds[period] / len(viewers[period]), rel=1e-9)
