"""The demo: a Prime-Video-like lake with datasets, views, people and metrics.

Definitions are data files (contracts and metrics in YAML, views in SQL);
the code generates the rows and loads everything into a lake. See
``demo/README.md`` for the layout. ``lakegate demo`` (and
``scripts/demo.sh``) land the whole demo and serve it.

Importing ``demo`` reads the contracts; the loaders live in :mod:`demo.load`,
which imports the domain packages (``access``, ``views``,
``metrics_catalog``).
"""

from __future__ import annotations

from demo.definitions import DATASETS, DEMO_CONTRACTS, demo_domains
from demo.generator import contract_schema, describe, generate, row_targets

__all__ = ["DATASETS", "DEMO_CONTRACTS", "contract_schema", "demo_domains", "describe", "generate", "row_targets"]
