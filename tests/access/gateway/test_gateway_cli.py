"""``lakegate query "SQL" --as USER [--format json|arrow|table]`` on this host's lake."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from api.commands import gateway as gateway_commands
from lake.settings import get_settings

from gateway_world import World

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """A ``lakegate``-like root with the query group, pointed at the world's lake."""
    monkeypatch.setenv("LAKEGATE_HOME", str(world.lake.settings.home))
    monkeypatch.setenv("LAKEGATE_SPARK_MASTER", world.lake.settings.engine.master)
    get_settings.cache_clear()
    root = typer.Typer()
    root.add_typer(gateway_commands.app, name="query")

    @root.command()
    def version() -> None:  # a second command, so `query` is a group as in lakegate
        typer.echo("0")

    return root


def test_json_output(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["query", "SELECT country, count(*) AS n FROM ads.conversions GROUP BY 1",
                                      "--as", "analyst", "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["rows"] == [["DE", 3]] and body["tables"] == ["ads.conversions"]


def test_arrow_output_to_a_file(cli: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "out.arrows"
    result = CliRunner().invoke(cli, ["query", "--as", "analyst", "--format", "arrow", "--max-rows", "1",
                                      "-o", str(target), "SELECT campaign_id FROM ads.campaigns ORDER BY 1"])
    assert result.exit_code == 0, result.output
    table = pa.ipc.open_stream(target.read_bytes()).read_all()
    assert table.column("campaign_id").to_pylist() == [1]
    assert table.schema.metadata[b"lakegate.truncated"] == b"true"


def test_arrow_output_to_stdout(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["query", "SELECT 7 AS x", "--as", "analyst", "--format", "arrow"])
    assert result.exit_code == 0
    assert pa.ipc.open_stream(result.stdout_bytes).read_all().to_pylist() == [{"x": 7}]


def test_table_output(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["query", "SELECT campaign_id, budget FROM ads.campaigns ORDER BY 1",
                                      "--as", "analyst"])
    assert result.exit_code == 0, result.output
    assert "campaign_id" in result.stdout and "budget" in result.stdout
    assert "31337" not in result.stdout
    assert "3 row(s)" in result.stderr


def test_errors_are_one_line_and_exit_1(cli: typer.Typer) -> None:
    denied = CliRunner().invoke(cli, ["query", "SELECT * FROM hr.salaries", "--as", "analyst"])
    assert denied.exit_code == 1
    # A progress note about the engine may come first; the error is one line, the last.
    lines = denied.stderr.strip().splitlines()
    assert lines[-1].startswith("error: analyst may not read table hr.salaries")
    assert [line for line in lines if line.startswith("error:")] == lines[-1:]
    assert "Traceback" not in denied.output
    nobody = CliRunner().invoke(cli, ["query", "SELECT 1", "--as", "nobody"])
    assert nobody.exit_code == 1 and "nobody" in nobody.stderr
    bad_format = CliRunner().invoke(cli, ["query", "SELECT 1", "--as", "analyst", "--format", "xml"])
    assert bad_format.exit_code == 2
