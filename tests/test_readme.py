"""The README's words about configuration match the settings."""

import re
import shlex
from pathlib import Path

import typer

from lake.settings import environment_variables

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_and_every_documented_variable_exists() -> None:
    documented = set(re.findall(r"^\| `LAKEGATE_([A-Z0-9_]+)`", README, flags=re.M))
    assert {f"LAKEGATE_{name}" for name in documented} == set(environment_variables())


def test_readme_has_exactly_two_setup_commands_and_they_exist() -> None:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", setup, flags=re.S)
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    root = Path(__file__).resolve().parents[1]
    for cmd in commands:
        assert (root / cmd).exists()


def test_readme_contract_example_parses_and_is_not_a_demo_dataset() -> None:
    from demo.definitions import DATASETS
    from lake.contracts import parse_contract

    example = re.search(r"```yaml\n(.+?)\n```", README, flags=re.S)
    assert example
    dataset = parse_contract(example.group(1)).dataset
    assert dataset == "shop.orders"
    # Registering the example on a lake with the demo loaded must not collide with it.
    assert dataset not in set(DATASETS)
    examples = "\n".join(re.findall(r"```sh\n(.+?)\n```", README, flags=re.S))
    demo_names = {name for name in DATASETS if name in examples}
    assert not demo_names, f"README examples use demo datasets: {demo_names}"


def _cli_lines() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.+?)\n```", README, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith(".venv/bin/lakegate ")]


def test_every_cli_example_names_a_command_and_options_it_has() -> None:
    from api.cli import app

    root = typer.main.get_command(app)
    examples = _cli_lines()
    assert {tuple(e[:2]) for e in examples} >= {("user", "password"), ("token", "create"), ("serve", "--host")}
    for words in examples:
        ctx = root.context_class(root)  # Typer ships its own copy of click: use its classes
        command = root
        rest = list(words)
        while hasattr(command, "get_command") and rest and not rest[0].startswith("-"):
            found = command.get_command(ctx, rest[0])  # type: ignore[attr-defined]
            if found is None and getattr(command, "invoke_without_command", False):
                break  # a group that runs itself with arguments (``lakegate query SQL``)
            assert found is not None, f"lakegate {' '.join(words)}: no command {rest[0]!r}"
            command = found
            rest.pop(0)
        options = {o for p in command.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"lakegate {' '.join(words)}: {command.name} has no {word}"
