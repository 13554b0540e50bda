"""SQL syntax highlighting with sqlglot's tokenizer, and unified diffs as HTML.

Each token of the text is wrapped in a ``<span>`` with a class by its type
(keyword, string, number, function, identifier); the text between tokens
(spaces and comments) is kept as written, comments marked. The output is
the input text, escaped, with spans added: nothing is reformatted. Text the
tokenizer cannot read is shown plain.
"""

from __future__ import annotations

import functools

from markupsafe import Markup, escape
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

_STRINGS = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING, TokenType.BYTE_STRING,
            TokenType.HEX_STRING, TokenType.BIT_STRING}
_NUMBERS = {TokenType.NUMBER}
_IDENTIFIERS = {TokenType.IDENTIFIER}
_PLAIN = {TokenType.VAR, TokenType.COMMA, TokenType.DOT, TokenType.L_PAREN, TokenType.R_PAREN, TokenType.STAR,
          TokenType.SEMICOLON, TokenType.EQ, TokenType.NEQ, TokenType.GT, TokenType.GTE, TokenType.LT, TokenType.LTE,
          TokenType.PLUS, TokenType.DASH, TokenType.SLASH, TokenType.L_BRACKET, TokenType.R_BRACKET,
          TokenType.PARAMETER, TokenType.COLON, TokenType.PIPE, TokenType.DPIPE, TokenType.AMP, TokenType.MOD}


def _css_class(token: Token, following: Token | None) -> str | None:
    if token.token_type in _STRINGS:
        return "str"
    if token.token_type in _NUMBERS:
        return "num"
    if token.token_type in _IDENTIFIERS:
        return "id"
    if following is not None and following.token_type is TokenType.L_PAREN and token.token_type is TokenType.VAR:
        return "fn"
    if token.token_type in _PLAIN:
        return None
    if token.text[:1].isalpha():
        return "kw"
    return None


def _gap(text: str) -> str:
    """Text between tokens: whitespace, and comments marked as such."""
    stripped = text.strip()
    if stripped.startswith(("--", "/*")):
        return f'<span class="com">{escape(text)}</span>'
    return str(escape(text))


def highlight_sql(sql: str, dialect: str = "spark") -> Markup:
    """``sql`` as HTML with highlighting spans (safe to put inside ``<pre><code>``)."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except (TokenError, ValueError):
        return Markup(escape(sql))
    out: list[str] = []
    pos = 0
    for i, token in enumerate(tokens):
        start, end = token.start, token.end + 1
        if start < pos or end > len(sql):
            continue
        if start > pos:
            out.append(_gap(sql[pos:start]))
        text = sql[start:end]
        css = _css_class(token, tokens[i + 1] if i + 1 < len(tokens) else None)
        out.append(f'<span class="{css}">{escape(text)}</span>' if css else str(escape(text)))
        pos = end
    if pos < len(sql):
        out.append(_gap(sql[pos:]))
    return Markup("".join(out))


def highlight_diff(diff: str) -> Markup:
    """A unified diff with added, removed and hunk lines marked."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        elif line.startswith("@@"):
            css = "hunk"
        else:
            css = "ctx"
        text = escape(line) if line else Markup("&#8203;")
        out.append(f'<span class="{css}">{text}</span>')
    return Markup("".join(out))


@functools.cache
def sql_keywords(dialect: str = "spark") -> tuple[str, ...]:
    """The keywords of ``dialect``'s tokenizer that are single words (what the editor highlights as keywords)."""
    words = Dialect.get_or_raise(dialect).tokenizer_class.KEYWORDS
    return tuple(sorted(w for w in words if w.replace("_", "").isalpha()))
