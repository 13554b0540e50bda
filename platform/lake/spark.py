"""The Spark engine: one process-wide session, and Delta tables read and written through it.

Lakegate's Spark sessions (classic, a local Spark Connect server, or a
cluster) load the engine's JVM jars from the project's jar folder
(``jvm/jars``, fetched and checksummed by ``scripts/bootstrap.sh``;
``LAKEGATE_SPARK_JARS_DIR`` elsewhere): delta-spark for the pinned Spark
release, hadoop-aws and the AWS SDK bundle. There is one read path: tables
are read natively with ``format("delta")``, local paths and ``s3a://``
alike, with time travel through ``versionAsOf`` and ``timestampAsOf``; the
snapshot's log is replayed by delta-spark on the engine, so deletion
vectors, column mapping and every other reader feature of the protocol
apply, and no table is ever copied into the driver.

The lake's ``s3://`` URIs name the same objects as ``s3a://`` URIs (Hadoop's
S3 connector); the S3A settings of a bucket (endpoint, region, path-style
access for S3-compatible endpoints, credentials) come from the delta-rs
storage options Lakegate already builds for the table's domain
(:meth:`lake.s3.S3Store.storage_options`) and are set as S3A per-bucket
options (``fs.s3a.bucket.<bucket>.*``): in the engine's Hadoop configuration
for an engine in this process, in the Spark session's configuration for a
remote one. Writes add the domain's SSE-KMS key (see :func:`write_delta`).

Classic and Spark Connect sessions share this module: everything here uses
only the DataFrame API both implement. One Python process cannot hold a
classic session and a local Spark Connect server at the same time (pyspark
refuses to start the second, or silently hands out the first), so
:func:`spark_session` keeps exactly one.

The engine survives any query: a driver started here has a bounded result
size (``spark.driver.maxResultSize``) and, optionally, a bounded heap. When
a query kills the engine's JVM anyway (an ``OutOfMemoryError`` makes Spark
exit), :func:`engine_lost` tells the caller so (the query gets
:class:`EngineLost`) and the next :func:`spark_session` call starts a new
engine.

pyspark is imported lazily, inside the functions that use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from lake.errors import ConfigError, InvalidInput, LakegateError, NotFound, StorageError
from lake.settings import Settings
from lake.timestamps import as_utc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "DEFAULT_JARS_DIR",
    "EngineError",
    "EngineLost",
    "EngineUnavailable",
    "WriteResult",
    "engine_conf",
    "engine_jars",
    "engine_lost",
    "error_condition",
    "lake_bucket_settings",
    "read_delta",
    "register_delta",
    "s3a_settings",
    "spark_path",
    "spark_session",
    "sql_with_args",
    "stop_spark",
    "warm_up",
    "write_delta",
]

log = logging.getLogger(__name__)


class EngineError(LakegateError):
    """Spark could not start, or could not read or write a table."""

    code = "engine_error"
    http_status = 500


class EngineLost(EngineError):
    """The engine stopped while it ran a query; the next call starts a new one."""

    code = "engine_restarting"
    http_status = 503
    #: About how long a supervised engine takes to start again.
    retry_after = 15


# --------------------------------------------------------------------------- jars

#: The project's jar folder: ``<project>/jvm/jars`` beside ``platform/lake``.
DEFAULT_JARS_DIR = Path(__file__).resolve().parents[2] / "jvm" / "jars"

#: Where ``scripts/build-jvm.sh`` puts Lakegate's own JVM piece (``jvm/src``).
BUILD_JARS_DIR = DEFAULT_JARS_DIR.parent / "build"

#: Jars the engine cannot work without (name prefixes in the jar folders).
REQUIRED_JARS = ("delta-spark_", "delta-storage-", "hadoop-aws-", "bundle-", "lakegate-s3a")

#: The S3A interceptor of ``jvm/src`` that names each object's domain key (SSE-KMS).
DOMAIN_KEY_INTERCEPTOR = "io.lakegate.s3a.DomainKeyInterceptor"


def engine_jars(settings: Settings) -> list[str]:
    """The engine's jar files, from ``settings.engine.jars_dir`` or the project's ``jvm/jars``.

    Lakegate's own ``lakegate-s3a`` jar is taken from the same folder, else
    from the project's ``jvm/build`` (``scripts/build-jvm.sh``).

    Args:
        settings: Where the jar folder is.

    Returns:
        Absolute paths of every ``.jar`` in the folder (and of Lakegate's own), sorted.

    Raises:
        ConfigError: The folder is missing or lacks delta-spark, delta-storage,
            hadoop-aws, the AWS SDK bundle or Lakegate's own jar; the message
            says how to get them.
    """
    folder = settings.engine.jars_dir or DEFAULT_JARS_DIR
    jars = sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []
    if not any(os.path.basename(j).startswith("lakegate-s3a") for j in jars) and BUILD_JARS_DIR.is_dir():
        jars += sorted(str(p) for p in BUILD_JARS_DIR.glob("lakegate-s3a*.jar"))
    names = [os.path.basename(j) for j in jars]
    missing = [prefix.rstrip("_-") for prefix in REQUIRED_JARS if not any(n.startswith(prefix) for n in names)]
    if missing:
        where = "LAKEGATE_SPARK_JARS_DIR" if settings.engine.jars_dir else "the project's jvm/jars"
        raise ConfigError(
            f"the Spark engine's jars ({', '.join(missing)}) are not in {where} ({folder}); "
            "run scripts/bootstrap.sh to fetch and build them, or point LAKEGATE_SPARK_JARS_DIR at a folder "
            "that has them"
        )
    return jars


# --------------------------------------------------------------------------- session

_LOCK = threading.RLock()
_SESSION: SparkSession | None = None
_SESSION_TARGET: str | None = None
#: S3A settings already applied: key 0 for the engine in this process (its Hadoop
#: configuration), else ``id()`` of the remote Connect session.
_APPLIED: dict[int, dict[str, str]] = {}

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


DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"

#: SQL settings of every Lakegate session, local or remote.
_SESSION_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    # No ${...} substitution: a query never sees configuration values.
    "spark.sql.variable.substitute": "false",
    # delta-spark's SQL parser (4.4 on Spark 4.2) drops the parameters that
    # Spark 4.1+ binds while parsing, so spark.sql(text, args=...) fails with
    # UNBOUND_SQL_PARAMETER (delta-io/delta#7640); the legacy binding in the
    # analyzer works with any parser.
    "spark.sql.legacy.parameterSubstitution.constantsOnly": "true",
}
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def engine_conf(master: str, settings: Settings) -> dict[str, str]:
    """Startup configuration of an engine Lakegate starts on ``master`` (a session or a Connect server).

    The jars go on the driver's and the executors' class path: for a local
    master the executors are the driver, and the workers of a cluster started
    from this installation (tests, a single host) see the same folder. A
    cluster elsewhere brings its own delta-spark and hadoop-aws (EMR does).
    """
    classpath = os.pathsep.join(engine_jars(settings))
    conf = {
        "spark.app.name": "lakegate",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.driver.maxResultSize": settings.engine.max_result_size,
        **_SESSION_SQL_CONF,
    }
    if settings.engine.driver_memory:
        conf["spark.driver.memory"] = settings.engine.driver_memory
    if re.fullmatch(r"spark://(127\.0\.0\.1|localhost)(:\d+)?", master.strip()):
        # A cluster on loopback (tests, one host): executors reach the driver there.
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    cores = _local_cores(master)
    if cores is not None:
        # The default of 200 shuffle partitions (and Delta's 50 for log replay)
        # makes every small local query slow.
        small = str(min(max(2 * cores, 2), 16))
        conf["spark.sql.shuffle.partitions"] = small
        conf["spark.databricks.delta.snapshotPartitions"] = small
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


def _local_jvm() -> Any:
    """The py4j gateway of the JVM this process started, if any."""
    from pyspark import SparkContext

    return SparkContext._gateway


def _jvm_exited() -> bool:
    """Whether the JVM this process started (classic or local Connect engine) has exited."""
    if "pyspark" not in sys.modules:
        return False
    gateway = _local_jvm()
    proc = getattr(gateway, "proc", None) if gateway is not None else None
    return proc is not None and proc.poll() is not None


def _forget_dead_jvm() -> None:
    """Drop pyspark's handles on a JVM that has exited, so the next session starts a new one."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession as ClassicSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    gateway = SparkContext._gateway
    with contextlib.suppress(Exception):
        if gateway is not None:
            gateway.shutdown()
    context = SparkContext._active_spark_context
    if context is not None:
        context._jsc = None
        with contextlib.suppress(Exception):
            if context._accumulatorServer is not None:
                context._accumulatorServer.shutdown()
                context._accumulatorServer = None  # type: ignore[assignment]
    SparkContext._active_spark_context = None
    SparkContext._gateway = None
    SparkContext._jvm = None
    ClassicSession._instantiatedSession = None
    ClassicSession._activeSession = None
    ConnectSession._default_session = None
    ConnectSession._active_session.session = None
    for name in ("SPARK_LOCAL_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
        os.environ.pop(name, None)


def _target(settings: Settings) -> str:
    if settings.engine.remote:
        return f"remote {settings.engine.remote}"
    if settings.engine.master.startswith("local"):
        # local, local[2], local[*]: one in-process engine serves them all; the
        # thread count of the first one stays.
        return "master local"
    return f"master {settings.engine.master}"


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
            _ = session.version  # one round trip
            return
        except Exception as exc:  # any failure before the deadline is retried
            if time.monotonic() + delay > deadline:
                raise EngineError(
                    f"the Spark Connect server at {url} did not answer within "
                    f"{CONNECT_START_SECONDS:.0f} s: {exc}"
                ) from exc
            log.info("waiting for the Spark Connect server at %s: %s", url, exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class EngineUnavailable(EngineError):
    """No Spark engine answers at ``LAKEGATE_SPARK_REMOTE``."""

    code = "engine_unavailable"
    http_status = 503
    retry_after = 15


def _check_reachable(url: str, seconds: float = 3.0) -> None:
    """Fail at once, with what to do, when nothing listens at a Spark Connect URL."""
    import socket

    parsed = urlparse(url.replace("sc://", "http://", 1))
    host, port = parsed.hostname or "localhost", parsed.port or 15002
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return
    except OSError as exc:
        raise EngineUnavailable(
            f"no Spark engine answers at {url} ({exc.strerror or exc}); start one with `lakegate engine start`, "
            "or unset LAKEGATE_SPARK_REMOTE to run Spark inside this process"
        ) from None


#: How a client of a remote engine retries a call the engine did not take (it
#: is down or restarting): a few quick tries over about three seconds, then the
#: call fails and the query is answered ``engine_restarting`` (503). pyspark's
#: default keeps trying for ten minutes, so a query would sit out its whole
#: time limit while the supervisor starts a new engine.
REMOTE_RETRIES = 5
REMOTE_BACKOFF_MS = (100, 1000)  # first wait, longest wait; each wait doubles


def _retry_briefly(session: Any) -> None:
    """Give a remote engine's client :data:`REMOTE_RETRIES` quick retries instead of pyspark's ten-minute default."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    # The failure that follows says what happened; pyspark's warning would only repeat it on stderr.
    warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
    first, longest = REMOTE_BACKOFF_MS
    session.client.set_retry_policies([DefaultPolicy(
        max_retries=REMOTE_RETRIES, initial_backoff=first, backoff_multiplier=2.0, max_backoff=longest)])


def _remote_answers(target: str, seconds: float = 2.0) -> bool:
    """Whether anything listens at a ``remote sc://host:port`` target."""
    try:
        _check_reachable(target.removeprefix("remote "), seconds)
    except EngineUnavailable:
        return False
    return True


def _build_session(settings: Settings) -> SparkSession:
    with _quiet_pyspark_imports():
        from pyspark.sql import SparkSession

        if settings.engine.remote:
            from pyspark.sql.connect.session import SparkSession as ConnectSession

            url = settings.engine.remote
            if url.startswith("local"):
                url, conf = _start_local_connect(url, engine_conf(url, settings))
            else:
                _check_reachable(url)
                conf = dict(_SESSION_SQL_CONF)
            connect_builder = ConnectSession.builder.remote(url)
            for key, value in conf.items():
                connect_builder = connect_builder.config(key, value)
            connect = connect_builder.getOrCreate()
            if settings.engine.remote.startswith("local"):
                _wait_until_answering(connect, url)
            else:
                _retry_briefly(connect)
            # Both session classes implement the DataFrame API this module uses.
            return connect  # type: ignore[return-value]

        builder = SparkSession.builder.master(settings.engine.master)
        for key, value in engine_conf(settings.engine.master, settings).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        if _is_connect(session):
            raise EngineError(
                "a Spark Connect session is active in this process, so pyspark cannot start a "
                f"classic session on {settings.engine.master}; a process can hold only one of them"
            )
        return session


def spark_session(settings: Settings) -> SparkSession:
    """The process-wide Spark session, started on first use.

    With ``settings.engine.remote`` set, the session is a Spark Connect client
    (``sc://host:15002``; a ``local[N]`` URL starts a Connect server inside
    this process). Otherwise it is a classic session on
    ``settings.engine.master``. Engines started here load the engine's jars
    (:func:`engine_jars`) with Delta's session extension and catalog, run
    with the UI disabled, UTC as session time zone, quiet logging, a bounded
    result size and, on a local master, few shuffle partitions.

    Args:
        settings: Where Spark runs (its ``engine`` section), as the composition root passes them down.

    Returns:
        The cached session; a stopped one, or one whose engine has exited, is
        replaced by a new one.

    Raises:
        ConfigError: A session for different settings is already running
            (call :func:`stop_spark` first), or the engine's jars are missing.
        EngineError: Spark could not start.
    """
    global _SESSION, _SESSION_TARGET
    target = _target(settings)
    with _LOCK:
        if _SESSION is not None and _jvm_exited():
            log.error("the Spark engine (%s) has exited; starting a new one", _SESSION_TARGET)
            _SESSION, _SESSION_TARGET = None, None
            _APPLIED.clear()
            _forget_dead_jvm()
        if _SESSION is not None and not _is_stopped(_SESSION):
            if target != _SESSION_TARGET:
                raise ConfigError(
                    f"a Spark session for {_SESSION_TARGET} is already running in this process; "
                    f"call stop_spark() before starting one for {target}"
                )
            _configure_lake_bucket(_SESSION, settings)
            return _SESSION
        if _jvm_exited():  # a JVM left behind by a session started elsewhere in this process
            _forget_dead_jvm()
        try:
            session = _build_session(settings)
        except LakegateError:
            raise
        except Exception as exc:
            raise EngineError(f"cannot start Spark ({target}): {exc}") from exc
        if not (settings.engine.remote or "").startswith("sc://"):
            warm_up(session)
        _configure_lake_bucket(session, settings)
        _SESSION, _SESSION_TARGET = session, target
        log.info("started Spark session (%s)", target)
        return session


def warm_up(spark: Any) -> None:
    """Write and read a one-row Delta table, so that loading delta-spark's classes
    (many seconds on a busy machine) happens at start, not in the first query's time limit."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="lakegate-warm-up-")
    try:
        path = os.path.join(folder, "t")
        spark.range(1).write.format("delta").save(path)
        read_delta(spark, path).collect()
    except Exception as exc:  # noqa: BLE001 - the first real query reports a real problem
        log.warning("warming up the Spark engine failed: %s", _first_line(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _PARTITIONS.clear()


def stop_spark() -> None:
    """Stop the process-wide session, if one was started; the next call starts a new one."""
    global _SESSION, _SESSION_TARGET
    with _LOCK:
        session, _SESSION, _SESSION_TARGET = _SESSION, None, None
        _APPLIED.clear()
        if session is None:
            return
        if _jvm_exited():
            _forget_dead_jvm()
            return
        try:
            session.stop()
        except Exception as exc:  # noqa: BLE001 - a session that is already gone cannot be stopped twice
            log.warning("stopping Spark failed: %s", exc)


#: Words of an error that a dying engine gives the query it was running.
_FATAL_MARKERS = (
    "OutOfMemoryError",
    "Java heap space",
    "GC overhead limit exceeded",
    "SparkContext was shut down",
    "SparkContext has been shutdown",
    "stopped SparkContext",
    "Answer from Java side is empty",
    "Error while sending or receiving",
    "Connection refused",
    "Py4JNetworkError",
)
#: Spark's exit code after an OutOfMemoryError (``SparkExitCode.OOM``).
_SPARK_OOM_EXIT = 52
#: Words of an error a Spark Connect client gets when its remote server went away or restarted.
_REMOTE_LOST_MARKERS = (
    "NO_ACTIVE_SESSION",
    "SESSION_NOT_FOUND",
    "SESSION_CHANGED",
    "StatusCode.UNAVAILABLE",
    "failed to connect",
    "Connection refused",
    "Socket closed",
)
#: How long a dying engine may take to exit (Spark's shutdown hooks run first).
ENGINE_EXIT_SECONDS = 120.0


def _context_stopped() -> bool:
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None or context._jsc is None:
        return True
    try:
        return bool(context._jsc.sc().isStopped())
    except Exception:  # noqa: BLE001 - a JVM that cannot answer is as good as stopped
        return True


def _chain_text(error: BaseException | None) -> str:
    """``Type: message`` of an error and of the errors it was raised from (a wrapped gRPC error says the most)."""
    parts: list[str] = []
    while error is not None and len(parts) < 8:
        try:
            parts.append(f"{type(error).__name__}: {error}")
        except Exception as unreadable:  # noqa: BLE001 - str() of a Py4JJavaError asks the JVM, which may be dead
            parts.append(f"{type(error).__name__}: the JVM did not answer ({type(unreadable).__name__}: "
                         f"{unreadable})")
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


def engine_lost(error: BaseException | None = None) -> EngineLost | None:
    """The error to give a query whose engine died under it, or None if the engine is alive.

    Call it when a query fails. Spark exits its JVM on ``OutOfMemoryError``
    (after running its shutdown hooks, during which the query already gets an
    error): when the error looks like that, this waits up to
    :data:`ENGINE_EXIT_SECONDS` for the JVM this process started to exit. A
    dead engine is forgotten, so that the next :func:`spark_session` starts a
    new one, and the returned error says what happened. A remote engine
    (``sc://``) is lost when the error says its server went away or, with no
    error (the query outlived its time limit), when nothing listens at its
    address any more; its session is dropped so that the next query
    reconnects.

    Args:
        error: The exception the query raised.

    Returns:
        An :class:`EngineLost` to raise, or None.
    """
    global _SESSION, _SESSION_TARGET
    if "pyspark" not in sys.modules:
        return None
    text = _chain_text(error)
    remote = _SESSION_TARGET or ""
    if remote.startswith("remote sc://"):
        # Without an error (the query outlived its time limit), a server that
        # no longer listens is the answer.
        gone = any(m in text for m in _REMOTE_LOST_MARKERS) if error is not None else not _remote_answers(remote)
        if not gone:
            return None
        with _LOCK:
            session, _SESSION, _SESSION_TARGET = _SESSION, None, None
            _APPLIED.clear()
            _PARTITIONS.clear()
        with contextlib.suppress(Exception):
            if session is not None:
                session.client.close()
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        ConnectSession._default_session = None
        ConnectSession._active_session.session = None
        log.error("the Spark engine at %s went away under a query; the next query reconnects", remote[7:])
        return EngineLost(
            f"the Spark engine at {remote[7:]} stopped or restarted while running this query; the next query "
            "reconnects. If it ran out of memory, ask for less at once"
        )
    if not _jvm_exited():
        if not any(m in text for m in _FATAL_MARKERS):
            return None
        gateway = _local_jvm()
        proc = getattr(gateway, "proc", None) if gateway is not None else None
        if proc is None:
            return None
        try:
            proc.wait(timeout=ENGINE_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            if not _context_stopped():
                return None
    gateway = _local_jvm()
    proc = getattr(gateway, "proc", None) if gateway is not None else None
    exit_code = proc.poll() if proc is not None else None
    with _LOCK:
        _SESSION, _SESSION_TARGET = None, None
        _APPLIED.clear()
        _PARTITIONS.clear()
        if _jvm_exited():
            _forget_dead_jvm()
        else:  # the JVM lingers with a stopped context: drop it all the same
            with contextlib.suppress(Exception):
                gateway = _local_jvm()
                if gateway is not None and getattr(gateway, "proc", None) is not None:
                    gateway.proc.kill()
                    gateway.proc.wait(timeout=ENGINE_EXIT_SECONDS)
            _forget_dead_jvm()
    oom = exit_code == _SPARK_OOM_EXIT or any(m in text for m in ("OutOfMemory", "Java heap space", "GC overhead"))
    why = "it ran out of memory" if oom else "its JVM exited"
    log.error("the Spark engine died under a query (%s); the next query starts a new one", why)
    return EngineLost(
        f"the Spark engine stopped while running this query ({why}); it restarts on the next query. "
        "Ask for less at once: fewer or smaller values, a narrower range, an aggregate instead of rows"
    )


# --------------------------------------------------------------------------- SQL with parameters

#: The name under which a Connect query's parameter row is referenced.
_ARGS_REF = "__lg_args"


def sql_with_args(spark: SparkSession, text: str, args: Mapping[str, Any] | None = None) -> DataFrame:
    """``spark.sql(text, args=args)`` that binds named parameters (``:name``) on any session.

    Classic sessions bind them as Spark does (with the analyzer's binding,
    see :data:`_SESSION_SQL_CONF`). Spark Connect's planner binds them in the
    parser, which delta-spark's parser skips (delta-io/delta#7640); there each
    marker becomes a scalar subquery over a one-row relation that carries the
    values, sent in the plan like parameters, never in the SQL text.

    Args:
        spark: A classic or Spark Connect session.
        text: One Spark SQL statement.
        args: Parameter name to value (bytes, str, int, float, bool, date...).

    Returns:
        The statement's DataFrame.
    """
    if not args:
        return spark.sql(text)
    if not _is_connect(spark):
        return spark.sql(text, args=dict(args))
    import sqlglot
    from sqlglot import exp

    names = list(args)
    token = f"lgargsref{uuid.uuid4().hex}"
    tree = sqlglot.parse_one(text, read="spark")

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and str(node.name) in args:
            column = exp.column(exp.to_identifier(str(node.name), quoted=True))
            return exp.Subquery(this=exp.select(column).from_(exp.to_table(token)))
        return node

    bound = tree.transform(bind).sql(dialect="spark")
    # pyspark formats the text with str.format: braces of the statement are doubled.
    bound = bound.replace("{", "{{").replace("}", "}}").replace(token, "{" + _ARGS_REF + "}")
    row = spark.createDataFrame([tuple(args[n] for n in names)], schema=_args_schema(args, names))
    relations: dict[str, Any] = {_ARGS_REF: row}
    return spark.sql(bound, None, **relations)


def _args_schema(args: Mapping[str, Any], names: list[str]) -> Any:
    import datetime as dt
    from decimal import Decimal

    from pyspark.sql import types as T

    def spark_type(value: Any) -> Any:
        if isinstance(value, bool):
            return T.BooleanType()
        if isinstance(value, (bytes, bytearray)):
            return T.BinaryType()
        if isinstance(value, str):
            return T.StringType()
        if isinstance(value, int):
            return T.LongType()
        if isinstance(value, float):
            return T.DoubleType()
        if isinstance(value, Decimal):
            return T.DecimalType(38, 18)
        if isinstance(value, dt.datetime):
            return T.TimestampType()
        if isinstance(value, dt.date):
            return T.DateType()
        raise InvalidInput(f"a SQL parameter of type {type(value).__name__} is not supported")

    return T.StructType([T.StructField(n, spark_type(args[n]), args[n] is None) for n in names])


# --------------------------------------------------------------------------- paths and S3A


def _is_local_uri(table_uri: str) -> bool:
    scheme = urlparse(table_uri).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def spark_path(table_uri: str) -> str:
    """The path Spark reads a table root from.

    Local paths stay as they are (``file://`` URIs become paths, so a root
    with spaces or ``%`` names the same directory); ``s3://bucket/key`` and
    ``s3a://`` become ``s3a://bucket/key``.

    Raises:
        InvalidInput: Another scheme.
    """
    parsed = urlparse(table_uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if _is_local_uri(table_uri):
        return os.path.abspath(table_uri)
    if parsed.scheme in ("s3", "s3a"):
        return "s3a://" + table_uri.split("://", 1)[1]
    raise InvalidInput(f"table URI {table_uri!r} is neither a local path nor s3://")


def _bucket(path: str) -> str | None:
    return urlparse(path).netloc if path.startswith("s3a://") else None


def s3a_settings(bucket: str, storage_options: Mapping[str, str] | None, *,
                 kms_key_id: str | None = None) -> dict[str, str]:
    """S3A per-bucket settings equivalent to delta-rs storage options.

    Args:
        bucket: The bucket the settings are for.
        storage_options: delta-rs options (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
            credentials, ``AWS_SSE_KMS_KEY_ID``...), as
            :meth:`lake.s3.S3Store.storage_options` returns.
        kms_key_id: SSE-KMS key for objects written to the bucket; defaults to
            the options' ``AWS_SSE_KMS_KEY_ID`` when they ask for ``aws:kms``.

    Returns:
        ``fs.s3a.bucket.<bucket>.*`` settings (they may hold credentials: never log them).
    """
    opts = {k.upper(): v for k, v in (storage_options or {}).items()}
    prefix = f"fs.s3a.bucket.{bucket}."
    out: dict[str, str] = {}
    endpoint = opts.get("AWS_ENDPOINT_URL") or opts.get("AWS_ENDPOINT")
    if endpoint:
        out[prefix + "endpoint"] = endpoint
        # S3-compatible endpoints (moto, MinIO) serve buckets by path.
        out[prefix + "path.style.access"] = "true"
        out[prefix + "connection.ssl.enabled"] = "false" if endpoint.startswith("http://") else "true"
    region = opts.get("AWS_REGION") or opts.get("AWS_DEFAULT_REGION")
    if region:
        out[prefix + "endpoint.region"] = region
    key_id, secret = opts.get("AWS_ACCESS_KEY_ID"), opts.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        out[prefix + "access.key"] = key_id
        out[prefix + "secret.key"] = secret
        token = opts.get("AWS_SESSION_TOKEN")
        if token:
            out[prefix + "session.token"] = token
            out[prefix + "aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        else:
            out[prefix + "aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    if kms_key_id is None and opts.get("AWS_SERVER_SIDE_ENCRYPTION", "").lower() == "aws:kms":
        kms_key_id = opts.get("AWS_SSE_KMS_KEY_ID")
    if kms_key_id:
        out[prefix + "encryption.algorithm"] = "SSE-KMS"
        out[prefix + "encryption.key"] = kms_key_id
    return out


def _in_process_engine(spark: Any) -> Any:
    """The classic session of an engine running in this process (classic or local Connect), else None."""
    if not _is_connect(spark):
        return spark
    if "SPARK_LOCAL_REMOTE" in os.environ:
        from pyspark.sql import SparkSession as ClassicSession

        return ClassicSession._instantiatedSession
    return None


def _apply_s3a(spark: Any, settings: Mapping[str, str]) -> None:
    """Put S3A settings where the engine reads them.

    An engine in this process gets them in its Hadoop configuration (shared by
    all its sessions, never visible to SQL); a remote engine gets them in the
    Connect session's configuration, which Spark copies into the Hadoop
    configuration of that session's reads and writes. Hadoop keeps one S3A
    client per bucket once created, so the first settings of a bucket stay.
    Settings already applied cost no call to the engine (every query of an S3
    lake comes here).
    """
    if not settings:
        return
    engine = _in_process_engine(spark)
    # One engine per process when it runs here; otherwise per Connect session.
    key = 0 if engine is not None else id(spark)
    with _LOCK:
        applied = _APPLIED.setdefault(key, {})
        todo = {k: v for k, v in settings.items() if applied.get(k) != v}
        if not todo:
            return
        conf = engine._jsc.hadoopConfiguration() if engine is not None else spark.conf
        for k, v in todo.items():
            conf.set(k, v)
        applied.update(todo)


def lake_bucket_settings(settings: Settings) -> dict[str, str]:
    """S3A settings of the lake's bucket that give every object Spark writes its domain's key.

    S3A's encryption settings are per bucket and the lake keeps every domain
    in one bucket, so Lakegate's interceptor (``jvm/src``, in the
    ``lakegate-s3a`` jar) names the key on each PutObject, multipart upload
    and copy from the object's place in the lake: the key configured for the
    domain (``LAKEGATE_KMS_KEY_IDS``), else the key behind the domain's alias
    ``alias/lakegate/<domain>``, which :meth:`lake.s3.S3Store.ensure_domain`
    creates with the key. Empty for a local lake.
    """
    if not settings.is_s3 or not settings.storage_uri:
        return {}
    from lake.s3 import KEY_ALIAS_PREFIX, parse_s3_uri

    bucket, prefix = parse_s3_uri(settings.storage_uri)
    p = f"fs.s3a.bucket.{bucket}."
    out = {
        p + "audit.enabled": "true",
        p + "audit.execution.interceptors": DOMAIN_KEY_INTERCEPTOR,
        p + "lakegate.prefix": prefix,
        p + "lakegate.kms.alias-prefix": KEY_ALIAS_PREFIX,
    }
    for domain, key_id in sorted(settings.kms_key_ids.items()):
        out[p + f"lakegate.kms.{domain}"] = key_id
    return out


def _configure_lake_bucket(spark: Any, settings: Settings) -> None:
    """Apply :func:`lake_bucket_settings` before the engine opens the bucket."""
    try:
        _apply_s3a(spark, lake_bucket_settings(settings))
    except LakegateError:
        raise
    except Exception as exc:
        raise EngineError(f"cannot configure the Spark engine for the lake's bucket: {_first_line(exc)}") from exc


def _prepare(spark: Any, table_uri: str, storage_options: Mapping[str, str] | None) -> str:
    path = spark_path(table_uri)
    bucket = _bucket(path)
    if bucket is not None:
        # Reads need no key; the bucket's encryption settings come with writes.
        found = s3a_settings(bucket, storage_options)
        _apply_s3a(spark, {k: v for k, v in found.items() if ".encryption." not in k})
    return path


# --------------------------------------------------------------------------- errors


def error_condition(exc: BaseException) -> str:
    """Spark's error condition of ``exc`` (``TABLE_OR_VIEW_NOT_FOUND``...), or ``""`` for other errors."""
    for getter in ("getCondition", "getErrorClass"):
        fn = getattr(exc, getter, None)
        if fn is not None:
            try:
                value = fn()
            except Exception:  # noqa: BLE001 - best effort on foreign exception types
                value = None
            if value:
                return str(value)
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for marker in ("\nJVM stacktrace:", "\n\tat "):
        text = text.split(marker, 1)[0]
    return (text.splitlines()[0] if text else type(exc).__name__)[:1000]


_MISSING_TABLE = (
    "DELTA_MISSING_DELTA_TABLE",
    "DELTA_PATH_DOES_NOT_EXIST",
    "PATH_NOT_FOUND",
    "DELTA_TABLE_NOT_FOUND",
    "DELTA_MISSING_TRANSACTION_LOG",
    "DELTA_EMPTY_DIRECTORY",
)
_NO_DELTA_SOURCE = ("DATA_SOURCE_NOT_FOUND", "Failed to find the data source: delta", "ClassNotFoundException")


def _raise_for(exc: BaseException, table_uri: str) -> None:
    """Raise the Lakegate error for a Spark failure to read ``table_uri``."""
    condition = error_condition(exc)
    text = str(exc)
    if any(c in condition or c in text for c in _MISSING_TABLE) or "is not a Delta table" in text:
        raise StorageError(f"no Delta table at {table_uri}: {_first_line(exc)}") from None
    if any(c in condition or c in text for c in _NO_DELTA_SOURCE):
        raise EngineError(
            "the Spark engine has no delta-spark: start it with Lakegate (which loads the jars of "
            "scripts/bootstrap.sh) or give the cluster the delta-spark and hadoop-aws jars"
        ) from None
    raise EngineError(f"Spark cannot read Delta table {table_uri}: {_first_line(exc)}") from exc


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
    return as_utc(parsed)


def _quote(name: str) -> str:
    """Backquote a Spark SQL identifier: a column name, or a table's path after ``delta.``."""
    return "`" + name.replace("`", "``") + "`"


def _latest_commit(spark: Any, path: str) -> tuple[int, datetime]:
    """The newest version of the table at ``path`` and its commit time (UTC)."""
    row = spark.sql(f"DESCRIBE HISTORY delta.{_quote(path)} LIMIT 1").select("version", "timestamp").first()
    if row is None:  # pragma: no cover - a table has at least one commit
        raise StorageError("the Delta table has no commits")
    return int(row["version"]), as_utc(row["timestamp"])


#: Partition columns per table path, as DESCRIBE DETAIL gives them (a table's
#: partitioning changes only when a write replaces its schema: write_delta forgets it).
_PARTITIONS: dict[str, list[str]] = {}


def _partition_columns(spark: Any, path: str) -> list[str]:
    found = _PARTITIONS.get(path)
    if found is None:
        row = spark.sql(f"DESCRIBE DETAIL delta.{_quote(path)}").select("partitionColumns").first()
        found = list(row["partitionColumns"] or []) if row is not None else []
        with _LOCK:
            if len(_PARTITIONS) > 10_000:
                _PARTITIONS.clear()
            _PARTITIONS[path] = found
    return found


def _partition_values_as_written(spark: Any, df: DataFrame, path: str) -> DataFrame:
    """Partition values as the Delta protocol and delta-rs read them.

    delta-spark departs from them in two ways, undone here (partition pruning
    still applies to the rewritten columns):

    * an empty string partition value (delta-rs writes ``''`` in a string
      partition column as ``""``) means null in the protocol; delta-spark
      reads ``''``;
    * a timestamp partition value without an offset is UTC for delta-rs (and
      Delta Kernel); delta-spark parses it in the session time zone. Lakegate's
      sessions run in UTC; a session set to another zone gets the value shifted
      back with ``from_utc_timestamp(value, current_timezone())``.
    """
    from pyspark.sql.types import StringType, TimestampType

    F = _functions(spark)
    partitions = set(_partition_columns(spark, path))
    fields = [f for f in df.schema.fields if f.name in partitions]
    strings = {f.name for f in fields if isinstance(f.dataType, StringType)}
    stamps = {f.name for f in fields if isinstance(f.dataType, TimestampType)}
    if not strings and not stamps:
        return df

    def column(name: str) -> Any:
        col = df[_quote(name)]
        if name in strings:
            return F.nullif(col, F.lit("")).alias(name)
        if name in stamps:
            return F.from_utc_timestamp(col, F.current_timezone()).alias(name)
        return col

    return df.select(*[column(f.name) for f in df.schema.fields])


def _functions(spark: Any) -> Any:
    """The column functions of the session's kind (a client of a remote Connect
    server in a process without Connect mode would get the classic ones)."""
    if _is_connect(spark):
        from pyspark.sql.connect import functions as connect_functions

        return connect_functions
    from pyspark.sql import functions as classic_functions

    return classic_functions


def _load(spark: Any, path: str, version: int | None, timestamp: datetime | None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", str(version))
    elif timestamp is not None:
        reader = reader.option("timestampAsOf", timestamp.isoformat())
    df = reader.load(path)
    df.schema  # noqa: B018 - analyses the read now (Connect plans lazily): errors surface here
    return _partition_values_as_written(spark, df, path)


def read_delta(
    spark: SparkSession,
    table_uri: str,
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """A DataFrame of a Delta table's snapshot, the latest by default, read natively by Spark.

    Time travel: ``timestamp`` selects the last version committed at or before
    it (a naive datetime or a string without offset is UTC); a timestamp after
    the last commit gives the latest version, and one before the first commit
    raises :class:`~lake.errors.NotFound`.

    Args:
        spark: A classic or Spark Connect session.
        table_uri: Table root: a local path, ``file://``, ``s3://`` or ``s3a://`` URI.
        version: Table version to read.
        timestamp: Read the version current at this time (datetime or ISO 8601).
        storage_options: The delta-rs storage options of the table's domain;
            for S3 tables they become the bucket's S3A settings (:func:`s3a_settings`).

    Returns:
        The snapshot's rows, columns in the Delta schema's order and types.

    Raises:
        InvalidInput: Both ``version`` and ``timestamp``, or a malformed one.
        StorageError: No Delta table at ``table_uri``.
        NotFound: The version does not exist, or the table did not at ``timestamp``.
        EngineError: Spark failed, or the engine has no delta-spark.
    """
    if version is not None and timestamp is not None:
        raise InvalidInput("give a version or a timestamp to read, not both")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise InvalidInput(f"table version must be a non-negative integer, not {version!r}")
    as_of = _as_utc(timestamp) if timestamp is not None else None
    try:
        path = _prepare(spark, table_uri, storage_options)
        try:
            return _load(spark, path, version, as_of)
        except Exception as exc:
            condition = error_condition(exc) + " " + str(exc)
            if version is not None and ("DELTA_VERSION_NOT_FOUND" in condition or "Cannot time travel" in condition):
                latest, _ = _latest_commit(spark, path)
                if version > latest:
                    raise NotFound(
                        f"version {version} of Delta table {table_uri} does not exist (latest is {latest})"
                    ) from None
                raise NotFound(
                    f"version {version} of Delta table {table_uri} cannot be loaded: {_first_line(exc)}"
                ) from None
            if as_of is not None and "DELTA_TIMESTAMP_GREATER_THAN_COMMIT" in condition:
                # After the last commit: the latest version (unless a commit landed since).
                latest, committed = _latest_commit(spark, path)
                if committed <= as_of:
                    return _load(spark, path, latest, None)
                return _load(spark, path, None, as_of)
            if as_of is not None and "DELTA_TIMESTAMP_EARLIER_THAN_COMMIT_RETENTION" in condition:
                raise NotFound(
                    f"Delta table {table_uri} did not exist at {as_of.isoformat()}: {_first_line(exc)}"
                ) from None
            raise
    except LakegateError:
        raise
    except Exception as exc:
        _raise_for(exc, table_uri)
        raise  # pragma: no cover - _raise_for always raises


_VIEW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def register_delta(
    spark: SparkSession,
    name: str,
    table_uri: str,
    *,
    version: int | None = None,
    timestamp: datetime | str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Read a Delta snapshot (:func:`read_delta`) and register it as a temp view.

    Args:
        spark: A classic or Spark Connect session.
        name: Temp view name for Spark SQL (letters, digits, underscores).
        table_uri: Table root, as for :func:`read_delta`.
        version: Table version to read.
        timestamp: Read the version current at this time.
        storage_options: The delta-rs storage options of the table's domain.

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


# --------------------------------------------------------------------------- write


@dataclass(frozen=True)
class WriteResult:
    """What a write committed: the table version and the rows it wrote."""

    version: int
    rows: int


def write_delta(
    df: DataFrame,
    table_uri: str,
    *,
    mode: str = "overwrite",
    metadata: Mapping[str, str] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> WriteResult:
    """Write ``df`` to a Delta table where the engine runs; only the commit's metadata comes back.

    The rows never pass through the driver: executors write the Parquet
    files and delta-spark commits them in one transaction, with ``metadata``
    in the commit's ``userMetadata`` (JSON) so readers of the history see who
    wrote it and why. An overwrite replaces the table's rows and schema.

    On S3, the objects carry SSE-KMS under the key of the storage options
    (the domain's key; see :func:`s3a_settings`).

    Args:
        df: The rows to write.
        table_uri: Table root (local path, ``s3://`` or ``s3a://``).
        mode: ``overwrite`` or ``append``.
        metadata: Commit metadata (actor, reason...).
        storage_options: The delta-rs storage options of the table's domain.

    Returns:
        The committed table version and the number of rows written.

    Raises:
        InvalidInput: Unknown mode.
        EngineError: Spark failed; nothing was committed.
    """
    import json

    if mode not in ("overwrite", "append"):
        raise InvalidInput(f"write mode must be overwrite or append, not {mode!r}")
    spark = df.sparkSession
    # Names this commit in the history, whatever other writers commit meanwhile.
    tagged = {**dict(metadata or {}), "lakegate_write": uuid.uuid4().hex}
    tag = json.dumps(tagged, sort_keys=True)
    try:
        path = spark_path(table_uri)
        bucket = _bucket(path)
        if bucket is not None:
            _apply_s3a(spark, s3a_settings(bucket, storage_options))
        writer = df.write.format("delta").mode(mode).option("userMetadata", tag)
        if mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        writer.save(path)
        _PARTITIONS.pop(path, None)
        row = None
        for limit in (1, _HISTORY_SCAN):  # the newest commit is ours unless another writer came between
            history = spark.sql(f"DESCRIBE HISTORY delta.{_quote(path)} LIMIT {limit}")
            row = history.filter(history["userMetadata"] == tag).select("version", "operationMetrics").first()
            if row is not None:
                break
    except LakegateError:
        raise
    except Exception as exc:
        raise EngineError(f"Spark cannot write Delta table {table_uri}: {_first_line(exc)}") from exc
    if row is None:  # pragma: no cover - more than _HISTORY_SCAN commits landed meanwhile
        raise EngineError(f"Spark wrote Delta table {table_uri} but its commit is not among the newest "
                          f"{_HISTORY_SCAN}")
    metrics = row["operationMetrics"] or {}
    return WriteResult(version=int(row["version"]), rows=int(metrics.get("numOutputRows", 0) or 0))


#: How far back in a table's history a write looks for its own commit.
_HISTORY_SCAN = 100
