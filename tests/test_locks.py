"""The locks agree with what they lock: uv.lock with pyproject.toml, jvm/jars/
with jvm/jars.sha256 and with the pinned pyspark release."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"
# Read at import: the autouse fixture in conftest.py clears LAKEGATE_* variables.
LATEST = os.environ.get("LAKEGATE_TEST_LATEST") == "1"
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_uv_lock_is_current_for_pyproject() -> None:
    if not UV.exists():
        pytest.fail("the pinned uv is missing: run scripts/bootstrap.sh")
    result = subprocess.run([str(UV), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"uv.lock disagrees with pyproject.toml; run scripts/lock.sh\n{result.stderr}"


def test_every_locked_version_satisfies_pyproject() -> None:
    versions: dict[str, list[str]] = {}
    for package in _lock()["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(package["version"])
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in versions, f"{req} is not in uv.lock; run scripts/lock.sh"
        for version in versions[name]:
            assert req.specifier.contains(version, prereleases=True), f"uv.lock pins {name} {version}, outside {req}"


def test_every_locked_file_has_a_hash() -> None:
    for package in _lock()["package"]:
        if "registry" not in package.get("source", {}):
            continue  # the project itself
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files, package["name"]
        for f in files:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", f.get("hash", "")), (package["name"], f)


@pytest.mark.skipif(LATEST, reason="scripts/test-latest.sh runs on the newest releases")
def test_installed_packages_are_the_locked_ones() -> None:
    """The environment running the suite came from uv.lock, not from whatever an index served that day."""
    locked = {canonicalize_name(p["name"]): p["version"] for p in _lock()["package"]}
    for req in _requirements():
        name = canonicalize_name(req.name)
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed: run scripts/bootstrap.sh")
        assert installed == locked[name], f"{name} {installed} installed, {locked[name]} locked: run scripts/bootstrap.sh"


# -- JVM jars ------------------------------------------------------------------------------------


def _pom_property(name: str) -> str:
    node = ET.parse(ROOT / "jvm" / "pom.xml").getroot().find(f"m:properties/m:{name}", POM_NS)
    assert node is not None and node.text, name
    return node.text


def test_jars_pinned_to_the_locked_spark_release() -> None:
    spark = _pom_property("spark.version")
    locked = {p["name"]: p["version"] for p in _lock()["package"]}
    assert locked["pyspark"] == spark
    # Delta Lake publishes one delta-spark artifact per Spark minor release.
    pom = (ROOT / "jvm" / "pom.xml").read_text()
    minor = ".".join(spark.split(".")[:2])
    assert f"<artifactId>delta-spark_{minor}_2.13</artifactId>" in pom
    # hadoop-aws must match the Hadoop client pyspark ships.
    import pyspark

    bundled = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")}
    assert bundled == {f"hadoop-client-api-{_pom_property('hadoop.version')}.jar"}


@pytest.mark.slow  # reads the 670 MB of jars
def test_fetched_jars_match_recorded_sums() -> None:
    sums = dict(reversed(line.split()) for line in (ROOT / "jvm" / "jars.sha256").read_text().splitlines())
    folder = ROOT / "jvm" / "jars"
    assert folder.is_dir(), "jvm/jars/ is missing: run scripts/bootstrap.sh"
    assert sorted(p.name for p in folder.iterdir()) == sorted(sums)
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_jars_do_not_shadow_sparks_own() -> None:
    """Two versions of one library on a classpath fail at run time; Spark's own win."""
    import pyspark

    def artifact(jar: str) -> str:
        return re.sub(r"-\d[\w.\-]*\.jar$", "", jar)

    spark_jars = {artifact(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    ours = {artifact(line.split()[1]) for line in (ROOT / "jvm" / "jars.sha256").read_text().splitlines()}
    assert ours & spark_jars == set()
    assert {"delta-spark_4.2_2.13", "delta-storage", "hadoop-aws", "bundle"} <= ours
