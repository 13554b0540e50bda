"""A metric definition: what one revision of a metric says.

A metric is an aggregate SQL expression (Spark dialect) over one version of a
view, with optional filters, the dimensions it may be sliced by, a time
dimension with its grains, a unit and a display format. Definitions are
immutable values; an edit makes a new revision holding a new definition.

Example (YAML, as ``lakegate metrics create -f`` reads it)::

    name: playback.daily_active_viewers
    view: playback.daily_viewers
    expression: COUNT(DISTINCT subscriber_id)
    time_dimension: event_date
    grains: [day, week, month]
    dimensions: [country, device]
    unit: viewers
    format: integer
    description: |
      Distinct subscribers who started at least one playback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lake.contracts import NAME_RE
from lake.enums import ParsableEnum
from lake.errors import InvalidInput
from lake.nesting import load_yaml
from metrics_catalog.errors import InvalidMetric

#: Output column names of metric values; no dimension may take them.
RESERVED_COLUMNS = ("period", "value")


class Grain(ParsableEnum, label="grain"):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def spark_unit(self) -> str:
        """The unit name of Spark's ``date_trunc`` (weeks start on Monday)."""
        return self.value.upper()


class ValueFormat(ParsableEnum, label="value format"):
    """How a value is displayed."""

    NUMBER = "number"
    INTEGER = "integer"
    PERCENT = "percent"
    CURRENCY = "currency"
    DURATION = "duration"


#: Fields whose change alters what the metric computes.
TECHNICAL_FIELDS = ("view", "view_version", "expression", "filters", "dimensions", "time_dimension", "grains")
#: Fields whose change alters how the metric is documented or shown.
BUSINESS_FIELDS = ("description", "owner", "unit", "format")
ALL_FIELDS = TECHNICAL_FIELDS + BUSINESS_FIELDS


class MetricDefinition(BaseModel):
    """One revision's definition of a metric.

    Attributes:
        name: ``domain.metric``; fixed for the metric's life.
        view: ``domain.view`` the metric aggregates (a view, or a dataset).
        view_version: The view version; pinned to the current one when saved without.
        expression: One aggregate SQL expression, e.g. ``SUM(watch_seconds) / COUNT(*)``.
        filters: SQL predicates over the view's columns, all of which must hold.
        dimensions: Columns the metric may be grouped by.
        time_dimension: A date or timestamp column of the view.
        grains: Time grains values may be asked at.
        description: Markdown; required before the metric is proposed.
        owner: A user or team answerable for the metric.
        unit: What one unit of the value is (``viewers``, ``seconds``, ``USD``).
        format: How the value is displayed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    view: str
    view_version: int | None = Field(default=None, ge=1)
    expression: str
    filters: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    time_dimension: str
    grains: tuple[Grain, ...] = (Grain.DAY, Grain.WEEK, Grain.MONTH)
    description: str = ""
    owner: str = ""
    unit: str = ""
    format: ValueFormat = ValueFormat.NUMBER

    @field_validator("name", "view")
    @classmethod
    def _qualified(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 2 or not all(NAME_RE.fullmatch(p) for p in parts):
            raise ValueError(f"expected 'domain.name' in lower case letters, digits and '_', got {value!r}")
        return value

    @field_validator("grains", mode="before")
    @classmethod
    def _grains(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        try:
            grains = tuple(Grain.parse(v) if isinstance(v, str) else v for v in value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        if not grains:
            raise ValueError("at least one grain is needed")
        return grains

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        try:
            return ValueFormat.parse(value) if isinstance(value, str) else value
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("dimensions", "filters", mode="before")
    @classmethod
    def _listish(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def domain(self) -> str:
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def changed_fields(self, other: MetricDefinition) -> list[str]:
        """Fields whose values differ between ``self`` and ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f for f in ALL_FIELDS if mine[f] != theirs[f]]

    def with_changes(self, changes: Mapping[str, Any]) -> MetricDefinition:
        """A new definition with ``changes`` applied (the name cannot change)."""
        if "name" in changes and changes["name"] != self.name:
            raise InvalidMetric(self.name, "name", "a metric cannot be renamed; create a new metric")
        data = self.to_dict()
        data.update(changes)
        return parse_definition(data)


def parse_definition(doc: Mapping[str, Any] | str, *, name: str | None = None) -> MetricDefinition:
    """Read a definition from a mapping, or from YAML or JSON text.

    Args:
        doc: The definition.
        name: When given, the definition must be for this metric.

    Raises:
        InvalidMetric: naming the field that is wrong.
    """
    label = name or "?"
    if isinstance(doc, str):
        try:
            loaded = load_yaml(doc)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            col = mark.column + 1 if mark is not None else None
            raise InvalidMetric(label, "document", f"not valid YAML or JSON: {exc}", line=line, column=col) from None
        doc = loaded
    if not isinstance(doc, Mapping):
        raise InvalidMetric(label, "document", "a metric definition is a mapping of fields")
    label = str(doc.get("name") or label)
    if name is not None and doc.get("name", name) != name:
        raise InvalidMetric(name, "name", f"the document defines {doc.get('name')!r}, not {name!r}")
    data = dict(doc)
    if name is not None:
        data.setdefault("name", name)
    try:
        return MetricDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidMetric(label, field, reason) from None
