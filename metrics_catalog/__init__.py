"""Metric governance: definitions, proposals, approval chains, review meetings.

Start from :class:`MetricCatalog` (``metrics_catalog.service``)::

    from metrics_catalog import MetricCatalog

    metrics = MetricCatalog(lake, access=access, gateway=gateway)  # as api.services wires it
    metrics.chains.set("playback", chain_yaml, actor="admin")
    metrics.workflow.create(definition_yaml, actor="mia")
    metrics.workflow.propose("playback.daily_active_viewers", actor="mia")
"""

from metrics_catalog.chains import ApprovalChain, Stage, parse_chain
from metrics_catalog.definition import (
    Grain,
    MetricDefinition,
    ValueFormat,
    parse_definition,
)
from metrics_catalog.errors import (
    ApprovalRefused,
    ConcurrentChange,
    IllegalTransition,
    InvalidChain,
    InvalidMetric,
)
from metrics_catalog.formatting import format_value
from metrics_catalog.info import MetricInfo
from metrics_catalog.lifecycle import Decision, MetricAction, Status
from metrics_catalog.service import MetricCatalog

__all__ = [
    "ApprovalChain", "ApprovalRefused", "ConcurrentChange", "Decision", "Grain", "IllegalTransition",
    "InvalidChain", "InvalidMetric", "MetricAction", "MetricCatalog", "MetricDefinition", "MetricInfo", "Stage",
    "Status", "ValueFormat", "format_value", "parse_chain", "parse_definition",
]
