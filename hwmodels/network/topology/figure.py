"""Draw a small topology: layered layout (NVSwitch, GPU, NIC, leaf, spine, core from the
bottom up), nodes coloured by kind, scale-out links coloured by plane."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from codesign.errors import SpecError, require_positive
from hwmodels.network.topology.topology import Topology

if TYPE_CHECKING:
    import plotly.graph_objects as go

LAYER = {"nvswitch": 0, "gpu": 1, "nic": 2, "leaf": 3, "spine": 4, "core": 5}
NODE_COLOR = {"nvswitch": "#7f7f7f", "gpu": "#2ca02c", "nic": "#17becf", "leaf": "#1f77b4",
              "spine": "#ff7f0e", "core": "#d62728"}
PLANE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#bcbd22")
SCALE_UP_COLOR = "#c7c7c7"


def _order(name: str) -> tuple[object, ...]:
    """Natural sort key: digit runs compare as numbers (``gpu2`` before ``gpu10``)."""
    out: list[object] = []
    num = ""
    for ch in name + " ":
        if ch.isdigit():
            num += ch
            continue
        if num:
            out.append(int(num))
            num = ""
        out.append(ch)
    return tuple(out)


def layered_positions(topology: Topology) -> dict[str, tuple[float, float]]:
    """``node -> (x, y)``: y the layer of its kind, x spread over [0, 1] by plane then name."""
    by_layer: dict[int, list[str]] = defaultdict(list)
    g = topology.graph
    for n, kind in g.nodes(data="kind"):
        by_layer[LAYER[kind]].append(n)
    pos: dict[str, tuple[float, float]] = {}
    for layer, nodes in by_layer.items():
        nodes.sort(key=lambda n: (g.nodes[n]["plane"], _order(n)))
        for i, n in enumerate(nodes):
            pos[n] = ((i + 0.5) / len(nodes), float(layer))
    return pos


def plot_topology(topology: Topology, max_nodes: int = 600) -> go.Figure:
    """A plotly figure of ``topology``'s graph (builds the graph).

    Raises:
        SpecError: ``max_nodes`` not positive, or the graph larger than it (field
            ``max_nodes``): draw a smaller radix or ``world``.
    """
    import plotly.graph_objects as go

    require_positive("max_nodes", max_nodes)
    g = topology.graph
    if g.number_of_nodes() > max_nodes:
        raise SpecError("max_nodes", f"{topology.name} has {g.number_of_nodes()} nodes, more "
                        f"than max_nodes = {max_nodes}; draw a smaller instance")
    pos = layered_positions(topology)
    groups: dict[str, tuple[list[float | None], list[float | None]]] = defaultdict(
        lambda: ([], []))
    for u, v, d in g.edges(data=True):
        label = (f"plane {d['plane']}" if d["kind"] in ("fabric", "endpoint")
                 else d["kind"])
        xs, ys = groups[label]
        xs += [pos[u][0], pos[v][0], None]
        ys += [pos[u][1], pos[v][1], None]
    fig = go.Figure()
    for label in sorted(groups):
        if label.startswith("plane "):
            color = PLANE_COLORS[int(label.split()[1]) % len(PLANE_COLORS)]
        else:
            color = SCALE_UP_COLOR
        xs, ys = groups[label]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label, hoverinfo="skip",
                                 line={"color": color, "width": 1}))
    for kind in LAYER:
        nodes = [n for n, k in g.nodes(data="kind") if k == kind]
        if not nodes:
            continue
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers",
            name=kind, text=nodes, hoverinfo="text",
            marker={"color": NODE_COLOR[kind], "size": 8, "line": {"width": 0.5}},
        ))
    fig.update_layout(
        title=f"{topology.name}: {topology.endpoints} GPUs, {topology.switches} switches, "
        f"{topology.links} switch links",
        yaxis={"tickvals": list(LAYER.values()), "ticktext": list(LAYER), "showgrid": False},
        xaxis={"visible": False}, plot_bgcolor="white",
    )
    return fig
