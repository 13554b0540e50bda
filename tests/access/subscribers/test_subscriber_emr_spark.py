"""The EMR subscriber proven with Spark (issue 12, item 6).

A separate Spark process, configured only from what ``vend`` returns (its
Spark configuration with the session credentials), reads the granted Delta
table from the moto S3 lake (SSE-KMS under the domain's key), is denied on a
table it was not granted, and is denied again once the grant is revoked
through the access layer, with moto enforcing IAM.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers import Subscribers
from access.subscribers.policy_sync import policy_changed
from lake.service import Lake
from lake.spark import engine_jars

from child_env import child_env
from factories import contract_doc
from s3_fixtures import iam_lake_settings

pytestmark = [pytest.mark.s3, pytest.mark.spark, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SALARIES = {
    "dataset": "hr.salaries", "owner": "hr-team", "primary_key": ["employee_id"],
    "columns": [{"name": "employee_id", "type": "int64", "nullable": False},
                {"name": "salary", "type": "decimal(12,2)"}],
}


class Emr:
    """The subscriber's Spark process: one command in, one JSON line out."""

    def __init__(self, vended_file: Path) -> None:
        env = child_env(drop_prefixes=("AWS_", "SPARK_", "PYSPARK_"))
        env["AWS_EC2_METADATA_DISABLED"] = "true"  # nothing but the vended credentials
        self.proc = subprocess.Popen([sys.executable, str(HERE / "emr_spark_child.py"), str(vended_file)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)
        first = self._line()
        assert first.get("ready"), first

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the subscriber's Spark exited: {err[-4000:]}")
            if line.startswith("{"):
                return dict(json.loads(line))

    def read(self, location: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"read {location}\n")
        self.proc.stdin.flush()
        return self._line()

    def close(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _assert_denied(answer: dict[str, Any]) -> None:
    text = answer.get("error", "")
    assert not answer["ok"], answer
    assert "403" in text or "AccessDenied" in text or "Forbidden" in text, text


@pytest.fixture
def lake(moto_iam_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Lake]:  # type: ignore[no-untyped-def]
    lk = Lake(iam_lake_settings(moto_iam_server, monkeypatch, tmp_path / "home"))
    lk.register(contract_doc("ads.conversions"), actor="admin")
    lk.register(SALARIES, actor="admin")
    lk.ingest("ads.conversions", b"conversion_id,country,revenue,email\n1,US,1.50,ann@example.com\n2,DE,2.00,\n",
              "csv", actor="admin")
    lk.ingest("hr.salaries", b"employee_id,salary\n7,99.00\n", "csv", actor="admin")
    lk.users.create("admin", roles=["admin"])
    yield lk
    lk.close()


def test_emr_spark_reads_only_what_the_access_layer_grants(lake: Lake, tmp_path: Path) -> None:
    access = AccessControl(lake)
    access.create_role("etl-readers")
    access.add_change_listener(policy_changed)  # wired as the composition root does
    subs = Subscribers(access)
    table = Resource.table("ads.conversions")
    read = access.grant("etl-readers", Action.READ, table)
    # PII in clear for the role: the raw files (ciphertext) show no more than that.
    access.set_mask("etl-readers", Resource.column_of(table, "email"), Mask(MaskKind.DECRYPT))
    subs.create("etl", "emr", owner="admin", roles=["etl-readers"], actor="admin")
    vended = subs.vend("etl", ["ads.conversions"], duration_seconds=900, actor="admin")
    assert "io.delta:delta-spark_4.2_2.13" in vended.spark_conf["spark.jars.packages"]

    vended_file = tmp_path / "vended.json"
    vended_file.write_text(json.dumps({"spark_conf": vended.spark_conf, "jars": engine_jars(lake.settings)}))
    vended_file.chmod(0o600)
    conversions = vended.tables[0].location
    salaries = conversions.replace("/ads/conversions/", "/hr/salaries/")
    assert salaries != conversions
    emr = Emr(vended_file)
    try:
        granted = emr.read(conversions)
        assert granted["ok"], granted
        assert sorted(r["conversion_id"] for r in granted["rows"]) == [1, 2]
        stored = {r["conversion_id"]: r["email"] for r in lake.read("ads.conversions").to_pylist()}
        assert "ann@example.com" not in json.dumps(granted["rows"])  # raw files: PII stays ciphertext
        assert stored[1] is not None

        _assert_denied(emr.read(salaries))  # never granted

        access.revoke(read.id)  # type: ignore[arg-type]
        assert subs.get("etl").policy_tables == ()
        _assert_denied(emr.read(conversions))  # the same process, the same credentials
    finally:
        emr.close()
        for sub in subs.list():
            subs.delete(sub.name)
