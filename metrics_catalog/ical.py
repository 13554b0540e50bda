"""iCalendar (RFC 5545) output, written with the standard library.

Lines end in CRLF and are folded at 75 octets (a continuation line starts
with one space, and a UTF-8 character is never split); TEXT values escape
backslash, semicolon, comma and newlines; times are UTC (``...Z``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lake.timestamps import as_utc

PRODID = "-//Lakegate//Metric review meetings//EN"
MAX_OCTETS = 75


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Fold one content line into CRLF-joined pieces of at most 75 octets."""
    data = line.encode("utf-8")
    if len(data) <= MAX_OCTETS:
        return line
    pieces: list[str] = []
    current = ""
    size = 0
    limit = MAX_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, MAX_OCTETS - 1  # continuation lines start with a space
        current += ch
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def utc(value: dt.datetime) -> str:
    return as_utc(value).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    """One VEVENT: a recurring series (``rrule``) or one overridden occurrence (``recurrence_id``)."""

    uid: str
    start: dt.datetime
    end: dt.datetime
    summary: str
    description: str = ""
    location: str = ""
    rrule: str | None = None
    recurrence_id: dt.datetime | None = None
    categories: Sequence[str] = ()


def calendar(events: Iterable[Event], *, stamp: dt.datetime, name: str = "Metric reviews") -> str:
    """A VCALENDAR document holding ``events``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    for ev in events:
        lines += ["BEGIN:VEVENT", f"UID:{ev.uid}", f"DTSTAMP:{utc(stamp)}"]
        if ev.recurrence_id is not None:
            lines.append(f"RECURRENCE-ID:{utc(ev.recurrence_id)}")
        lines += [f"DTSTART:{utc(ev.start)}", f"DTEND:{utc(ev.end)}"]
        if ev.rrule:
            lines.append(f"RRULE:{ev.rrule}")
        lines.append(f"SUMMARY:{escape_text(ev.summary)}")
        if ev.description:
            lines.append(f"DESCRIPTION:{escape_text(ev.description)}")
        if ev.location:
            lines.append(f"LOCATION:{escape_text(ev.location)}")
        if ev.categories:
            lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in ev.categories))
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
