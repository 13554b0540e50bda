"""Typo tolerance: the words of the index and their near neighbours.

Every word of every indexed document (letters only, split at ``_`` as well as
kept whole, lower case) is a row of ``search_terms``; rows are only added, so
a process reads the new ones by id. A query word that starts no known word is
probably misspelt: its candidates are the known words within a small edit
distance (optimal string alignment: insertions, deletions, substitutions and
swaps of neighbours), found through the trigrams they share with it and then
measured exactly. The same code serves SQLite and PostgreSQL.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

#: Words fuzzy matching knows: letters only (ids and generated names with
#: digits are left out: nobody misspells them).
_WORD = re.compile(r"[^\W\d_]+(?:_[^\W\d_]+)*", re.UNICODE)
MIN_FUZZY_LENGTH = 4
MAX_TERM_LENGTH = 48
#: Corrections kept per query word.
MAX_CORRECTIONS = 4
#: Candidates measured exactly per query word (those sharing the most trigrams).
_MEASURED = 100
#: A process re-reads the whole vocabulary this often, in case an id committed
#: out of order (PostgreSQL sequences) was skipped by an incremental read.
FULL_RELOAD_SECONDS = 600.0


def max_distance(word: str) -> int:
    """Edits allowed for a query word: none below 4 letters, 1 up to 7, 2 from 8."""
    if len(word) < MIN_FUZZY_LENGTH:
        return 0
    return 1 if len(word) < 8 else 2


def document_terms(*texts: str) -> set[str]:
    """The vocabulary words of some document text: each word, and each part of a ``snake_case`` word."""
    out: set[str] = set()
    for t in texts:
        for word in _WORD.findall(t.lower()):
            if len(word) <= MAX_TERM_LENGTH:
                out.add(word)
            if "_" in word:
                out.update(p for p in word.split("_") if 2 <= len(p) <= 48)
    return {w for w in out if len(w) >= 2}


def _grams(word: str) -> list[str]:
    padded = f"^{word}$"
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[len(b)], limit + 1)


def _distance(query: str, term: str, limit: int) -> tuple[int, bool]:
    """How far ``query`` is from ``term``, or else from a beginning of it (query words match
    prefixes), and whether only a beginning was that close."""
    whole = osa_distance(query, term, limit) if abs(len(term) - len(query)) <= limit else limit + 1
    if whole == 0 or len(term) <= len(query):
        return whole, False
    begun = min(osa_distance(query, term[:cut], limit)
                for cut in (len(query) - 1, len(query), len(query) + 1) if 0 < cut < len(term))
    return min(whole, begun), begun < whole


def add_terms(session: Session, terms: Iterable[str]) -> None:
    """Record words in ``search_terms`` (known ones are left as they are)."""
    rows = [{"term": t} for t in sorted(set(terms))]
    if rows:
        session.execute(text("INSERT INTO search_terms (term) VALUES (:term) ON CONFLICT (term) DO NOTHING"), rows)


class Vocabulary:
    """The words of the index, in memory, with a trigram index for near matches.

    Thread-safe; one per :class:`~lake.search.SearchIndex`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._terms: list[str] = []
        self._known: set[str] = set()
        self._sorted: list[str] = []
        self._grams: dict[str, list[int]] = {}
        self._last_id = 0
        self._loaded_at = float("-inf")
        self._corrected: dict[str, tuple[str, ...]] = {}

    def refresh(self, session: Session) -> None:
        """Read the words added since the last look (all of them now and then)."""
        with self._lock:
            full = time.monotonic() - self._loaded_at > FULL_RELOAD_SECONDS
            since = 0 if full else self._last_id
            rows = session.execute(text("SELECT id, term FROM search_terms WHERE id > :since ORDER BY id"),
                                   {"since": since}).all()
            if full:
                self._terms, self._known, self._grams = [], set(), {}
                self._loaded_at = time.monotonic()
            fresh = [r.term for r in rows if r.term not in self._known]
            for term in fresh:
                n = len(self._terms)
                self._terms.append(term)
                self._known.add(term)
                if "_" not in term:  # a snake_case word is corrected through its parts, which begin it
                    for g in set(_grams(term)):
                        self._grams.setdefault(g, []).append(n)
            if fresh:
                self._corrected.clear()
            if rows:
                self._last_id = max(self._last_id if not full else 0, rows[-1].id)
            if full or len(fresh) > 64:
                self._sorted = sorted(self._terms)
            else:
                for term in fresh:
                    bisect.insort(self._sorted, term)

    def starts_a_word(self, prefix: str) -> bool:
        """Whether some known word begins with ``prefix``."""
        i = bisect.bisect_left(self._sorted, prefix)
        return i < len(self._sorted) and self._sorted[i].startswith(prefix)

    def corrections(self, word: str) -> tuple[str, ...]:
        """The known words (or words beginning so) closest to ``word``, within :func:`max_distance` edits."""
        limit = max_distance(word)
        if not limit:
            return ()
        if word in self._corrected:
            return self._corrected[word]
        grams = _grams(word)
        shared: Counter[int] = Counter()
        for g in set(grams):
            shared.update(self._grams.get(g, ()))
        need = max(1, len(grams) - 3 * limit - 1)
        found: list[tuple[int, bool, int, str]] = []
        for n, count in shared.most_common(_MEASURED):
            if count < need:
                break
            term = self._terms[n]
            if len(term) < len(word) - limit:
                continue
            d, prefix_only = _distance(word, term, limit)
            if d <= limit and term != word:
                found.append((d, prefix_only, abs(len(term) - len(word)), term))
        found.sort()
        # Only the closest (a word one edit away is what was meant, not one two
        # away), and not a word another kept one begins: that one matches it already.
        kept: list[str] = []
        for d, prefix_only, _, term in found:
            if (d, prefix_only) != found[0][:2] or len(kept) == MAX_CORRECTIONS:
                break
            if not any(term.startswith(k) for k in kept):
                kept.append(term)
        if len(self._corrected) > 10_000:
            self._corrected.clear()
        self._corrected[word] = tuple(kept)
        return tuple(kept)

    def expand(self, session: Session, words: list[str]) -> list[tuple[str, ...]]:
        """For each query word, the word itself and, when it starts no known word, its corrections."""
        if not any(max_distance(w) for w in words):
            return [(w,) for w in words]
        self.refresh(session)
        out = []
        for w in words:
            if max_distance(w) and not self.starts_a_word(w):
                out.append((w, *self.corrections(w)))
            else:
                out.append((w,))
        return out
