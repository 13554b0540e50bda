"""Run a governed query on Spark with a row cap and a time limit.

Each query gets its own Spark session (``newSession()`` of the process-wide
one: same engine, its own temp views and SQL settings), in which each Delta
snapshot the query reads is registered under its generated name; variable
substitution is off there. Over Spark Connect, where a client cannot open a
second session, the views go in the shared session under per-query names and
are dropped afterwards.

The query runs in a worker thread inside a Spark job group (Connect: an
operation tag). When the time limit passes, the group's jobs are cancelled,
and so are jobs it would start later (the statement may still be planning),
and the caller gets :class:`QueryTimeout`. Spark can still start a job of a
cancelled group when the cancel meets the job's submission, so until the
worker thread ends the group is cancelled again every half second. At most ``row_cap + 1`` rows are
collected, which tells whether the answer was truncated.

When the engine dies under a query (Spark exits its JVM on
``OutOfMemoryError``), the query gets :class:`~lake.spark.EngineLost` (503)
and the next query starts a new engine.

Spark's error messages are reduced to their first line, without the
generated names of the rewritten SQL and without "did you mean" suggestions.

Keys reach the engine as statement parameters. py4j (classic sessions) logs
every command it sends, arguments included, at DEBUG level; this module
drops those wire dumps from the ``py4j`` loggers so that no log level shows
a key.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from access.gateway.errors import QueryCancelled, QueryFailed, QueryTimeout
from access.gateway.plan import GovernedQuery
from access.gateway.rewrite import SourceView
from lake.errors import InvalidInput, LakegateError, NotFound
from lake.settings import Settings
from lake.spark import EngineError, engine_lost, error_condition, register_delta, spark_session, sql_with_args

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


class _NoWireDumps(logging.Filter):
    """Drops py4j's DEBUG dumps of commands and answers (they hold call arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not (message.startswith(("Command to send", "Answer received")))


_WIRE_FILTER = _NoWireDumps()
for _name in ("py4j", "py4j.clientserver", "py4j.java_gateway", "py4j.protocol"):
    logging.getLogger(_name).addFilter(_WIRE_FILTER)

_GENERATED = re.compile(r"`?__lg_[A-Za-z0-9_]*`?\.?")
_SUGGESTION = re.compile(r"\s*Did you mean.*$", re.DOTALL)
_CANCEL_GRACE_SECONDS = 0.5
_CANCEL_POLL_SECONDS = 0.1
_RECANCEL_SECONDS = 0.5
_RECANCEL_FOR_SECONDS = 600.0


@dataclass(frozen=True)
class Rows:
    """What Spark returned: at most ``row_cap`` rows, and whether there were more."""

    table: pa.Table
    truncated: bool


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _query_session(base: SparkSession) -> tuple[SparkSession, bool]:
    """A session for one query, and whether it is a private one."""
    if _is_connect(base):
        return base, False
    session = base.newSession()
    session.conf.set("spark.sql.variable.substitute", "false")
    return session, True


def clean_message(exc: BaseException) -> str:
    """The first line of a Spark error, without generated names or suggestions."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = _SUGGESTION.sub("", first)
    first = _GENERATED.sub("", first)
    return first[:500]


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("pyspark", "py4j"))


def execute(query: GovernedQuery, settings: Settings, *, row_cap: int, timeout_seconds: float,
            cancel: threading.Event | None = None) -> Rows:
    """Run ``query`` on Spark.

    Args:
        query: The governed query.
        settings: Where Spark runs.
        row_cap: Most rows to return.
        timeout_seconds: Time limit; the query's Spark jobs are cancelled after it.
        cancel: Set by the caller when the answer is no longer wanted (its
            client went away); the query's Spark jobs are then cancelled.

    Returns:
        The rows and whether more were available.

    Raises:
        QueryTimeout: The time limit passed.
        QueryCancelled: ``cancel`` was set.
        QueryFailed: Spark refused or failed the query.
        EngineError, StorageError, NotFound: Spark or a table could not be read.
    """
    base = spark_session(settings)
    session, private = _query_session(base)
    group = f"lakegate-gateway-{query.query_id}"
    outcome: dict[str, Any] = {}
    done = threading.Event()
    cancelled = threading.Event()

    def work() -> None:
        try:
            if _is_connect(session):
                session.addTag(group)
            else:
                session.sparkContext.setJobGroup(group, "lakegate gateway query", interruptOnCancel=True)
            for source in query.sources:
                if cancelled.is_set():
                    return
                _register(session, source)
            frame = sql_with_args(session, query.rewritten, query.params)
            if cancelled.is_set():
                return
            outcome["table"] = frame.limit(row_cap + 1).toArrow()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            if _is_connect(session):
                with contextlib.suppress(Exception):
                    session.removeTag(group)
            done.set()

    worker = threading.Thread(target=work, name=f"gateway-{query.query_id[:8]}", daemon=True)
    worker.start()
    try:
        if not _wait(done, timeout_seconds, cancel):
            cancelled.set()
            lost = engine_lost()  # an engine that died under the query never answers
            if lost is not None:
                outcome["lost"] = lost
                raise lost from None
            _cancel(session, group)
            if not done.wait(_CANCEL_GRACE_SECONDS):
                threading.Thread(target=_keep_cancelling, args=(session, group, done),
                                 name=f"gateway-cancel-{query.query_id[:8]}", daemon=True).start()
            if cancel is not None and cancel.is_set():
                raise QueryCancelled()
            raise QueryTimeout(timeout_seconds)
        error = outcome.get("error")
        if error is not None:
            lost = engine_lost(error)
            if lost is not None:
                outcome["lost"] = lost
                raise lost from None
            if isinstance(error, LakegateError):
                raise error
            if _is_spark_error(error):
                raise QueryFailed(clean_message(error), error_class=error_condition(error) or None) from None
            raise error
        table: pa.Table = outcome["table"]
    finally:
        if (not private or done.is_set()) and "lost" not in outcome:
            _drop_views(session, query)
    truncated = table.num_rows > row_cap
    return Rows(table.slice(0, row_cap) if truncated else table, truncated)


def _wait(done: threading.Event, timeout_seconds: float, cancel: threading.Event | None) -> bool:
    """Wait for ``done`` up to the time limit; ``False`` on timeout or when ``cancel`` is set."""
    if cancel is None:
        return done.wait(timeout_seconds)
    deadline = time.monotonic() + timeout_seconds
    while not cancel.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return done.is_set()
        if done.wait(min(left, _CANCEL_POLL_SECONDS)):
            return True
    return done.is_set()


def _register(session: SparkSession, source: SourceView) -> None:
    """Register one snapshot; errors name the table, never its storage location."""
    table = source.table
    try:
        register_delta(
            session, source.name, table.table_uri,
            version=source.version, timestamp=source.timestamp,
            storage_options=dict(table.storage_options or {}) or None,
        )
    except (NotFound, InvalidInput) as exc:
        at = (f" at version {source.version}" if source.version is not None
              else f" as of {source.timestamp}" if source.timestamp is not None else "")
        reason = exc.message.replace(table.table_uri, table.name)
        reason = re.sub(r"(?:file://|s3a?://|/)\S*", "<storage>", reason)
        raise QueryFailed(f"cannot read {table.name}{at}: {reason}") from None
    except LakegateError as exc:
        log.error("gateway: cannot read %s: %s", table.name, exc.message)
        raise EngineError(f"the engine cannot read {table.name}; the server log has the details") from None


def _cancel(session: SparkSession, group: str) -> None:
    """Cancel the query's running jobs and any it starts later (planning may still be going on)."""
    try:
        if _is_connect(session):
            session.interruptTag(group)
            return
        context = session.sparkContext
        jvm_context = context._jsc.sc()
        if hasattr(jvm_context, "cancelJobGroupAndFutureJobs"):
            jvm_context.cancelJobGroupAndFutureJobs(group, "gateway time limit")
        else:  # pragma: no cover - Spark before 4.0
            context.cancelJobGroup(group)
    except Exception as exc:  # noqa: BLE001 - the timeout is reported either way
        log.warning("cancelling gateway query %s failed: %s", group, exc)


def _keep_cancelling(session: SparkSession, group: str, done: threading.Event) -> None:
    """Cancel ``group`` again until its worker ends: a job submitted as the first cancel
    arrived can escape it (seen on Spark 4.2 with a job starting 0.8 s into planning)."""
    deadline = time.monotonic() + _RECANCEL_FOR_SECONDS
    while not done.wait(_RECANCEL_SECONDS):
        if time.monotonic() > deadline:
            log.warning("gateway query %s still runs %.0f s after it was cancelled", group, _RECANCEL_FOR_SECONDS)
            return
        _cancel(session, group)


def _drop_views(session: SparkSession, query: GovernedQuery) -> None:
    for source in query.sources:
        with contextlib.suppress(Exception):
            session.catalog.dropTempView(source.name)
