"""Fixtures of the gateway tests: one Spark session and one governed lake for the package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lake.spark import stop_spark

from gateway_world import World, build_world


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The lake of :mod:`gateway_world` on ``local[2]`` Spark, shared by the gateway tests."""
    stop_spark()  # a session another module left behind would have other settings
    built = build_world(tmp_path_factory.mktemp("gateway") / "home")
    yield built
    built.lake.close()
    stop_spark()
