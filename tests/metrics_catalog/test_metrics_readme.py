"""Every Python example of metrics_catalog/README.md runs."""

from __future__ import annotations

import re
from pathlib import Path

from lake.service import Lake

from metric_factories import make_people, setup_playback

README = (Path(__file__).resolve().parents[2] / "metrics_catalog" / "README.md").read_text()


def test_readme_examples_run(lake: Lake) -> None:
    setup_playback(lake)
    make_people(lake)
    from access import AccessControl, Action, Resource

    access = AccessControl(lake)
    playback = Resource.domain_("playback")
    access.grant("analyst", Action.PROPOSE, playback)
    for role in ("metric_tech", "metric_business"):
        access.grant(role, Action.APPROVE, playback)
    examples = re.findall(r"```python\n(.+?)\n```", README, flags=re.DOTALL)
    assert examples
    for code in examples:
        exec(compile(code, "README.md", "exec"), {"lake": lake})  # noqa: S102 - the README examples are the test


def test_readme_names_every_module() -> None:
    package = Path(__file__).resolve().parents[2] / "metrics_catalog"
    for module in package.glob("*.py"):
        if module.name != "__init__.py":
            assert f"`{module.name}`" in README, module.name
