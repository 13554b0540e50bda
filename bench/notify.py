"""What telling people costs an access request: filing one with its notices against filing it bare.

One run builds a lake with ``--users`` users (a dataset owned by a team of 20
of them, a domain nobody owns) and files access requests through
:class:`access.requests.AccessRequests`. It times ``create`` (the request, its
audit entry and the owners' notices, in one transaction) and, as the floor in
the same run with the same timer, the same transaction without the notices
(``deciders`` returning nobody). For a resource without an owner, the
deciders are everyone who may decide: each user is asked once, through the
decision index. Target: with notices at most 3x the floor at 2,000 users.

    .venv/bin/python bench/notify.py [--users 2000] [--requests 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from sqlalchemy import insert  # noqa: E402

from access import AccessControl, Action, Resource  # noqa: E402
from lake.catalog.models import User  # noqa: E402
from lake.service import Lake  # noqa: E402
from lake.settings import Settings  # noqa: E402

CONTRACT = {"dataset": "sales.orders", "owner": "sales-team", "description": "Orders.",
            "columns": [{"name": "order_id", "type": "int64", "nullable": False}]}


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        lake = Lake(Settings(home=Path(home)))
        with lake.catalog.session() as s:
            s.execute(insert(User), [{"name": f"u{i:05d}", "kind": "user", "display_name": "",
                                      "roles": ["sales-team"] if i < 20 else [], "is_active": True}
                                     for i in range(args.users)])
        lake.register(CONTRACT, actor="admin")
        ac = AccessControl(lake)
        ac.grant_owner(lake.datasets.get("sales.orders"))
        ac.grant("u00030", Action.APPROVE, Resource.domain_("sales"))
        requests = ac.requests
        target = Resource.table("sales.orders")

        def file(resource: Resource, n: int) -> list[float]:
            out = []
            for i in range(n):
                started = time.perf_counter()
                requests.create(f"u{100 + i:05d}", resource, reason="bench")
                out.append(time.perf_counter() - started)
            return out

        file(target, 3)  # warm up
        owned = file(target, args.requests)
        unowned = file(Resource.domain_("sales"), args.requests)
        real = requests.deciders
        requests.deciders = lambda *a, **k: []  # type: ignore[method-assign]
        floor = file(target, args.requests)
        requests.deciders = real  # type: ignore[method-assign]
        told = len(ac.notifier.inbox.list("u00000", limit=10_000))
        lake.close()
    print(f"users {args.users}; median create: bare {_ms(floor):.2f} ms, owned dataset (20 owners told) "
          f"{_ms(owned):.2f} ms ({_ms(owned) / _ms(floor):.2f}x), unowned domain (everyone asked) "
          f"{_ms(unowned):.2f} ms ({_ms(unowned) / _ms(floor):.2f}x); one owner holds {told} notices")
    ok = _ms(owned) / _ms(floor) <= 3
    print("target (owned <= 3x bare):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
