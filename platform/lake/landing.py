"""Landing: files dropped in a landing directory (or S3 prefix) are ingested.

Layout: ``<landing>/<domain>.<dataset>/<file>.<parquet|arrow|csv|jsonl>``.
Each file is ingested with an idempotency key derived from its path and
content, so processing a file twice lands it once. A landed file moves to
``_processed/``; a rejected one moves to ``_failed/`` beside a
``<file>.error.json`` that says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lake.errors import LakegateError
from lake.formats import BatchFormat
from lake.service import Lake
from lake.storage import LocalStore, ObjectStore

PROCESSED = "_processed"
FAILED = "_failed"


@dataclass(frozen=True)
class LandingOutcome:
    path: str
    dataset: str
    ok: bool
    rows: int = 0
    rejected_rows: int = 0
    replayed: bool = False
    error: str | None = None
    code: str | None = None


def _key(rel: str, data: bytes) -> str:
    return f"landing:{rel}:{hashlib.sha256(data).hexdigest()[:32]}"


def process_landing(
    lake: Lake,
    root: str | Path | None = None,
    *,
    actor: str = "landing",
    on_error: str = "reject",
    progress: Callable[[LandingOutcome], None] | None = None,
) -> list[LandingOutcome]:
    """Ingest every file waiting in the landing area once.

    Args:
        lake: The lake to land into.
        root: Landing directory; defaults to ``<home>/landing`` (or the
            ``_landing/`` prefix of the bucket in S3 mode).
        actor: Recorded as the committer.
        on_error: ``reject`` or ``quarantine`` (see ingestion).
        progress: Called after each file.

    Returns:
        One outcome per file, in path order.
    """
    store: ObjectStore
    if lake.settings.is_s3 and root is None:
        store, prefix = lake.store, "_landing/"
    else:
        base = Path(root) if root is not None else lake.settings.landing_dir
        base.mkdir(parents=True, exist_ok=True)
        store, prefix = LocalStore(base), ""
    outcomes = []
    for key in store.list_objects(prefix):
        rel = key[len(prefix):]
        if rel.count("/") != 1:
            continue
        dataset, filename = rel.split("/")
        if dataset.startswith("_") or filename.startswith("."):
            continue
        data = store.get_object(key)
        outcome = _land_one(lake, dataset, rel, filename, data, actor, on_error)
        domain = dataset.split(".")[0]
        dest = f"{prefix}{PROCESSED if outcome.ok else FAILED}/{rel}"
        store.move_object(key, dest, domain)
        if not outcome.ok:
            error = {"error": outcome.code, "message": outcome.error}
            store.put_object(dest + ".error.json", json.dumps(error, indent=2).encode(), domain)
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def _land_one(lake: Lake, dataset: str, rel: str, filename: str, data: bytes, actor: str,
              on_error: str) -> LandingOutcome:
    try:
        fmt = BatchFormat.from_path(filename)
        result = lake.ingest(dataset, data, fmt, actor=actor, on_error=on_error,
                             idempotency_key=_key(rel, data), reason=f"landed {rel}", source_name=rel)
    except LakegateError as exc:
        return LandingOutcome(rel, dataset, False, error=exc.message, code=exc.code)
    return LandingOutcome(rel, dataset, True, rows=result.rows, rejected_rows=result.rejected_rows,
                          replayed=result.replayed)
