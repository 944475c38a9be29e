"""Direct topologies: dragonfly and slim fly (routers hold endpoints; kind ``leaf``).

Dragonfly (Kim, Dally, Scott, Abts, ISCA 2008), balanced: ``p = h`` endpoints and global
links per router, ``a = 2h`` routers per group joined all-to-all, router radix
``p + (a - 1) + h = 4h - 1`` (so ``h = (radix + 1) // 4``). ``g`` groups; links
``g a (a-1)/2`` intra-group plus ``g a h / 2`` global (none when ``g = 1``). The default
``g = a h - 1`` follows DeepSeek's Table 3 (radix 64: h = 16, a = 32, g = 511: 16,352
switches, 261,632 endpoints, 384,272 links); the largest is ``a h + 1``. Global ports are
wired in rounds: port ``j`` of group ``i`` goes to group ``i + o`` for the round's offsets
``o``, the partner port being that group's port for offset ``g - o``; the router of port
``j`` is ``j // h``.

Slim fly (Besta and Hoefler, SC 2014): ``2 q^2`` routers of network radix
``k' = (3q - delta)/2`` and ``p = ceil(k'/2)`` endpoints each; links ``q^2 k'``. With
``radix`` alone, ``q`` is the largest integer (``q % 4 != 2``) with ``k' + p <= radix``:
radix 64 gives q = 28, 1,568 switches, k' = 42, p = 21, 32,928 endpoints and 32,928 links
(DeepSeek's Table 3 row). The graph is the MMS graph, which needs a prime power ``q``: 28 is
not, so that topology has formula counts but no graph (``.graph`` raises a SpecError naming
``q``); pass a prime power (``q=27`` fits radix 64) for a graph.
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
from hwmodels.network.topology.galois import delta, mms_edges, prime_power
from hwmodels.network.topology.graphs import add_fabric, add_nics, add_servers, add_switches
from hwmodels.network.topology.spec import CostSpec, LinkSpec, ScaleUpSpec, SwitchSpec
from hwmodels.network.topology.topology import Topology

_DS = "DeepSeek ISCA 2025 'Insights into DeepSeek-V3' (arXiv 2505.09343), Table 3"


def global_offsets(groups: int, ports: int) -> list[list[int]]:
    """Per round, the group offsets of a group's global ports (symmetric: o and g - o)."""
    if groups == 1:
        return []
    full = list(range(1, groups))
    rounds = [full[:] for _ in range(ports // (groups - 1))]
    rem = ports % (groups - 1)
    if rem:
        last: list[int] = []
        if rem % 2:  # only when groups is even: offset g/2 pairs with itself
            last.append(groups // 2)
        o = 1
        while len(last) < rem:
            last += [o, groups - o]
            o += 1
        rounds.append(sorted(last))
    return rounds


def _dragonfly_graph(
    h: int, groups: int, gpus_per_node: int, world: int, parts: Parts
) -> nx.Graph:
    a = 2 * h
    g = nx.Graph()
    for grp in range(groups):
        routers = [f"g{grp}.r{r}" for r in range(a)]
        add_switches(g, routers, "leaf", 0, parts.switch, group=grp)
        add_fabric(g, ((routers[x], routers[y]) for x in range(a) for y in range(x + 1, a)),
                   parts.link, 0)
    pairs = []
    start = 0
    for offsets in global_offsets(groups, a * h):
        pos = {o: start + n for n, o in enumerate(offsets)}
        for grp in range(groups):
            for o in offsets:
                other, j, j2 = (grp + o) % groups, pos[o], pos[groups - o]
                if (grp, j) < (other, j2):
                    pairs.append((f"g{grp}.r{j // h}", f"g{other}.r{j2 // h}"))
        start += len(offsets)
    add_fabric(g, pairs, parts.link, 0)

    def attach(i: int) -> tuple[str, int]:
        grp, r = divmod(i // h, a)
        return f"g{grp}.r{r}", 0

    add_servers(g, world, gpus_per_node, parts.scale_up)
    add_nics(g, world, gpus_per_node, parts.scale_up, parts.link, attach)
    return g


def dragonfly(
    radix: int, *, groups: int | None = None, gpus_per_node: int = 8, world: int | None = None,
    scale_up: ScaleUpSpec | None = None, link: LinkSpec | None = None,
    switch: SwitchSpec | None = None, cost: CostSpec | None = None,
) -> Topology:
    """Balanced dragonfly of radix-``radix`` routers (``groups`` default ``a h - 1``)."""
    k = check_radix(radix)
    g_ = check_int("gpus_per_node", gpus_per_node, 1)
    h = (k + 1) // 4
    a, p = 2 * h, h
    if groups is None:
        n_groups = max(a * h - 1, 1)
    else:
        n_groups = check_int("groups", groups, 1)
        if n_groups > a * h + 1:
            raise SpecError("groups", f"at most a*h + 1 = {a * h + 1} at radix {k}, "
                            f"got {n_groups}")
        if 1 < n_groups <= h:
            raise SpecError("groups", f"must be 1 or > h = {h}: fewer groups would need "
                            f"parallel links between one router pair, got {n_groups}")
    capacity = p * a * n_groups
    w = resolve_world(world, capacity)
    parts = resolve_parts(scale_up, link, switch, cost)
    links = n_groups * a * (a - 1) // 2 + (n_groups * a * h // 2 if n_groups > 1 else 0)
    counts = make_counts(w, capacity, {"leaf": a * n_groups}, links, g_, parts.scale_up)
    return Topology(
        kind="dragonfly", name=label(f"df-r{k}-g{n_groups}", w, capacity),
        params={"radix": k, "p": p, "a": a, "h": h, "groups": n_groups,
                "gpus_per_node": g_, "world": w},
        counts=counts, cost=parts.cost, gpus_per_node=g_,
        source=f"balanced dragonfly (Kim et al., ISCA 2008); groups = a*h - 1 as {_DS}",
        _build_graph=lambda: _dragonfly_graph(h, n_groups, g_, w, parts),
    )


def slimfly_shape(q: int) -> tuple[int, int]:
    """``(k', p)``: network radix and endpoints per router of slim fly ``q``."""
    d = delta(q)
    assert d is not None
    kp = (3 * q - d) // 2
    return kp, -(-kp // 2)


def _largest_q(radix: int, prime_powers_only: bool = False) -> int | None:
    best = None
    q = 3
    while True:
        if delta(q) is not None:
            kp, p = slimfly_shape(q)
            if kp + p > radix:
                return best
            if not prime_powers_only or prime_power(q):
                best = q
        q += 1


def _slimfly_graph(q: int, radix: int, gpus_per_node: int, world: int, parts: Parts) -> nx.Graph:
    if prime_power(q) is None:
        alt = _largest_q(radix, prime_powers_only=True)
        raise SpecError("q", f"the MMS graph needs a prime power; {q} is not (its counts come "
                        f"from the formulas); largest prime power fitting radix {radix}: {alt}")
    _, p = slimfly_shape(q)
    g = nx.Graph()
    add_switches(g, (f"r{r}" for r in range(2 * q * q)), "leaf", 0, parts.switch)
    add_fabric(g, ((f"r{u}", f"r{v}") for u, v in mms_edges(q)), parts.link, 0)
    add_servers(g, world, gpus_per_node, parts.scale_up)
    add_nics(g, world, gpus_per_node, parts.scale_up, parts.link, lambda i: (f"r{i // p}", 0))
    return g


def slimfly(
    radix: int | None = None, *, q: int | None = None, gpus_per_node: int = 8,
    world: int | None = None, scale_up: ScaleUpSpec | None = None,
    link: LinkSpec | None = None, switch: SwitchSpec | None = None,
    cost: CostSpec | None = None,
) -> Topology:
    """Slim fly from ``radix`` (largest fitting ``q``) or from ``q`` (see module docstring)."""
    if radix is None and q is None:
        raise SpecError("radix", "give radix or q")
    k = check_radix(radix) if radix is not None else None
    g_ = check_int("gpus_per_node", gpus_per_node, 1)
    if q is None:
        assert k is not None
        q_ = _largest_q(k)
        if q_ is None:
            raise SpecError("radix", f"slim fly needs radix >= 8 (q = 3), got {k}")
    else:
        q_ = check_int("q", q, 3)
        if delta(q_) is None:
            raise SpecError("q", f"q % 4 must be 0, 1 or 3, got {q_}")
    kp, p = slimfly_shape(q_)
    if k is None:
        k = kp + p + (kp + p) % 2
    elif kp + p > k:
        raise SpecError("q", f"q = {q_} needs radix >= {kp + p} (k' = {kp} + p = {p}), "
                        f"radix is {k}")
    routers = 2 * q_ * q_
    capacity = routers * p
    w = resolve_world(world, capacity)
    parts = resolve_parts(scale_up, link, switch, cost)
    counts = make_counts(w, capacity, {"leaf": routers}, q_ * q_ * kp, g_, parts.scale_up)
    radix_ = k
    return Topology(
        kind="slimfly", name=label(f"sf-q{q_}", w, capacity),
        params={"radix": k, "q": q_, "network_radix": kp, "p": p, "gpus_per_node": g_,
                "world": w},
        counts=counts, cost=parts.cost, gpus_per_node=g_,
        source=f"slim fly, MMS graph (Besta and Hoefler, SC 2014); counts as {_DS}",
        _build_graph=lambda: _slimfly_graph(q_, radix_, g_, w, parts),
    )
