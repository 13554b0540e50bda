"""A small lake for gateway tests: three datasets, two subjects, known secrets.

``analyst`` reads ``ads.conversions`` without ``revenue``, with ``email``
hashed and only the rows of ``country = 'DE'``; reads ``ads.campaigns``
without ``internal_notes``, with ``budget`` nulled and ``owner_email`` (PII,
no mask) redacted; and has no grant on ``hr.salaries``. ``intern`` has no
grant at all. :data:`SENTINELS` are values that no result and no error the
gateway gives ``analyst`` or ``intern`` may contain.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from access.gateway import Gateway, GatewayLimits, QueryResult
from access.masks import Mask, MaskKind
from access.policy import AccessControl
from access.resources import Action, Resource
from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

#: A query that would run for hours (2e10 rows) and that a cancel stops at once. The streamed
#: side of the cross join comes through a shuffle, whose reader checks at every row whether the
#: task was killed. Without the ``DISTRIBUTE BY`` the whole join runs in one generated loop that
#: never checks: a task that has started keeps a core busy until it ends, long after its job was
#: cancelled, and stopping Spark then waits for it (two minutes, ``ContextCleaner``).
HEAVY_QUERY = ("SELECT sum(hash(i, j)) FROM "
               "(SELECT i FROM ads.conversions LATERAL VIEW explode(sequence(1, 50000)) x AS i DISTRIBUTE BY i) a "
               "CROSS JOIN (SELECT j FROM ads.conversions LATERAL VIEW explode(sequence(1, 50000)) y AS j) b")

CAMPAIGNS = {
    "dataset": "ads.campaigns",
    "owner": "ads-team",
    "description": "Campaigns and their budgets.",
    "primary_key": ["campaign_id"],
    "columns": [
        {"name": "campaign_id", "type": "int64", "nullable": False},
        {"name": "name", "type": "string"},
        {"name": "revenue", "type": "decimal(12,2)"},
        {"name": "budget", "type": "decimal(12,2)"},
        {"name": "internal_notes", "type": "string"},
        {"name": "owner_email", "type": "string", "pii": True},
    ],
}

SALARIES = {
    "dataset": "hr.salaries",
    "owner": "hr-team",
    "description": "Salaries.",
    "primary_key": ["employee_id"],
    "columns": [
        {"name": "employee_id", "type": "int64", "nullable": False},
        {"name": "name", "type": "string"},
        {"name": "salary", "type": "decimal(12,2)"},
        {"name": "ssn", "type": "string", "pii": True},
    ],
}

#: Text that must never appear in what the gateway returns to analyst or intern.
SENTINELS: tuple[str, ...] = (
    "HRSECRET", "HRSSN", "987654.32", "876543.21", "555001", "555002",  # hr.salaries
    "4242.42", "4343.43", "4444.44", "5151.51", "5252.52",  # conversions.revenue (denied column)
    "900001", "900002", "900003", "900004", "900005", "900006",  # conversions rows outside DE
    "secret.example",  # emails of rows outside DE, campaign owners (redacted)
    "ok.example",  # emails of DE rows (hashed for analyst)
    "NOTESECRET", "31337.0",  # campaigns.internal_notes (denied), campaigns.budget (nulled)
)


def conversions_rows() -> pa.Table:
    ids = [1, 2, 3, 900001, 900002, 900003, 900004, 900005, 900006]
    countries = ["DE", "DE", "DE", "US", "US", "US", "FR", "FR", "FR"]
    revenue = ["4242.42", "4343.43", "4444.44", "5151.51", "5252.52", "5151.51", "5252.52", "5151.51", "5252.52"]
    emails = ["de1@ok.example", "de2@ok.example", None] + [f"leak{i}@secret.example" for i in range(1, 7)]
    return pa.table({
        "conversion_id": pa.array(ids, pa.int64()),
        "country": countries,
        "revenue": pa.array([Decimal(r) for r in revenue], pa.decimal128(12, 2)),
        "email": emails,
        "converted_at": pa.array([T0 + dt.timedelta(hours=i) for i in range(9)], pa.timestamp("us", tz="UTC")),
    })


def campaigns_rows() -> pa.Table:
    return pa.table({
        "campaign_id": pa.array([1, 2, 3], pa.int64()),
        "name": ["spring", "summer", "autumn"],
        "revenue": pa.array([Decimal("100.00"), Decimal("200.00"), Decimal("300.00")], pa.decimal128(12, 2)),
        "budget": pa.array([Decimal("31337.01"), Decimal("31337.02"), None], pa.decimal128(12, 2)),
        "internal_notes": ["NOTESECRET-1", "NOTESECRET-2", None],
        "owner_email": ["owner1@secret.example", None, "owner3@secret.example"],
    })


def salaries_rows() -> pa.Table:
    return pa.table({
        "employee_id": pa.array([555001, 555002], pa.int64()),
        "name": ["HRSECRET-ann", "HRSECRET-bob"],
        "salary": pa.array([Decimal("987654.32"), Decimal("876543.21")], pa.decimal128(12, 2)),
        "ssn": ["HRSSN-111", "HRSSN-222"],
    })


@dataclass
class World:
    lake: Lake
    access: AccessControl
    gateway: Gateway
    ciphertexts: tuple[str, ...]

    def leaks(self, text: str) -> list[str]:
        """Sentinels and stored ciphertexts (base64 or hex) found in ``text``."""
        found = [s for s in SENTINELS if s in text]
        found += [f"ciphertext {c[:12]}…" for c in self.ciphertexts if c in text]
        return found

    def result_leaks(self, result: QueryResult) -> list[str]:
        """Leaks in the result's column names, rows (JSON form) and raw Arrow values."""
        text = json.dumps([result.columns(), result.json_rows()], default=str)
        raw = json.dumps([[repr(v) for v in col.to_pylist()] for col in result.table.columns])
        return self.leaks(text + raw)


def _stored_ciphertexts(lake: Lake, names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        info = lake.dataset(name)
        stored = lake.read(name)
        for col in info.contract.pii_columns:
            for value in stored.column(col).to_pylist():
                if value:
                    out.append(base64.b64encode(value).decode())
                    out.append(value.hex())
                    out.append(value.hex().upper())
    return tuple(out)


def build_world(home: Path, *, limits: GatewayLimits | None = None, spark_remote: str | None = None) -> World:
    """Register and land the three datasets, make the subjects and their grants."""
    lake = Lake(Settings(home=home, spark_master="local[2]", spark_remote=spark_remote))
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.register(CAMPAIGNS, actor="admin")
    lake.register(SALARIES, actor="admin")
    lake.ingest_table("ads.conversions", conversions_rows(), actor="admin")
    lake.ingest_table("ads.campaigns", campaigns_rows(), actor="admin")
    lake.ingest_table("hr.salaries", salaries_rows(), actor="admin")
    for user in ("analyst", "intern", "admin"):
        lake.users.create(user)
    access = AccessControl(lake)
    conv, camp = Resource.table("ads.conversions"), Resource.table("ads.campaigns")
    access.grant("analyst", Action.READ, conv)
    access.deny("analyst", Action.READ, Resource.column_of(conv, "revenue"))
    access.set_mask("analyst", Resource.column_of(conv, "email"), Mask(MaskKind.HASH))
    access.set_row_filter("analyst", conv, "country = 'DE'")
    access.grant("analyst", Action.READ, camp)
    access.deny("analyst", Action.READ, Resource.column_of(camp, "internal_notes"))
    access.set_mask("analyst", Resource.column_of(camp, "budget"), Mask(MaskKind.NULL))
    gateway = Gateway(lake, access, limits=limits or GatewayLimits(catalog_cache_seconds=0))
    ciphertexts = _stored_ciphertexts(lake, ["ads.conversions", "ads.campaigns", "hr.salaries"])
    return World(lake, access, gateway, ciphertexts)


def normalized_rows(rows: list[list[Any]]) -> list[str]:
    """Rows as sorted JSON strings, for order-insensitive comparison."""
    return sorted(json.dumps(r, sort_keys=True) for r in rows)
