"""Markdown of descriptions (metrics, datasets) rendered safely on the server.

CommonMark with raw HTML off: every ``<`` a writer types is escaped. Only a
small set of constructs is enabled (paragraphs, emphasis, inline code, code
blocks, lists, block quotes, links); headings, images and tables stay text.
Links keep only ``http``, ``https`` and ``mailto`` targets and relative paths,
and open with ``rel="nofollow noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

#: Link targets kept: a scheme from this list, or no scheme at all (a path or an anchor).
SAFE_SCHEMES = ("http", "https", "mailto")
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*)\s*:")


def safe_link(url: str) -> bool:
    """Whether a link target may be followed (no ``javascript:``, ``data:``, ``vbscript:``...)."""
    cleaned = re.sub(r"[\x00-\x20\x7f]", "", url)  # browsers ignore control characters and spaces here
    found = _SCHEME.match(cleaned)
    return found is None or found.group(1).lower() in SAFE_SCHEMES


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable(["emphasis", "backticks", "link", "escape", "entity", "newline",
               "list", "blockquote", "fence", "code"])
    md.validateLink = safe_link  # type: ignore[method-assign]

    def link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict,
                  env: EnvType) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _parser()


def render_markdown(text: Any) -> Markup:
    """``text`` as sanitized HTML (empty text gives empty markup)."""
    source = "" if text is None else str(text)
    return Markup(_MD.render(source)) if source.strip() else Markup("")


_BLOCK_TAG = re.compile(r"</?(?:p|li|ul|ol|blockquote|pre|br|hr)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def markdown_text(text: Any) -> str:
    """``text`` without its Markdown marks, on one line (for snippets and short lists)."""
    source = "" if text is None else str(text)
    if not source.strip():
        return ""
    return " ".join(html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", _MD.render(source)))).split())
