"""Which links a flow crosses: minimum-hop paths with a deterministic ECMP choice.

At every hop the flow may take any neighbour one hop closer to the destination (equal-cost
multipath); the choice is ``crc32("src>dst@node#salt") mod`` the number of such neighbours,
sorted by name -- deterministic across runs and processes, spread across flows like a switch's
ECMP hash. Paths count hops, so a GPU whose NIC sits in another plane (MPFT) or rail (MRFT)
forwards over NVLink inside a server, as DeepSeek's deployment does; where both ends have a
choice the hash picks.

Distances from each destination come from one breadth-first search in compiled code
(``scipy.sparse.csgraph``), cached per topology for the last ``CACHE_DESTINATIONS``
destinations.
"""

from __future__ import annotations

import itertools
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.errors import SpecError
from hwmodels.network.topology.topology import Topology

CACHE_DESTINATIONS = 256


@dataclass(frozen=True, slots=True)
class FlowPath:
    """The route of one flow.

    Attributes:
        nodes: node ids from source to destination.
        links: ``(u, v)`` per hop, in travel direction.
        kinds: edge ``kind`` per hop (``nvlink``, ``pcie``, ``endpoint``, ``fabric``).
        planes: edge ``plane`` per hop (-1 for NVLink).
        bottleneck_bytes_per_s: the smallest per-direction bandwidth on the path.
        latency_s: link latencies plus the forwarding latency of every intermediate node.
    """

    nodes: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...]
    planes: tuple[int, ...]
    bottleneck_bytes_per_s: float
    latency_s: float

    @property
    def hops(self) -> int:
        return len(self.links)


class _Router:
    def __init__(self, topology: Topology) -> None:
        from scipy.sparse import csr_matrix

        g = topology.graph
        self.graph = g
        self.names = sorted(g.nodes)
        self.index = {n: i for i, n in enumerate(self.names)}
        rows, cols = [], []
        for u, v in g.edges:
            iu, iv = self.index[u], self.index[v]
            rows += [iu, iv]
            cols += [iv, iu]
        n = len(self.names)
        self.adj = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
        self.adj.sort_indices()
        self.dist: OrderedDict[int, np.ndarray] = OrderedDict()

    def distances(self, dst: int) -> np.ndarray:
        from scipy.sparse.csgraph import shortest_path

        d = self.dist.get(dst)
        if d is None:
            d = shortest_path(self.adj, unweighted=True, indices=dst, directed=False)
            self.dist[dst] = d
            if len(self.dist) > CACHE_DESTINATIONS:
                self.dist.popitem(last=False)
        else:
            self.dist.move_to_end(dst)
        return d


def _node(topology: Topology, router: _Router, end: int | str, field: str) -> int:
    name = topology.gpu(end) if isinstance(end, int) and not isinstance(end, bool) else end
    if not isinstance(name, str) or name not in router.index:
        raise SpecError(field, f"no node {end!r} in topology {topology.name}")
    return router.index[name]


def find_flow_path(topology: Topology, src: int | str, dst: int | str, salt: int = 0) -> FlowPath:
    """Route a flow from ``src`` to ``dst`` (GPU indices or node ids) on ``topology``'s graph.

    Raises:
        SpecError: an unknown end (field ``src`` / ``dst``) or no path between them.
    """
    router: _Router | None = topology._cache.get("router")
    if router is None:
        router = _Router(topology)
        topology._cache["router"] = router
    s = _node(topology, router, src, "src")
    t = _node(topology, router, dst, "dst")
    dist = router.distances(t)
    if not np.isfinite(dist[s]):
        raise SpecError("dst", f"{router.names[t]} is unreachable from {router.names[s]}")
    names, indptr, indices = router.names, router.adj.indptr, router.adj.indices
    path = [s]
    here = s
    key = f"{names[s]}>{names[t]}"
    while here != t:
        nbrs = indices[indptr[here]:indptr[here + 1]]
        closer = nbrs[dist[nbrs] == dist[here] - 1]
        if len(closer) > 1:
            h = zlib.crc32(f"{key}@{names[here]}#{salt}".encode())
            here = int(closer[h % len(closer)])
        else:
            here = int(closer[0])
        path.append(here)
    return _describe(router, [names[i] for i in path])


def _describe(router: _Router, nodes: list[str]) -> FlowPath:
    g = router.graph
    links = list(itertools.pairwise(nodes))
    data: list[dict[str, Any]] = [g.edges[u, v] for u, v in links]
    latency = sum(e["latency_s"] for e in data)
    latency += sum(g.nodes[n].get("latency_s", 0.0) for n in nodes[1:-1])
    bottleneck = min((e["bytes_per_s"] for e in data), default=float("inf"))
    return FlowPath(
        nodes=tuple(nodes), links=tuple(links), kinds=tuple(e["kind"] for e in data),
        planes=tuple(e["plane"] for e in data), bottleneck_bytes_per_s=bottleneck,
        latency_s=latency,
    )
