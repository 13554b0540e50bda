"""The project passes ``ruff check`` (lint rules and import order, configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_ruff_finds_nothing() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, ("ruff check found problems (`ruff check --fix` sorts imports; fix the rest "
                                 f"by hand):\n{out.stdout[-6000:]}{out.stderr[-2000:]}")


def test_every_package_is_declared_first_party() -> None:
    """Import order puts the project's own packages last: ruff must know each of them."""
    config = _pyproject()
    packages = {name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]}
    declared = set(config["tool"]["ruff"]["lint"]["isort"]["known-first-party"])
    assert packages <= declared, f"add {sorted(packages - declared)} to [tool.ruff.lint.isort] known-first-party"


def test_every_test_helper_module_is_declared_local() -> None:
    """Tests import their helper modules by name; ruff sorts them after the project's packages."""
    helpers = {p.stem for p in (ROOT / "tests").rglob("*.py")
               if not p.name.startswith("test_") and p.name not in ("conftest.py", "__init__.py")}
    declared = set(_pyproject()["tool"]["ruff"]["lint"]["isort"]["known-local-folder"])
    assert helpers <= declared, f"add {sorted(helpers - declared)} to [tool.ruff.lint.isort] known-local-folder"
