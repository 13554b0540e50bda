"""The demo: a Prime-Video-like lake with datasets, views, people and metrics.

Definitions are data files (contracts and metrics in YAML, views in SQL);
the code generates the rows and loads everything into a lake. See
``demo/README.md`` for the layout. ``lakegate demo`` (and
``scripts/demo.sh``) land the whole demo and serve it.

Importing ``demo`` reads the contracts (:mod:`demo.definitions`); the
generator is :mod:`demo.generator` (``python -m demo.generator``), and the
loaders, which import the domain packages (``access``, ``views``,
``metrics_catalog``), are in :mod:`demo.load`.
"""

from __future__ import annotations

from demo.definitions import DATASETS, DEMO_CONTRACTS, demo_domains

__all__ = ["DATASETS", "DEMO_CONTRACTS", "demo_domains"]
