"""The packages type-check under ``mypy --strict`` (configured in pyproject.toml)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRICT_PACKAGES = ["lake", "deploy", "views", "access", "metrics_catalog", "ui", "api", "demo"]


@pytest.mark.slow
def test_packages_pass_mypy_strict() -> None:
    args = [sys.executable, "-m", "mypy", "--no-error-summary"]
    for package in STRICT_PACKAGES:
        args += ["-p", package]
    env = {**os.environ, "MYPYPATH": str(ROOT / "platform")}
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
