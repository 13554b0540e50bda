"""Five-field cron expressions (UTC): when a view's scheduled refresh runs.

``minute hour day-of-month month day-of-week``, each ``*``, a number, a range
``a-b``, a step ``*/n`` or ``a-b/n``, or a list of those (``0,30``); months
and weekdays by number (Sunday is 0 or 7). As in cron, when both day fields
are restricted a day matching either runs. ``@hourly``, ``@daily``,
``@weekly`` and ``@monthly`` are shorthands. Small on purpose: no seconds, no
names, no time zones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lake.errors import InvalidInput

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_SHORTHANDS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


def _field(text: str, name: str, low: int, high: int, expr: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(body)
                if step_text:
                    end = high
        except ValueError:
            raise InvalidInput(f"cron {expr!r}: {name} {part!r} is not a number, range or step") from None
        if step < 1 or not low <= start <= end <= high:
            raise InvalidInput(f"cron {expr!r}: {name} {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression; :meth:`next_after` gives its next time."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def _day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_after(self, when: dt.datetime) -> dt.datetime:
        """The first time strictly after ``when`` (aware; answered in UTC) that the expression names."""
        t = when.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t
        raise InvalidInput(f"cron {self.text!r} names no time in the next five years")


def parse_cron(text: str) -> Cron:
    """Parse a five-field cron expression.

    Raises:
        InvalidInput: Naming the field and the part that is wrong.
    """
    expr = " ".join(text.split())
    fields = _SHORTHANDS.get(expr.lower(), expr).split(" ")
    if len(fields) != 5:
        raise InvalidInput(f"cron {text!r} needs five fields (minute hour day-of-month month day-of-week), "
                           f"or @hourly, @daily, @weekly, @monthly")
    parsed = [_field(f, name, low, high, text) for f, (name, low, high) in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in parsed[4])
    cron = Cron(expr, parsed[0], parsed[1], parsed[2], parsed[3], weekdays,
                any_day=fields[2] == "*", any_weekday=fields[4] == "*")
    cron.next_after(dt.datetime.now(dt.UTC))  # refuses one that never runs (30 February)
    return cron
