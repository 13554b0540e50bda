"""``lakegate metrics`` walks a proposal through the chain and a meeting from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
import yaml
from typer.testing import CliRunner

from api.commands.metrics import app
from lake.service import Lake
from lake.settings import get_settings

from metric_factories import CHAIN, metric_doc, setup_playback

NAME = "playback.watch_per_viewer"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from access import AccessControl, Action, Resource

    home = tmp_path / "cli-home"
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    get_settings.cache_clear()
    lake = Lake(get_settings())
    try:
        setup_playback(lake)
        access = AccessControl(lake)
        playback = Resource.domain_("playback")
        access.grant("analyst", Action.PROPOSE, playback)
        access.grant("metric_tech", Action.APPROVE, playback)
        access.grant("metric_business", Action.APPROVE, playback)
    finally:
        lake.close()
    yield home
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_workflow_from_the_command_line(home: Path, tmp_path: Path) -> None:
    chain = tmp_path / "chain.yml"
    chain.write_text(yaml.safe_dump(CHAIN))
    metric = tmp_path / "metric.yml"
    metric.write_text(yaml.safe_dump(metric_doc()))
    assert "tech (metric_tech, quorum 1) → business" in run("chain", "set", "playback", "-f", str(chain))
    assert "valid over playback.events@v1" in run("validate", "-f", str(metric))
    assert "draft" in run("create", "-f", str(metric), "--as", "mia")
    assert "proposed (stage tech)" in run("propose", NAME, "--as", "mia")
    assert "meeting 1:" in run("meeting", "create", "playback", "--title", "Tech review", "--stage", "tech",
                               "--starts-at", "2026-11-02T15:00:00+00:00", "--as", "tom")
    assert NAME in run("meeting", "agenda", "1")
    opened = run("meeting", "open", "1", "--at", "2026-11-16T15:00:00Z", "--as", "tom")
    assert "session 1 of meeting 1" in opened and "review started" in opened
    decided = run("meeting", "decide", "1", NAME, "approve", "--reason", "SQL is right", "--as", "tara")
    assert "[approve] " + NAME + ": SQL is right" in decided
    assert "closed" in run("meeting", "close", "1", "--as", "tom")
    run("comment", NAME, "What about JP?", "--as", "bob")
    assert "approved" in run("approve", NAME, "--as", "bob", "--revision", "1")
    shown = run("show", NAME)
    assert "approved" in shown and "certified r1" in shown
    history = run("history", NAME)
    assert "certify" in history
    assert "approved and certified" in run("inbox", "--as", "mia")
    ics = tmp_path / "reviews.ics"
    run("meeting", "ics", "--domain", "playback", "-o", str(ics))
    assert len(icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")) == 2
    assert "DATE_TRUNC('MONTH'" in run("sql", NAME, "--grain", "month", "-d", "country")


def test_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    metric = tmp_path / "metric.yml"
    metric.write_text(yaml.safe_dump(metric_doc(expression="SUM(nope)")))
    result = CliRunner().invoke(app, ["create", "-f", str(metric), "--as", "mia"])
    assert result.exit_code == 1
    assert "error: metric playback.watch_per_viewer: expression (line 1, column 5): unknown column 'nope'" in (
        " ".join(result.output.split()))
    result = CliRunner().invoke(app, ["approve", "playback.nope"])
    assert result.exit_code == 1 and "does not exist" in result.output
