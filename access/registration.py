"""Registering datasets and views as a principal: the check, the registration and the owner's grant in one go.

The API, the CLI and the UI register through these functions and nothing else:

* :func:`register_dataset` needs ``propose`` on the dataset's domain; the
  dataset's rows, its data key, its search documents and its owner's
  ``admin`` grant (with the policy change log and audit entries) commit in one
  catalog transaction, once its table exists;
* :func:`apply_views` (and :func:`create_view_version` for one view) needs
  ``propose`` on the domain of each new view and ``write`` on each existing
  one; the new versions and every view's owner grant commit in one
  transaction.

* :func:`may_refresh_view` says who may refresh a view or set its schedule:
  the view's owner (the user, or a member of the owner team) holding
  ``write`` on it, or whoever has ``admin`` on it (lake admins included).
  Applying a new version of a table view queues its refresh
  (:func:`views.refreshes.queue_refresh`) whoever applied it: its readers
  keep the previous version's rows, marked stale, until the run succeeds.

Once committed, each new dataset and view version is announced as an
OpenLineage ``DatasetEvent`` (:meth:`views.events.LineageEmitter.registered`:
the events file under the home, or ``LAKEGATE_OPENLINEAGE_URL``).

The owner of a dataset or view (a user, or a team role made a group if it is
not one yet) gets ``admin`` on it, recorded as the lake's own change
(``lakegate``), as :meth:`AccessControl.grant_owner` does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from access.policy import SYSTEM_ACTOR
from access.resources import Action, Resource
from lake.contracts import Contract, parse_contract
from lake.datasets import DatasetInfo
from lake.errors import NotFound

if TYPE_CHECKING:
    from access.policy import AccessControl
    from views.definition import ViewDefinition
    from views.registry import Plan, PlanItem
    from views.versions import VersionRecord

log = logging.getLogger(__name__)

#: What a registration's lineage event says: table URI (none for a view), columns with types, version.
Described = tuple[str | None, Sequence[tuple[str, str | None]], int | None]

#: The actor recorded on owner grants (the lake's own rule, not the registering principal's choice).
OWNER_GRANT_ACTOR = SYSTEM_ACTOR


def register_dataset(access: AccessControl, contract: Contract | Mapping[str, Any] | str, *, by: str
                     ) -> DatasetInfo:
    """Register a dataset with its first contract as ``by``, with its owner's grant.

    Args:
        access: The access layer of the lake.
        contract: The data contract (parsed, a mapping, or YAML/JSON text).
        by: The principal registering it (recorded as its creator).

    Returns:
        The registered dataset.

    Raises:
        InvalidContract: The contract is malformed.
        AccessDenied: ``by`` may not propose on the dataset's domain (nothing is written).
        AlreadyExists: The dataset is registered already.
    """
    parsed = contract if isinstance(contract, Contract) else parse_contract(contract)
    actor = access.acting(by)
    access.require(actor, Action.PROPOSE, Resource.domain_(parsed.domain))

    def owner_grant(session: Session, info: DatasetInfo) -> None:
        with access.policies.within(session, OWNER_GRANT_ACTOR) as tx:
            access.owner_grant(tx, info.name, info.owner, Resource.table(info.name))

    info = access.lake.datasets.register(parsed, actor=actor, within=owner_grant)
    access.changed_elsewhere()
    _announce(access, info.name, lambda: (info.table_uri, [(c.name, _spark_type(c.storage_type))
                                                             for c in info.contract.columns], None))
    return info


def may_write_views(access: AccessControl, names: Sequence[str], *, by: str) -> str:
    """Pass if ``by`` may create or change each view: ``propose`` on a new view's domain, ``write`` on an
    existing view (audited); return the acting principal.

    Raises:
        AccessDenied: For the first view it may not write.
    """
    from views import catalog
    from views.names import parse_ref

    actor = access.acting(by)
    for name in names:
        target = Resource.view(parse_ref(name).qualified)
        try:
            catalog.get_view(access.lake, target.qualified, allow_retired=True)
        except NotFound:
            access.require(actor, Action.PROPOSE, Resource.domain_(target.domain))
        else:
            access.require(actor, Action.WRITE, target)
    return actor


def apply_views(access: AccessControl, definitions: Sequence[ViewDefinition], *, by: str,
                major: Collection[str] = (), message: str = "", spark_check: bool = True,
                refresh: bool = True) -> Plan:
    """Create the new versions of a set of views as ``by``, with each view's owner grant, in one transaction.

    Args:
        access: The access layer of the lake.
        definitions: The views to create or change.
        by: The principal applying them (author of each version, owner of new views without one).
        major: Views whose breaking change is declared a new major version.
        message: Recorded with each new version.
        spark_check: Compile with Spark's analyzer first.
        refresh: Queue a refresh of each new version of a table view (the
            server's scheduler runs it; ``lakegate views refresh --due`` too).

    Returns:
        The applied plan.

    Raises:
        AccessDenied: ``by`` may not write one of the views (nothing is written).
        BreakingViewChange, Conflict, ViewCompileError, ViewCycle, InvalidViewDefinition:
            As for :func:`views.registry.apply`.
    """
    from views import registry

    actor = may_write_views(access, [d.name for d in definitions], by=by)
    plan = registry.apply(access.lake, definitions, actor=actor, major=major, message=message,
                          spark_check=spark_check, within=_view_owner_grants(access))
    access.changed_elsewhere()
    for item in plan.changed:
        _announce(access, item.name, functools.partial(_view_described, item.record))
    if refresh:
        from views.refreshes import queue_refresh

        for item in plan.changed:
            queue_refresh(access.lake, item.name, item.record.version, actor=actor, trigger="apply")
    return plan


def can_refresh_view(access: AccessControl, subject: str, owner: str, name: str) -> bool:
    """Whether ``subject`` may refresh view ``name`` owned by ``owner`` (or set its schedule): ``admin`` on
    it (lake admins included), or its owner (the user, or a member of the owner team) with ``write`` on it."""
    target = Resource.view(name)
    if access.can(subject, Action.ADMIN, target):
        return True
    is_owner = bool(owner) and (owner == subject or owner in access.roles_of(subject))
    return is_owner and access.can(subject, Action.WRITE, target)


def may_refresh_view(access: AccessControl, name: str, *, by: str) -> str:
    """Pass if ``by`` may refresh ``name`` or set its schedule (:func:`can_refresh_view`; the decision is
    audited); return the acting principal. The API, the CLI and the UI all ask this.

    Raises:
        ViewNotFound: No such view.
        AccessDenied: Neither owner with write nor admin.
    """
    from access.audit import AuditKind, Decision
    from lake.errors import AccessDenied
    from views import catalog

    actor = access.acting(by)
    info = catalog.get_view(access.lake, name, allow_retired=True)
    allowed = can_refresh_view(access, actor, info.owner, info.name)
    reason = "" if allowed else (f"only the view's owner ({info.owner or 'none'}) with write on it, or an admin, "
                                 "may refresh it or set its schedule")
    access.audit.record(AuditKind.DECISION, actor=actor, action="refresh", resource=Resource.view(info.name).key,
                        decision=Decision.ALLOW if allowed else Decision.DENY,
                        detail={"reason": reason} if reason else None)
    if not allowed:
        raise AccessDenied(actor, "refresh", f"view {info.name}", reason)
    return actor


def create_view_version(access: AccessControl, definition: ViewDefinition, *, by: str, major: bool = False,
                        message: str = "", spark_check: bool = True, refresh: bool = True) -> PlanItem:
    """:func:`apply_views` for one view: its next version (version 1 of a new one), or ``unchanged``."""
    done = apply_views(access, [definition], by=by, major={definition.name} if major else (), message=message,
                       spark_check=spark_check, refresh=refresh)
    return done.items[0]


def _view_owner_grants(access: AccessControl) -> Any:
    def grants(session: Session, items: Sequence[PlanItem]) -> None:
        with access.policies.within(session, OWNER_GRANT_ACTOR) as tx:
            for item in items:
                access.owner_grant(tx, item.name, item.record.owner, Resource.view(item.name))

    return grants


def _view_described(record: VersionRecord) -> Described:
    return None, [(c.name, c.sql_type) for c in record.columns], record.version


def _spark_type(arrow_type: Any) -> str:
    from views.types import from_arrow

    return from_arrow(arrow_type)


def _announce(access: AccessControl, name: str, describe: Callable[[], Described]) -> None:
    """Emit the OpenLineage event of a registration that committed; ``describe`` gives its table URI,
    columns and version. Never raises: the registration stands whatever happens here."""
    from views.events import LineageDataset, LineageEmitter

    try:
        table_uri, columns, version = describe()
        LineageEmitter.from_settings(access.lake.settings).registered(
            LineageDataset(name, table_uri, tuple(columns), version))
    except Exception as exc:  # noqa: BLE001 - lineage must never fail a registration
        log.warning("could not emit the OpenLineage event of registering %s: %s", name, exc)
