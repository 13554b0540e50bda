"""Metric definitions moving through their lifecycle and approval chain.

Every action runs in one catalog transaction that reads the metric, checks
the lifecycle and chain rules, writes its rows (revision, approval, event,
notices) and updates the metric row. That update carries the row's
``lock_version`` (see :mod:`metrics_catalog.models`): when another action
committed in between, nothing is written and the action is re-run from the
start on fresh state, up to :data:`ATTEMPTS` times. Two approvers acting at
once thus apply one after the other and the chain moves once, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lake.auth import Principal
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, AlreadyExists, Conflict, InvalidInput, NotFound
from lake.notify import NoticeKind, mark_done, post
from lake.service import Lake
from metrics_catalog import approvals as rules
from metrics_catalog.authz import Permissions
from metrics_catalog.chain_store import chain_of
from metrics_catalog.chains import ApprovalChain, Stage, parse_chain
from metrics_catalog.definition import MetricDefinition, parse_definition
from metrics_catalog.errors import ConcurrentChange, IllegalTransition, InvalidMetric
from metrics_catalog.info import ApprovalInfo, EventInfo, MetricInfo, RevisionInfo
from metrics_catalog.lifecycle import (
    Decision,
    MetricAction,
    Status,
    allowed_actions,
    next_status,
)
from metrics_catalog.models import ApprovalRow, EventRow, MetricRow, RevisionRow
from metrics_catalog.normalize import fingerprint
from metrics_catalog.reads import (
    approval_info,
    definition_of,
    event_info,
    metric_info,
    metric_row,
    revision_info,
    revision_row,
)
from metrics_catalog.sources import SourceResolver
from metrics_catalog.validate import validate

T = TypeVar("T")

#: Times an action is re-run after losing a race before giving up.
ATTEMPTS = 8
#: Notices that ask an approver to review: open while the proposal waits at their stage.
REVIEW_NOTICES = (NoticeKind.STAGE_REACHED, NoticeKind.REVISED)
_WAITING = (Status.PROPOSED.value, Status.IN_REVIEW.value)
#: Session info key: who decided in this action (their review notices are done).
_DECIDED_BY = "lakegate.decided_by"


def close_review_notices(s: Session, row: MetricRow, *, deciders: Sequence[str] = ()) -> int:
    """Mark done, for everyone, the review notices of ``row`` that no longer wait for anyone.

    A "waits for your review" notice stays open only while the metric is in
    review at the notice's stage (a new revision at the same stage still needs
    that stage); once the stage moves on or the metric leaves review (certified,
    rejected, sent back, withdrawn), it is done; for ``deciders`` (who just
    decided) it is done in any case.
    """
    waiting = row.status in _WAITING

    def still_waiting(payload: dict[str, Any]) -> bool:
        return waiting and payload.get("stage") == row.stage

    closed = mark_done(s, row.name, REVIEW_NOTICES, still_waiting=still_waiting)
    if deciders:
        closed += mark_done(s, row.name, REVIEW_NOTICES, recipients=deciders)
    return closed


class Workflow:
    """Create, revise, propose, review, decide and retire metrics.

    Args:
        lake: The lake (catalog and users).
        resolver: Finds the view (or dataset) a definition aggregates.
        permissions: The access layer's decisions (see :mod:`metrics_catalog.authz`).
        after_commit: Called after each committed action (delivers the outbox).
    """

    def __init__(self, lake: Lake, resolver: SourceResolver, permissions: Permissions,
                 after_commit: Callable[[], None] | None = None) -> None:
        self.lake = lake
        self.catalog = lake.catalog
        self.resolver = resolver
        self.permissions = permissions
        self.after_commit = after_commit
        #: Actions re-run because another one changed the metric first (for monitoring and tests).
        self.retries = 0

    # -- plumbing ----------------------------------------------------------------------

    def _principal(self, actor: str | Principal) -> Principal:
        return self.lake.users.get(actor if isinstance(actor, str) else actor.name)

    def _atomic(self, name: str, action: Callable[[Session, MetricRow], T]) -> T:
        for attempt in range(ATTEMPTS):
            try:
                with self.catalog.session() as s:
                    row = metric_row(s, name)
                    result = action(s, row)
                    row.updated_at = utcnow()  # always UPDATE, so the lock version is checked and bumped
                    s.flush()
                    # Notices are updated only once the metric row is locked: two actions on one
                    # metric then lock rows in the same order (no deadlock on PostgreSQL).
                    close_review_notices(s, row, deciders=s.info.pop(_DECIDED_BY, ()))
                    s.flush()
                committed = result
                break
            except StaleDataError:
                self.retries += 1
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        else:
            raise ConcurrentChange(name, ATTEMPTS)
        if self.after_commit is not None:
            self.after_commit()
        return committed

    def _info(self, name: str) -> MetricInfo:
        with self.catalog.session() as s:
            return metric_info(s, metric_row(s, name))

    @staticmethod
    def _event(s: Session, row: MetricRow, action: MetricAction | str, before: str, actor: str, reason: str = "",
               session_id: int | None = None, *, stage: str | None = None) -> None:
        """Record what happened; ``stage`` is where it happened (a decision's stage, not the one it leads to)."""
        s.add(EventRow(metric_id=row.id, action=str(action), from_status=before, to_status=row.status,
                       revision=row.current_revision, stage=stage if stage is not None else row.stage, actor=actor,
                       reason=reason, session_id=session_id))

    def check(self, definition: MetricDefinition) -> MetricDefinition:
        """``definition`` validated against its view, with the view version pinned (nothing is saved).

        Raises:
            InvalidMetric: naming the field, and the line and column in SQL.
        """
        return self._source(definition)

    def _source(self, definition: MetricDefinition) -> MetricDefinition:
        """Validate against the source and pin the view version."""
        try:
            source = self.resolver.resolve(definition.view, definition.view_version)
        except NotFound as exc:
            raise InvalidMetric(definition.name, "view", exc.message) from None
        validate(definition, source)
        if definition.view_version is None:
            definition = definition.model_copy(update={"view_version": source.version})
        return definition

    def _eligible(self, s: Session, row: MetricRow, stage: Stage) -> builtins.list[str]:
        """Who may decide at ``stage`` of ``row`` now, to be told it waits for them: holders of one of the
        stage's roles, not an author, not already approving a stage of this round, allowed ``approve``."""
        authors = rules.authors(s, row)
        decided = {a.approver for a in rules.round_approvals(s, row)}
        return [p for p in rules.holders(s, stage.roles, exclude=authors) if p not in decided
                and self.permissions.may_approve(Principal(p, rules.roles_of(s, p)), row.name)]

    def _may_edit(self, s: Session, row: MetricRow, principal: Principal, what: str) -> None:
        insider = principal.is_admin or principal.name in rules.authors(s, row) or _owns(row.owner, principal)
        if insider and self.permissions.may_author(principal, row.name):
            return
        raise AccessDenied(principal.name, what, f"metric:{row.name}",
                           "only its authors, its owner or an admin may")

    def may_edit(self, name: str, *, actor: str) -> bool:
        """Whether ``actor`` may revise, propose and withdraw ``name`` (the rule those actions apply).

        Interfaces ask this to offer the actions; the actions check it again.
        """
        principal = self._principal(actor)
        with self.catalog.session() as s:
            try:
                self._may_edit(s, metric_row(s, name), principal, "edit")
            except AccessDenied:
                return False
        return True

    def _may_manage(self, row: MetricRow, principal: Principal, what: str) -> None:
        if _owns(row.owner, principal) or self.permissions.may_administer(principal, row.domain):
            return
        raise AccessDenied(principal.name, what, f"metric:{row.name}", "only its owner or a domain admin may")

    # -- definitions -------------------------------------------------------------------

    def create(self, doc: MetricDefinition | Mapping[str, Any] | str, *, actor: str, message: str = "") -> MetricInfo:
        """Save a new metric as a draft (revision 1), validated against its view.

        Raises:
            InvalidMetric: the definition is wrong (field, line and column).
            AlreadyExists: the name is taken.
            AccessDenied: the access layer refuses ``propose`` on the metric.
        """
        principal = self._principal(actor)
        definition = doc if isinstance(doc, MetricDefinition) else parse_definition(doc)
        if not self.permissions.may_author(principal, definition.name):
            raise AccessDenied(principal.name, "propose", f"metric:{definition.name}")
        definition = self._source(definition)
        owner = definition.owner or principal.name
        definition = definition.model_copy(update={"owner": owner})
        print_ = fingerprint(definition.view, definition.expression)
        try:
            with self.catalog.session() as s:
                row = MetricRow(name=definition.name, domain=definition.domain, status=Status.DRAFT.value,
                                owner=owner, created_by=principal.name, current_revision=1, view=definition.view,
                                fingerprint=print_, round=0, reason="")
                s.add(row)
                s.flush()
                s.add(RevisionRow(metric_id=row.id, number=1, definition=definition.to_dict(), changed=[],
                                  fingerprint=print_, author=principal.name, message=message or "created"))
                self._event(s, row, "create", "", principal.name)
        except IntegrityError:
            raise AlreadyExists(f"metric {definition.name} already exists; edit it to make a new revision") from None
        return self._info(definition.name)

    def revise(self, name: str, changes: MetricDefinition | Mapping[str, Any], *, actor: str, message: str = "",
               ) -> MetricInfo:
        """Make a new revision with ``changes`` (a whole definition or some fields).

        In review, the approvals of every stage that reviews a changed field
        are reset and the chain goes back to the first stage short of its
        quorum. An approved metric goes back to draft; its certified revision
        keeps being served until a new one is approved.
        """
        principal = self._principal(actor)

        def act(s: Session, row: MetricRow) -> None:
            status = Status(row.status)
            target = next_status(name, status, MetricAction.REVISE)
            self._may_edit(s, row, principal, "revise")
            old = definition_of(revision_row(s, row))
            new = changes if isinstance(changes, MetricDefinition) else old.with_changes(changes)
            if new.name != name:
                raise InvalidMetric(name, "name", "a metric cannot be renamed; create a new metric")
            if "view_version" not in _keys(changes) and new.view != old.view:
                new = new.model_copy(update={"view_version": None})
            new = self._source(new)
            changed = new.changed_fields(old)
            if not changed:
                raise InvalidInput(f"metric {name}: the edit changes nothing; revision {row.current_revision} stays")
            number = row.current_revision + 1
            print_ = fingerprint(new.view, new.expression)
            s.add(RevisionRow(metric_id=row.id, number=number, definition=new.to_dict(), changed=changed,
                              fingerprint=print_, author=principal.name, message=message))
            row.current_revision, row.fingerprint, row.view, row.owner = number, print_, new.view, new.owner
            before = row.status
            row.status = target.value
            if status in (Status.APPROVED, Status.REJECTED):
                row.stage, row.chain = None, None
            if row.chain is not None and status in (Status.PROPOSED, Status.IN_REVIEW, Status.CHANGES_REQUESTED):
                self._reset_stages(s, row, parse_chain(row.chain), changed, number, principal.name)
            self._event(s, row, MetricAction.REVISE, before, principal.name, f"changed {', '.join(changed)}")

        self._atomic(name, act)
        return self._info(name)

    def _reset_stages(self, s: Session, row: MetricRow, chain: ApprovalChain, changed: list[str], number: int,
                      actor: str) -> None:
        affected = {st.name for st in chain.stages if st.affected_by(changed)}
        for approval in rules.round_approvals(s, row):
            if approval.stage in affected:
                approval.valid, approval.reset_by_revision = False, number
        s.flush()
        stage = rules.current_stage(chain, rules.round_approvals(s, row))
        previous, row.stage = row.stage, stage.name if stage is not None else chain.stages[-1].name
        if stage is not None and affected:
            who = self._eligible(s, row, stage)
            post(s, who, NoticeKind.REVISED, row.name, f"{row.name} revision {number} needs your review again",
                 f"{actor} changed {', '.join(changed)}; approvals of stage(s) {', '.join(sorted(affected))} "
                 f"were reset. The chain is at stage {stage.name} (was {previous}).",
                 {"revision": number, "stage": stage.name, "reset": sorted(affected)})

    # -- the chain ---------------------------------------------------------------------

    def propose(self, name: str, *, actor: str, message: str = "") -> MetricInfo:
        """Submit a draft (or a changed proposal) to the domain's approval chain.

        Raises:
            InvalidMetric: no description, or the definition no longer fits its view.
            NotFound: the domain has no approval chain.
            IllegalTransition: the metric is not a draft or has no changes requested.
        """
        principal = self._principal(actor)

        def act(s: Session, row: MetricRow) -> None:
            status = Status(row.status)
            target = next_status(name, status, MetricAction.PROPOSE)
            self._may_edit(s, row, principal, "propose")
            definition = definition_of(revision_row(s, row))
            if not definition.description.strip():
                raise InvalidMetric(name, "description", "a metric needs a description (markdown) before review")
            self._source(definition)
            if status is Status.DRAFT or row.chain is None:
                chain = chain_of(s, row.domain)
                if chain is None:
                    raise NotFound(f"domain {row.domain} has no approval chain, so {name} cannot be proposed; "
                                   "an admin sets one first")
                row.round += 1
                row.chain = {"domain": chain.domain, "stages": chain.to_dict()["stages"]}
            chain = parse_chain(row.chain)
            stage = rules.current_stage(chain, rules.round_approvals(s, row)) or chain.stages[0]
            before = row.status
            row.status, row.stage, row.reason = target.value, stage.name, ""
            self._event(s, row, MetricAction.PROPOSE, before, principal.name, message)
            info = metric_info(s, row)
            dup = ""
            if info.duplicates:
                dup = " Possible duplicate of: " + ", ".join(d.name for d in info.duplicates) + "."
            post(s, self._eligible(s, row, stage), NoticeKind.STAGE_REACHED, name,
                 f"{name} waits for your review at stage {stage.name}",
                 f"{principal.name} proposed revision {row.current_revision} of {name}.{dup}",
                 {"revision": row.current_revision, "stage": stage.name,
                  "duplicates": [d.name for d in info.duplicates]})

        self._atomic(name, act)
        return self._info(name)

    def start_review(self, name: str, *, actor: str, session_id: int | None = None,
                     also: Callable[[Session, MetricRow], None] | None = None) -> MetricInfo:
        """Take a proposal into review (an approver of its stage, a domain admin, or a meeting).

        ``also`` runs in the same transaction (a meeting records its minutes there).
        """
        principal = self._principal(actor)

        def act(s: Session, row: MetricRow) -> None:
            target = next_status(name, Status(row.status), MetricAction.START_REVIEW)
            chain = parse_chain(row.chain or {})
            stage = chain.stage(row.stage or chain.stages[0].name)
            approver = (principal.name not in rules.authors(s, row)
                        and bool(set(stage.roles) & set(rules.roles_of(s, principal.name))))
            if not approver and not self.permissions.may_administer(principal, row.domain):
                raise AccessDenied(principal.name, "start_review", f"metric:{name}",
                                   f"an approver of stage {stage.name!r} (not an author) or a domain admin may")
            before = row.status
            row.status = target.value
            self._event(s, row, MetricAction.START_REVIEW, before, principal.name, session_id=session_id)
            if also is not None:
                also(s, row)

        self._atomic(name, act)
        return self._info(name)

    def decide(self, name: str, decision: Decision | str, *, actor: str, reason: str = "",
               revision: int | None = None, session_id: int | None = None,
               also: Callable[[Session, MetricRow], None] | None = None) -> MetricInfo:
        """Approve, request changes or reject at the metric's current stage.

        Args:
            name: The metric.
            decision: What the approver decides.
            actor: The approver.
            reason: Why; required to reject or request changes.
            revision: The revision the approver reviewed; refused if it is no
                longer the current one.
            session_id: The review meeting session the decision was taken in.
            also: Runs in the same transaction after the decision (meeting minutes).

        Raises:
            IllegalTransition: the metric is not in review (naming what is allowed).
            ApprovalRefused: a chain rule forbids it (author, role, access, two stages, twice).
            Conflict: ``revision`` is not the current revision.
        """
        principal = self._principal(actor)
        decision = Decision.parse(decision) if isinstance(decision, str) else decision
        if decision is not Decision.APPROVE and not reason.strip():
            raise InvalidInput(f"a reason is required to {decision.value.replace('_', ' ')}")

        def act(s: Session, row: MetricRow) -> None:
            status = Status(row.status)
            target = next_status(name, status, decision.action)
            if revision is not None and revision != row.current_revision:
                raise Conflict(f"metric {name} is at revision {row.current_revision}, not {revision}; "
                               "review the current revision")
            chain = parse_chain(row.chain or {})
            stage = rules.current_stage(chain, rules.round_approvals(s, row))
            if stage is None:  # cannot happen in review: the last approval certifies
                raise IllegalTransition(name, row.status, decision.value, allowed_actions(status))
            rules.check_decider(s, row, stage, principal, self.permissions)
            s.add(ApprovalRow(metric_id=row.id, round=row.round, stage=stage.name, revision=row.current_revision,
                              approver=principal.name, decision=decision.value, reason=reason,
                              session_id=session_id, valid=True))
            s.flush()
            s.info[_DECIDED_BY] = (principal.name,)
            before = row.status
            authors = rules.authors(s, row)
            owner_people = [row.owner] if row.owner not in authors else []
            if decision is Decision.APPROVE:
                nxt = rules.current_stage(chain, rules.round_approvals(s, row))
                if nxt is None:
                    row.status, row.stage, row.certified_revision = Status.APPROVED.value, None, row.current_revision
                    row.reason = reason
                    self._event(s, row, "certify", before, principal.name, reason, session_id, stage=stage.name)
                    post(s, authors + owner_people, NoticeKind.DECISION, name,
                         f"{name} revision {row.current_revision} is approved and certified",
                         f"{principal.name} gave the last approval (stage {stage.name}).",
                         {"decision": "approved", "revision": row.current_revision})
                    return
                row.status = target.value
                if nxt.name != stage.name:
                    row.stage = nxt.name
                    post(s, self._eligible(s, row, nxt), NoticeKind.STAGE_REACHED, name,
                         f"{name} waits for your review at stage {nxt.name}",
                         f"Stage {stage.name} approved revision {row.current_revision}.",
                         {"revision": row.current_revision, "stage": nxt.name})
                self._event(s, row, MetricAction.APPROVE, before, principal.name, reason, session_id, stage=stage.name)
                return
            row.status, row.reason = target.value, reason
            if decision is Decision.REJECT:
                row.stage = None
            self._event(s, row, decision.action, before, principal.name, reason, session_id, stage=stage.name)
            word = "rejected" if decision is Decision.REJECT else "sent back for changes"
            post(s, authors + owner_people, NoticeKind.DECISION, name,
                 f"{name} revision {row.current_revision} was {word}",
                 f"{principal.name} at stage {stage.name}: {reason}",
                 {"decision": decision.value, "revision": row.current_revision, "stage": stage.name,
                  "reason": reason})

        def act_and_record(s: Session, row: MetricRow) -> None:
            act(s, row)
            if also is not None:
                also(s, row)

        self._atomic(name, act_and_record)
        return self._info(name)

    def _simple(self, name: str, action: MetricAction, actor: str, reason: str,
                check: Callable[[Session, MetricRow, Principal], None]) -> MetricInfo:
        principal = self._principal(actor)

        def act(s: Session, row: MetricRow) -> None:
            target = next_status(name, Status(row.status), action)
            check(s, row, principal)
            before = row.status
            row.status, row.reason = target.value, reason
            if target is Status.DRAFT:
                row.stage, row.chain = None, None
            self._event(s, row, action, before, principal.name, reason)

        self._atomic(name, act)
        return self._info(name)

    def withdraw(self, name: str, *, actor: str, reason: str = "") -> MetricInfo:
        """Take a proposal out of its chain, back to draft (the round ends)."""
        return self._simple(name, MetricAction.WITHDRAW, actor, reason,
                            lambda s, row, p: self._may_edit(s, row, p, "withdraw"))

    def deprecate(self, name: str, *, actor: str, reason: str) -> MetricInfo:
        """Mark a certified metric deprecated; its values are still served, flagged."""
        if not reason.strip():
            raise InvalidInput("a reason is required to deprecate a metric (what to use instead)")
        return self._simple(name, MetricAction.DEPRECATE, actor, reason,
                            lambda s, row, p: self._may_manage(row, p, "deprecate"))

    def reinstate(self, name: str, *, actor: str, reason: str = "") -> MetricInfo:
        return self._simple(name, MetricAction.REINSTATE, actor, reason,
                            lambda s, row, p: self._may_manage(row, p, "reinstate"))

    def retire(self, name: str, *, actor: str, reason: str = "") -> MetricInfo:
        """Retire a metric for good; its values are no longer served."""
        return self._simple(name, MetricAction.RETIRE, actor, reason,
                            lambda s, row, p: self._may_manage(row, p, "retire"))

    # -- reads -------------------------------------------------------------------------

    def get(self, name: str) -> MetricInfo:
        return self._info(name)

    def list(self, *, domain: str | None = None, status: Status | str | None = None) -> builtins.list[MetricInfo]:
        with self.catalog.session() as s:
            q = select(MetricRow).order_by(MetricRow.name)
            if domain is not None:
                q = q.where(MetricRow.domain == domain)
            if status is not None:
                q = q.where(MetricRow.status == (Status.parse(status) if isinstance(status, str) else status).value)
            return [metric_info(s, r) for r in s.scalars(q)]

    def revisions(self, name: str) -> builtins.list[RevisionInfo]:
        with self.catalog.session() as s:
            row = metric_row(s, name)
            return [revision_info(r) for r in s.scalars(
                select(RevisionRow).where(RevisionRow.metric_id == row.id).order_by(RevisionRow.number))]

    def revision(self, name: str, number: int) -> RevisionInfo:
        with self.catalog.session() as s:
            return revision_info(revision_row(s, metric_row(s, name), number))

    def approvals(self, name: str) -> builtins.list[ApprovalInfo]:
        with self.catalog.session() as s:
            row = metric_row(s, name)
            return [approval_info(a) for a in s.scalars(
                select(ApprovalRow).where(ApprovalRow.metric_id == row.id).order_by(ApprovalRow.id))]

    def history(self, name: str) -> builtins.list[EventInfo]:
        with self.catalog.session() as s:
            row = metric_row(s, name)
            return [event_info(e) for e in s.scalars(
                select(EventRow).where(EventRow.metric_id == row.id).order_by(EventRow.id))]


def _owns(owner: str, principal: Principal) -> bool:
    return bool(owner) and (owner == principal.name or owner in principal.roles)


def _keys(changes: MetricDefinition | Mapping[str, Any]) -> set[str]:
    return set(changes.model_fields_set) if isinstance(changes, MetricDefinition) else set(changes)
