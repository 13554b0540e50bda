"""The Spark settings vended to clusters name the jars Lakegate's own engine is locked to."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from deploy.spark_conf import DELTA_PACKAGE, HADOOP_AWS_PACKAGE, cluster_spark_conf

POM = Path(__file__).resolve().parents[2] / "jvm" / "pom.xml"
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _locked() -> dict[str, str]:
    root = ET.parse(POM).getroot()
    props = {p.tag.split("}")[1]: (p.text or "") for p in root.find("m:properties", NS) or []}
    out = {}
    for dep in root.iterfind("m:dependencies/m:dependency", NS):
        group, artifact = dep.findtext("m:groupId", "", NS), dep.findtext("m:artifactId", "", NS)
        version = dep.findtext("m:version", "", NS)
        for key, value in props.items():
            version = version.replace("${" + key + "}", value)
        out[f"{group}:{artifact}"] = f"{group}:{artifact}:{version}"
    return out


def test_vended_packages_are_the_locked_jars() -> None:
    locked = _locked()
    assert locked["io.delta:delta-spark_4.2_2.13"] == DELTA_PACKAGE
    assert locked["org.apache.hadoop:hadoop-aws"] == HADOOP_AWS_PACKAGE
    conf = cluster_spark_conf()
    assert conf["spark.jars.packages"] == f"{DELTA_PACKAGE},{HADOOP_AWS_PACKAGE}"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
