"""The graph of views: dependency order, cycles, impact and lineage graphs."""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from views.columns import SourceKind
from views.sources import Snapshot


def topological_order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes ordered so each comes after the nodes it depends on.

    Args:
        edges: Node to the nodes it depends on (only nodes that are keys are ordered).

    Raises:
        CycleFound: The graph has a cycle (its path is on the exception).
    """
    return list(iter_topological(edges, lambda node: edges[node]))


def iter_topological(nodes: Collection[str], depends_on: Callable[[str], Iterable[str]]) -> Iterator[str]:
    """:func:`topological_order`, node by node, asking for a node's dependencies only when it is reached.

    The order is the same as :func:`topological_order`'s (depth first, nodes and
    dependencies by name), so a caller can process each node as it comes (its
    dependencies came before) without knowing the whole graph first.

    Args:
        nodes: The nodes to order.
        depends_on: The nodes a node depends on (others than ``nodes`` are ignored);
            called once per node.

    Raises:
        CycleFound: When the walk meets a cycle (nodes before it were yielded).
    """
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def todo(node: str) -> list[str]:
        return sorted(d for d in depends_on(node) if d in nodes)

    for start in sorted(nodes):
        if state.get(start) == 2:
            continue
        state[start] = 1
        stack: list[tuple[str, list[str]]] = [(start, todo(start))]
        path = [start]
        while stack:
            node, waiting = stack[-1]
            if waiting:
                nxt = waiting.pop(0)
                if state.get(nxt) == 1:
                    raise CycleFound(path[path.index(nxt):] + [nxt])
                if state.get(nxt) != 2:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, todo(nxt)))
                continue
            stack.pop()
            path.pop()
            state[node] = 2
            yield node


class CycleFound(Exception):
    def __init__(self, path: list[str]) -> None:
        super().__init__(" -> ".join(path))
        self.path = path


def view_edges(snapshot: Snapshot) -> dict[str, list[str]]:
    """Current version of each view to the views it reads."""
    out: dict[str, list[str]] = {}
    for name, state in snapshot.views.items():
        record = state.current_record()
        if record is not None:
            out[name] = [d.name for d in record.view_dependencies()]
    return out


def _reads(snapshot: Snapshot, name: str) -> list[str]:
    """The views the current version of ``name`` reads (none for a dataset or an unknown name)."""
    state = snapshot.views.get(name)
    record = state.current_record() if state is not None else None
    return [d.name for d in record.view_dependencies()] if record is not None else []


def find_cycle(snapshot: Snapshot, start: str) -> list[str] | None:
    """A path from ``start`` back to itself through current versions, if any.

    Only the views reachable from ``start`` are looked at (planning asks once per view).
    """
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in _reads(snapshot, node):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


class Relation(enum.StrEnum):
    FOLLOWS = "follows"  # reads the new version on its next refresh
    STAYS = "stays"  # keeps reading the version before the breaking change
    PINNED = "pinned"  # pinned to one version; unaffected
    INDIRECT = "indirect"  # reads a view that reads the changed one


@dataclass(frozen=True)
class Impact:
    """A downstream view a change to another view reaches."""

    view: str
    version: int
    reads: str
    relation: Relation
    depth: int

    def describe(self) -> str:
        return {
            Relation.FOLLOWS: f"{self.view} v{self.version} reads the new version of {self.reads} on its next refresh",
            Relation.STAYS: f"{self.view} v{self.version} keeps reading the previous version of {self.reads} "
                            "until its author moves it to the new one",
            Relation.PINNED: f"{self.view} v{self.version} is pinned to one version of {self.reads}; unaffected",
            Relation.INDIRECT: f"{self.view} v{self.version} reads {self.reads}, which reads the changed view",
        }[self.relation]

    def as_dict(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "reads": self.reads, "relation": self.relation.value,
                "depth": self.depth, "detail": self.describe()}


def impact(snapshot: Snapshot, name: str, *, breaking: bool) -> list[Impact]:
    """Downstream views a new version of ``name`` affects, nearest first.

    Args:
        snapshot: The catalog before the change.
        name: The changed view (or dataset).
        breaking: Whether the new version is a major (breaking) version.
    """
    out: list[Impact] = []
    seen: set[str] = {name}
    frontier: list[tuple[str, int]] = [(name, 0)]
    while frontier:
        node, depth = frontier.pop(0)
        for record, dep in sorted(snapshot.dependents(node), key=lambda rd: rd[0].view):
            if record.view in seen:
                continue
            seen.add(record.view)
            if depth > 0:
                relation = Relation.INDIRECT
            elif dep.pinned and dep.kind is SourceKind.VIEW:
                relation = Relation.PINNED
            elif dep.kind is SourceKind.DATASET:
                relation = Relation.STAYS if breaking else Relation.FOLLOWS
            else:
                relation = Relation.STAYS if breaking else Relation.FOLLOWS
            out.append(Impact(record.view, record.version, node, relation, depth + 1))
            if relation is not Relation.PINNED:
                frontier.append((record.view, depth + 1))
    return out


def lineage_graph(snapshot: Snapshot, name: str, *, version: int | None = None, upstream: bool = True,
                  downstream: bool = True) -> dict[str, Any]:
    """Table and column lineage around a view, as JSON-ready nodes and edges.

    Nodes are datasets (``dataset:domain.name@v<major>``) and view versions
    (``view:domain.name@v<N>``); ``edges`` link an input to its reader;
    ``columns`` link input columns to output columns with the transformation.
    """
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()
    columns: list[dict[str, Any]] = []

    def node_id(kind: SourceKind, n: str, v: int) -> str:
        return f"{kind.value}:{n}@v{v}"

    def add_view(record_name: str, v: int) -> str:
        record = snapshot.record(record_name, v)
        nid = node_id(SourceKind.VIEW, record.view, record.version)
        if nid not in nodes:
            nodes[nid] = {"id": nid, "kind": "view", "name": record.view, "version": record.version,
                          "materialization": record.materialization.value,
                          "columns": [{"name": c.name, "type": c.sql_type, "pii": c.pii} for c in record.columns]}
        return nid

    root = snapshot.record(name, version)
    root_id = add_view(root.view, root.version)
    todo = [root] if upstream else []
    done: set[str] = set()
    while todo:
        record = todo.pop()
        rid = add_view(record.view, record.version)
        if rid in done:
            continue
        done.add(rid)
        for dep in record.dependencies:
            if dep.kind is SourceKind.DATASET:
                did = node_id(SourceKind.DATASET, dep.name, dep.version)
                info = snapshot.datasets.get(dep.name, {}).get(dep.version)
                nodes.setdefault(did, {"id": did, "kind": "dataset", "name": dep.name, "version": dep.version,
                                       "columns": [{"name": c.name, "type": str(c.type), "pii": c.pii}
                                                   for c in info.contract.columns] if info else []})
            else:
                upstream_record = snapshot.effective(dep)
                did = add_view(upstream_record.view, upstream_record.version)
                todo.append(upstream_record)
            edges.add((did, rid))
        for col in record.columns:
            for src in col.sources:
                columns.append({"from": {"node": node_id(src.kind, src.name, src.version), "column": src.column},
                                "to": {"node": rid, "column": col.name},
                                "transformation": col.transformation.value})
    if downstream:
        frontier = [root.view]
        seen = {root.view}
        while frontier:
            current = frontier.pop()
            current_id = add_view(current, snapshot.record(current).version) if current != root.view else root_id
            for record, _dep in snapshot.dependents(current):
                rid = add_view(record.view, record.version)
                edges.add((current_id, rid))
                if record.view not in seen:
                    seen.add(record.view)
                    frontier.append(record.view)
    return {"root": root_id, "nodes": sorted(nodes.values(), key=lambda n: n["id"]),
            "edges": [{"from": a, "to": b} for a, b in sorted(edges)], "columns": columns}
