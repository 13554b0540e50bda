"""A ``casbin.Enforcer`` on Lakegate's model: the reference the decision index is tested against.

pycasbin is a development dependency (the ``dev`` extras): the tests and ``bench/authz.py``
use this module; nothing at run time imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).with_name("model.conf")


def casbin_enforcer(policy_csv: str = "") -> Any:
    """An enforcer with ``model.conf`` and the given Casbin CSV policy (for example an export)."""
    import casbin  # type: ignore[import-untyped,unused-ignore]
    from casbin.persist.adapters.string_adapter import StringAdapter  # type: ignore[import-untyped,unused-ignore]

    lines = "\n".join(line.strip() for line in policy_csv.splitlines() if line.strip())
    if not lines:
        return casbin.Enforcer(str(MODEL_PATH))
    return casbin.Enforcer(str(MODEL_PATH), StringAdapter(lines))
