"""Demo views over the demo datasets of :mod:`lake.demo`.

``land_demo_views(lake)`` applies the ``*.sql`` files of this folder and
materializes them; ``lakegate demo`` calls it after landing the demo data.
"""

from __future__ import annotations

from pathlib import Path

from lake.service import Lake

from views.files import load_directory
from views.materialize import RefreshResult, refresh
from views.registry import Plan, apply

DEMO_DIR = Path(__file__).parent


def land_demo_views(lake: Lake, actor: str = "admin") -> tuple[Plan, RefreshResult]:
    """Create (or update) the demo views and materialize them.

    Idempotent: unchanged definitions make no new version; every run rebuilds
    the tables from the current demo data.

    Args:
        lake: A lake with the demo datasets landed (``lake.demo.land_demo``).
        actor: Recorded as author and on the runs.

    Returns:
        The applied plan and the refresh's runs.
    """
    definitions = load_directory(DEMO_DIR)
    applied = apply(lake, definitions, actor=actor, message="demo views")
    return applied, refresh(lake, [d.name for d in definitions], actor=actor, trigger="demo")
