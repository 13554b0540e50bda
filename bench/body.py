"""Reading a raw text body (``api.guards.read_text``): linear in the body's size.

A body arrives as many chunks (4 KiB here, smaller than a server usually
hands over, so the per-chunk cost shows). The floor is decoding the whole
body in one ``bytes.decode`` call, timed in the same rounds. Two figures:

- the reader against the floor for a 64 MiB body (target: at most 3x);
- the reader's time per byte for 64 MiB against 16 MiB (target: at most
  1.5x; a reader that re-copies what it has, as ``body += chunk`` does,
  grows with the square of the size and fails it).

Both sizes are past the CPU caches (below about 8 MiB a body reads faster per
byte). Times are the thread's CPU time, best of the rounds, so other work on a busy
machine does not count.

    .venv/bin/python bench/body.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from starlette.requests import Request  # noqa: E402

from api.guards import read_text  # noqa: E402

from _report import ratio_line  # noqa: E402

CHUNK = 4096
MIB = 1 << 20


def _body(size: int) -> bytes:
    line = "order_id,amount,country,note\n1,9.99,DE,caf\u00e9 \u20ac\n".encode()
    return (line * (size // len(line) + 1))[:size - size % CHUNK]


def _request(body: bytes) -> Request:
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]
    state = {"next": 0}

    async def receive() -> dict[str, Any]:
        i = state["next"]
        state["next"] = i + 1
        if i < len(chunks):
            return {"type": "http.request", "body": chunks[i], "more_body": i + 1 < len(chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def _reader_seconds(body: bytes) -> float:
    request = _request(body)
    started = time.thread_time()
    text = asyncio.run(read_text(request, len(body) + 1))
    took = time.thread_time() - started
    assert len(text) > 0
    return took


def _floor_seconds(body: bytes) -> float:
    started = time.thread_time()
    body.decode("utf-8")
    return time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    small, large = _body(16 * MIB), _body(64 * MIB)
    reader_small = min(_reader_seconds(small) for _ in range(args.rounds))
    reader_large, floor_large = float("inf"), float("inf")
    for _ in range(args.rounds):
        reader_large = min(reader_large, _reader_seconds(large))
        floor_large = min(floor_large, _floor_seconds(large))
    print(ratio_line("text body read, 64 MiB in 4 KiB chunks", f"{floor_large * 1e3:.1f} ms (one bytes.decode)",
                     f"{reader_large * 1e3:.1f} ms", reader_large / floor_large, "<=", 3.0))
    per_byte_small = reader_small / len(small)
    per_byte_large = reader_large / len(large)
    print(ratio_line("text body read per byte, 64 MiB against 16 MiB", f"{per_byte_small * 1e9:.2f} ns/byte (16 MiB)",
                     f"{per_byte_large * 1e9:.2f} ns/byte (64 MiB)", per_byte_large / per_byte_small, "<=", 1.5))


if __name__ == "__main__":
    main()
