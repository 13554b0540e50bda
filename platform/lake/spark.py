"""The Spark engine: one process-wide session, and Delta tables read through it.

Lakegate writes Delta tables with delta-rs (``deltalake``). Spark reads them in
one of three ways, all giving the rows of the same snapshot:

1. **Native Delta** (``format("delta")``) when delta-spark is on the
   session's classpath, as on EMR. Time travel uses ``versionAsOf`` and
   ``timestampAsOf``.
2. **Snapshot files** otherwise, for local tables: delta-rs resolves the
   snapshot (log replay, time travel) and Spark reads exactly its Parquet
   files (those of :meth:`deltalake.DeltaTable.file_uris`, resolved from the
   snapshot's add actions because ``file_uris`` leaves a table root with
   special characters percent-encoded) with an explicit schema converted
   from the Delta schema, so column types and order are the table's, and
   columns added by schema evolution read as null from older files.
   Partition values come from the Hive-style directories (``basePath`` is the
   table root), which keeps Spark's partition pruning. When Spark would decode
   a directory differently from the Delta log (delta-rs percent-encodes
   non-ASCII values as UTF-8 bytes, which Spark decodes byte by byte; Spark
   refuses empty values ``col=``), the partition values are taken from the
   Delta log instead and joined to the rows on the file name.
3. **Through Arrow** for tables outside the local file system (``s3://``...):
   Spark here has no S3A jars, so delta-rs reads the snapshot into an Arrow
   table on the driver and Spark gets it with ``createDataFrame``. This
   materializes the whole snapshot in driver memory; it is meant for small
   tables and demos. Clusters that read large S3 tables should have delta-spark
   (path 1).

A snapshot that uses deletion vectors or column mapping cannot be read
correctly from its Parquet files alone; without delta-spark such a read raises
:class:`EngineError` rather than returning wrong rows.

Classic and Spark Connect sessions share this module: everything here uses
only the DataFrame API both implement. One Python process cannot hold a
classic session and a local Spark Connect server at the same time (pyspark
refuses to start the second, or silently hands out the first), so
:func:`spark_session` keeps exactly one.

pyspark and deltalake are imported lazily, inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
import uuid
import warnings
import weakref
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lake.errors import ConfigError, InvalidInput, LakegateError, NotFound, StorageError
from lake.settings import Settings, get_settings

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "EngineError",
    "delta_jars_available",
    "read_delta",
    "register_delta",
    "spark_session",
    "stop_spark",
]

log = logging.getLogger(__name__)


class EngineError(LakegateError):
    """Spark could not start, or could not read a table correctly."""

    code = "engine_error"
    http_status = 500


# --------------------------------------------------------------------------- session

_LOCK = threading.RLock()
_SESSION: SparkSession | None = None
_SESSION_TARGET: str | None = None
_JARS_CACHE: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

#: pyspark warns at import time that it does not "fully support" pandas 3; the
#: warning concerns pandas conversions Lakegate does not use.
_PANDAS_WARNING = r"PySpark does not yet fully support pandas"


@contextlib.contextmanager
def _quiet_pyspark_imports() -> Iterator[None]:
    """Silence pyspark's import-time pandas-version warning, and only that."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        yield


def _local_cores(master: str) -> int | None:
    """Cores of a ``local``, ``local[N]``, ``local[*]`` or ``local[N,F]`` master; None otherwise."""
    match = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if match is None:
        return None
    cores = match.group(1)
    if cores is None:
        return 1
    if cores == "*":
        return os.cpu_count() or 1
    return max(1, int(cores))


def _engine_conf(master: str) -> dict[str, str]:
    """Startup configuration of a session (or local Connect server) on ``master``."""
    conf = {
        "spark.app.name": "lakegate",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.log.level": "ERROR",
    }
    cores = _local_cores(master)
    if cores is not None:
        # The default of 200 shuffle partitions makes every small local query slow.
        conf["spark.sql.shuffle.partitions"] = str(min(max(2 * cores, 2), 16))
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    return conf


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _is_stopped(spark: Any) -> bool:
    if _is_connect(spark):
        return bool(getattr(spark, "is_stopped", False))
    sc = getattr(spark, "_sc", None)
    return sc is None or getattr(sc, "_jsc", None) is None


def _target(settings: Settings) -> str:
    if settings.spark_remote:
        return f"remote {settings.spark_remote}"
    if settings.spark_master.startswith("local"):
        # local, local[2], local[*]: one in-process engine serves them all; the
        # thread count of the first one stays.
        return "master local"
    return f"master {settings.spark_master}"


#: How long a local Spark Connect server may take to answer; a busy machine
#: (two test suites side by side on two cores) needs well over a minute.
CONNECT_START_SECONDS = 240.0


def _start_local_connect(master: str, conf: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Start a Spark Connect server on ``master`` in this process; return its URL
    and the settings a Connect session may still take.

    pyspark's own ``remote("local[N]")`` binds the server to the fixed port 15002
    on every interface, so a second process on the machine collides with the
    first (and may reach the first one's server). Here the server takes a free
    port on loopback, and :func:`_wait_until_answering` waits for it.
    """
    from pyspark.sql import SparkSession as ClassicSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    opts = {**conf, "spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": "0"}
    os.environ["SPARK_LOCAL_REMOTE"] = "1"  # pyspark's marker: stopping the session stops the server
    ConnectSession._start_connect_server(master, opts)  # keeps only runtime settings in opts
    server = ClassicSession._instantiatedSession
    if server is None:  # pragma: no cover - _start_connect_server always makes one
        raise EngineError(f"the local Spark Connect server on {master} did not start")
    service = getattr(server._jvm, "org.apache.spark.sql.connect.service.SparkConnectService$")
    port = int(getattr(service, "MODULE$").localPort())
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    return f"sc://localhost:{port}", opts


def _wait_until_answering(session: Any, url: str) -> None:
    """Call the server until it answers, for up to :data:`CONNECT_START_SECONDS`."""
    import time

    deadline = time.monotonic() + CONNECT_START_SECONDS
    delay = 0.1
    while True:
        try:
            session.version  # one round trip
            return
        except Exception as exc:  # noqa: BLE001 - any failure before the deadline is retried
            if time.monotonic() + delay > deadline:
                raise EngineError(
                    f"the Spark Connect server at {url} did not answer within "
                    f"{CONNECT_START_SECONDS:.0f} s: {exc}"
                ) from exc
            log.info("waiting for the Spark Connect server at %s: %s", url, exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _build_session(settings: Settings) -> SparkSession:
    with _quiet_pyspark_imports():
        from pyspark.sql import SparkSession

        if settings.spark_remote:
            from pyspark.sql.connect.session import SparkSession as ConnectSession

            url = settings.spark_remote
            if url.startswith("local"):
                url, conf = _start_local_connect(url, _engine_conf(url))
            else:
                conf = {"spark.sql.session.timeZone": "UTC"}
            connect_builder = ConnectSession.builder.remote(url)
            for key, value in conf.items():
                connect_builder = connect_builder.config(key, value)
            connect = connect_builder.getOrCreate()
            if settings.spark_remote.startswith("local"):
                _wait_until_answering(connect, url)
            # Both session classes implement the DataFrame API this module uses.
            return connect  # type: ignore[return-value]

        builder = SparkSession.builder.master(settings.spark_master)
        for key, value in _engine_conf(settings.spark_master).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        if _is_connect(session):
            raise EngineError(
                "a Spark Connect session is active in this process, so pyspark cannot start a "
                f"classic session on {settings.spark_master}; a process can hold only one of them"
            )
        return session


def spark_session(settings: Settings | None = None) -> SparkSession:
    """The process-wide Spark session, started on first use.

    With ``settings.spark_remote`` set, the session is a Spark Connect client
    (``sc://host:15002``; a ``local[N]`` URL starts a Connect server inside
    this process). Otherwise it is a classic session on
    ``settings.spark_master`` with the UI disabled, UTC as session time zone,
    quiet logging and, on a local master, few shuffle partitions.

    Args:
        settings: Where Spark runs; defaults to :func:`lake.settings.get_settings`.

    Returns:
        The cached session; a stopped one is replaced by a new one.

    Raises:
        ConfigError: A session for different settings is already running; call
            :func:`stop_spark` first.
        EngineError: Spark could not start.
    """
    global _SESSION, _SESSION_TARGET
    settings = settings or get_settings()
    target = _target(settings)
    with _LOCK:
        if _SESSION is not None and not _is_stopped(_SESSION):
            if target != _SESSION_TARGET:
                raise ConfigError(
                    f"a Spark session for {_SESSION_TARGET} is already running in this process; "
                    f"call stop_spark() before starting one for {target}"
                )
            return _SESSION
        try:
            session = _build_session(settings)
        except LakegateError:
            raise
        except Exception as exc:
            raise EngineError(f"cannot start Spark ({target}): {exc}") from exc
        _SESSION, _SESSION_TARGET = session, target
        log.info("started Spark session (%s)", target)
        return session


def stop_spark() -> None:
    """Stop the process-wide session, if one was started; the next call starts a new one."""
    global _SESSION, _SESSION_TARGET
    with _LOCK:
        session, _SESSION, _SESSION_TARGET = _SESSION, None, None
        if session is None:
            return
        with contextlib.suppress(TypeError, KeyError):
            del _JARS_CACHE[session]
        try:
            session.stop()
        except Exception as exc:  # a session that is already gone cannot be stopped twice
            log.warning("stopping Spark failed: %s", exc)


# --------------------------------------------------------------------------- delta-spark


def _error_condition(exc: BaseException) -> str:
    get = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    if get is not None:
        try:
            return str(get() or "")
        except Exception:  # noqa: BLE001 - best effort on foreign exception types
            return ""
    return ""


def _probe_delta_source(spark: SparkSession) -> bool:
    from pyspark.errors import AnalysisException

    probe = os.path.join(tempfile.gettempdir(), f"lakegate-delta-probe-{uuid.uuid4().hex}")
    try:
        # Analysis resolves the data source first, then looks at the (missing) path.
        spark.read.format("delta").load(probe).schema
    except AnalysisException as exc:
        condition = _error_condition(exc)
        text = str(exc)
        if (
            condition.startswith("DATA_SOURCE_NOT_FOUND")
            or "DATA_SOURCE_NOT_FOUND" in text
            or "Failed to find the data source" in text
        ):
            return False
        # The source resolved and complained about the path: Delta is there.
        return True
    except Exception as exc:  # noqa: BLE001 - e.g. ClassNotFoundException from a broken classpath
        text = str(exc)
        if not ("DATA_SOURCE_NOT_FOUND" in text or "ClassNotFound" in text):
            log.warning("cannot tell whether Spark has delta-spark; assuming not: %s", exc)
        return False
    return True


def delta_jars_available(spark: SparkSession) -> bool:
    """Whether ``spark`` can read Delta natively (``format("delta")``).

    True when delta-spark's data source is on the session's classpath (as on
    EMR with the Delta jars). The answer comes from resolving the ``delta``
    data source on a path that does not exist, which works the same for
    classic and Spark Connect sessions and never raises; it is cached per
    session.

    Args:
        spark: A classic or Spark Connect session.

    Returns:
        Whether native Delta reads are possible.
    """
    try:
        return _JARS_CACHE[spark]
    except (KeyError, TypeError):
        pass
    with _quiet_pyspark_imports():
        available = _probe_delta_source(spark)
    with contextlib.suppress(TypeError):
        _JARS_CACHE[spark] = available
    return available


# --------------------------------------------------------------------------- read


def _as_utc(timestamp: datetime | str) -> datetime:
    if isinstance(timestamp, str):
        text = timestamp.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInput(f"timestamp {timestamp!r} is not an ISO 8601 date and time") from exc
    elif isinstance(timestamp, datetime):
        parsed = timestamp
    else:
        raise InvalidInput(f"timestamp must be a datetime or an ISO 8601 string, not {type(timestamp).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _is_local_uri(table_uri: str) -> bool:
    scheme = urlparse(table_uri).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def _local_root(dt: DeltaTable, table_uri: str) -> str:
    """The table root as a local path (``DeltaTable.table_uri`` is a percent-encoded URI)."""
    parsed = urlparse(dt.table_uri)
    if parsed.scheme == "file":
        return unquote(parsed.path).rstrip("/") or "/"
    return os.path.abspath(urlparse(table_uri).path if table_uri.startswith("file:") else table_uri)


def _load_snapshot(
    table_uri: str,
    version: int | None,
    timestamp: datetime | None,
    storage_options: dict[str, str] | None,
) -> DeltaTable:
    """The delta-rs snapshot at a version or timestamp, with Lakegate errors."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        latest = DeltaTable(table_uri, storage_options=storage_options)
    except TableNotFoundError as exc:
        raise StorageError(f"no Delta table at {table_uri}: {exc}") from exc
    except DeltaError as exc:
        raise StorageError(f"cannot open Delta table {table_uri}: {exc}") from exc
    if version is not None:
        if version > latest.version():
            raise NotFound(
                f"version {version} of Delta table {table_uri} does not exist (latest is {latest.version()})"
            )
        if version == latest.version():
            return latest
        try:
            return DeltaTable(table_uri, version=version, storage_options=storage_options)
        except DeltaError as exc:
            raise NotFound(f"version {version} of Delta table {table_uri} cannot be loaded: {exc}") from exc
    if timestamp is not None:
        try:
            snap = DeltaTable(table_uri, storage_options=storage_options)
            snap.load_as_version(timestamp)
        except DeltaError as exc:
            raise NotFound(f"Delta table {table_uri} has no version as of {timestamp.isoformat()}: {exc}") from exc
        if snap.version() == 0:
            # delta-rs answers version 0 for any earlier time; before the first
            # commit the table did not exist (delta-spark refuses such a read too).
            # History comes from the latest snapshot: on a time-travelled one,
            # delta-rs 1.6 numbers the commits from the loaded version down.
            first = [h for h in latest.history() if h.get("version") == 0]
            created_ms = int(first[0].get("timestamp") or 0) if first else 0
            if created_ms and timestamp.timestamp() * 1000 < created_ms:
                created = datetime.fromtimestamp(created_ms / 1000, tz=timezone.utc)
                raise NotFound(
                    f"Delta table {table_uri} did not exist at {timestamp.isoformat()} "
                    f"(first commit at {created.isoformat()})"
                )
        return snap
    return latest


def _refuse_unreadable(dt: DeltaTable, table_uri: str) -> None:
    """Raise for snapshots whose Parquet files alone do not give the right rows."""
    import pyarrow as pa

    protocol = dt.protocol()
    reader_features = set(protocol.reader_features or ())
    if "deletionVectors" in reader_features:
        vectors = pa.table(dt.deletion_vectors())
        if vectors.num_rows:
            raise EngineError(
                f"Delta table {table_uri} (version {dt.version()}) has deletion vectors on "
                f"{vectors.num_rows} file(s); reading its Parquet files would return deleted rows. "
                "Read it with delta-spark on the classpath, or rewrite the files "
                "(e.g. DeltaTable.optimize.compact() or a REORG) first."
            )
    mode = (dt.metadata().configuration or {}).get("delta.columnMapping.mode") or "none"
    if mode != "none":
        raise EngineError(
            f"Delta table {table_uri} uses column mapping (mode {mode!r}); its Parquet files use "
            "physical column names, so it can only be read with delta-spark on the classpath"
        )


def _arrow_schema(dt: DeltaTable) -> pa.Schema:
    import pyarrow as pa

    schema = pa.schema(dt.schema().to_arrow())
    return pa.schema([field.remove_metadata() for field in schema])


def _spark_schema(arrow_schema: pa.Schema) -> StructType:
    with _quiet_pyspark_imports():
        from pyspark.sql.pandas.types import from_arrow_schema

    try:
        # Delta ``timestamp`` is Arrow timestamp with UTC (Spark TimestampType);
        # Delta ``timestamp_ntz`` has no zone (Spark TimestampNTZType).
        return from_arrow_schema(arrow_schema, prefer_timestamp_ntz=True)
    except Exception as exc:
        raise EngineError(f"Spark cannot represent the Delta schema {arrow_schema}: {exc}") from exc


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _in_delta_order(df: DataFrame, names: list[str]) -> DataFrame:
    """Columns in the Delta schema's order (Spark appends partition columns last)."""
    if df.columns == names:
        return df
    return df.select(*[df[_quote(name)] for name in names])


def _hive_parsable(field: pa.Field) -> bool:
    """Whether Spark parses this partition type from a delta-rs directory name exactly."""
    import pyarrow as pa

    t = field.type
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date32(t)
        or pa.types.is_timestamp(t)
    )


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _spark_unescape(value: str) -> str:
    """Decode a path segment as Spark does: each ``%XX`` is one character."""
    return _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), value)


def _hive_paths_faithful(
    rel_paths: list[str], values: dict[str, list[Any]], partition_columns: list[str], arrow_schema: pa.Schema
) -> bool:
    """Whether Spark's partition discovery gives the Delta log's partition values.

    Args:
        rel_paths: Data files relative to the table root, as named on disk.
        values: Partition column to its value per file, from the Delta log.
        partition_columns: The table's partition columns, outermost first.
        arrow_schema: The table's schema.
    """
    if not all(_hive_parsable(arrow_schema.field(col)) for col in partition_columns):
        return False
    for i, path in enumerate(rel_paths):
        dirs = path.split("/")[:-1]
        if len(dirs) != len(partition_columns):
            return False
        for seg, col in zip(dirs, partition_columns):
            name, sep, raw = seg.partition("=")
            if not sep or _spark_unescape(name) != col or raw == "":
                return False  # Spark refuses `col=` (delta-rs writes it for '')
            value = values[col][i]
            if raw == _HIVE_NULL:
                if value is not None:
                    return False
                continue
            if value is None:
                return False
            decoded = _spark_unescape(raw)
            if not decoded.isascii():
                return False  # delta-rs escapes UTF-8 bytes; Spark decodes each as a char
            if isinstance(value, str) and decoded != value:
                return False
    return True


def _read_files_with_log_partitions(
    spark: SparkSession,
    files: list[str],
    values: dict[str, list[Any]],
    partition_columns: list[str],
    arrow_schema: pa.Schema,
    spark_schema: StructType,
) -> DataFrame | None:
    """Read data files without partition discovery; join partition values from the log.

    Each file's rows get that file's partition values through a broadcast join
    on the file name. Returns None when file names do not identify files
    (then the caller reads through Arrow).
    """
    import pyarrow as pa
    from pyspark.sql.types import StringType, StructField, StructType

    key = "__lakegate_file_name"
    names = [f.rsplit("/", 1)[-1] for f in files]
    if len(set(names)) != len(names) or not all(_SAFE_FILE_NAME.fullmatch(n) for n in names):
        return None
    data_fields = [f for f in spark_schema.fields if f.name not in partition_columns]
    if not data_fields:
        return None
    part_fields = [f for f in spark_schema.fields if f.name in partition_columns]
    parts = pa.table(
        [pa.array(names, pa.string())]
        + [pa.array(values[col], arrow_schema.field(col).type) for col in partition_columns],
        names=[key, *partition_columns],
    )
    parts_df = spark.createDataFrame(parts, schema=StructType([StructField(key, StringType(), False), *part_fields]))
    data = (
        spark.read.schema(StructType(data_fields))
        .option("recursiveFileLookup", "true")  # no partition discovery from the paths
        .parquet(*[_glob_escape(f) for f in files])
    )
    data = data.select("*", data["_metadata.file_name"].alias(key))
    return data.join(parts_df.hint("broadcast"), on=key, how="inner").drop(key)


def _read_through_arrow(
    spark: SparkSession, dt: DeltaTable, arrow_schema: pa.Schema, spark_schema: StructType
) -> DataFrame:
    """The snapshot read by delta-rs into driver memory, handed to Spark."""
    import pyarrow as pa

    table = dt.to_pyarrow_table().select(arrow_schema.names)
    table = table.cast(pa.schema([pa.field(f.name, f.type, nullable=True) for f in arrow_schema]))
    return spark.createDataFrame(table, schema=spark_schema)


def _glob_escape(path: str) -> str:
    """Escape Hadoop glob characters so Spark reads the path literally."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", path)


def _read_with_delta_jars(
    spark: SparkSession, table_uri: str, version: int | None, timestamp: datetime | None
) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", str(version))
    elif timestamp is not None:
        reader = reader.option("timestampAsOf", timestamp.isoformat())
    return reader.load(table_uri)


def _read_snapshot(spark: SparkSession, dt: DeltaTable, table_uri: str) -> DataFrame:
    import pyarrow as pa

    _refuse_unreadable(dt, table_uri)
    arrow_schema = _arrow_schema(dt)
    spark_schema = _spark_schema(arrow_schema)
    names = arrow_schema.names
    if not _is_local_uri(dt.table_uri):
        return _read_through_arrow(spark, dt, arrow_schema, spark_schema)
    adds = pa.table(dt.get_add_actions(flatten=True))
    if adds.num_rows == 0:
        return spark.createDataFrame([], spark_schema)
    # Paths in the log are URIs relative to the root (or absolute). They are
    # resolved here rather than with DeltaTable.file_uris(), which leaves the
    # root percent-encoded (a root with a space gives paths that do not exist).
    root = _local_root(dt, table_uri)
    files: list[str] = []
    rel_paths: list[str] = []
    for raw in adds.column("path").to_pylist():
        parsed = urlparse(raw)
        if parsed.scheme == "":
            rel = unquote(raw)
            rel_paths.append(rel)
            files.append(f"{root.rstrip('/')}/{rel}")
        elif parsed.scheme == "file":
            files.append(unquote(parsed.path))
        else:
            return _read_through_arrow(spark, dt, arrow_schema, spark_schema)
    partition_columns = list(dt.metadata().partition_columns)
    if not partition_columns:
        df = (
            spark.read.schema(spark_schema)
            .option("recursiveFileLookup", "true")  # no partition discovery from the paths
            .parquet(*[_glob_escape(f) for f in files])
        )
        return _in_delta_order(df, names)
    values = {col: adds.column(f"partition.{col}").to_pylist() for col in partition_columns}
    if len(rel_paths) == len(files) and _hive_paths_faithful(rel_paths, values, partition_columns, arrow_schema):
        df = (
            spark.read.schema(spark_schema)
            .option("basePath", root)
            # Timestamp partition values are written in UTC whatever the session's zone.
            .option("timeZone", "UTC")
            .parquet(*[_glob_escape(f) for f in files])
        )
        return _in_delta_order(df, names)
    joined = _read_files_with_log_partitions(spark, files, values, partition_columns, arrow_schema, spark_schema)
    if joined is None:
        return _read_through_arrow(spark, dt, arrow_schema, spark_schema)
    return _in_delta_order(joined, names)


def read_delta(
    spark: SparkSession,
    table_uri: str,
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: dict[str, str] | None = None,
) -> DataFrame:
    """A DataFrame of a Delta table's snapshot, the latest by default.

    With delta-spark on the classpath Spark reads the table natively.
    Otherwise delta-rs resolves the snapshot and Spark reads its Parquet
    files (local tables) or an Arrow copy of it (other stores, collected on
    the driver); see the module documentation.

    Time travel: ``timestamp`` selects the last version committed at or before
    it (a naive datetime or a string without offset is UTC). Without
    delta-spark a timestamp after the last commit gives the latest version,
    and one before the first commit raises :class:`~lake.errors.NotFound`.

    Args:
        spark: A classic or Spark Connect session.
        table_uri: Table root: a local path, ``file://`` or ``s3://`` URI.
        version: Table version to read.
        timestamp: Read the version current at this time (datetime or ISO 8601).
        storage_options: delta-rs storage options (credentials, endpoint). A
            native delta-spark read uses the cluster's own configuration.

    Returns:
        The snapshot's rows, columns in the Delta schema's order and types.

    Raises:
        InvalidInput: Both ``version`` and ``timestamp``, or a malformed one.
        StorageError: No Delta table at ``table_uri``.
        NotFound: The version does not exist, or the table did not at ``timestamp``.
        EngineError: Spark failed, or the snapshot needs delta-spark
            (deletion vectors, column mapping).
    """
    if version is not None and timestamp is not None:
        raise InvalidInput("give a version or a timestamp to read, not both")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise InvalidInput(f"table version must be a non-negative integer, not {version!r}")
    as_of = _as_utc(timestamp) if timestamp is not None else None
    try:
        if delta_jars_available(spark):
            return _read_with_delta_jars(spark, table_uri, version, as_of)
        dt = _load_snapshot(table_uri, version, as_of, storage_options)
        return _read_snapshot(spark, dt, table_uri)
    except LakegateError:
        raise
    except Exception as exc:
        raise EngineError(f"Spark cannot read Delta table {table_uri}: {exc}") from exc


_VIEW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def register_delta(
    spark: SparkSession,
    name: str,
    table_uri: str,
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: dict[str, str] | None = None,
) -> DataFrame:
    """Read a Delta snapshot (:func:`read_delta`) and register it as a temp view.

    Args:
        spark: A classic or Spark Connect session.
        name: Temp view name for Spark SQL (letters, digits, underscores).
        table_uri: Table root, as for :func:`read_delta`.
        version: Table version to read.
        timestamp: Read the version current at this time.
        storage_options: delta-rs storage options.

    Returns:
        The DataFrame behind the view.

    Raises:
        InvalidInput: ``name`` is not a plain identifier, or bad time travel arguments.
        StorageError, NotFound, EngineError: As for :func:`read_delta`.
    """
    if not _VIEW_NAME.fullmatch(name):
        raise InvalidInput(f"temp view name {name!r} must be letters, digits and underscores")
    df = read_delta(spark, table_uri, version=version, timestamp=timestamp, storage_options=storage_options)
    try:
        df.createOrReplaceTempView(name)
    except Exception as exc:
        raise EngineError(f"cannot register Delta table {table_uri} as view {name}: {exc}") from exc
    return df
