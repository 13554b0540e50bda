"""Versioned SQL views over datasets and other views.

Public entry points (see ``views/README.md``):

* reading: :func:`get_view`, :func:`list_views`, :func:`list_versions` -> :class:`ViewInfo`
* authoring: :class:`ViewDefinition`, :func:`parse_view_file`, :func:`load_directory`,
  :func:`plan`, :func:`apply`, :func:`create_version`, :func:`deprecate`
* analysis: :func:`diff_versions`, :func:`impact`, :func:`lineage_graph`, :func:`transpile`
* running: :func:`materialize`, :func:`refresh`, :func:`runs`, :func:`read_view`
"""

from views.catalog import VersionStatus, ViewInfo, get_view, list_versions, list_views
from views.columns import ColumnSource, Dependency, EncryptedWith, Grain, ViewColumn
from views.definition import Materialization, ViewDefinition
from views.diff import VersionDiff, diff_versions
from views.files import load_directory, parse_view_file
from views.graph import Impact, impact, lineage_graph
from views.materialize import (
    RefreshResult,
    RunInfo,
    materialize,
    read_view,
    refresh,
    runs,
)
from views.registry import (
    Plan,
    PlanAction,
    PlanItem,
    apply,
    create_version,
    deprecate,
    plan,
)
from views.transpile import Dialect, Transpiled, transpile

__all__ = [
    "ColumnSource", "Dependency", "Dialect", "EncryptedWith", "Grain", "Impact", "Materialization", "Plan",
    "PlanAction", "PlanItem", "RefreshResult", "RunInfo", "Transpiled", "VersionDiff", "VersionStatus",
    "ViewColumn", "ViewDefinition", "ViewInfo", "apply", "create_version", "deprecate", "diff_versions",
    "get_view", "impact", "lineage_graph", "list_versions", "list_views", "load_directory", "materialize",
    "parse_view_file", "plan", "read_view", "refresh", "runs", "transpile",
]
