"""Terminal output of the ``lakegate`` CLI: error lines, tables, progress.

Results a script may want (a token, an ingest summary, a contract) go to
stdout; everything else (status, progress, tables for people, errors) goes to
stderr, so ``TOKEN=$(lakegate init)`` works.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from lake.datasets import DatasetInfo
from lake.errors import ConfigError, LakegateError, SchemaChange
from lake.ingest import IngestResult
from lake.service import Lake
from lake.settings import Settings

#: The local administrator ``lakegate init`` creates; the default actor of commands.
ADMIN_USER = "admin"

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

#: Bytes per read when the reader is asked for the whole file at once.
READ_CHUNK = 1 << 20

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """Print one red ``error:`` line (never a traceback) and exit with status 1."""
    err.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)
    raise typer.Exit(1)


def domain_errors(fn: F) -> F:
    """Turn a :class:`LakegateError` (or invalid settings) into one ``error:`` line
    and exit status 1; every CLI command is wrapped in it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LakegateError as exc:
            fail(exc.message)
        except ValidationError as exc:  # only Settings are pydantic models here
            problems = "; ".join(f"LAKEGATE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                                 if e["loc"] else e["msg"] for e in exc.errors())
            fail(f"invalid settings: {problems}")

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def open_lake(settings: Settings | None = None) -> Iterator[Lake]:
    """The lake of this host (from the settings), with every service built by the
    composition root (:func:`api.services.open_services`), closed afterwards."""
    from api.services import open_services

    with open_services(settings) as services:
        yield services.lake


def actor_name(lake: Lake, name: str) -> str:
    """The actor to record; it must be a known user."""
    return lake.users.get(name).name


def read_text(path: Path) -> str:
    """A text file given on the command line, or a :class:`ConfigError` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def engine_note(settings: Settings) -> None:
    """Say, before a command starts Spark inside this process, that it takes a while and how to avoid it."""
    remote = settings.engine.remote
    if not remote:
        note("queries run on a Spark engine started in this process (LAKEGATE_SPARK_REMOTE is unset), which "
             "takes a while; `lakegate engine start` keeps one running so that they start at once", style="dim")
    elif remote.startswith("sc://"):
        note(f"using the Spark engine at {remote}", style="dim")


def note(message: str, style: str = "") -> None:
    err.print(Text(message, style=style), soft_wrap=True)


def dataset_table(infos: Sequence[DatasetInfo]) -> Table:
    table = Table("dataset", "major", "contract", "owner", "columns", "description", title="datasets")
    for info in infos:
        table.add_row(info.name, str(info.major), f"v{info.contract_version}", info.owner,
                      str(len(info.contract.columns)), info.description)
    return table


def show_dataset(info: DatasetInfo) -> None:
    """A dataset with its contract, for a person (on stdout)."""
    state = "current" if info.is_current else "superseded"
    out.print(Text(f"{info.name}  major {info.major} ({state})  contract v{info.contract_version}  "
                   f"owner {info.owner or '-'}", style="bold"), soft_wrap=True)
    if info.description:
        out.print(Text(info.description), soft_wrap=True)
    contract = info.contract
    if contract.primary_key:
        out.print(Text(f"primary key: {', '.join(contract.primary_key)}"), soft_wrap=True)
    if contract.partition_by:
        out.print(Text(f"partitioned by: {', '.join(contract.partition_by)}"), soft_wrap=True)
    out.print(Text(f"table: {info.table_uri}"), soft_wrap=True)
    columns = Table("column", "type", "required", "pii", "description")
    for col in contract.to_dict()["columns"]:
        columns.add_row(col["name"], col["type"], "yes" if not col["nullable"] else "",
                        "yes" if col.get("pii") else "", col.get("description", ""))
    out.print(columns)


def changes_table(changes: Sequence[SchemaChange]) -> Table:
    table = Table("change", "column", "detail", "breaking")
    for c in changes:
        table.add_row(c.kind, c.column or "", c.detail, Text("yes", style="red") if c.breaking else "")
    return table


def history_table(dataset: str, entries: Sequence[dict[str, Any]]) -> Table:
    table = Table("version", "time (UTC)", "operation", "actor", "reason", "rows added", title=f"{dataset} history")
    for e in entries:
        ts = e.get("timestamp")
        when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""
        rows = (e.get("metrics") or {}).get("num_added_rows", "")
        table.add_row(str(e.get("version")), when, str(e.get("operation") or ""), str(e.get("actor") or ""),
                      str(e.get("reason") or ""), str(rows))
    return table


def describe_ingest(result: IngestResult, key: str | None) -> str:
    where = f"commit {result.commit_id}, table version {result.table_version}"
    if result.replayed:
        return f"already landed with idempotency key {key!r}: {result.rows:,} rows in {result.dataset} ({where})"
    text = f"landed {result.rows:,} rows in {result.dataset} ({where})"
    if result.rejected_rows:
        text += f"; {result.rejected_rows:,} rows quarantined (quarantine version {result.quarantine_version})"
    return text


class ProgressReader(io.RawIOBase):
    """A binary file that reports each read's size (for a byte progress bar)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None]) -> None:
        super().__init__()
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            # Whole-file reads (CSV, JSON Lines) in chunks, so the bar moves.
            chunks = []
            while chunk := self._raw.read(READ_CHUNK):
                self._on_read(len(chunk))
                chunks.append(chunk)
            self._on_read(0)
            return b"".join(chunks)
        data = self._raw.read(size)
        self._on_read(len(data))
        return data

    def readall(self) -> bytes:
        return self.read(-1)


def run_with_read_progress(path: Path, label: str, work: Callable[[BinaryIO], Any]) -> Any:
    """Run ``work(file)`` in a worker thread with a byte progress bar while it
    reads ``path``, then a spinner until it returns (validating, committing)."""
    size = path.stat().st_size
    read_done = threading.Event()
    seen = 0

    with path.open("rb") as raw, ThreadPoolExecutor(max_workers=1) as pool:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(f"reading {path.name}", total=size)

            def on_read(n: int) -> None:
                nonlocal seen
                seen += n
                progress.update(task, completed=min(seen, size))
                if n == 0 or seen >= size:
                    read_done.set()

            future = pool.submit(work, ProgressReader(raw, on_read))  # type: ignore[arg-type]
            future.add_done_callback(lambda _: read_done.set())
            read_done.wait()
            progress.update(task, completed=size)
        with err.status(label):
            return future.result()
