"""The examples of views/README.md run."""

from __future__ import annotations

import re
from pathlib import Path

from lake.service import Lake
from views.files import parse_view_file
from views.registry import apply

README = (Path(__file__).resolve().parents[2] / "views" / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.+?)\n```", README, flags=re.DOTALL)


def test_readme_examples_run(demo_lake: Lake) -> None:
    (sql,) = _blocks("sql")
    definition = parse_view_file(sql, file="README.md")
    assert definition.name == "playback.daily_active_viewers"
    apply(demo_lake, [definition], actor="alice", spark_check=False)
    apply(demo_lake, [parse_view_file(sql.replace("AS viewers", "AS viewers, COUNT(*) AS sessions"))],
          actor="alice", spark_check=False)
    (python,) = _blocks("python")
    scope: dict[str, object] = {"lake": demo_lake}
    exec(compile(python, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    assert scope["names"] == ["playback.daily_active_viewers"]
    assert scope["old"].version == 1 and scope["info"].version == 2  # type: ignore[attr-defined]
