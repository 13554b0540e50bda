"""Data cards of governed exports: what the files hold, where it came from, what policy shaped it.

A data card is JSON written beside the export's Parquet files. It describes:

* **schema**: every exported column, its type, whether it is PII and how it
  is shown (clear, ``decrypt``, ``hash``, ``partial:N``, ``redact``,
  ``null``); columns of the source left out are named;
* **source**: the table (dataset major or view version), its description and
  owner, and the Delta version read;
* **lineage**: for a view, the tables and versions it reads and where each
  output column comes from (``views.catalog``); for a dataset, the dataset itself;
* **policy**: the subject the export was made for, the principals whose grants
  applied, the row filter (or ``null`` for every row) and the access policy version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from access.masks import Reveal
from access.policy import TableAccess
from access.subscribers.tables import LakeTable
from lake.contracts import type_name

DATACARD_VERSION = 1


def _lineage(table: LakeTable) -> dict[str, Any]:
    view = table.view
    if view is None:
        return {"kind": "dataset", "name": table.name, "major": table.version, "reads": []}
    return {
        "kind": "view",
        "name": table.name,
        "version": table.version,
        "reads": [d.to_dict() for d in view.dependencies],
        "columns": {c.name: {"sources": [str(s) for s in c.sources], "origins": [str(o) for o in c.origins],
                             "transformation": c.transformation.value} for c in view.columns},
        "grain": view.grain.describe(),
        "sql": view.sql,
    }


def build_datacard(*, export_id: str, subscriber: str, subject: str, table: LakeTable, access: TableAccess,
                   policy_version: int, source_version: int, rows: int, created_at: dt.datetime,
                   description: str = "", owner: str = "") -> dict[str, Any]:
    """The data card of one export (a JSON-ready dict)."""
    pii = {c.name: c.pii for c in table.columns}
    types = {c.name: c.type for c in table.columns}
    shown = {c.name: c for c in access.columns}
    schema = []
    for name, col in shown.items():
        reveal = str(Reveal.of(col.mask, pii=pii.get(name, False)))
        schema.append({"name": name, "type": type_name(types[name]) if name in types else None,
                       "pii": pii.get(name, False), "shown_as": reveal})
    return {
        "datacard_version": DATACARD_VERSION,
        "export_id": export_id,
        "created_at": created_at.isoformat(),
        "subscriber": subscriber,
        "rows": rows,
        "source": {"table": table.name, "kind": table.kind.value, "stored_version": table.version,
                   "delta_version": source_version, "description": description, "owner": owner},
        "schema": schema,
        "left_out": [c.name for c in table.columns if c.name not in shown],
        "lineage": _lineage(table),
        "policy": {"subject": subject, "decision": access.reason, "row_filter": access.row_filter,
                   "policy_version": policy_version},
    }
