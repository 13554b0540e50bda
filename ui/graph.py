"""Lineage graphs drawn as inline SVG on the server.

Nodes are laid out in layers (a node sits one layer after its furthest
input), ordered within a layer by the average position of their inputs so
edges cross less. Layers run left to right on wide screens and top to bottom
on narrow ones (:class:`Direction`); pages draw both and CSS shows one. Each
node with a page is a link, reachable with the keyboard; the same edges are
also listed as text beside the drawing.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PAD = 12


class Direction(enum.StrEnum):
    ACROSS = "across"  # layers left to right
    DOWN = "down"  # layers top to bottom


@dataclass(frozen=True)
class Geometry:
    node_w: int
    node_h: int
    layer_gap: int  # between layers
    sibling_gap: int  # between nodes of one layer
    label_chars: int  # of a line of the name: about 0.55 em a character in bold, with the box's padding
    font: float
    label_lines: int  # a longer name wraps onto this many lines at most (the last one then ends in "…")

    @property
    def line_height(self) -> float:
        return self.font + 3


GEOMETRY = {
    Direction.ACROSS: Geometry(node_w=210, node_h=50, layer_gap=70, sibling_gap=18, label_chars=25, font=13,
                               label_lines=2),
    Direction.DOWN: Geometry(node_w=148, node_h=46, layer_gap=34, sibling_gap=12, label_chars=18, font=12,
                             label_lines=3),
}
#: Where a name may wrap: after these characters (``sales.`` / ``daily_`` / ``revenue``).
BREAK_AFTER = "._- "


class NodeKind(enum.StrEnum):
    SOURCE = "source"
    DATASET = "dataset"
    VIEW = "view"
    METRIC = "metric"
    HIDDEN = "hidden"


_STYLE = {
    NodeKind.SOURCE: ("#f6f8fa", "#6e7781"),
    NodeKind.DATASET: ("#ddf4ff", "#0969da"),
    NodeKind.VIEW: ("#fbefff", "#8250df"),
    NodeKind.METRIC: ("#dafbe1", "#1a7f37"),
    NodeKind.HIDDEN: ("#eaeef2", "#6e7781"),
}


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str
    kind: NodeKind
    href: str | None = None
    detail: str = ""
    focus: bool = False


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str


@dataclass(frozen=True)
class Placed:
    node: GraphNode
    x: int
    y: int


def layers(nodes: Sequence[GraphNode], edges: Iterable[GraphEdge]) -> dict[str, int]:
    """Layer of each node: 0 for nodes without inputs, else one more than its furthest input.

    Edges that would close a cycle are ignored.
    """
    ids = {n.id for n in nodes}
    inputs: dict[str, list[str]] = {n.id: [] for n in nodes}
    for e in edges:
        if e.source in ids and e.target in ids and e.source != e.target:
            inputs[e.target].append(e.source)
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(node: str) -> int:
        if node in depth:
            return depth[node]
        visiting.add(node)
        best = 0
        for src in inputs[node]:
            if src not in visiting:
                best = max(best, visit(src) + 1)
        visiting.discard(node)
        depth[node] = best
        return best

    for n in nodes:
        visit(n.id)
    return depth


def place(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
          direction: Direction = Direction.ACROSS, geometry: Geometry | None = None) -> list[Placed]:
    """Positions of the nodes' top-left corners."""
    g = geometry or GEOMETRY[direction]
    depth = layers(nodes, edges)
    by_layer: dict[int, list[GraphNode]] = {}
    for n in nodes:
        by_layer.setdefault(depth[n.id], []).append(n)
    row: dict[str, float] = {}
    for layer in sorted(by_layer):
        members = by_layer[layer]

        def weight(n: GraphNode) -> tuple[float, str]:
            ups = [row[e.source] for e in edges if e.target == n.id and e.source in row]
            return (sum(ups) / len(ups) if ups else 0.0, n.label)

        members.sort(key=weight)
        for i, n in enumerate(members):
            row[n.id] = float(i)
    widest = max((len(v) for v in by_layer.values()), default=1)
    across = direction is Direction.ACROSS
    layer_step = (g.node_w if across else g.node_h) + g.layer_gap
    sibling_step = (g.node_h if across else g.node_w) + g.sibling_gap
    placed = []
    for layer, members in by_layer.items():
        offset = (widest - len(members)) * sibling_step / 2
        for i, n in enumerate(members):
            along, beside = PAD + layer * layer_step, int(PAD + offset + i * sibling_step)
            placed.append(Placed(n, along, beside) if across else Placed(n, beside, along))
    return placed


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrap(text: str, limit: int, lines: int) -> list[str]:
    """``text`` in lines of at most ``limit`` characters: broken after the domain's dot when
    the rest then fits, else after the line's last dot, underscore, hyphen or space if it is
    in the line's second half, else mid-word; at most ``lines`` lines, the last ending in "…"
    when the text does not fit."""
    out: list[str] = []
    rest = text
    while rest:
        if len(rest) <= limit or len(out) == lines - 1:  # fits, or the last line: shortened
            out.append(_short(rest, limit))
            break
        cut = max((i + 1 for i, c in enumerate(rest[:limit]) if c in BREAK_AFTER), default=0)
        dot = rest.rfind(".", 0, limit) + 1
        if dot and len(rest) - dot <= limit * (lines - len(out) - 1):  # the domain on a line of its own
            cut = dot
        elif cut < limit // 2:  # no break in the line's second half: cut the word
            cut = limit
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return out or [""]


def render(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, title: str, graph_id: str = "lineage",
           direction: Direction = Direction.ACROSS) -> Markup:
    """The graph as an ``<svg>`` element (empty markup when there are no nodes)."""
    if not nodes:
        return Markup("")
    g = GEOMETRY[direction]
    names = {n.id: wrap(n.label, g.label_chars, g.label_lines) for n in nodes}
    extra_lines = max(len(lines) for lines in names.values()) - 1  # every node as tall as the tallest name
    g = dataclasses.replace(g, node_h=round(g.node_h + extra_lines * g.line_height))
    placed = place(nodes, edges, direction, g)
    where = {p.node.id: p for p in placed}
    width = max(p.x for p in placed) + g.node_w + PAD
    height = max(p.y for p in placed) + g.node_h + PAD
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="group" aria-labelledby="{graph_id}-title">'),
           f'<title id="{graph_id}-title">{escape(title)}</title>',
           (f'<defs><marker id="{graph_id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>')]
    for e in edges:
        a, b = where.get(e.source), where.get(e.target)
        if a is None or b is None:
            continue
        if direction is Direction.ACROSS:
            x1, y1, x2, y2 = a.x + g.node_w, a.y + g.node_h // 2, b.x - 2, b.y + g.node_h // 2
            mid = (x1 + x2) / 2
            curve = f"M{x1},{y1} C{mid:.0f},{y1} {mid:.0f},{y2} {x2},{y2}"
        else:
            x1, y1, x2, y2 = a.x + g.node_w // 2, a.y + g.node_h, b.x + g.node_w // 2, b.y - 2
            mid = (y1 + y2) / 2
            curve = f"M{x1},{y1} C{x1},{mid:.0f} {x2},{mid:.0f} {x2},{y2}"
        out.append(f'<path d="{curve}" fill="none" stroke="#8c959f" '
                   f'stroke-width="1.5" marker-end="url(#{graph_id}-arrow)" aria-hidden="true"/>')
    for p in placed:
        n = p.node
        fill, stroke = _STYLE[n.kind]
        dash = ' stroke-dasharray="5 4"' if n.kind is NodeKind.HIDDEN else ""
        width_attr = "3" if n.focus else "1.5"
        lines = names[n.id]
        top = p.y + (g.node_h - (len(lines) + 1) * g.line_height) / 2 + g.font  # name and detail lines, centred
        name = "".join(f'<tspan x="{p.x + 9}" y="{top + i * g.line_height:.0f}">{escape(line)}</tspan>'
                       for i, line in enumerate(lines))
        label = f"{n.kind.value} {n.label}" + (f", {n.detail}" if n.detail else "")
        box = (f'<title>{escape(label)}</title>'
               f'<rect x="{p.x}" y="{p.y}" width="{g.node_w}" height="{g.node_h}" rx="8" fill="{fill}" '
               f'stroke="{stroke}" stroke-width="{width_attr}"{dash}/>'
               f'<text font-size="{g.font}" font-weight="600" fill="#1f2328">{name}</text>'
               f'<text x="{p.x + 9}" y="{top + len(lines) * g.line_height:.0f}" font-size="{g.font - 1.5}" '
               f'fill="#424a53">'
               f'{escape(_short(n.kind.value + (" · " + n.detail if n.detail else ""), g.label_chars + 4))}</text>')
        if n.href:
            out.append(f'<a href="{escape(n.href)}" aria-label="{escape(label)}">{box}</a>')
        else:
            out.append(f'<g aria-label="{escape(label)}" role="img">{box}</g>')
    out.append("</svg>")
    return Markup("".join(out))


def render_both(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, title: str,
                graph_id: str = "lineage") -> dict[str, Markup]:
    """The graph drawn across (``across``) and down (``down``), for wide and narrow screens."""
    return {d.value: render(nodes, edges, title=title, graph_id=f"{graph_id}-{d.value}", direction=d)
            for d in Direction}
