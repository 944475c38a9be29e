"""Scale-up domains: an 8-GPU HGX server and a GB200 NVL72 rack (GPUs and NVSwitches only).

The scale-out fabric is absent (no NICs, no leaf switches): ``cost_usd`` and ``power_w`` are 0,
NVLink parts being priced inside the server. Per-GPU NVLink bandwidth is the sum of a GPU's
``nvlink`` edges: H100 450 GB/s, H800 200 GB/s, GB200 900 GB/s per direction.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx

from hwmodels.network.topology.common import check_int, label, make_counts, resolve_world
from hwmodels.network.topology.graphs import add_servers
from hwmodels.network.topology.presets import hgx_scale_up, ndr_400g_prices, nvl72_scale_up
from hwmodels.network.topology.spec import CostSpec, ScaleUpSpec
from hwmodels.network.topology.topology import Topology


def _domain(
    kind: str, base: str, gpus: int, world: int | None, scale_up: ScaleUpSpec,
    cost: CostSpec | None,
) -> Topology:
    w = resolve_world(world, gpus)
    counts = make_counts(w, gpus, {}, 0, gpus, scale_up, nics=False)

    def build() -> nx.Graph:
        g = nx.Graph()
        add_servers(g, w, gpus, scale_up)
        return g

    return Topology(
        kind=kind, name=label(base, w, gpus), params={"gpus": gpus, "world": w},
        counts=counts, cost=cost or ndr_400g_prices(), gpus_per_node=gpus,
        source=scale_up.source, _build_graph=build,
    )


def hgx_node(
    gpu: Literal["h100", "h800"] = "h100", *, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """One 8-GPU HGX server on 4 NVSwitch chips (H100 900 GB/s, H800 400 GB/s NVLink)."""
    return _domain("hgx-node", f"hgx-{gpu}", 8, world, scale_up or hgx_scale_up(gpu), cost)


def nvl72(
    *, gpus: int = 72, world: int | None = None, scale_up: ScaleUpSpec | None = None,
    cost: CostSpec | None = None,
) -> Topology:
    """A GB200 NVL72 rack: 72 GPUs, each with one NVLink5 link to each of 18 switch trays."""
    n = check_int("gpus", gpus, 1)
    return _domain("nvl72", "nvl72" if n == 72 else f"nvl{n}", n, world,
                   scale_up or nvl72_scale_up(), cost)
