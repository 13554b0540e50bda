"""The demo lives in the ``demo`` package only: the domain packages neither hold nor import it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGES = [ROOT / "platform" / "lake", ROOT / "access", ROOT / "views", ROOT / "metrics_catalog"]


def test_domain_packages_hold_no_demo() -> None:
    for package in DOMAIN_PACKAGES:
        found = [p.relative_to(ROOT).as_posix() for p in package.rglob("*demo*")]
        assert found == [], found


def test_domain_packages_do_not_import_the_demo() -> None:
    pattern = re.compile(r"^\s*(from demo[. ]|import demo\b)", re.MULTILINE)
    for package in DOMAIN_PACKAGES:
        for path in package.rglob("*.py"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path.relative_to(ROOT)


def test_data_files_are_declared_as_package_data() -> None:
    """Every data file of the demo matches a package-data pattern of pyproject.toml, so it installs."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "demo" in config["packages"]
    patterns = config["package-data"]["demo"]
    demo_dir = ROOT / "demo"
    data = [p.relative_to(demo_dir) for p in demo_dir.rglob("*") if p.is_file() and p.suffix in (".yaml", ".sql", ".md")]
    assert len(data) > 10
    for rel in data:
        assert any(rel.match(pattern) and len(rel.parts) == len(Path(pattern).parts) for pattern in patterns), rel
