"""The event loop: micro-batch graphs executed on a rank's SimPy resources.

Each micro-batch is a graph; an op becomes ready when its predecessors have finished
(dependency counts, decremented synchronously at completion, so a serial stream picks ops in
exactly the analytical engine's order). Compute ops go to their micro-batch's stream; a
communication op (``is_communication`` and costed ``network``) runs as its own process: it
holds its links in a fixed order (NVLink, then the NICs of every plane), takes ``comm_sms``
SMs unless it is an RDMA transfer, and lasts ``op_cost(op).latency_s``. Under ``serial``
communication runs on the stream too, so nothing overlaps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from heapq import heappop

import simpy
from simpy.core import EmptySchedule

from codesign.engines.des.resources import Host, Link, SmArray, Stream
from codesign.errors import GraphError
from codesign.hw.cost import OpCost
from codesign.hw.device import DeviceModel
from codesign.ir.graph import WorkloadGraph
from codesign.ir.ops import AllReduce, Elementwise, Op, ReduceScatter

NVLINK, NIC = 0, 1  # link groups, in the order an op acquires them


@dataclass(frozen=True, slots=True)
class OpPlan:
    """How one distinct op runs: its cost and, for communication, its links and SMs."""

    cost: OpCost
    comm: bool
    links: tuple[int, ...]
    uses_sms: bool
    dynamic_j: float  # energy above idle power


@dataclass(slots=True)
class GraphPlan:
    """A graph flattened for the event loop, in the analytical engine's topological order."""

    graph: WorkloadGraph
    keys: list[str]
    ops: list[Op]
    layers: list[int | None]
    succ: list[tuple[int, ...]]
    indeg: list[int]
    plans: list[OpPlan]


def plan_op(op: Op, cost: OpCost, idle_w: float) -> OpPlan:
    """Classify an op by its cost: communication is ``is_communication`` and bound
    ``network``; its links come from the cost's ``levels`` (EP transfers: the bottleneck
    link; collectives: every level's link, as levels run one after another)."""
    dyn = cost.energy_j - idle_w * cost.latency_s
    if not (op.is_communication and cost.bound == "network"):
        return OpPlan(cost, False, (), False, dyn)
    try:
        levels = json.loads(str(cost.detail.get("levels", "[]")))
    except ValueError:
        levels = []
    if levels and "bottleneck" in levels[0]:
        rdma = levels[0]["bottleneck"] == "rdma"
        return OpPlan(cost, True, (NIC,) if rdma else (NVLINK,), not rdma, dyn)
    links = sorted({NVLINK if lv.get("link") == "nvlink" else NIC for lv in levels}) or [NVLINK]
    return OpPlan(cost, True, tuple(links), True, dyn)


class CostCache:
    """``op_cost`` per op object, then per op value (identical ops of other graphs)."""

    def __init__(self, device: DeviceModel) -> None:
        self.device = device
        self.idle_w = device.idle_power_w
        self._by_id: dict[int, OpPlan] = {}
        self._by_value: dict[Op, OpPlan] = {}
        self._keep: list[Op] = []  # ops whose id() is a key stay alive

    def plan(self, op: Op) -> OpPlan:
        p = self._by_id.get(id(op))
        if p is None:
            p = self._by_value.get(op)
            if p is None:
                p = plan_op(op, self.device.op_cost(op), self.idle_w)
                self._by_value[op] = p
            self._by_id[id(op)] = p
            self._keep.append(op)
        return p


def prepare(graph: WorkloadGraph, costs: CostCache) -> GraphPlan:
    """Flatten ``graph``: topological order, successor indices, in-degrees, op plans."""
    keys: list[str] = []
    ops: list[Op] = []
    for key, op in graph.topological_ops():
        keys.append(key)
        ops.append(op)
    index = {k: i for i, k in enumerate(keys)}
    g = graph.nx
    nodes, succ_map = g.nodes, g.succ
    succ = [tuple(sorted(index[s] for s in succ_map[k])) for k in keys]
    indeg = [0] * len(keys)
    for ss in succ:
        for s in ss:
            indeg[s] += 1
    return GraphPlan(graph, keys, ops, [nodes[k]["layer"] for k in keys], succ, indeg,
                     [costs.plan(op) for op in ops])


def fused_epilogues(gp: GraphPlan) -> dict[int, int]:
    """TokenWeave's fused kernel: the residual add after an all-reduce (or reduce-scatter)
    and the RMSNorm after that add run inside the communication kernel. Returns fused op ->
    the collective it extends."""
    out: dict[int, int] = {}
    for i, op in enumerate(gp.ops):
        if not (isinstance(op, AllReduce | ReduceScatter) and gp.plans[i].comm):
            continue
        for a in gp.succ[i]:
            aop = gp.ops[a]
            if isinstance(aop, Elementwise) and aop.func == "add":
                out[a] = i
                for n in gp.succ[a]:
                    nop = gp.ops[n]
                    if isinstance(nop, Elementwise) and nop.func == "rmsnorm":
                        out[n] = i
    return out


@dataclass(frozen=True, slots=True)
class SimOptions:
    schedule: str
    launch: str
    sm_count: int  # 0: no SM model
    comm_sms: int
    planes: int
    trace: bool
    jitter: list[list[float]] | None  # per micro-batch, per op: latency factor


@dataclass(slots=True)
class SimOutcome:
    """Raw outcome: per op ``(mb, index, start_s, end_s, host_held)`` in completion order."""

    done: list[tuple[int, int, float, float, bool]]
    makespan_s: float
    events: int
    streams: list[Stream]
    links: list[Link]
    sm: SmArray
    track_of: list[list[int]]  # per micro-batch, per op: stream tid or -1 (off-stream)
    offstream: list[dict[int, int]]  # per micro-batch: off-stream op -> op whose links it holds


class Simulation:
    """One run: build resources on a fresh environment, execute the parts, collect."""

    def __init__(self, parts: list[GraphPlan], device: DeviceModel, opt: SimOptions) -> None:
        env = self.env = simpy.Environment()
        self.parts = parts
        self.opt = opt
        n = len(parts)
        sched = opt.schedule
        if sched == "nanoflow":
            self.streams = [Stream(f"stream.nb{m}", m, [m], n, False) for m in range(n)]
        else:
            self.streams = [Stream("stream", 0, list(range(n)), n,
                                   sched in ("dbo", "tokenweave"))]
        tid = len(self.streams)
        self.nvlink = Link(env, "nvlink", tid)
        self.nics = [Link(env, f"nic.p{p}", tid + 1 + p) for p in range(opt.planes)]
        self.groups: tuple[list[Link], list[Link]] = ([self.nvlink], self.nics)
        self.sm = SmArray(env, opt.sm_count, sched == "nanoflow", log=opt.trace)
        self.host = Host(device.launch_overhead_s) if opt.launch == "eager" else None
        self.stream_of = [self.streams[m] if sched == "nanoflow" else self.streams[0]
                          for m in range(n)]
        self.left = [list(gp.indeg) for gp in parts]
        self.offstream: list[dict[int, int]] = []
        for gp in parts:
            off: dict[int, int] = {}
            if sched != "serial":
                off = {i: i for i, p in enumerate(gp.plans) if p.comm}
                if sched == "tokenweave":
                    off.update(fused_epilogues(gp))
            self.offstream.append(off)
        self.track_of = [[-1] * len(gp.keys) for gp in parts]
        self.done: list[tuple[int, int, float, float, bool]] = []

    # ----------------------------------------------------------------- dependencies
    def _ready(self, mb: int, i: int) -> None:
        off = self.offstream[mb]
        if i in off:
            self.env.process(self._comm(mb, i, off[i]))
        else:
            self.stream_of[mb].push(mb, i)

    def _complete(self, mb: int, i: int) -> None:
        left = self.left[mb]
        for j in self.parts[mb].succ[i]:
            left[j] -= 1
            if left[j] == 0:
                self._ready(mb, j)

    def _work(self, mb: int, i: int, p: OpPlan) -> float:
        jit = self.opt.jitter
        return p.cost.latency_s * jit[mb][i] if jit is not None else p.cost.latency_s

    # ----------------------------------------------------------------- processes
    def _worker(self, st: Stream):  # type: ignore[no-untyped-def]
        env, sm, host, parts, done = self.env, self.sm, self.host, self.parts, self.done
        heaps = st.heaps
        groups = self.groups
        while True:
            mb = st.pick()
            if mb < 0:
                st.wake = env.event()
                yield st.wake
                continue
            i = heappop(heaps[mb])
            p = parts[mb].plans[i]
            start = env.now
            work = self._work(mb, i, p)
            held = False
            if host is not None:
                wall, held = host.issue(start, p.cost.kernels, work / p.cost.kernels)
                gap = wall - work
                if gap > 0.0:
                    yield env.timeout(gap)
            if p.comm:  # serial: communication on the stream, holding its links
                reqs = []
                for g in p.links:
                    for link in groups[g]:
                        req = link.res.request()
                        yield req
                        reqs.append((link, req))
                yield env.timeout(work)
                for link, req in reqs:
                    link.res.release(req)
            else:
                yield sm.run(work, p.cost.bound)
            self.track_of[mb][i] = st.tid
            done.append((mb, i, start, env.now, held))
            self._complete(mb, i)

    def _comm(self, mb: int, i: int, via: int):  # type: ignore[no-untyped-def]
        env, sm = self.env, self.sm
        gp = self.parts[mb]
        p = gp.plans[i]
        route = gp.plans[via]  # a fused epilogue runs on its collective's links and SMs
        reqs = []
        for g in route.links:
            for link in self.groups[g]:
                req = link.res.request()
                yield req
                reqs.append((link, req))
        sms = self.opt.comm_sms if route.uses_sms and sm.container is not None else 0
        if sms:
            yield sm.take(sms)
            sm.replan()
        start = env.now
        work = self._work(mb, i, p)
        held = False
        if self.host is not None:
            wall, held = self.host.issue(start, p.cost.kernels, work / p.cost.kernels)
            work = wall
        yield env.timeout(work)
        if sms:
            sm.give(sms)
        for link, req in reqs:
            link.res.release(req)
        self.done.append((mb, i, start, env.now, held))
        self._complete(mb, i)

    # ----------------------------------------------------------------- run
    def run(self) -> SimOutcome:
        env = self.env
        for st in self.streams:
            env.process(self._worker(st))
        for mb, gp in enumerate(self.parts):
            for i, d in enumerate(gp.indeg):
                if d == 0:
                    self._ready(mb, i)
        step = env.step
        events = 0
        try:
            while True:
                step()
                events += 1
        except EmptySchedule:
            pass
        total = sum(len(gp.keys) for gp in self.parts)
        if len(self.done) != total:
            raise GraphError(f"des: {total - len(self.done)} ops never ran (a dependency cycle?)")
        makespan = max((d[3] for d in self.done), default=0.0)
        return SimOutcome(self.done, makespan, events, self.streams,
                          [self.nvlink, *self.nics], self.sm, self.track_of, self.offstream)


def links_of(plan: OpPlan, planes: int) -> list[int]:
    """Positions in ``[nvlink, nic.p0, ...]`` of the links an op holds."""
    out: list[int] = []
    for g in plan.links:
        out.extend([0] if g == NVLINK else range(1, 1 + planes))
    return out
