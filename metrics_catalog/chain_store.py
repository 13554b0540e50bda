"""Approval chains kept in the catalog, one per domain."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.errors import NotFound
from metrics_catalog.chains import ApprovalChain, parse_chain
from metrics_catalog.models import ApprovalChainRow


def chain_of(s: Session, domain: str) -> ApprovalChain | None:
    row = s.scalars(select(ApprovalChainRow).where(ApprovalChainRow.domain == domain)).first()
    if row is None:
        return None
    return parse_chain({"domain": domain, "stages": row.stages})


class ChainStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def set(self, domain: str, doc: ApprovalChain | Mapping[str, Any] | str, *, actor: str) -> ApprovalChain:
        """Create or replace a domain's chain. Proposals already in review keep the chain they started with."""
        chain = doc if isinstance(doc, ApprovalChain) else parse_chain(doc, domain=domain)
        stages = chain.to_dict()["stages"]
        with self.catalog.session() as s:
            row = s.scalars(select(ApprovalChainRow).where(ApprovalChainRow.domain == domain)).first()
            if row is None:
                s.add(ApprovalChainRow(domain=domain, stages=stages, updated_by=actor))
            else:
                row.stages, row.updated_by, row.updated_at = stages, actor, utcnow()
        return chain

    def get(self, domain: str) -> ApprovalChain:
        with self.catalog.session() as s:
            chain = chain_of(s, domain)
        if chain is None:
            raise NotFound(f"domain {domain} has no approval chain; an admin sets one with "
                           f"'lakegate metrics chain set {domain} -f chain.yml'")
        return chain

    def list(self) -> builtins.list[ApprovalChain]:
        with self.catalog.session() as s:
            rows = s.scalars(select(ApprovalChainRow).order_by(ApprovalChainRow.domain)).all()
            return [parse_chain({"domain": r.domain, "stages": r.stages}) for r in rows]
