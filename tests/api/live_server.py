"""``lakegate serve`` in its own process on a free loopback port, for tests that
must see the server survive (or not) what a request does to it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from lake.service import Lake
from lake.settings import Settings

from child_env import child_env

LAKEGATE = Path(sys.executable).parent / "lakegate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    tokens: dict[str, str]
    log: Path

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def alive(self) -> bool:
        if self.process.poll() is not None:
            return False
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False


@contextlib.contextmanager
def live_server(home: Path, users: dict[str, list[str]], *, env: dict[str, str] | None = None,
                timeout: float = 60.0) -> Iterator[LiveServer]:
    """Make ``users`` (name -> roles, each with a token) in a lake at ``home``, then serve it.

    The process is stopped (SIGTERM, then SIGKILL) when the block ends.
    """
    settings = Settings(home=home)
    lake = Lake(settings)
    tokens: dict[str, str] = {}
    try:
        for name, roles in users.items():
            lake.users.create(name, roles=roles)
            tokens[name], _ = lake.users.create_token(name, name="tests")
    finally:
        lake.close()
    port = free_port()
    log = home / "server.log"
    environment = {**child_env(home=home), **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen([str(LAKEGATE), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=environment, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", process, tokens, log)
    try:
        deadline = time.monotonic() + timeout
        while not server.alive():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
