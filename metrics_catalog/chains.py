"""Approval chains: the ordered stages a proposal passes, configured per domain.

Each stage names the roles whose holders may approve at it, how many distinct
approvals it needs (its quorum), and which fields of a definition it reviews.
A new revision resets the approvals of the stages that review a field it
changed; the others keep theirs.

A chain document (YAML or JSON)::

    domain: playback
    stages:
      - name: tech
        roles: [metric_tech_approver]
        quorum: 1
        reviews: technical        # the fields that change what is computed
      - name: business
        roles: [metric_business_approver]
        quorum: 2
        reviews: all              # the default
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from lake.contracts import NAME_RE
from lake.nesting import load_yaml
from metrics_catalog.definition import ALL_FIELDS, BUSINESS_FIELDS, TECHNICAL_FIELDS
from metrics_catalog.errors import InvalidChain

_GROUPS: dict[str, tuple[str, ...]] = {"all": ALL_FIELDS, "technical": TECHNICAL_FIELDS, "business": BUSINESS_FIELDS}
_STAGE_KEYS = {"name", "roles", "quorum", "reviews"}


@dataclass(frozen=True)
class Stage:
    name: str
    roles: tuple[str, ...]
    quorum: int = 1
    reviews: tuple[str, ...] = ALL_FIELDS

    def affected_by(self, changed: Iterable[str]) -> bool:
        return any(f in self.reviews for f in changed)

    def to_dict(self) -> dict[str, Any]:
        reviews: Any = list(self.reviews)
        for group, fields in _GROUPS.items():
            if self.reviews == fields:
                reviews = group
        return {"name": self.name, "roles": list(self.roles), "quorum": self.quorum, "reviews": reviews}


@dataclass(frozen=True)
class ApprovalChain:
    domain: str
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def index(self, name: str) -> int:
        return [s.name for s in self.stages].index(name)

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "stages": [s.to_dict() for s in self.stages]}


def _reviews(domain: str, where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ALL_FIELDS
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise InvalidChain(domain, "must be 'all', 'technical', 'business' or a list of fields", where=where)
    fields: list[str] = []
    for item in items:
        if item in _GROUPS:
            fields.extend(_GROUPS[item])
        elif item in ALL_FIELDS:
            fields.append(item)
        else:
            known = ", ".join([*_GROUPS, *ALL_FIELDS])
            raise InvalidChain(domain, f"unknown field {item!r}; expected one of: {known}", where=where)
    return tuple(f for f in ALL_FIELDS if f in fields)


def parse_chain(doc: Mapping[str, Any] | str, *, domain: str | None = None) -> ApprovalChain:
    """Read a chain document.

    Raises:
        InvalidChain: naming the stage and key that is wrong.
    """
    label = domain or "?"
    if isinstance(doc, str):
        try:
            doc = load_yaml(doc)
        except yaml.YAMLError as exc:
            raise InvalidChain(label, f"not valid YAML or JSON: {exc}") from None
    if not isinstance(doc, Mapping):
        raise InvalidChain(label, "a chain is a mapping with 'stages'")
    doc_domain = doc.get("domain", domain)
    if domain is not None and doc_domain != domain:
        raise InvalidChain(domain, f"the document is for domain {doc_domain!r}", where="domain")
    if not isinstance(doc_domain, str) or not NAME_RE.fullmatch(doc_domain):
        raise InvalidChain(label, f"invalid domain name {doc_domain!r}", where="domain")
    label = doc_domain
    unknown = set(doc) - {"domain", "stages"}
    if unknown:
        raise InvalidChain(label, f"unknown keys {sorted(unknown)}; expected domain, stages")
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise InvalidChain(label, "needs at least one stage", where="stages")
    stages: list[Stage] = []
    for i, raw in enumerate(raw_stages):
        where = f"stages[{i}]"
        if not isinstance(raw, Mapping):
            raise InvalidChain(label, "a stage is a mapping with name, roles, quorum, reviews", where=where)
        extra = set(raw) - _STAGE_KEYS
        if extra:
            raise InvalidChain(label, f"unknown keys {sorted(extra)}; expected {sorted(_STAGE_KEYS)}", where=where)
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise InvalidChain(label, f"stage name {name!r} must be lower case letters, digits and '_'",
                               where=f"{where}.name")
        if any(s.name == name for s in stages):
            raise InvalidChain(label, f"stage {name!r} appears twice", where=f"{where}.name")
        roles = raw.get("roles")
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
            raise InvalidChain(label, "needs a non-empty list of roles that may approve", where=f"{where}.roles")
        quorum = raw.get("quorum", 1)
        if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
            raise InvalidChain(label, f"quorum must be a positive integer, got {quorum!r}", where=f"{where}.quorum")
        stages.append(Stage(name, tuple(dict.fromkeys(roles)), quorum,
                            _reviews(label, f"{where}.reviews", raw.get("reviews"))))
    return ApprovalChain(label, tuple(stages))
