"""Flow-level contention: max-min fair sharing of directed links by concurrent flows.

A :class:`Flow` moves ``bytes`` from ``src`` to ``dst`` (GPU indices or node ids) along the
path :func:`~hwmodels.network.topology.find_flow_path` gives (minimum hops, ECMP by hash, so a
flow keeps one path). Every undirected edge of the topology graph is two directed links, each
of the edge's ``bytes_per_s`` (full duplex).

:func:`simulate_flows` is event-driven: at every event (a flow becomes ready, a flow's last
byte leaves, a flow arrives) the rates of the flows then transmitting are recomputed by
progressive filling (:func:`max_min_rates`: the max-min fair allocation, Bertsekas and
Gallager, *Data Networks*, section 6.5.2), and time advances to the next event. A flow is
ready at ``start_s`` and once every flow named in its ``after`` has arrived; it transmits
at its max-min fair rate, then arrives ``latency_s`` of its path later (store-and-forward
and queueing delays are not modelled; the latency is a fixed tail).

:func:`ring_flows` writes a ring collective as flows step by step (NCCL's ring: ``n - 1``
steps for all-gather and reduce-scatter, ``2 (n - 1)`` for all-reduce, one ``S/n`` chunk to
the ring neighbour per rank and step, step ``s`` waiting for step ``s - 1``), and an
all-to-all as ``n (n - 1)`` concurrent ``S/n`` flows, so concurrent collectives on shared
links can be compared with the same collectives alone. With no shared link and zero
latencies, a ring collective's time equals the bandwidth term of the analytical
:func:`~hwmodels.network.collectives.collective_time` (bus bytes over link bandwidth).

Approximate: fluid flows (no packets, no congestion control, no head-of-line blocking); one
path per flow (no packet spraying or adaptive routing); NVLink and PCIe edges share like any
other link.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from codesign.errors import SpecError
from hwmodels.network.topology.route import FlowPath, find_flow_path
from hwmodels.network.topology.topology import Topology

Link = tuple[str, str]
L = TypeVar("L", bound=Hashable)
RING_KINDS = ("all_gather", "reduce_scatter", "all_reduce", "all_to_all", "send_recv")
_REL = 1e-12  # relative tolerance for simultaneous events and bottleneck ties


@dataclass(frozen=True, slots=True)
class Flow:
    """One transfer.

    Attributes:
        src, dst: GPU indices or node ids of the topology.
        bytes: bytes to move (>= 0).
        start_s: earliest start, seconds.
        name: unique among the flows of one simulation (``after`` refers to it); empty: the
            flow's position in the list.
        after: names of flows that must arrive before this one starts.
        tag: a label shared by the flows of one collective (:meth:`FlowResult.finish_of`).
    """

    src: int | str
    dst: int | str
    bytes: float
    start_s: float = 0.0
    name: str = ""
    after: tuple[str, ...] = ()
    tag: str = ""


@dataclass(frozen=True)
class FlowResult:
    """What :func:`simulate_flows` found. Seconds, bytes; per-flow tuples in input order.

    Attributes:
        flows: the flows simulated.
        paths: each flow's route.
        start_s: when each flow started transmitting (ready time).
        finish_s: when each flow arrived (last byte sent plus path latency).
        link_peak_utilization: per directed link a flow crossed, the highest
            (sum of rates) / capacity over the simulation (1.0: saturated at some time).
        link_bytes: bytes carried per directed link.
        makespan_s: the last arrival (0 for no flows).
        events: rate recomputations (one per event time).
    """

    flows: tuple[Flow, ...]
    paths: tuple[FlowPath, ...]
    start_s: tuple[float, ...]
    finish_s: tuple[float, ...]
    link_peak_utilization: dict[Link, float]
    link_bytes: dict[Link, float]
    makespan_s: float
    events: int
    _by_tag: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def finish_of(self, tag: str) -> float:
        """Last arrival among the flows tagged ``tag``, seconds.

        Raises:
            SpecError: no flow carries that tag (field ``tag``).
        """
        idx = self._indices(tag)
        return max(self.finish_s[i] for i in idx)

    def duration_of(self, tag: str) -> float:
        """Last arrival minus first ready time of the flows tagged ``tag``, seconds."""
        idx = self._indices(tag)
        return max(self.finish_s[i] for i in idx) - min(self.start_s[i] for i in idx)

    def _indices(self, tag: str) -> list[int]:
        idx = self._by_tag.get(tag)
        if not idx:
            raise SpecError("tag", f"no flow tagged {tag!r}", sorted(self._by_tag))
        return idx


def max_min_rates(paths: Sequence[Sequence[L]], capacity: Mapping[L, float]) -> list[float]:
    """Max-min fair rates of flows over capacitated links, by progressive filling.

    Repeatedly the link with the smallest fair share (remaining capacity over the flows not
    yet fixed that cross it) fixes those flows at that share. The result is feasible and
    every flow has a bottleneck: a saturated link on which no flow gets more than it does.

    Args:
        paths: per flow, the links it crosses (each at most once). A flow crossing no link
            gets ``inf``.
        capacity: per link, bytes/s (> 0).
    """
    rates = [math.inf] * len(paths)
    users: dict[L, set[int]] = {}
    for i, path in enumerate(paths):
        for link in path:
            users.setdefault(link, set()).add(i)
    remaining = {link: float(capacity[link]) for link in users}
    while users:
        share = {link: remaining[link] / len(fl) for link, fl in users.items()}
        best = min(share.values())
        fixed: set[int] = set()
        for link, s in share.items():
            if s <= best * (1 + _REL):
                fixed |= users[link]
        for i in fixed:
            rates[i] = best
            for link in paths[i]:
                fl = users.get(link)
                if fl is None:
                    continue
                fl.discard(i)
                remaining[link] = max(remaining[link] - best, 0.0)
                if not fl:
                    del users[link]
    return rates


def _check(flows: Sequence[Flow]) -> tuple[list[str], dict[str, int]]:
    for i, f in enumerate(flows):
        if not isinstance(f, Flow):
            raise SpecError(f"flows[{i}]", f"not a Flow: {f!r}")
    names = [f.name or f"#{i}" for i, f in enumerate(flows)]
    index: dict[str, int] = {}
    for i, (f, name) in enumerate(zip(flows, names, strict=True)):
        if not (f.bytes >= 0 and math.isfinite(f.bytes)):
            raise SpecError(f"flows[{i}].bytes", f"must be a finite number >= 0, got {f.bytes}")
        if not (f.start_s >= 0 and math.isfinite(f.start_s)):
            raise SpecError(f"flows[{i}].start_s", f"must be >= 0, got {f.start_s}")
        if name in index:
            raise SpecError(f"flows[{i}].name", f"{name!r} is used twice")
        index[name] = i
    for i, f in enumerate(flows):
        for dep in f.after:
            if dep not in index:
                raise SpecError(f"flows[{i}].after", f"no flow named {dep!r}")
    return names, index


def _capacities(topology: Topology, paths: Sequence[FlowPath]) -> dict[Link, float]:
    g = topology.graph
    cap: dict[Link, float] = {}
    for p in paths:
        for u, v in p.links:
            if (u, v) not in cap:
                cap[(u, v)] = float(g.edges[u, v]["bytes_per_s"])
    return cap


def simulate_flows(topology: Topology, flows: Sequence[Flow], *, salt: int = 0) -> FlowResult:
    """Run ``flows`` on ``topology`` with max-min fair sharing (see the module docstring).

    Args:
        topology: a topology whose graph is built on first use.
        flows: the flows; ``after`` names must exist and form no cycle.
        salt: the ECMP hash salt of :func:`find_flow_path` (other salts, other paths).

    Raises:
        SpecError: a bad flow (field ``flows[i]...``), an unknown or unreachable end, or a
            dependency cycle (field ``flows``).
    """
    flows = tuple(flows)
    names, index = _check(flows)
    route: dict[tuple[int | str, int | str], FlowPath] = {}
    paths = []
    for f in flows:
        key = (f.src, f.dst)
        if key not in route:
            route[key] = find_flow_path(topology, f.src, f.dst, salt)
        paths.append(route[key])
    cap = _capacities(topology, paths)
    n = len(flows)
    dependents: list[list[int]] = [[] for _ in range(n)]
    waiting = [len(f.after) for f in flows]
    for i, f in enumerate(flows):
        for dep in f.after:
            dependents[index[dep]].append(i)
    remaining = [float(f.bytes) for f in flows]
    start = [math.nan] * n
    finish = [math.nan] * n
    ready: list[tuple[float, int]] = [(f.start_s, i) for i, f in enumerate(flows) if not f.after]
    heapq.heapify(ready)
    arrivals: list[tuple[float, int]] = []
    active: list[int] = []
    peak = dict.fromkeys(cap, 0.0)
    carried = dict.fromkeys(cap, 0.0)
    t, events, done = 0.0, 0, 0
    while done < n:
        # settle everything that happens at time t: arrivals release dependents, which may
        # be ready at t too
        while (arrivals and arrivals[0][0] <= t) or (ready and ready[0][0] <= t):
            while arrivals and arrivals[0][0] <= t:
                at, i = heapq.heappop(arrivals)
                finish[i] = at
                done += 1
                for j in dependents[i]:
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        heapq.heappush(ready, (max(flows[j].start_s, at), j))
            while ready and ready[0][0] <= t:
                _, i = heapq.heappop(ready)
                start[i] = t
                if remaining[i] <= 0 or not paths[i].links:
                    remaining[i] = 0.0
                    heapq.heappush(arrivals, (t + paths[i].latency_s, i))
                else:
                    active.append(i)
        if done == n:
            break
        nxt = math.inf
        if ready:
            nxt = ready[0][0]
        if arrivals:
            nxt = min(nxt, arrivals[0][0])
        if not active:
            if math.isinf(nxt):
                stuck = [names[i] for i in range(n) if math.isnan(start[i])][:5]
                raise SpecError("flows", f"dependency cycle among {', '.join(stuck)}")
            t = nxt
            continue
        events += 1
        rates = max_min_rates([paths[i].links for i in active], cap)
        load: dict[Link, float] = {}
        for i, r in zip(active, rates, strict=True):
            for link in paths[i].links:
                load[link] = load.get(link, 0.0) + r
        for link, total in load.items():
            peak[link] = max(peak[link], total / cap[link])
        ends = [t + remaining[i] / r for i, r in zip(active, rates, strict=True)]
        t_next = min(min(ends), nxt)
        dt = t_next - t
        still = []
        for i, r, end in zip(active, rates, ends, strict=True):
            sent = r * dt
            if end <= t_next * (1 + _REL):
                sent = remaining[i]
                remaining[i] = 0.0
                heapq.heappush(arrivals, (t_next + paths[i].latency_s, i))
            else:
                remaining[i] -= sent
                still.append(i)
            for link in paths[i].links:
                carried[link] += sent
        active = still
        t = t_next
    by_tag: dict[str, list[int]] = {}
    for i, f in enumerate(flows):
        by_tag.setdefault(f.tag, []).append(i)
    return FlowResult(
        flows=flows, paths=tuple(paths), start_s=tuple(start), finish_s=tuple(finish),
        link_peak_utilization=peak, link_bytes=carried,
        makespan_s=max(finish, default=0.0), events=events, _by_tag=by_tag,
    )


def ring_flows(
    gpus: Sequence[int | str], nbytes: float, kind: str, *, tag: str | None = None,
    start_s: float = 0.0,
) -> list[Flow]:
    """A collective over ``gpus`` (in ring order) as flows (see the module docstring).

    Args:
        gpus: the ranks, GPU indices or node ids; ring neighbour of ``gpus[r]`` is
            ``gpus[r + 1]`` (wrapping).
        nbytes: the per-rank buffer ``S`` in nccl-tests' convention (all-gather: the
            gathered output; reduce-scatter, all-reduce, all-to-all: the input).
        kind: ``all_gather``, ``reduce_scatter``, ``all_reduce`` (ring steps of ``S/n``),
            ``all_to_all`` (``S/n`` from every rank to every other, at once) or ``send_recv``
            (``S`` from ``gpus[0]`` to ``gpus[1]``).
        tag: the flows' tag and name prefix (default ``kind``); give two concurrent
            collectives different tags.
        start_s: when the collective starts.

    Raises:
        SpecError: unknown ``kind``, negative ``nbytes``, repeated ranks (field ``gpus``).
    """
    if kind not in RING_KINDS:
        raise SpecError("kind", f"unknown collective {kind!r}", RING_KINDS)
    if not nbytes >= 0:
        raise SpecError("nbytes", f"must be >= 0, got {nbytes}")
    ranks = list(gpus)
    if len(set(ranks)) != len(ranks):
        raise SpecError("gpus", "a rank is listed twice")
    n = len(ranks)
    tag = kind if tag is None else tag
    if n < 2:
        return []
    if kind == "send_recv":
        return [Flow(ranks[0], ranks[1], float(nbytes), start_s, f"{tag}/0", (), tag)]
    chunk = float(nbytes) / n
    if kind == "all_to_all":
        return [Flow(ranks[r], ranks[d], chunk, start_s, f"{tag}/r{r}>r{d}", (), tag)
                for r in range(n) for d in range(n) if d != r]
    steps = 2 * (n - 1) if kind == "all_reduce" else n - 1

    def name(s: int, r: int) -> str:
        return f"{tag}/s{s}/r{r % n}"

    return [
        Flow(ranks[r], ranks[(r + 1) % n], chunk, start_s, name(s, r),
             () if s == 0 else (name(s - 1, r - 1), name(s - 1, r)), tag)
        for s in range(steps) for r in range(n)
    ]


__all__ = ["RING_KINDS", "Flow", "FlowResult", "max_min_rates", "ring_flows", "simulate_flows"]
