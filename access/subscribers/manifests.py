"""Delta symlink manifests: the Parquet files of a table's snapshot, for Redshift Spectrum.

Spectrum reads a Delta table through ``<table>/_symlink_format_manifest/``:
one ``manifest`` file per partition directory (``country=DE/manifest``), or
one at the top for an unpartitioned table, each listing the absolute URIs
of the snapshot's data files. Delta readers ignore the directory (its name
starts with ``_``). A manifest shows the snapshot it was written from:
``redshift sync`` writes them again.

In S3 mode each manifest is written with SSE-KMS under the table's domain key
(like every object Lakegate writes); in local mode it is a file beside the
table.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa

from access.subscribers.tables import LakeTable

if TYPE_CHECKING:
    from lake.service import Lake

MANIFEST_DIR = "_symlink_format_manifest"
#: Hive's name for a NULL partition value.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class PartitionManifest:
    """One partition: its values (column, text) and the directory of its manifest."""

    values: tuple[tuple[str, str], ...]
    location: str
    files: int


@dataclass(frozen=True)
class Manifest:
    """The manifests of one table snapshot."""

    location: str
    version: int
    partitions: tuple[PartitionManifest, ...]
    files: int


def _add_actions(table_uri: str, options: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
    from deltalake import DeltaTable

    dt = DeltaTable(table_uri, storage_options=options or None)
    actions = dt.get_add_actions(flatten=True)
    return dt.version(), pa.table(actions).to_pylist()


def _put(lake: Lake, uri: str, text: str, domain: str) -> None:
    if uri.startswith("s3://"):
        key = uri[len(lake.store.root.rstrip("/")) + 1:]
        lake.store.put_object(key, text.encode("utf-8"), domain)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_manifest(lake: Lake, table: LakeTable) -> Manifest:
    """Write the symlink manifests of ``table``'s current snapshot.

    Raises:
        InvalidInput: The table has no files (a virtual view).
    """
    from lake.errors import InvalidInput

    if table.table_uri is None:
        raise InvalidInput(f"{table.name} has no files to list in a manifest")
    root = table.table_uri.rstrip("/")
    options = lake.store.storage_options(table.domain)
    version, actions = _add_actions(root, options)
    groups: dict[str, list[str]] = defaultdict(list)
    values: dict[str, tuple[tuple[str, str], ...]] = {}
    for action in actions:
        path = unquote(str(action["path"]))
        directory = posixpath.dirname(path) if table.partition_by else ""
        groups[directory].append(f"{root}/{path}")
        values[directory] = tuple(
            (col, NULL_PARTITION if action.get(f"partition.{col}") is None else str(action[f"partition.{col}"]))
            for col in table.partition_by)
    base = f"{root}/{MANIFEST_DIR}"
    partitions = []
    for directory in sorted(groups):
        folder = f"{base}/{directory}" if directory else base
        _put(lake, f"{folder}/manifest", "\n".join(sorted(groups[directory])) + "\n", table.domain)
        if table.partition_by:
            partitions.append(PartitionManifest(values[directory], folder + "/", len(groups[directory])))
    if not groups and not table.partition_by:
        _put(lake, f"{base}/manifest", "", table.domain)
    return Manifest(base + "/", version, tuple(partitions), len(actions))
