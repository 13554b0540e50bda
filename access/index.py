"""The decision index: Casbin's answers in microseconds.

It holds the same ``p`` and ``g`` lines as the Casbin policy and answers
``enforce(sub, obj, act)`` of the model in ``model.conf`` without evaluating
the matcher line by line:

* the subject's roles are a cached closure over the ``g`` graph, cut at
  Casbin's default hierarchy depth (a role nine links away still counts, ten
  does not), and invalidated only for the subjects a membership change touches;
* each subject has a precomputed *view*: for every object its closure holds a
  rule on, one small integer with a bit per action allowed and a bit per
  action denied (``admin`` has its own bit, which every request also
  matches). A decision is one lookup per ancestor of the object (from
  :meth:`Resource.lineage`, exactly the ``g2`` links of the model), OR-ed
  together, and two bit tests;
* expiry stays out of the hot path: a view holds in the interval of time in
  which the live lines it was built from stay the same (from the latest
  expiry it left out to the earliest expiry it kept). The index keeps the
  intersection of those intervals; a decision inside it tests no expiry at
  all, and the first decision outside it drops the views that ran out (a heap
  by expiry) and narrows the interval again. A change to a line drops the
  views of the subjects whose closure holds the line's subject; they are
  rebuilt on their next decision.

Every change (add or remove a line) is O(1) plus the invalidation.
:meth:`DecisionIndex.precompute` builds the views of every subject the
policy names (after loading), so no decision pays for a first look. The
property test in ``tests/access/test_index_vs_casbin.py`` checks the answers
against ``casbin.Enforcer``, and the views against the rule-by-rule path.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from access.resources import Action

#: Casbin's default role manager follows at most this many ``g`` links (max_hierarchy_level 10).
MAX_HOPS = 9
ADMIN = "admin"
ALLOW = "allow"
DENY = "deny"

_Bucket = dict[str, float | None]  # subject -> expiry (epoch seconds) or None
_INF = float("inf")

#: One bit per action of the model; a rule on ``admin`` matches every request. The keys
#: are the ``Action`` members themselves (equal to their values), so a lookup with a
#: member finds its key by identity.
_ADMIN_BIT = 1
_BITS: dict[str, int] = {Action.ADMIN: _ADMIN_BIT}
for _action in Action:
    if _action is not Action.ADMIN:
        _BITS[_action] = 1 << len(_BITS)
#: Deny bits sit above the allow bits.
_DENY_SHIFT = 16


def _decide(view: dict[str, int], bit: int, objs: Iterable[str]) -> bool:
    """The answer of a subject's view for the action ``bit`` on an object and its ancestors ``objs``."""
    get = view.get
    found = 0
    for obj in objs:
        found |= get(obj, 0)
    mask = bit | _ADMIN_BIT
    return bool(found & mask) and not (found >> _DENY_SHIFT) & mask


@dataclass(frozen=True)
class Rule:
    """A ``p`` line that matched a request."""

    subject: str
    obj: str
    act: str
    effect: str
    expires: float | None = None


@dataclass(frozen=True)
class Explanation:
    allowed: bool
    allows: tuple[Rule, ...]
    denies: tuple[Rule, ...]

    def reason(self) -> str:
        if self.denies:
            d = self.denies[0]
            return f"denied by {d.subject} ({d.act} on {d.obj})"
        if self.allows:
            return "allowed by " + ", ".join(f"{a.subject} ({a.act} on {a.obj})" for a in self.allows)
        return "no grant allows it"


def _live(exp: float | None, now: float) -> bool:
    return exp is None or exp > now


class DecisionIndex:
    """In-memory ``p``/``g`` lines with Casbin's semantics for ``model.conf``."""

    def __init__(self) -> None:
        self._allow: dict[str, dict[str, _Bucket]] = {}  # obj -> act -> bucket
        self._deny: dict[str, dict[str, _Bucket]] = {}
        # subject -> (obj, act, allows) -> expiry: the same rules, by subject, for building views
        self._by_subject: dict[str, dict[tuple[str, str, bool], float | None]] = {}
        self._parents: dict[str, dict[str, float | None]] = {}  # member -> role -> expiry
        # subject -> (closure, valid since, valid until)
        self._closures: dict[str, tuple[frozenset[str], float, float]] = {}
        self._holders: dict[str, set[str]] = {}  # node -> cached subjects whose closure holds it
        # subject -> object key -> allow bits | deny bits << 16; only for a subject with a cached closure
        self._views: dict[str, dict[str, int]] = {}
        # Every view holds while since <= now < until: the intersection of their intervals.
        self._since = -_INF
        self._until = _INF
        self._view_since: dict[str, float] = {}  # the views that hold only from a past expiry on
        self._view_until: dict[str, float] = {}  # the views that run out
        self._expiring: list[tuple[float, str]] = []  # heap of (until, subject); stale entries allowed
        self._ints: dict[int, int] = {}  # one int object per distinct value of the views
        self.rules = 0
        self.links = 0

    # -- changes ---------------------------------------------------------------------

    def add_rule(self, subject: str, obj: str, act: str, effect: str, expires: float | None = None) -> None:
        obj = sys.intern(obj)
        table = self._allow if effect == ALLOW else self._deny
        bucket = table.setdefault(obj, {}).setdefault(act, {})
        if subject not in bucket:
            self.rules += 1
        bucket[subject] = expires
        self._by_subject.setdefault(subject, {})[(obj, act, effect == ALLOW)] = expires
        self._touch(subject)

    def remove_rule(self, subject: str, obj: str, act: str, effect: str) -> None:
        table = self._allow if effect == ALLOW else self._deny
        acts = table.get(obj)
        if acts is None or act not in acts or subject not in acts[act]:
            return
        del acts[act][subject]
        self.rules -= 1
        if not acts[act]:
            del acts[act]
            if not acts:
                del table[obj]
        own = self._by_subject[subject]
        del own[(obj, act, effect == ALLOW)]
        if not own:
            del self._by_subject[subject]
        self._touch(subject)

    def add_link(self, member: str, role: str, expires: float | None = None) -> None:
        roles = self._parents.setdefault(member, {})
        if role not in roles:
            self.links += 1
        roles[role] = expires
        self._invalidate(member)

    def remove_link(self, member: str, role: str) -> None:
        roles = self._parents.get(member)
        if roles is None or role not in roles:
            return
        del roles[role]
        self.links -= 1
        if not roles:
            del self._parents[member]
        self._invalidate(member)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def _touch(self, node: str) -> None:
        """``node``'s rules changed: drop the views of every subject whose closure holds it."""
        for subject in self._holders.get(node, ()):
            self._drop_view(subject)

    def _drop_view(self, subject: str) -> None:
        if self._views.pop(subject, None) is not None:
            self._view_since.pop(subject, None)
            self._view_until.pop(subject, None)

    def _invalidate(self, node: str) -> None:
        """``node``'s links changed: drop the closures (and views) of every subject holding it."""
        for subject in self._holders.pop(node, set()):
            self._drop_view(subject)
            cached = self._closures.pop(subject, None)
            if cached is not None:
                for n in cached[0]:
                    if n != node:
                        self._holders.get(n, set()).discard(subject)

    # -- questions --------------------------------------------------------------------

    def closure(self, subject: str, now: float) -> frozenset[str]:
        """``subject`` and every role it holds within Casbin's depth, at time ``now``."""
        cached = self._closures.get(subject)
        if cached is not None and cached[1] <= now < cached[2]:
            return cached[0]
        if cached is not None:
            self._drop(subject, cached[0])
        seen = {subject}
        frontier = [subject]
        valid_since, valid_until = -_INF, _INF
        parents = self._parents
        for _ in range(MAX_HOPS):
            nxt = []
            for node in frontier:
                for role, exp in parents.get(node, {}).items():
                    if exp is not None:
                        if exp <= now:
                            valid_since = max(valid_since, exp)
                            continue
                        valid_until = min(valid_until, exp)
                    if role not in seen:
                        seen.add(role)
                        nxt.append(role)
            if not nxt:
                break
            frontier = nxt
        result = frozenset(seen)
        self._closures[subject] = (result, valid_since, valid_until)
        for n in result:
            self._holders.setdefault(n, set()).add(subject)
        return result

    def _drop(self, subject: str, closure: frozenset[str]) -> None:
        del self._closures[subject]
        self._drop_view(subject)
        for n in closure:
            self._holders.get(n, set()).discard(subject)

    def _view(self, subject: str, now: float) -> dict[str, int]:
        """``subject``'s decisions at ``now``, built from the live rules of its closure."""
        closure = self.closure(subject, now)
        _, since, until = self._closures[subject]
        bits: dict[str, int] = {}
        by_subject = self._by_subject
        for node in closure:
            own = by_subject.get(node)
            if own is None:
                continue
            for (obj, act, allows), exp in own.items():
                if exp is not None:
                    if exp <= now:
                        since = max(since, exp)
                        continue
                    until = min(until, exp)
                bit = _BITS.get(act)
                if bit is None:  # an action outside the model: only the rule-by-rule path asks for it
                    continue
                bits[obj] = bits.get(obj, 0) | (bit if allows else bit << _DENY_SHIFT)
        ints = self._ints
        for obj, value in bits.items():
            bits[obj] = ints.setdefault(value, value)
        # Narrow the window before the view is visible: a reader without the lock
        # must never find a view outside it.
        if since > -_INF:
            self._view_since[subject] = since
            self._since = max(self._since, since)
        if until < _INF:
            self._view_until[subject] = until
            heapq.heappush(self._expiring, (until, subject))
            self._until = min(self._until, until)
        self._views[subject] = bits
        return bits

    def _expire(self, now: float) -> None:
        """``now`` is outside the window: drop the views that do not hold at ``now``, widen the window."""
        heap = self._expiring
        while heap and heap[0][0] <= now:
            until, subject = heapq.heappop(heap)
            if self._view_until.get(subject) == until:
                self._drop_view(subject)
        if now < self._since:  # the clock went back past an expiry some views left out
            for subject in [s for s, since in self._view_since.items() if since > now]:
                self._drop_view(subject)
            self._since = max(self._view_since.values(), default=-_INF)
        self._until = heap[0][0] if heap else _INF

    def precompute(self, now: float) -> None:
        """Build the views of every subject the policy names, so no decision builds one."""
        if not self._since <= now < self._until:
            self._expire(now)
        for subject in {*self._parents, *self._by_subject}:
            if subject not in self._views:
                self._view(subject, now)

    @staticmethod
    def _hit(bucket: _Bucket, closure: frozenset[str], now: float) -> bool:
        if len(bucket) <= len(closure):
            for s, exp in bucket.items():
                if s in closure and (exp is None or exp > now):
                    return True
        else:
            for s in closure:
                if s in bucket:
                    exp = bucket[s]
                    if exp is None or exp > now:
                        return True
        return False

    def allowed(self, subject: str, act: str, objs: Iterable[str], now: float) -> bool:
        """Casbin's answer to ``enforce(subject, obj, act)``; ``objs`` is the object and its ancestors."""
        bit = _BITS.get(act)
        if bit is None:
            return self.allowed_by_rules(subject, act, objs, now)
        if not self._since <= now < self._until:
            self._expire(now)
        bits = self._views.get(subject)
        if bits is None:
            bits = self._view(subject, now)
        return _decide(bits, bit, objs)

    def decided(self, subject: str, act: str, objs: Iterable[str], now: float) -> bool | None:
        """:meth:`allowed` when ``subject``'s view is built and holds at ``now``, else ``None``.

        It changes nothing, and a view never changes once built (a change replaces
        it), so callers may ask without the lock that guards changes; on ``None``
        they ask :meth:`allowed` under that lock.
        """
        if not self._since <= now < self._until:
            return None
        bits = self._views.get(subject)
        bit = _BITS.get(act)
        if bits is None or bit is None:
            return None
        return _decide(bits, bit, objs)

    def allowed_by_rules(self, subject: str, act: str, objs: Iterable[str], now: float) -> bool:
        """The same answer as :meth:`allowed`, rule by rule, without the subject's view.

        For actions outside the model's seven, and as the reference the views are tested against.
        """
        closure = self.closure(subject, now)
        acts = (act,) if act == ADMIN else (act, ADMIN)
        allow, deny, hit = self._allow, self._deny, self._hit
        ok = False
        for obj in objs:
            d = deny.get(obj)
            if d is not None:
                for a in acts:
                    b = d.get(a)
                    if b is not None and hit(b, closure, now):
                        return False
            if not ok:
                al = allow.get(obj)
                if al is not None:
                    for a in acts:
                        b = al.get(a)
                        if b is not None and hit(b, closure, now):
                            ok = True
                            break
        return ok

    def _matches(self, table: dict[str, dict[str, _Bucket]], effect: str, closure: frozenset[str],
                 act: str, objs: Iterable[str], now: float) -> Iterator[Rule]:
        acts = (act,) if act == ADMIN else (act, ADMIN)
        for obj in objs:
            by_act = table.get(obj)
            if by_act is None:
                continue
            for a in acts:
                for s, exp in by_act.get(a, {}).items():
                    if s in closure and _live(exp, now):
                        yield Rule(s, obj, a, effect, exp)

    def explain(self, subject: str, act: str, objs: Iterable[str], now: float) -> Explanation:
        """Every live rule that matches, and the decision."""
        closure = self.closure(subject, now)
        objs = tuple(objs)
        allows = tuple(sorted(self._matches(self._allow, ALLOW, closure, act, objs, now), key=_rule_key))
        denies = tuple(sorted(self._matches(self._deny, DENY, closure, act, objs, now), key=_rule_key))
        return Explanation(bool(allows) and not denies, allows, denies)

    def allowing_subjects(self, closure: frozenset[str], act: str, objs: Iterable[str], now: float) -> set[str]:
        """The members of ``closure`` with a live allow rule for ``act`` on one of ``objs``."""
        return {r.subject for r in self._matches(self._allow, ALLOW, closure, act, objs, now)}

    def allowing_sequence(self, closure: frozenset[str], act: str, objs: Iterable[str], now: float) -> list[str]:
        """:meth:`allowing_subjects` as the rules match, ``objs`` in order (a subject may repeat)."""
        return [r.subject for r in self._matches(self._allow, ALLOW, closure, act, objs, now)]

    def has_link(self, member: str, role: str) -> bool:
        """Whether the ``g`` line ``member, role`` is held (expired or not)."""
        return role in self._parents.get(member, {})

    def lines(self) -> Iterator[tuple[str, ...]]:
        """Every line as Casbin fields: ``("p", sub, obj, act, eft)`` and ``("g", member, role)``."""
        for effect, table in ((ALLOW, self._allow), (DENY, self._deny)):
            for obj, by_act in table.items():
                for act, bucket in by_act.items():
                    for s in bucket:
                        yield ("p", s, obj, act, effect)
        for member, roles in self._parents.items():
            for role in roles:
                yield ("g", member, role)


def _rule_key(r: Rule) -> tuple[str, str, str]:
    return (r.obj, r.subject, r.act)
