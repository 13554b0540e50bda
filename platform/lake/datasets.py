"""The dataset registry: register a dataset with its contract, evolve the
contract, open a new major version on a breaking change.

A dataset ``domain.name`` has one row per major version; each major has its
own Delta table (``.../v<major>``) and a numbered series of contract versions.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import ContractVersion, DataKey, Dataset, Domain
from lake.contracts import Contract, diff_contracts, parse_contract, split_dataset_name
from lake.crypto import KeyProvider, new_data_key
from lake.errors import AlreadyExists, BreakingChange, InvalidContract, NotFound, SchemaChange
from lake.storage import ObjectStore
from lake.tables import CommitInfo, DeltaTableIO

QUARANTINE_SUFFIX = "_quarantine"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset major version as the rest of Lakegate sees it."""

    id: int
    name: str
    domain: str
    major: int
    is_current: bool
    owner: str
    description: str
    table_uri: str
    contract: Contract
    contract_version: int
    created_by: str
    created_at: dt.datetime
    kms_key_id: str | None

    @property
    def quarantine_uri(self) -> str:
        return self.table_uri + QUARANTINE_SUFFIX

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "domain": self.domain,
            "major": self.major,
            "is_current": self.is_current,
            "owner": self.owner,
            "description": self.description,
            "table_uri": self.table_uri,
            "contract_version": self.contract_version,
            "contract": self.contract.to_dict(),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class DomainInfo:
    """A domain of the lake: its name, its owner and when it was created."""

    name: str
    owner: str
    created_at: dt.datetime


def _as_contract(doc: Contract | Mapping[str, Any] | str, dataset: str | None = None) -> Contract:
    if isinstance(doc, Contract):
        if dataset is not None and doc.dataset != dataset:
            raise InvalidContract(f"contract is for {doc.dataset!r}, not {dataset!r}", where="dataset")
        return doc
    return parse_contract(doc, dataset=dataset)


class DatasetRegistry:
    """Datasets and their contracts in the catalog, and their Delta tables."""

    def __init__(self, catalog: Catalog, store: ObjectStore, keys: KeyProvider) -> None:
        self.catalog = catalog
        self.store = store
        self.keys = keys

    # -- reads -----------------------------------------------------------------

    @staticmethod
    def _build(row: Dataset, domain: Domain, cv: ContractVersion) -> DatasetInfo:
        return DatasetInfo(
            id=row.id,
            name=f"{domain.name}.{row.name}",
            domain=domain.name,
            major=row.major,
            is_current=row.is_current,
            owner=row.owner,
            description=row.description,
            table_uri=row.table_uri,
            contract=parse_contract(cv.document),
            contract_version=cv.version,
            created_by=row.created_by,
            created_at=row.created_at,
            kms_key_id=domain.kms_key_id,
        )

    def _info(self, s: Session, row: Dataset) -> DatasetInfo:
        cv = s.scalars(
            select(ContractVersion)
            .where(ContractVersion.dataset_id == row.id)
            .order_by(ContractVersion.version.desc())
            .limit(1)
        ).one()
        domain = s.get(Domain, row.domain_id)
        assert domain is not None
        return self._build(row, domain, cv)

    def _row(self, s: Session, name: str, major: int | None) -> Dataset:
        domain, table = split_dataset_name(name)
        q = select(Dataset).join(Domain).where(Domain.name == domain, Dataset.name == table)
        q = q.where(Dataset.major == major) if major is not None else q.where(Dataset.is_current.is_(True))
        row = s.scalars(q).one_or_none()
        if row is None:
            what = f"{name} major version {major}" if major is not None else name
            raise NotFound(f"dataset {what} does not exist")
        return row

    def get(self, name: str, *, major: int | None = None) -> DatasetInfo:
        """The dataset's current major version, or the given one."""
        with self.catalog.session() as s:
            return self._info(s, self._row(s, name, major))

    def get_by_id(self, dataset_id: int) -> DatasetInfo:
        """A dataset major version by its catalog id."""
        with self.catalog.session() as s:
            row = s.get(Dataset, dataset_id)
            if row is None:
                raise NotFound(f"dataset {dataset_id} does not exist")
            return self._info(s, row)

    def list(self, *, domain: str | None = None, include_old_majors: bool = False) -> list[DatasetInfo]:
        """Datasets (current majors by default) with their newest contracts, in three queries."""
        with self.catalog.session() as s:
            q = select(Dataset, Domain).join(Domain).order_by(Domain.name, Dataset.name, Dataset.major)
            if domain:
                q = q.where(Domain.name == domain)
            if not include_old_majors:
                q = q.where(Dataset.is_current.is_(True))
            rows = s.execute(q).all()
            if not rows:
                return []
            ids = [r.id for r, _ in rows]
            newest = (
                select(ContractVersion.dataset_id, func.max(ContractVersion.version).label("version"))
                .where(ContractVersion.dataset_id.in_(ids))
                .group_by(ContractVersion.dataset_id)
                .subquery()
            )
            contracts = {
                cv.dataset_id: cv
                for cv in s.scalars(select(ContractVersion).join(
                    newest, (ContractVersion.dataset_id == newest.c.dataset_id)
                    & (ContractVersion.version == newest.c.version)))
            }
            return [self._build(row, dom, contracts[row.id]) for row, dom in rows]

    def majors(self, name: str) -> builtins.list[DatasetInfo]:
        """Every major version of the dataset, oldest first (the current one last)."""
        domain, table = split_dataset_name(name)
        found = [i for i in self.list(domain=domain, include_old_majors=True) if i.name == f"{domain}.{table}"]
        if not found:
            raise NotFound(f"dataset {name} does not exist")
        return found

    def domains(self) -> builtins.list[DomainInfo]:
        """Every domain of the lake, by name."""
        with self.catalog.session() as s:
            return [DomainInfo(d.name, d.owner, d.created_at)
                    for d in s.scalars(select(Domain).order_by(Domain.name))]

    def contract_versions(self, name: str, *, major: int | None = None) -> builtins.list[dict[str, Any]]:
        with self.catalog.session() as s:
            row = self._row(s, name, major)
            return [
                {"version": cv.version, "created_by": cv.created_by, "created_at": cv.created_at.isoformat(),
                 "changes": cv.changes, "contract": cv.document}
                for cv in row.contracts
            ]

    def table(self, info: DatasetInfo, *, quarantine: bool = False, exclusive: bool = False) -> DeltaTableIO:
        """The dataset's Delta table (or its quarantine table).

        Args:
            info: The dataset major version.
            quarantine: The quarantine table instead.
            exclusive: The caller holds the table's write lock
                (:meth:`lake.ingest.Ingestor.writing`).
        """
        uri = info.quarantine_uri if quarantine else info.table_uri
        label = f"{info.name} (major {info.major}{', quarantine' if quarantine else ''})"
        return DeltaTableIO(uri, self.store.storage_options(info.domain), label=label, exclusive=exclusive)

    # -- data keys -----------------------------------------------------------------

    @staticmethod
    def _key_context(info_name: str, major: int) -> dict[str, str]:
        return {"lakegate:dataset": info_name, "lakegate:major": str(major)}

    def data_key(self, info: DatasetInfo) -> bytes:
        """The dataset's data key, unwrapped. Never log or return it to callers."""
        with self.catalog.session() as s:
            row = s.scalars(select(DataKey).where(DataKey.dataset_id == info.id)).one_or_none()
            if row is None:
                raise NotFound(f"dataset {info.name} has no data key")
            return self.keys.unwrap(
                row.wrapped_key, context=self._key_context(info.name, info.major), key_ref=row.key_ref
            )

    def _new_data_key(self, s: Session, row: Dataset, name: str, kms_key_id: str | None) -> None:
        wrapped, ref = self.keys.wrap(
            new_data_key(), context=self._key_context(name, row.major), key_id=kms_key_id
        )
        s.add(DataKey(dataset_id=row.id, provider=self.keys.name, key_ref=ref, wrapped_key=wrapped))

    # -- writes -----------------------------------------------------------------

    def ensure_domain(self, s: Session, name: str, owner: str) -> Domain:
        """The domain's catalog row, created (owned by ``owner``) if missing.

        Also asks the store for the domain's KMS key when the row has none yet.
        Runs inside the caller's session ``s``; the caller commits.
        """
        domain = s.scalars(select(Domain).where(Domain.name == name)).one_or_none()
        if domain is None:
            domain = Domain(name=name, owner=owner)
            domain.kms_key_id = self.store.ensure_domain(name)
            s.add(domain)
            s.flush()
        elif domain.kms_key_id is None:
            domain.kms_key_id = self.store.ensure_domain(name)
        return domain

    def _create_table(self, contract: Contract, row: Dataset, domain: str, actor: str, reason: str) -> None:
        table = DeltaTableIO(row.table_uri, self.store.storage_options(domain))
        if table.exists():
            raise AlreadyExists(
                f"a Delta table already exists at {row.table_uri}; it is not registered in the catalog "
                "(remove it or restore the catalog)"
            )
        table.create(
            contract.storage_schema(),
            CommitInfo(actor=actor, reason=reason),
            partition_by=contract.partition_by,
            name=contract.dataset,
            description=contract.description or None,
        )

    def register(self, doc: Contract | Mapping[str, Any] | str, *, actor: str,
                 within: Callable[[Session, DatasetInfo], None] | None = None) -> DatasetInfo:
        """Register a new dataset with its first contract and create its table.

        The catalog rows, the data key and the search documents commit in one
        transaction, and only once the table exists.

        Args:
            doc: The contract.
            actor: Who registers it.
            within: Called with the transaction's session and the new dataset
                before the table is created, to write more in the same
                transaction (the access layer's owner grant); if it raises,
                nothing is registered.

        Raises:
            InvalidContract: the contract is malformed.
            AlreadyExists: the dataset is registered already (evolve it instead).
        """
        contract = _as_contract(doc)
        owner = contract.owner or actor
        try:
            with self.catalog.session() as s:
                domain = self.ensure_domain(s, contract.domain, owner)
                exists = s.scalars(
                    select(Dataset.id).where(Dataset.domain_id == domain.id, Dataset.name == contract.name)
                ).first()
                if exists is not None:
                    raise AlreadyExists(
                        f"dataset {contract.dataset} is already registered; change its contract instead"
                    )
                row = Dataset(
                    domain_id=domain.id, name=contract.name, major=1, is_current=True, owner=owner,
                    description=contract.description, created_by=actor,
                    table_uri=self.store.table_uri(contract.domain, contract.name, 1),
                )
                s.add(row)
                s.flush()
                s.add(ContractVersion(dataset_id=row.id, version=1, document=contract.to_dict(), changes=[],
                                      created_by=actor))
                self._new_data_key(s, row, contract.dataset, domain.kms_key_id)
                s.flush()
                registered = self._info(s, row)
                self._index(registered, session=s)
                if within is not None:
                    within(s, registered)
                self._create_table(contract, row, contract.domain, actor, "register dataset")
                info_id = row.id
        except IntegrityError as exc:
            raise AlreadyExists(f"dataset {contract.dataset} is already registered") from exc
        with self.catalog.session() as s:
            return self._info(s, s.get_one(Dataset, info_id))

    def _index(self, info: DatasetInfo, *, session: Session | None = None) -> None:
        from lake.search import SearchIndex, dataset_documents

        index = SearchIndex(self.catalog)
        index.remove("column", info.name, session=session)
        index.upsert(dataset_documents(info), session=session)

    def plan_change(self, name: str, doc: Contract | Mapping[str, Any] | str) -> builtins.list[SchemaChange]:
        """The changes a new contract would make, without making them."""
        current = self.get(name)
        return diff_contracts(current.contract, _as_contract(doc, dataset=name))

    def evolve(
        self, name: str, doc: Contract | Mapping[str, Any] | str, *, actor: str, major: bool = False
    ) -> DatasetInfo:
        """Apply a new contract: a compatible change makes a new contract version;
        a breaking one needs ``major=True`` and opens the next major version,
        with a new empty table (the old major stays readable).

        Raises:
            BreakingChange: the change breaks readers and ``major`` is false.
        """
        new = _as_contract(doc, dataset=name)
        with self.catalog.session() as s:
            row = self._row(s, name, None)
            current = self._info(s, row)
            changes = diff_contracts(current.contract, new)
            if not changes and not major:
                return current
            breaking = [c for c in changes if c.breaking]
            if breaking and not major:
                raise BreakingChange(name, changes)
            change_list = [c.as_dict() for c in changes]
            if major:
                row.is_current = False
                nxt = Dataset(
                    domain_id=row.domain_id, name=row.name, major=row.major + 1, is_current=True,
                    owner=new.owner or row.owner, description=new.description, created_by=actor,
                    table_uri=self.store.table_uri(current.domain, row.name, row.major + 1),
                )
                s.add(nxt)
                s.flush()
                s.add(ContractVersion(dataset_id=nxt.id, version=1, document=new.to_dict(),
                                      changes=change_list, created_by=actor))
                self._new_data_key(s, nxt, name, current.kms_key_id)
                s.flush()
                self._create_table(new, nxt, current.domain, actor, f"major version {nxt.major}")
            else:
                s.add(ContractVersion(dataset_id=row.id, version=current.contract_version + 1,
                                      document=new.to_dict(), changes=change_list, created_by=actor))
                row.owner = new.owner or row.owner
                row.description = new.description
                added = [c for c in changes if c.kind == "added"]
                if added:
                    fields = [pa.field(new.column(c.column).name, new.column(c.column).storage_type, nullable=True)
                              for c in added if c.column]
                    self.table(current).add_columns(
                        fields, CommitInfo(actor=actor, reason=f"contract version {current.contract_version + 1}")
                    )
        info = self.get(name)
        self._index(info)
        return info
