"""View files: YAML header, SQL positions, directories; the demo files parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.definitions import VIEWS_DIR as DEMO_DIR
from views.definition import Materialization, ViewDefinition
from views.errors import InvalidViewDefinition
from views.files import load_directory, parse_view_file
from views.names import parse_ref

GOOD = """/*
view: analytics.plays
owner: analysts
description: Plays per country.
materialization: virtual
tags: [demo]
columns:
  plays: Sessions started.
*/
SELECT e.country, COUNT(*) AS plays FROM playback.events e GROUP BY e.country
"""


def test_header_and_sql() -> None:
    d = parse_view_file(GOOD, file="plays.sql")
    assert (d.name, d.owner, d.materialization, d.tags, d.column_docs) == (
        "analytics.plays", "analysts", Materialization.VIRTUAL, ("demo",), (("plays", "Sessions started."),))
    assert d.sql.startswith("SELECT") and d.sql_line == 10 and d.file == "plays.sql"


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT 1 AS one", "starts with a /* ... */ comment"),
    ("/*\nview: a.b\n", "not closed"),
    ("/*\nview: a.b\nowner: [x\n*/\nSELECT 1 AS one", "line 4"),
    ("/*\nview: a.b\nsurprise: 1\n*/\nSELECT 1 AS one", "unknown key(s) ['surprise']"),
    ("/*\nview: A.b\n*/\nSELECT 1 AS one", "lower case"),
    ("/*\nview: a.b@v2\n*/\nSELECT 1 AS one", "without a version"),
    ("/*\nview: a.b\nmaterialization: view\n*/\nSELECT 1 AS one", "expected one of: table, virtual"),
    ("/*\nview: a.b\n*/\n   \n", "has no SQL"),
])
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(InvalidViewDefinition) as caught:
        parse_view_file(text, file="v.sql")
    assert message in caught.value.message and caught.value.message.startswith("v.sql")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "plays.sql").write_text(GOOD)
    assert [d.name for d in load_directory(tmp_path)] == ["analytics.plays"]
    (tmp_path / "again.sql").write_text(GOOD)
    with pytest.raises(InvalidViewDefinition, match="also defined in"):
        load_directory(tmp_path)
    with pytest.raises(InvalidViewDefinition, match="is not a directory of view files"):
        load_directory(tmp_path / "a" / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidViewDefinition, match="no view files"):
        load_directory(tmp_path / "empty")


def test_demo_files_parse() -> None:
    names = sorted(d.name for d in load_directory(DEMO_DIR))
    assert names == ["ads.attributed_conversions", "catalog.watch_time_by_title", "playback.daily_active_viewers",
                     "subscriptions.active_subscribers", "subscriptions.engagement_by_plan"]


def test_pinned_names() -> None:
    assert str(parse_ref("ads.daily@v12")) == "ads.daily@v12"
    assert parse_ref("ads.daily").pin is None
    with pytest.raises(InvalidViewDefinition, match="name@v<N>"):
        parse_ref("ads.daily@2")


def test_definition_from_json() -> None:
    d = ViewDefinition.from_mapping({"view": "a.b", "sql": "SELECT 1 AS one", "columns": {"one": "One."}})
    assert d.to_dict()["columns"] == {"one": "One."} and d.materialization is Materialization.TABLE
    with pytest.raises(InvalidViewDefinition, match="'columns' must map"):
        ViewDefinition.from_mapping({"view": "a.b", "sql": "SELECT 1 AS one", "columns": ["one"]})
