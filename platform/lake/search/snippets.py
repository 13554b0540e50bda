"""The line of text shown under a search hit: around the first matching word, cut at word boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPACE = re.compile(r"\s+")
WIDTH = 160


def snippet(body: str, words: Iterable[str], width: int = WIDTH) -> str:
    """About ``width`` characters of ``body`` around the first of ``words`` found (as a word beginning).

    Cut only between words, with ``…`` where text was left out; a single word
    longer than ``width`` is cut where it must be.
    """
    text = _SPACE.sub(" ", body).strip()
    if len(text) <= width:
        return text
    lower = text.lower()
    found = [m.start() for w in words if w
             for m in [re.search(r"(?<!\w)" + re.escape(w.lower()), lower)] if m]
    pos = min(found, default=0)
    start = max(0, pos - width // 3)
    if start:
        start = text.rfind(" ", 0, start + 1) + 1  # back to the beginning of the word it falls in
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end + 1)
        end = space if space > max(start, pos) else end
    else:
        end = len(text)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
