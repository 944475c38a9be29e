"""Fat trees: two-tier (FT2), three-tier (FT3), multi-plane (MPFT), multi-rail (MRFT).

Counts with switch radix ``k`` (half the ports down, half up; full bisection):

* FT2: ``k`` leaves, ``k/2`` spines; ``k^2/2`` endpoints, ``k^2/2`` switch links.
  Radix 64: 2,048 endpoints, 96 switches, 2,048 links.
* FT3 (Al-Fares et al., SIGCOMM 2008): ``k`` pods of ``k/2`` leaf and ``k/2`` aggregation
  switches, ``(k/2)^2`` core switches; ``k^3/4`` endpoints, ``5k^2/4`` switches, ``k^3/2``
  links. Radix 64: 65,536 / 5,120 / 131,072.
* MPFT (DeepSeek ISCA 2025, "Insights into DeepSeek-V3", section 5.1): ``P`` independent
  FT2 planes; every GPU has its own NIC and NIC ``i`` of every server joins plane
  ``i mod P``; traffic to another plane crosses NVLink inside a server first. ``P`` FT2s of
  switches and links; 8 planes at radix 64: 16,384 endpoints, 768 switches, 16,384 links.
* MRFT (multi-rail fat tree, which DeepSeek's paper measures next to MPFT): here the
  common rail-optimized two-tier fat tree -- one FT2 whose leaves are split into ``G`` rails
  (``G`` = GPUs per server); NIC ``i`` of every server goes to a rail-``i`` leaf and all
  leaves share one spine layer, so cross-rail traffic can turn at a spine (rail-optimized
  wiring as vendor guides describe it, e.g. "NIC1-Leaf1, NIC2-Leaf2"; DeepSeek's exact MRFT
  wiring was not checked against the paper). Counts as FT2; ``G`` must divide ``k``.

Endpoints beyond ``world`` are left empty; the fabric keeps its full size.
"""

from __future__ import annotations

import networkx as nx

from codesign.errors import SpecError
from hwmodels.network.topology.common import (
    Parts,
    check_int,
    check_radix,
    label,
    make_counts,
    resolve_parts,
    resolve_world,
)
from hwmodels.network.topology.graphs import add_fabric, add_nics, add_servers, add_switches
from hwmodels.network.topology.spec import CostSpec, LinkSpec, ScaleUpSpec, SwitchSpec
from hwmodels.network.topology.topology import Topology

_DS = "DeepSeek ISCA 2025 'Insights into DeepSeek-V3' (arXiv 2505.09343), section 5 / Table 3"


def _sw(kind: str, plane: int, planes: int, j: int) -> str:
    return f"p{plane}.{kind}{j}" if planes > 1 else f"{kind}{j}"


def _two_tier(
    kind: str, k: int, planes: int, gpus_per_node: int, world: int, parts: Parts,
) -> nx.Graph:
    """FT2 planes with GPUs attached in ``kind``'s pattern (ft2 / mpft / mrft)."""
    half, g_ = k // 2, gpus_per_node
    g = nx.Graph()
    for p in range(planes):
        leaves = [_sw("leaf", p, planes, j) for j in range(k)]
        spines = [_sw("spine", p, planes, j) for j in range(half)]
        add_switches(g, leaves, "leaf", p, parts.switch)
        add_switches(g, spines, "spine", p, parts.switch)
        add_fabric(g, ((lf, sp) for lf in leaves for sp in spines), parts.link, p)

    if kind == "mpft":
        per_plane = g_ // planes

        def attach(i: int) -> tuple[str, int]:
            s, local = divmod(i, g_)
            p = local % planes
            return _sw("leaf", p, planes, (s * per_plane + local // planes) // half), p
    elif kind == "mrft":
        per_rail = k // g_

        def attach(i: int) -> tuple[str, int]:
            s, rail = divmod(i, g_)
            return _sw("leaf", 0, 1, rail * per_rail + s // half), 0
    else:

        def attach(i: int) -> tuple[str, int]:
            return _sw("leaf", 0, 1, i // half), 0

    add_servers(g, world, g_, parts.scale_up, plane_of=lambda i: attach(i)[1])
    add_nics(g, world, g_, parts.scale_up, parts.link, attach)
    return g


def _fat2(
    kind: str, radix: int, planes: int, gpus_per_node: int, world: int | None,
    scale_up: ScaleUpSpec | None, link: LinkSpec | None, switch: SwitchSpec | None,
    cost: CostSpec | None,
) -> Topology:
    k = check_radix(radix)
    g_ = check_int("gpus_per_node", gpus_per_node, 1)
    half = k // 2
    if kind == "mpft":
        p = check_int("planes", planes, 1)
        if g_ % p:
            divisors = [d for d in range(1, g_ + 1) if g_ % d == 0]
            raise SpecError("planes", f"must divide gpus_per_node = {g_} (NIC i of a server "
                            f"joins plane i mod planes)", divisors)
        capacity = (k * half) // (g_ // p) * g_
        name, source = f"mpft-r{k}-p{p}", f"multi-plane fat tree, {_DS}"
    elif kind == "mrft":
        p = 1
        if k % g_:
            raise SpecError("gpus_per_node", f"must divide radix = {k} (radix/gpus_per_node "
                            "leaves per rail)")
        capacity = k * half
        name, source = f"mrft-r{k}", "multi-rail (rail-optimized) two-tier fat tree, shared spines"
    else:
        p = 1
        capacity = k * half
        name, source = f"ft2-r{k}", f"two-tier fat tree (leaf-spine), {_DS}"
    w = resolve_world(world, capacity)
    parts = resolve_parts(scale_up, link, switch, cost)
    counts = make_counts(w, capacity, {"leaf": p * k, "spine": p * half}, p * k * half, g_,
                         parts.scale_up)
    return Topology(
        kind=kind, name=label(name, w, capacity),
        params={"radix": k, "planes": p, "gpus_per_node": g_, "world": w},
        counts=counts, cost=parts.cost, gpus_per_node=g_, source=source,
        _build_graph=lambda: _two_tier(kind, k, p, g_, w, parts),
    )


def ft2(
    radix: int, *, gpus_per_node: int = 8, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, link: LinkSpec | None = None,
    switch: SwitchSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """Two-tier fat tree of radix-``radix`` switches (see the module docstring)."""
    return _fat2("ft2", radix, 1, gpus_per_node, world, scale_up, link, switch, cost)


def mpft(
    radix: int, planes: int = 8, *, gpus_per_node: int = 8, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, link: LinkSpec | None = None,
    switch: SwitchSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """Multi-plane fat tree: ``planes`` FT2 planes, NIC ``i`` of a server in plane ``i mod P``."""
    return _fat2("mpft", radix, planes, gpus_per_node, world, scale_up, link, switch, cost)


def mrft(
    radix: int, *, gpus_per_node: int = 8, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, link: LinkSpec | None = None,
    switch: SwitchSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """Multi-rail fat tree: one FT2, leaves split in ``gpus_per_node`` rails, shared spines."""
    return _fat2("mrft", radix, 1, gpus_per_node, world, scale_up, link, switch, cost)


def _three_tier(k: int, gpus_per_node: int, world: int, parts: Parts) -> nx.Graph:
    half = k // 2
    g = nx.Graph()
    cores = [f"core{c}" for c in range(half * half)]
    add_switches(g, cores, "core", 0, parts.switch)
    for pod in range(k):
        leaves = [f"pod{pod}.leaf{j}" for j in range(half)]
        aggs = [f"pod{pod}.agg{a}" for a in range(half)]
        add_switches(g, leaves, "leaf", 0, parts.switch, pod=pod)
        add_switches(g, aggs, "spine", 0, parts.switch, pod=pod)
        add_fabric(g, ((lf, ag) for lf in leaves for ag in aggs), parts.link, 0)
        add_fabric(g, ((ag, cores[a * half + t]) for a, ag in enumerate(aggs)
                       for t in range(half)), parts.link, 0)

    def attach(i: int) -> tuple[str, int]:
        pod, j = divmod(i // half, half)
        return f"pod{pod}.leaf{j}", 0

    add_servers(g, world, gpus_per_node, parts.scale_up)
    add_nics(g, world, gpus_per_node, parts.scale_up, parts.link, attach)
    return g


def ft3(
    radix: int, *, gpus_per_node: int = 8, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, link: LinkSpec | None = None,
    switch: SwitchSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """Three-tier fat tree (``k`` pods, ``(k/2)^2`` cores; see the module docstring)."""
    k = check_radix(radix)
    g_ = check_int("gpus_per_node", gpus_per_node, 1)
    half = k // 2
    capacity = k * half * half
    w = resolve_world(world, capacity)
    parts = resolve_parts(scale_up, link, switch, cost)
    by_kind = {"leaf": k * half, "spine": k * half, "core": half * half}
    counts = make_counts(w, capacity, by_kind, k * half * half * 2, g_, parts.scale_up)
    return Topology(
        kind="ft3", name=label(f"ft3-r{k}", w, capacity),
        params={"radix": k, "gpus_per_node": g_, "world": w},
        counts=counts, cost=parts.cost, gpus_per_node=g_,
        source=f"three-tier fat tree (Al-Fares et al., SIGCOMM 2008), {_DS}",
        _build_graph=lambda: _three_tier(k, g_, w, parts),
    )
