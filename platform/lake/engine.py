"""A long-lived Spark engine: a supervised Spark Connect server that the API server and the CLI attach to.

``lakegate engine start`` runs :func:`start`: a supervisor process (this
module run as ``python -m lake.engine supervise``) starts a Spark Connect
server with Spark's own ``spark-submit`` from pyspark's distribution, with
the engine's jars and settings (:func:`lake.spark.engine_conf`), listening on
a loopback port, and starts it again whenever it exits (Spark exits on
``OutOfMemoryError``), unless it fails right after starting several times in
a row. The API server and the CLI reach it through
``LAKEGATE_SPARK_REMOTE=sc://127.0.0.1:<port>``, so a query costs a
connection, not a JVM start.

State lives in ``$LAKEGATE_HOME/engine/``: ``engine.json`` (supervisor pid,
URL, master), ``engine.log`` (the server's output) and ``supervisor.log``.
``lakegate engine stop`` ends the supervisor, which stops the server first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lake.errors import ConfigError, InvalidInput, LakegateError, NotFound
from lake.settings import Settings

__all__ = ["EngineInfo", "connect_server_command", "engine_dir", "start", "status", "stop", "wait_until_listening"]

log = logging.getLogger(__name__)

#: Spark's Connect server entry point.
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: The port Spark Connect uses by default.
DEFAULT_PORT = 15002
#: How long a new server may take before it listens (a busy two-core machine is slow).
START_SECONDS = 300.0
#: Restarts that fail within this many seconds of their start count as a crash loop.
QUICK_FAILURE_SECONDS = 60.0
MAX_QUICK_FAILURES = 3


class EngineStartError(LakegateError):
    """The engine could not be started, or did not come up."""

    code = "engine_start_failed"
    http_status = 500


@dataclass(frozen=True)
class EngineInfo:
    """A running engine, as recorded in ``engine.json``."""

    url: str
    port: int
    master: str
    supervisor_pid: int
    started_at: float
    log: str

    @property
    def remote(self) -> str:
        """The value for ``LAKEGATE_SPARK_REMOTE``."""
        return self.url


def engine_dir(settings: Settings) -> Path:
    """Where the engine's state and logs live: ``$LAKEGATE_HOME/engine``."""
    return settings.home / "engine"


def _spark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:  # pragma: no cover - pyspark is a dependency
        raise ConfigError("pyspark is not installed: run scripts/bootstrap.sh")
    return Path(spec.origin).parent


def connect_server_command(settings: Settings, *, master: str, port: int) -> list[str]:
    """The ``spark-submit`` command of a Spark Connect server for the lake.

    Args:
        settings: The lake's settings (jars, memory bounds, the lake's S3 bucket).
        master: Where the server's jobs run: ``local[N]`` or ``spark://host:port``.
        port: Loopback port of the server.

    Returns:
        The command line.

    Raises:
        ConfigError: The engine's jars are missing.
    """
    from lake.spark import engine_conf, lake_bucket_settings

    conf = engine_conf(master, settings)
    # The lake's bucket is configured before the server opens it (SSE-KMS per domain).
    conf.update({f"spark.hadoop.{k}": v for k, v in lake_bucket_settings(settings).items()})
    conf.update({
        "spark.app.name": "lakegate-engine",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    })
    command = [str(_spark_home() / "bin" / "spark-submit"), "--master", master, "--class", CONNECT_SERVER_CLASS]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    command.append("spark-internal")
    return command


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


def status(settings: Settings) -> EngineInfo | None:
    """The engine recorded for this lake, if its supervisor is still running."""
    path = engine_dir(settings) / "engine.json"
    try:
        info = EngineInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.supervisor_pid) else None


def wait_until_listening(port: int, *, seconds: float = START_SECONDS, alive: Any = None) -> bool:
    """Wait for a server on loopback ``port``; False if ``alive()`` turns False first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _listening(port):
            return True
        if alive is not None and not alive():
            return False
        time.sleep(0.5)
    return False


def start(settings: Settings, *, master: str = "local[*]", port: int | None = None,
          progress: Any = None) -> EngineInfo:
    """Start a supervised Spark Connect server for the lake and wait until it listens.

    Args:
        settings: The lake's settings.
        master: Where the engine's jobs run (``local[*]``, ``spark://host:7077``).
        port: Loopback port (:data:`DEFAULT_PORT` when free, else any free port).
        progress: Called with a line of text while waiting (e.g. ``print``).

    Returns:
        The running engine; ``info.url`` is the ``LAKEGATE_SPARK_REMOTE`` value.

    Raises:
        InvalidInput: An engine already runs for this lake.
        ConfigError: The engine's jars are missing.
        EngineStartError: The server did not come up (the log's last lines say why).
    """
    running = status(settings)
    if running is not None:
        raise InvalidInput(f"an engine already runs for this lake at {running.url} "
                           f"(supervisor pid {running.supervisor_pid}); stop it with `lakegate engine stop`")
    folder = engine_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = DEFAULT_PORT if not _listening(DEFAULT_PORT) else _free_port()
    elif _listening(port):
        raise InvalidInput(f"port {port} on 127.0.0.1 is already in use")
    command = connect_server_command(settings, master=master, port=port)  # checks the jars first
    spec = folder / "server.json"
    spec.write_text(json.dumps({"command": command, "port": port}))
    spec.chmod(0o600)  # the command may hold S3 credentials of the lake
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    with open(folder / "supervisor.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lake.engine", "supervise", str(spec)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                start_new_session=True)
    info = EngineInfo(url=f"sc://127.0.0.1:{port}", port=port, master=master, supervisor_pid=proc.pid,
                      started_at=time.time(), log=str(folder / "engine.log"))
    (folder / "engine.json").write_text(json.dumps(asdict(info)))
    started = time.monotonic()
    said = [-10.0]

    def alive() -> bool:
        waited = time.monotonic() - started
        if progress is not None and waited - said[0] >= 10.0:
            said[0] = waited
            progress(f"starting the Spark engine on {master} ({waited:.0f} s)...")
        return proc.poll() is None

    if not wait_until_listening(port, alive=alive):
        with contextlib.suppress(Exception):
            stop(settings)
        tail = _tail(folder / "engine.log")
        raise EngineStartError(f"the Spark engine did not start on port {port}; the end of {folder / 'engine.log'}:"
                               f"\n{tail}")
    if progress is not None:
        progress("warming up the engine (loading delta-spark)...")
    _warm_up_remote(settings, info.url)
    return info


def _warm_up_remote(settings: Settings, url: str) -> None:
    """One Delta write and read through the new server, so the first real query is fast."""
    from lake.spark import spark_session, stop_spark, warm_up

    remote = settings.model_copy(update={"engine": settings.engine.model_copy(update={"remote": url})})
    try:
        warm_up(spark_session(remote))
    except LakegateError as exc:  # the engine runs; the first query will say what is wrong
        log.warning("warming up the engine at %s failed: %s", url, exc.message)
    finally:
        stop_spark()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(settings: Settings, *, seconds: float = 60.0) -> EngineInfo:
    """Stop the lake's engine (the supervisor stops the server first).

    Raises:
        NotFound: No engine runs for this lake.
    """
    info = status(settings)
    if info is None:
        raise NotFound("no Spark engine runs for this lake; start one with `lakegate engine start`")
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while _alive(info.supervisor_pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.supervisor_pid, os.WNOHANG)
        time.sleep(0.2)
    if _alive(info.supervisor_pid):  # pragma: no cover - a supervisor that ignores SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(info.supervisor_pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        (engine_dir(settings) / "engine.json").unlink()
    return info


# --------------------------------------------------------------------------- supervisor


def supervise(spec_path: Path) -> int:
    """Run the server of ``spec_path`` and start it again whenever it exits, until SIGTERM."""
    spec = json.loads(spec_path.read_text())
    command: list[str] = spec["command"]
    folder = spec_path.parent
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    quick_failures = 0
    while not stopping:
        started = time.monotonic()
        with open(folder / "engine.log", "ab") as out:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} started the Spark Connect server (pid {child.pid})",
              flush=True)
        code = child.wait()
        if stopping:
            break
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} the server exited with status {code}; starting it again",
              flush=True)
        quick_failures = quick_failures + 1 if time.monotonic() - started < QUICK_FAILURE_SECONDS else 0
        if quick_failures >= MAX_QUICK_FAILURES:
            print(f"the server failed {quick_failures} times right after starting; giving up", flush=True)
            return 1
        time.sleep(1.0)
    if child is not None:
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


if __name__ == "__main__":  # pragma: no cover - run by start()
    if len(sys.argv) == 3 and sys.argv[1] == "supervise":
        sys.exit(supervise(Path(sys.argv[2])))
    sys.exit("usage: python -m lake.engine supervise SPEC.json")
