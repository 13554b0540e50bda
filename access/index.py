"""The decision index: Casbin's answers in microseconds.

It holds the same ``p`` and ``g`` lines as the Casbin policy and answers
``enforce(sub, obj, act)`` of the model in ``model.conf`` without evaluating
the matcher line by line:

* the subject's roles are a cached closure over the ``g`` graph, cut at
  Casbin's default hierarchy depth (a role nine links away still counts, ten
  does not), and invalidated only for the subjects a membership change touches;
* the object's ancestors come from :meth:`Resource.lineage` (the ``g2`` lines
  of the model are exactly these links);
* rules are dictionaries keyed by object and action, so a decision looks at
  ``len(lineage) * 2`` buckets and intersects each with the closure.

Every change (add or remove a line) is O(1) plus the invalidation. Expiring
lines carry their expiry and stop counting at decision time; no one has to
remove them. The property test in ``tests/access/test_index_vs_casbin.py``
checks the answers against ``casbin.Enforcer``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Casbin's default role manager follows at most this many ``g`` links (max_hierarchy_level 10).
MAX_HOPS = 9
ADMIN = "admin"
ALLOW = "allow"
DENY = "deny"

_Bucket = dict[str, float | None]  # subject -> expiry (epoch seconds) or None


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
        self._parents: dict[str, dict[str, float | None]] = {}  # member -> role -> expiry
        self._closures: dict[str, tuple[frozenset[str], float]] = {}  # subject -> (closure, valid until)
        self._holders: dict[str, set[str]] = {}  # node -> cached subjects whose closure holds it
        self.rules = 0
        self.links = 0

    # -- changes ---------------------------------------------------------------------

    def add_rule(self, subject: str, obj: str, act: str, effect: str, expires: float | None = None) -> None:
        table = self._allow if effect == ALLOW else self._deny
        bucket = table.setdefault(obj, {}).setdefault(act, {})
        if subject not in bucket:
            self.rules += 1
        bucket[subject] = expires

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

    def _invalidate(self, node: str) -> None:
        for subject in self._holders.pop(node, set()):
            cached = self._closures.pop(subject, None)
            if cached is not None:
                for n in cached[0]:
                    if n != node:
                        self._holders.get(n, set()).discard(subject)

    # -- questions --------------------------------------------------------------------

    def closure(self, subject: str, now: float) -> frozenset[str]:
        """``subject`` and every role it holds within Casbin's depth, at time ``now``."""
        cached = self._closures.get(subject)
        if cached is not None and cached[1] > now:
            return cached[0]
        if cached is not None:
            self._drop(subject, cached[0])
        seen = {subject}
        frontier = [subject]
        valid_until = float("inf")
        parents = self._parents
        for _ in range(MAX_HOPS):
            nxt = []
            for node in frontier:
                for role, exp in parents.get(node, {}).items():
                    if exp is not None:
                        if exp <= now:
                            continue
                        valid_until = min(valid_until, exp)
                    if role not in seen:
                        seen.add(role)
                        nxt.append(role)
            if not nxt:
                break
            frontier = nxt
        result = frozenset(seen)
        self._closures[subject] = (result, valid_until)
        for n in result:
            self._holders.setdefault(n, set()).add(subject)
        return result

    def _drop(self, subject: str, closure: frozenset[str]) -> None:
        del self._closures[subject]
        for n in closure:
            self._holders.get(n, set()).discard(subject)

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
