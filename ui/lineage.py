"""Lineage around a dataset or a view, as graph nodes and edges for :mod:`ui.graph`.

Upstream of a dataset are the sources its batches came from (the API, a
landing directory...); downstream are the views that read it, the views that
read those, and the metrics defined over any of them. Around a view, the
views package's lineage graph gives datasets and views; metrics over the
view are added. Objects the viewer may not discover are drawn as unnamed
placeholders, so the shape stays true without naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from access import Resource
from lake.service import Lake
from ui.graph import GraphEdge, GraphNode, NodeKind
from ui.templating import UI_PREFIX

Visible = Callable[[Resource], bool]


def _node(kind: NodeKind, name: str, visible: Visible, *, detail: str = "", focus: bool = False) -> GraphNode:
    resource = {NodeKind.DATASET: Resource.table, NodeKind.VIEW: Resource.view,
                NodeKind.METRIC: Resource.metric}[kind](name)
    if not focus and not visible(resource):
        return GraphNode(f"{kind.value}:{name}", f"hidden {kind.value}", NodeKind.HIDDEN,
                         detail="you cannot see it")
    return GraphNode(f"{kind.value}:{name}", name, kind, f"{UI_PREFIX}/{kind.value}s/{name}", detail, focus)


def _metrics_over(metrics: Iterable[Any], views: set[str]) -> list[tuple[str, str, str]]:
    """(metric, view, status) for metrics defined over one of ``views``."""
    return [(m.name, m.definition.view, m.status.value) for m in metrics if m.definition.view in views]


def dataset_lineage(lake: Lake, name: str, sources: Iterable[str], metrics: Iterable[Any],
                    visible: Visible) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Sources → the dataset → views reading it (transitively) → metrics over those views."""
    from views.sources import Snapshot

    nodes: dict[str, GraphNode] = {}
    edges: set[tuple[str, str]] = set()
    root = _node(NodeKind.DATASET, name, visible, focus=True)
    nodes[root.id] = root
    for src in sorted(set(sources)):
        sid = f"source:{src}"
        nodes[sid] = GraphNode(sid, src, NodeKind.SOURCE, detail="lands batches")
        edges.add((sid, root.id))
    snapshot = Snapshot.load(lake)
    frontier, seen = [(name, root.id)], {name}
    while frontier:
        current, current_id = frontier.pop()
        for record, _dep in snapshot.dependents(current):
            node = _node(NodeKind.VIEW, record.view, visible, detail=f"v{record.version}")
            nodes.setdefault(node.id, node)
            edges.add((current_id, node.id))
            if record.view not in seen:
                seen.add(record.view)
                frontier.append((record.view, node.id))
    _add_metrics(nodes, edges, metrics, seen - {name}, visible)
    return list(nodes.values()), [GraphEdge(a, b) for a, b in sorted(edges)]


def view_lineage(graph: dict[str, Any], name: str, metrics: Iterable[Any],
                 visible: Visible) -> tuple[list[GraphNode], list[GraphEdge]]:
    """The views package's lineage graph of a view version, with metrics over the view."""
    nodes: dict[str, GraphNode] = {}
    ids: dict[str, str] = {}
    for n in graph.get("nodes", []):
        kind = NodeKind.VIEW if n["kind"] == "view" else NodeKind.DATASET
        node = _node(kind, n["name"], visible, detail=f"v{n['version']}", focus=n["id"] == graph.get("root"))
        if node.kind is NodeKind.HIDDEN:
            node = GraphNode(n["id"], node.label, NodeKind.HIDDEN, detail=node.detail)
        else:
            node = GraphNode(n["id"], node.label, node.kind, node.href, node.detail, node.focus)
        nodes[node.id] = node
        ids[n["id"]] = node.id
    edges = {(ids[e["from"]], ids[e["to"]]) for e in graph.get("edges", []) if e["from"] in ids and e["to"] in ids}
    _add_metrics(nodes, edges, metrics, {name}, visible, view_ids={name: graph.get("root", "")})
    return list(nodes.values()), [GraphEdge(a, b) for a, b in sorted(edges)]


def _add_metrics(nodes: dict[str, GraphNode], edges: set[tuple[str, str]], metrics: Iterable[Any],
                 views: set[str], visible: Visible, view_ids: dict[str, str] | None = None) -> None:
    for metric, view, status in _metrics_over(metrics, views):
        node = _node(NodeKind.METRIC, metric, visible, detail=status.replace("_", " "))
        nodes.setdefault(node.id, node)
        source = (view_ids or {}).get(view) or f"view:{view}"
        if source in nodes:
            edges.add((source, node.id))
