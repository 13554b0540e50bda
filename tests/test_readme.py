"""The README's words about configuration match the settings."""

import re
from pathlib import Path

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


def test_readme_contract_example_parses() -> None:
    from lake.contracts import parse_contract

    example = re.search(r"```yaml\n(.+?)\n```", README, flags=re.S)
    assert example
    assert parse_contract(example.group(1)).dataset == "ads.conversions"
