"""The demo's definitions, read from the data files of this package.

=================================== ===============================================
file                                what it holds
=================================== ===============================================
``contracts/<dataset>.yaml``        the data contract of each demo dataset
``views/<name>.sql``                the demo views over those datasets
``metrics/<metric>.yaml``           the demo metric definitions
``metrics/chain.yaml``              the approval chain of the demo metric domains
``metrics/daily_ad_funnel.sql``     the view the ads metrics are defined over
=================================== ===============================================

Contracts are read once, at import, in :data:`DATASETS` order (dimensions
before facts); everything else when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CONTRACTS_DIR",
    "DATASETS",
    "DEMO_CONTRACTS",
    "DEMO_DIR",
    "FUNNEL_VIEW_FILE",
    "METRICS_DIR",
    "VIEWS_DIR",
    "approval_chain",
    "demo_domains",
    "load_contracts",
    "metric_definition",
]

DEMO_DIR = Path(__file__).resolve().parent
CONTRACTS_DIR = DEMO_DIR / "contracts"
VIEWS_DIR = DEMO_DIR / "views"
METRICS_DIR = DEMO_DIR / "metrics"
FUNNEL_VIEW_FILE = METRICS_DIR / "daily_ad_funnel.sql"

#: Dataset names in dependency order (dimensions before facts); one contract file each.
DATASETS: tuple[str, ...] = (
    "catalog.titles",
    "subscriptions.subscribers",
    "playback.events",
    "ads.impressions",
    "ads.conversions",
)


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"demo file {path.name} is not a YAML mapping")
    return doc


def load_contracts() -> list[dict[str, Any]]:
    """The contract documents of the demo datasets, in :data:`DATASETS` order.

    Returns:
        One contract document (as ``lake.contracts.parse_contract`` takes it)
        per dataset.

    Raises:
        ValueError: A contract file is missing, names another dataset, or
            ``contracts/`` holds a file for a dataset not in :data:`DATASETS`.
    """
    files = {p.stem for p in CONTRACTS_DIR.glob("*.yaml")}
    if files != set(DATASETS):
        raise ValueError(f"demo/contracts/ holds {sorted(files)}, expected one file per dataset of {list(DATASETS)}")
    docs = []
    for name in DATASETS:
        doc = _load(CONTRACTS_DIR / f"{name}.yaml")
        if doc.get("dataset") != name:
            raise ValueError(f"demo/contracts/{name}.yaml defines {doc.get('dataset')!r}, not {name}")
        docs.append(doc)
    return docs


#: The contract documents of the demo datasets, in :data:`DATASETS` order.
DEMO_CONTRACTS: list[dict[str, Any]] = load_contracts()


def demo_domains() -> list[str]:
    """The domains of the demo datasets, sorted."""
    return sorted({name.split(".")[0] for name in DATASETS})


def metric_definition(name: str) -> dict[str, Any]:
    """The definition document of a demo metric (``metrics/<name>.yaml``).

    Args:
        name: The metric's name, e.g. ``ads.conversion_rate``.

    Raises:
        KeyError: No such demo metric.
    """
    path = METRICS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(name)
    doc = _load(path)
    if doc.get("name") != name:
        raise ValueError(f"demo/metrics/{name}.yaml defines {doc.get('name')!r}, not {name}")
    return doc


def approval_chain() -> dict[str, Any]:
    """The approval chain document of the demo metric domains (``metrics/chain.yaml``)."""
    return _load(METRICS_DIR / "chain.yaml")
