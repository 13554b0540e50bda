"""Jinja2 templates of the UI: one environment, autoescaped, with a few filters.

Every page extends ``base.html``, which needs ``me`` (the signed-in session,
or ``None`` on the sign-in page), ``csrf`` (the session's CSRF token) and
``section`` (the highlighted navigation entry). :func:`render` fills them in
from ``request.state``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse

from lake.timestamps import as_utc
from metrics_catalog.formatting import format_value
from ui.markdown import markdown_text, render_markdown
from ui.wording import plain_keys, type_words

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
UI_PREFIX = "/ui"


Moment = dt.datetime | dt.date | str | None


def _moment(value: Moment) -> dt.datetime | dt.date | None:
    """A datetime or date; ISO 8601 text is parsed (naive times are UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return as_utc(value) if isinstance(value, dt.datetime) else value


def _when(value: Moment) -> str:
    """``2025-11-30 14:05 UTC`` (dates as ``2025-11-30``)."""
    value = _moment(value)
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _iso(value: Moment) -> str:
    value = _moment(value)
    return "" if value is None else value.isoformat()


def _ago(value: Moment, now: dt.datetime | None = None) -> str:
    """``3 minutes ago``, ``in 2 days``."""
    value = _moment(value)
    if value is None:
        return "never"
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    seconds = ((now or dt.datetime.now(dt.UTC)) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "in a moment" if future else "just now"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _words(value: str) -> str:
    """``in_review`` → ``in review``."""
    return str(value).replace("_", " ")


def _path(value: str) -> str:
    """A name quoted for a URL path segment."""
    return quote(str(value), safe="@.")


def _hash_like(value: Any) -> bool:
    """A hex digest (SHA-256 and the like) or another long unbroken token worth shortening."""
    return isinstance(value, str) and len(value) >= 32 and _HASH.fullmatch(value) is not None


_HASH = re.compile(r"[0-9A-Za-z+/=_\-]+")


def _yaml(value: Any) -> str:
    """A document as YAML, in the order it was written."""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip()


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(("html", "svg"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, iso=_iso, ago=_ago, number=_number, words=_words, path=_path,
                       markdown=render_markdown, markdown_text=markdown_text, metric_value=format_value, type_words=type_words,
                       plain_keys=plain_keys, yaml=_yaml)
    env.tests["hash_like"] = _hash_like
    env.globals["ui"] = UI_PREFIX
    return env


ENV = make_environment()


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, section: str = "") -> HTMLResponse:
    """Render a page with the signed-in session (if any) and its CSRF token."""
    me = getattr(request.state, "ui_session", None)
    values: dict[str, Any] = {
        "request": request,
        "me": me,
        "csrf": me.csrf_token if me is not None else getattr(request.state, "login_csrf", ""),
        "section": section,
        "unread": getattr(request.state, "ui_unread", 0),
        "is_admin": getattr(request.state, "ui_is_admin", False),
    }
    values.update(context or {})
    html = ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
