"""View files: ``.sql`` with a YAML header in a leading block comment.

Example (``demo/views/daily_active_viewers.sql``)::

    /*
    view: playback.daily_active_viewers
    owner: playback-team
    description: Distinct subscribers who played something, per UTC day and country.
    materialization: table
    tags: [demo]
    columns:
      viewers: Distinct subscribers with at least one playback session that day.
    */
    SELECT e.event_date, e.country, COUNT(DISTINCT e.subscriber_id) AS viewers
    FROM playback.events AS e
    GROUP BY e.event_date, e.country

Error positions in the SQL are reported as lines of the file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lake.nesting import load_yaml
from views.definition import ViewDefinition
from views.errors import InvalidViewDefinition


def parse_view_file(text: str, *, file: str | None = None) -> ViewDefinition:
    """Parse one view file.

    Args:
        text: The file's content.
        file: Its path, for error messages.

    Raises:
        InvalidViewDefinition: No header, YAML errors (with the file line), bad keys.
    """
    where = file or "view file"
    stripped = text.lstrip()
    if not stripped.startswith("/*"):
        raise InvalidViewDefinition(
            "a view file starts with a /* ... */ comment holding its YAML header (view: domain.name, ...)",
            where=where)
    start = len(text) - len(stripped) + 2
    end = text.find("*/", start)
    if end < 0:
        raise InvalidViewDefinition("the header comment is not closed with */", where=where)
    header_line = text.count("\n", 0, start) + 1
    header = text[start:end]
    try:
        doc = load_yaml(header)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = header_line + mark.line if mark is not None else header_line
        raise InvalidViewDefinition(f"the header is not valid YAML: {getattr(exc, 'problem', exc)}",
                                    where=f"{where}, line {line}") from exc
    if not isinstance(doc, dict):
        raise InvalidViewDefinition("the header must be YAML keys (view, owner, description, ...)", where=where)
    if "sql" in doc:
        raise InvalidViewDefinition("the SQL goes after the header, not in it", where=where)
    first = end + 2
    while first < len(text) and text[first].isspace():
        first += 1
    sql_line = text.count("\n", 0, first) + 1
    column = first - (text.rfind("\n", 0, first) + 1)
    # The SQL keeps its first line's indentation so parser positions map to the file.
    definition = ViewDefinition.from_mapping(doc, sql=" " * column + text[first:], file=file, sql_line=sql_line)
    return definition


def load_directory(path: str | Path) -> list[ViewDefinition]:
    """Every ``*.sql`` view file under a directory (recursively), sorted by path.

    Raises:
        InvalidViewDefinition: A file is malformed, the directory has no view file,
            or two files define the same view.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidViewDefinition(f"{root} is not a directory of view files")
    definitions: list[ViewDefinition] = []
    seen: dict[str, str] = {}
    for file in sorted(root.rglob("*.sql")):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidViewDefinition(f"cannot read the file: {exc}", where=str(file)) from exc
        definition = parse_view_file(text, file=str(file))
        if definition.name in seen:
            raise InvalidViewDefinition(f"{definition.name} is also defined in {seen[definition.name]}",
                                        where=str(file))
        seen[definition.name] = str(file)
        definitions.append(definition)
    if not definitions:
        raise InvalidViewDefinition(f"no view files (*.sql) under {root}")
    return definitions
