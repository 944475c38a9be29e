"""Draw a workload graph's layer structure as a plotly figure."""

from __future__ import annotations

from typing import Any

import networkx as nx

from codesign.ir.graph import WorkloadGraph

_KIND_COLOURS = {
    "gemm": "#1f77b4",
    "lm_head": "#1f77b4",
    "grouped_gemm": "#17becf",
    "attention": "#d62728",
    "mla_attention": "#d62728",
    "router": "#9467bd",
    "dispatch": "#ff7f0e",
    "combine": "#ff7f0e",
    "all_reduce": "#ff7f0e",
    "all_gather": "#ff7f0e",
    "reduce_scatter": "#ff7f0e",
    "elementwise": "#7f7f7f",
    "kv_cache_write": "#8c564b",
    "embedding": "#2ca02c",
}


def layer_subgraph(g: WorkloadGraph, layers: list[int] | None = None) -> nx.DiGraph:
    """The ops of ``layers`` (default: the first dense and the first MoE layer), plus the
    embedding when layer 0 is included."""
    G = g.nx
    if layers is None:
        all_layers = g.layers()
        moe = [i for i in all_layers if f"L{i}.moe.router" in g]
        dense = [i for i in all_layers if i not in set(moe)]
        layers = sorted({*dense[:1], *moe[:1]})
    chosen = set(layers)
    keep = {n for n, d in G.nodes(data=True) if d["layer"] in chosen}
    if 0 in chosen:
        keep |= {
            n
            for n, d in G.nodes(data=True)
            if d["layer"] is None and n.startswith(("embed", "pos"))
        }
    return G.subgraph(keep).copy()


def plot_layer_graph(g: WorkloadGraph, layers: list[int] | None = None) -> Any:
    """A plotly ``Figure`` of the selected layers, ops placed by topological generation,
    coloured by kind, with FLOPs and bytes in the hover text."""
    import plotly.graph_objects as go

    sub = layer_subgraph(g, layers)
    for gen, nodes in enumerate(nx.topological_generations(sub)):
        for n in nodes:
            sub.nodes[n]["gen"] = gen
    pos = nx.multipartite_layout(sub, subset_key="gen", align="horizontal", scale=1.0)
    ex: list[float | None] = []
    ey: list[float | None] = []
    for u, v in sub.edges():
        ex += [pos[u][0], pos[v][0], None]
        ey += [-pos[u][1], -pos[v][1], None]
    fig = go.Figure(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line={"width": 1, "color": "#bbb"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    by_kind: dict[str, list[str]] = {}
    for n, d in sub.nodes(data=True):
        by_kind.setdefault(d["op"].kind, []).append(n)
    for kind, nodes in sorted(by_kind.items()):
        hover = []
        for n in nodes:
            op = sub.nodes[n]["op"]
            hover.append(
                f"{n}<br>{kind}<br>FLOPs {op.flops:.3e}<br>read {op.bytes_read:.3e} B"
                f"<br>written {op.bytes_written:.3e} B"
            )
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[-pos[n][1] for n in nodes],
                mode="markers+text",
                marker={"size": 12, "color": _KIND_COLOURS.get(kind, "#000")},
                text=[n.split(".", 1)[-1] for n in nodes],
                textposition="middle right",
                hovertext=hover,
                hoverinfo="text",
                name=kind,
            )
        )
    fig.update_layout(
        title=f"{g.name}: layer graph",
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=max(600, 40 * len(sub)),
        template="plotly_white",
    )
    return fig
