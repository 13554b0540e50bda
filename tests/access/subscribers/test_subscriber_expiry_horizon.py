"""Raw access rests on every expiring rule it needs: grants, memberships and
``decrypt`` masks on PII columns."""

from __future__ import annotations

import datetime as dt

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers.policy_sync import expiry_horizon
from access.subscribers.tables import lake_tables
from lake.catalog.models import utcnow
from lake.service import Lake

from factories import contract_doc


def test_an_expiring_decrypt_mask_bounds_raw_access(lake: Lake) -> None:
    lake.register(contract_doc(), actor="admin")
    lake.users.ensure("etl", roles=[])
    access = AccessControl(lake)
    table = Resource.table("ads.conversions")
    access.grant("etl", Action.READ, table)  # permanent
    tables = [t for t in lake_tables(lake) if t.resource == table]
    assert expiry_horizon(access, "etl", tables) is None

    soon = utcnow() + dt.timedelta(hours=2)
    access.set_mask("etl", Resource.column_of(table, "email"), Mask(MaskKind.DECRYPT), expires_at=soon)
    assert expiry_horizon(access, "etl", tables) == soon

    later = utcnow() + dt.timedelta(days=3)
    access.set_mask("etl", Resource.column_of(table, "revenue"), Mask(MaskKind.REDACT), expires_at=later)
    assert expiry_horizon(access, "etl", tables) == soon  # other masks only loosen access when they end
