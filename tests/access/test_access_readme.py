"""Every Python example in access/README.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lake.service import Lake

README = Path(__file__).resolve().parents[2] / "access" / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_readme_has_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(code: str, lake: Lake) -> None:
    exec(compile(code, str(README), "exec"), {"lake": lake})  # noqa: S102 - our own documentation
