"""Inline SVG drawn by pgvitals for the HTML report: bar charts and the entity
relationship diagram. No library, no script: each function returns markup that any
browser shows as it is, and prints.

Every name is escaped (and its control characters made visible) before it is placed;
colours come from CSS classes, so the stylesheet decides how a chart looks on screen
and on paper."""

from __future__ import annotations

import html
import math
from collections import defaultdict
from dataclasses import dataclass

from markupsafe import Markup

from pgvitals import report as rp
from pgvitals.render.escape import visible

CHAR_WIDTH = 7.2  # average width of a character at the charts' 12px font (a bit over)
LABEL_CHARACTERS = 40  # longer labels are cut (the whole name is in the tooltip)
BAR_HEIGHT, BAR_GAP = 18, 6


def text(value: object) -> str:
    """Any value as SVG text content or attribute value: escaped, controls visible."""
    return html.escape(visible(str(value)), quote=True)


def cut(label: str, limit: int = LABEL_CHARACTERS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass(frozen=True)
class Segment:
    value: float
    css: str  # the class that colours it
    title: str  # its tooltip: what it counts


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    note: str = ""  # printed after the bar (its total, formatted)
    link: str = ""  # an anchor in the page the label leads to

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


def bar_chart(bars: list[Bar], title: str, width: int = 640, css: str = "chart") -> Markup:
    """Horizontal bars, stacked from their segments, scaled to the largest total."""
    label_width = min(
        LABEL_CHARACTERS * CHAR_WIDTH, max((len(b.label) for b in bars), default=4) * CHAR_WIDTH
    )
    label_width = max(label_width, 60) + 8
    note_width = max((len(b.note) for b in bars), default=0) * CHAR_WIDTH + 12
    plot = max(width - label_width - note_width - 16, 80)
    largest = max((b.total for b in bars), default=0) or 1
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    parts = [
        f'<svg class="{css}" role="img" aria-label="{text(title)}" xmlns="http://www.w3.org/2000/svg"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{text(title)}</title>",
    ]
    for row, bar in enumerate(bars):
        y = BAR_GAP + row * (BAR_HEIGHT + BAR_GAP)
        middle = y + BAR_HEIGHT / 2 + 4
        label = f'<text class="label" x="{label_width - 6:.0f}" y="{middle:.0f}" text-anchor="end">'
        label += f"<title>{text(bar.label)}</title>{text(cut(bar.label))}</text>"
        if bar.link:
            label = f'<a href="#{text(bar.link)}">{label}</a>'
        parts.append(label)
        x = label_width
        for segment in bar.segments:
            if segment.value <= 0:
                continue
            length = max(plot * segment.value / largest, 1.5)
            parts.append(
                f'<rect class="{segment.css}" x="{x:.1f}" y="{y}" width="{length:.1f}"'
                f' height="{BAR_HEIGHT}" rx="2"><title>{text(segment.title)}</title></rect>'
            )
            x += length
        if bar.note:
            parts.append(
                f'<text class="note" x="{x + 6:.1f}" y="{middle:.0f}">{text(bar.note)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


# --- entity relationships --------------------------------------------------------------

NODE_HEIGHT, NODE_PADDING = 26, 10
GAP_X, GAP_Y = 18, 56
MAX_ROW_WIDTH = 1100  # a layer wider than this wraps onto more rows


@dataclass
class Node:
    key: str  # qualified name
    label: str
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    order: float = 0.0

    @property
    def width(self) -> float:
        return len(cut(self.label)) * CHAR_WIDTH + 2 * NODE_PADDING


@dataclass(frozen=True)
class Diagram:
    svg: Markup
    entities_shown: int
    entities_total: int

    @property
    def truncated(self) -> bool:
        return self.entities_shown < self.entities_total


def er_diagram(
    schema: str, relations: list[rp.Relationship], ident: str, limit: int = 60
) -> Diagram:
    """The schema's relationships as boxes and arrows, parents above their children: a
    layered layout (longest path from the tables nothing references... down to the
    leaves), each layer ordered by where its parents sit, wide layers wrapped. Over
    `limit` tables, the most connected are drawn. Solid: a declared foreign key;
    dashed: a reference inferred from column names. `ident` makes the diagram's ids
    unique in the page."""
    degree: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for rel in relations:
        for key, schema_name, table in (
            (rel.parent, rel.parent_schema, rel.parent_table),
            (rel.child, rel.child_schema, rel.child_table),
        ):
            degree[key] += 1
            names[key] = table if schema_name == schema else f"{schema_name}.{table}"
    shown = connected_selection(relations, degree, limit)
    nodes = {key: Node(key, names[key]) for key in sorted(shown)}
    edges = [r for r in relations if r.parent in nodes and r.child in nodes]
    assign_layers(nodes, edges)
    rows = arrange(nodes, edges)
    width = max((row_width(row) for row in rows), default=0) + 2 * GAP_X
    height = len(rows) * (NODE_HEIGHT + GAP_Y) - GAP_Y + 2 * GAP_X
    for index, row in enumerate(rows):
        x = (width - row_width(row)) / 2
        for node in row:
            node.x, node.y = x, GAP_X + index * (NODE_HEIGHT + GAP_Y)
            x += node.width + GAP_X
    title = f"Entity relationships of schema {schema}"
    parts = [
        f'<svg class="er-diagram" role="img" aria-label="{text(title)}"'
        f' xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}">',
        f"<title>{text(title)}</title>",
        f'<defs><marker id="{ident}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>",
    ]
    for rel in edges:
        parts.append(edge(nodes[rel.parent], nodes[rel.child], rel, f"{ident}-arrow"))
    for node in nodes.values():
        parts.append(
            f'<g class="entity"><title>{text(node.key)}</title>'
            f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}"'
            f' height="{NODE_HEIGHT}" rx="4"/>'
            f'<text x="{node.x + node.width / 2:.1f}" y="{node.y + NODE_HEIGHT / 2 + 4:.1f}"'
            f' text-anchor="middle">{text(cut(node.label))}</text></g>'
        )
    parts.append("</svg>")
    return Diagram(Markup("".join(parts)), len(nodes), len(degree))


def connected_selection(
    relations: list[rp.Relationship], degree: dict[str, int], limit: int
) -> list[str]:
    """Up to `limit` tables, the most connected first, each next one a neighbour of those
    already chosen where there is one: clusters that are drawn with their lines, not
    hubs cut off from everything around them."""
    neighbours: dict[str, set[str]] = defaultdict(set)
    for rel in relations:
        neighbours[rel.parent].add(rel.child)
        neighbours[rel.child].add(rel.parent)
    ranked = sorted(degree, key=lambda key: (-degree[key], key))
    chosen: list[str] = []
    taken: set[str] = set()
    frontier: set[str] = set()
    position = 0
    while len(chosen) < min(limit, len(ranked)):
        if frontier:
            key = min(frontier, key=lambda k: (-degree[k], k))
        else:
            while ranked[position] in taken:
                position += 1
            key = ranked[position]
        chosen.append(key)
        taken.add(key)
        frontier |= neighbours[key]
        frontier -= taken
    return chosen


def assign_layers(nodes: dict[str, Node], edges: list[rp.Relationship]) -> None:
    """Each table one layer below the lowest of its parents; references that close a
    cycle (and a table's references to itself) are left out of the layering."""
    children: dict[str, list[str]] = defaultdict(list)
    for rel in edges:
        if rel.parent != rel.child:
            children[rel.parent].append(rel.child)
    # depth-first, to find the references that go back up a path (cycles)
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    acyclic: dict[str, list[str]] = defaultdict(list)
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(children[start]))]
        state[start] = 1
        while stack:
            key, remaining = stack[-1]
            child = next(remaining, None)
            if child is None:
                state[key] = 2
                stack.pop()
            elif state.get(child) == 1:
                continue  # back to a table on the path: a cycle
            else:
                acyclic[key].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(children[child])))
    incoming = {key: 0 for key in nodes}
    for key in nodes:
        for child in acyclic[key]:
            incoming[child] += 1
    ready = [key for key in nodes if incoming[key] == 0]
    while ready:
        key = ready.pop()
        for child in acyclic[key]:
            nodes[child].layer = max(nodes[child].layer, nodes[key].layer + 1)
            incoming[child] -= 1
            if incoming[child] == 0:
                ready.append(child)


def arrange(nodes: dict[str, Node], edges: list[rp.Relationship]) -> list[list[Node]]:
    """Rows of nodes: each layer ordered by the mean position of its parents (two sweeps
    down), then cut into rows no wider than MAX_ROW_WIDTH."""
    layers: dict[int, list[Node]] = defaultdict(list)
    for node in nodes.values():
        layers[node.layer].append(node)
    parents: dict[str, list[str]] = defaultdict(list)
    for rel in edges:
        if rel.parent != rel.child:
            parents[rel.child].append(rel.parent)
    for position, node in enumerate(layers.get(0, [])):
        node.order = position
    for _ in range(2):
        for layer in sorted(layers)[1:]:
            for node in layers[layer]:
                above = [nodes[p].order for p in parents[node.key] if nodes[p].layer < layer]
                node.order = sum(above) / len(above) if above else math.inf
            ranked = sorted(layers[layer], key=lambda n: (n.order, n.label))
            for position, node in enumerate(ranked):
                node.order = position
            layers[layer] = ranked
    rows: list[list[Node]] = []
    for layer in sorted(layers):
        row: list[Node] = []
        for node in layers[layer]:
            if row and row_width([*row, node]) > MAX_ROW_WIDTH:
                rows.append(row)
                row = []
            row.append(node)
        if row:
            rows.append(row)
    return rows


def row_width(row: list[Node]) -> float:
    return sum(node.width for node in row) + GAP_X * max(len(row) - 1, 0)


def edge(parent: Node, child: Node, rel: rp.Relationship, marker: str) -> str:
    css = "relation" if rel.declared else "relation inferred"
    kind = "foreign key" if rel.declared else "inferred from names, no constraint"
    tooltip = (
        f"{rel.parent} (1) → (*) {rel.child}: {rel.name}"
        f" ({', '.join(rel.columns)} → {', '.join(rel.ref_columns)}; {kind})"
    )
    if parent is child:  # a table referencing itself: a loop on its right side
        x, y = parent.x + parent.width, parent.y + NODE_HEIGHT / 2
        path = f"M{x:.1f},{y - 6:.1f} C{x + 30:.1f},{y - 24:.1f} {x + 30:.1f},{y + 24:.1f}"
        path += f" {x:.1f},{y + 6:.1f}"
    else:
        start_x, start_y = parent.x + parent.width / 2, parent.y + NODE_HEIGHT
        end_x, end_y = child.x + child.width / 2, child.y
        if child.y <= parent.y:  # up or sideways: a reference that closes a cycle
            start_y, end_y = parent.y, child.y + NODE_HEIGHT
        bend = max(abs(end_y - start_y) / 2, 20)
        direction = 1 if end_y >= start_y else -1
        path = (
            f"M{start_x:.1f},{start_y:.1f} C{start_x:.1f},{start_y + direction * bend:.1f}"
            f" {end_x:.1f},{end_y - direction * bend:.1f} {end_x:.1f},{end_y:.1f}"
        )
    return (
        f'<path class="{css}" d="{path}" marker-end="url(#{marker})">'
        f"<title>{text(tooltip)}</title></path>"
    )
