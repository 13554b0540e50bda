"""The source folder ``platform/`` must never shadow Python's ``platform`` module."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stdlib_platform_still_imports_from_repo_root() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import platform, lake; print(platform.system()); print(platform.__file__)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    system, path = out.stdout.split()
    assert system  # e.g. "Linux"
    assert not path.startswith(str(ROOT)), path


def test_platform_folder_is_not_a_package() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
