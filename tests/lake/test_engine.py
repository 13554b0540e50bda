"""The long-lived engine (issue 12, item 4; issue 13, item 2): ``lakegate engine start``
runs a supervised Spark Connect server with the lake's jars; clients attach through
``LAKEGATE_SPARK_REMOTE``; an engine that dies is started again by its supervisor, the
query it killed gets a clear error and the next one works; no engine means a clear
error at once, not a wait."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake.engine import CONNECT_SERVER_CLASS, connect_server_command, status
from lake.settings import Settings

from child_env import child_env

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _env(home: Path) -> dict[str, str]:
    return child_env(home=home, pythonpath=(REPO / "platform", REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lakegate(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=_env(home), cwd=REPO, timeout=timeout)


def test_server_command_loads_the_jars_and_listens_on_loopback(tmp_path: Path) -> None:
    command = connect_server_command(Settings(home=tmp_path), master="local[2]", port=15123)
    assert command[0].endswith("bin/spark-submit") and CONNECT_SERVER_CLASS in command
    confs = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "--conf")
    assert confs["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert confs["spark.connect.grpc.binding.port"] == "15123"
    assert confs["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "delta-spark_" in confs["spark.driver.extraClassPath"]
    assert "lakegate-s3a" in confs["spark.driver.extraClassPath"]


def test_no_engine_is_a_clear_error_at_once(tmp_path: Path) -> None:
    # In a process of its own: this one may already hold another test's local session.
    code = (
        "import sys, time\n"
        "from lake.settings import Settings\n"
        "from lake.spark import EngineUnavailable, spark_session\n"
        "started = time.monotonic()\n"
        "try:\n"
        f"    spark_session(Settings(home=sys.argv[1], spark_remote='sc://127.0.0.1:{_free_port()}'))\n"
        "except EngineUnavailable as exc:\n"
        "    print('REFUSED', round(time.monotonic() - started, 1), exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            env=_env(tmp_path), cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    refused = result.stdout.strip().splitlines()[-1].split(" ", 2)
    assert refused[0] == "REFUSED", result.stdout
    assert float(refused[1]) < 30  # at once: not after the client's minutes of retries
    assert "lakegate engine start" in refused[2]


class Client:
    def __init__(self, url: str, workdir: Path) -> None:
        env = _env(workdir)
        env.pop("LAKEGATE_HOME")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "engine_client_child.py"), url, str(workdir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"the client exited: {self.proc.stderr.read()[-4000:] if self.proc.stderr else ''}")
            if line.startswith("{"):
                return dict(json.loads(line))

    def close(self) -> None:
        with contextlib.suppress(AssertionError, BrokenPipeError):
            self.ask("quit")
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("engine-home")
    port = _free_port()
    started = _lakegate(home, "engine", "start", "--master", "local[1]", "--port", str(port))
    assert started.returncode == 0, started.stderr[-4000:]
    url = f"sc://127.0.0.1:{port}"
    assert started.stdout.strip().splitlines()[-1] == f"export LAKEGATE_SPARK_REMOTE={url}"
    yield home, url
    _lakegate(home, "engine", "stop", timeout=120)


@pytest.mark.spark
@pytest.mark.slow
def test_clients_read_and_write_through_the_engine(engine: tuple[Path, str], tmp_path: Path) -> None:
    home, url = engine
    again = _lakegate(home, "engine", "start", "--master", "local[1]")
    assert again.returncode == 1 and "already runs" in again.stderr
    shown = _lakegate(home, "engine", "status")
    assert shown.returncode == 0 and url in shown.stdout
    client = Client(url, tmp_path)
    try:
        first = client.ask("read")
        assert first == {"ok": True, "rows": [1, 2, 3]}, first
        wrote = client.ask("write")
        assert wrote == {"ok": True, "version": 0, "rows": [0, 1, 2, 3]}, wrote
        # A query costs a connection, not a JVM start.
        begun = time.monotonic()
        assert client.ask("read")["rows"] == [1, 2, 3]
        assert time.monotonic() - begun < 60
    finally:
        client.close()


@pytest.mark.spark
@pytest.mark.slow
def test_a_dead_engine_is_started_again_and_the_next_query_works(engine: tuple[Path, str], tmp_path: Path) -> None:
    home, url = engine
    info = status(Settings(home=home))
    assert info is not None and info.url == url
    client = Client(url, tmp_path)
    try:
        assert client.ask("read")["ok"]
        server = _server_pid(info.supervisor_pid)
        os.kill(server, signal.SIGKILL)  # as an OutOfMemoryError ends the JVM
        lost = client.ask("read")
        assert lost["ok"] is False and lost["code"] in ("engine_restarting", "engine_unavailable"), lost
        # Told within seconds, well inside a gateway query's 30 s time limit (the
        # client's default retries would hold the call for minutes).
        assert lost["seconds"] < 25, lost
        deadline = time.monotonic() + 300
        answer: dict[str, Any] = lost
        while time.monotonic() < deadline:
            answer = client.ask("read")
            if answer["ok"]:
                break
            time.sleep(2)
        assert answer == {"ok": True, "rows": [1, 2, 3]}, answer
        assert _server_pid(info.supervisor_pid) != server
        assert "starting it again" in (home / "engine" / "supervisor.log").read_text()
    finally:
        client.close()


def test_a_remote_engine_is_lost_when_nothing_listens_at_its_address() -> None:
    from lake.spark import _remote_answers

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert _remote_answers(f"remote sc://127.0.0.1:{listening.getsockname()[1]}")
    assert not _remote_answers(f"remote sc://127.0.0.1:{_free_port()}")


def test_an_error_the_dead_jvm_cannot_describe_still_reads_as_a_lost_engine() -> None:
    from lake.spark import _FATAL_MARKERS, _chain_text

    class Unreadable(Exception):  # as Py4JJavaError: str() asks the JVM
        def __str__(self) -> str:
            raise ConnectionRefusedError(111, "Connection refused")

    try:
        try:
            raise Unreadable()
        except Unreadable as exc:
            raise RuntimeError("the query failed") from exc
    except RuntimeError as error:
        text = _chain_text(error)
    assert text.startswith("RuntimeError: the query failed\nUnreadable: ")
    assert any(marker in text for marker in _FATAL_MARKERS)


def _server_pid(supervisor: int) -> int:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(supervisor)], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, out.stdout
    return pids[0]
