"""The discrete-event engine on a placement over several pools.

SimPy resources come from the system: each stage of the placement is one compute stream (its
representative device: ready ops of every micro-batch, the lowest micro-batch first, in the
analytical engine's topological order), each link between two pools one capacity-1 resource
per direction (the representative device's share of the link). An op starts when its inputs
are there and its stage's stream is free; an output that ops on another pool read is sent
once per destination pool, holding the link for ``latency + bytes / bandwidth``. With one
micro-batch this is the analytical engine's answer (a test checks it); with several
(``schedule="pipeline"``) the stages work on different micro-batches at once, as a pipeline
across unlike pools does, and transfers queue for the links.

Launch: ``eager`` gives each stage its own host issuing kernels ``launch_overhead_s`` apart
(the analytical engine's recurrence per stage); ``graph`` takes device times as they are.
Symmetric ranks of a stage are folded into one representative, as on one pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import simpy

from codesign.engines.analytical import finish
from codesign.engines.placed import PlacedGraph, Transfer
from codesign.engines.result import OpRecord, RunResult
from codesign.hw.cost import OpCost
from codesign.hw.device import LaunchMode


@dataclass
class _Mb:
    """One micro-batch: its placed graph, op indices, dependency counts."""

    pg: PlacedGraph
    index: dict[str, int]
    indeg: list[int]
    succ_local: list[list[int]]  # successors on the same pool
    sends: list[list[Transfer]]  # transfers an op's completion starts


@dataclass
class _State:
    env: simpy.Environment
    mbs: list[_Mb]
    costs: list[list[OpCost]]  # per micro-batch, per op index
    links: dict[tuple[str, str], simpy.Resource]
    ready: list[list[tuple[int, int]]]  # per stage: heap of (micro-batch, op index)
    wake: list[simpy.Event | None]
    left: list[int]  # ops still to run per stage
    host: list[float]
    issue: list[float]
    records: list[tuple[int, OpRecord, str]] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    link_busy: dict[tuple[str, str], float] = field(default_factory=dict)
    devices_j: float = 0.0
    links_j: float = 0.0


def run_pools(pgs: list[PlacedGraph], *, tokens: int, launch: LaunchMode,
              trace: bool = False) -> RunResult:
    """Simulate the micro-batches ``pgs`` (placed graphs of one placement) on their pools.

    Args:
        pgs: one placed graph per micro-batch (all with the same stages and system).
        tokens: new tokens of all micro-batches together.
        launch: ``graph`` or ``eager``.
        trace: keep Chrome-trace events in ``meta["trace"]``.
    """
    pg0 = pgs[0]
    stages = pg0.stages
    models = [pg0.system.pools[st.pool].model for st in stages]
    env = simpy.Environment()
    st = _State(env, [], [], {}, [[] for _ in stages], [None] * len(stages),
                [0] * len(stages), [0.0] * len(stages),
                [m.launch_overhead_s if launch == "eager" else 0.0 for m in models],
                busy=[0.0] * len(stages))
    cache: dict[tuple[int, int], OpCost] = {}
    for mb, pg in enumerate(pgs):
        st.mbs.append(_flatten(pg))
        row = []
        for key in pg.order:
            s, op = pg.stage[key], pg.graph.nx.nodes[key]["op"]
            c = cache.get((id(op), s))
            if c is None:
                c = models[s].op_cost(op)
                cache[(id(op), s)] = c
            row.append(c)
            st.left[s] += 1
        st.costs.append(row)
        for trs in pg.transfers.values():
            for tr in trs:
                pair = (tr.src_pool, tr.dst_pool)
                if pair not in st.links:
                    st.links[pair] = simpy.Resource(env, capacity=1)
                    st.link_busy[pair] = 0.0
        m = st.mbs[mb]
        for i, d in enumerate(m.indeg):
            if d == 0:
                heappush(st.ready[pg.stage[pg.order[i]]], (mb, i))
    for s in range(len(stages)):
        env.process(_stage(st, s))
    env.run()
    return _result(st, pg0, tokens, trace)


def _flatten(pg: PlacedGraph) -> _Mb:
    g = pg.graph.nx
    index = {k: i for i, k in enumerate(pg.order)}
    indeg = [0] * len(pg.order)
    succ: list[list[int]] = [[] for _ in pg.order]
    sends: list[list[Transfer]] = [[] for _ in pg.order]
    for i, key in enumerate(pg.order):
        pool = pg.pool_of(key)
        for p in g.predecessors(key):
            if pg.pool_of(p) == pool:
                succ[index[p]].append(i)
            indeg[i] += 1  # a cross-pool input counts once per edge, released by its transfer
    for trs in pg.transfers.values():
        for tr in trs:
            sends[index[tr.src_key]].append(tr)
    return _Mb(pg, index, indeg, succ, sends)


def _stage(st: _State, s: int) -> Any:
    env = st.env
    while st.left[s]:
        if not st.ready[s]:
            st.wake[s] = env.event()
            yield st.wake[s]
            continue
        mb, i = heappop(st.ready[s])
        m = st.mbs[mb]
        c = st.costs[mb][i]
        start, bound, per_kernel = env.now, c.bound, c.latency_s / c.kernels
        end = start
        for _ in range(c.kernels):  # the analytical engine's host recurrence, per stage
            st.host[s] += st.issue[s]
            if st.host[s] > end:
                bound = "launch"
            end = max(end, st.host[s]) + per_kernel
        yield env.timeout(end - start)
        latency = end - start
        stage = m.pg.stages[s]
        idle_w = m.pg.system.pools[stage.pool].model.idle_power_w
        e = c.energy_j + idle_w * (latency - c.latency_s)  # waiting on the host idles
        st.devices_j += e * stage.world
        st.busy[s] += latency
        st.left[s] -= 1
        key = m.pg.order[i]
        node = m.pg.graph.nx.nodes[key]
        st.records.append((mb, OpRecord(f"mb{mb}/{key}", node["op"].kind, node["layer"], start,
                                        latency, e, bound, c.flops, c.dram_bytes),
                           f"stage {s} ({stage.pool})"))
        for j in m.succ_local[i]:
            _release(st, mb, j)
        for tr in m.sends[i]:
            env.process(_transfer(st, mb, tr))


def _release(st: _State, mb: int, j: int) -> None:
    m = st.mbs[mb]
    m.indeg[j] -= 1
    if m.indeg[j] == 0:
        s = m.pg.stage[m.pg.order[j]]
        heappush(st.ready[s], (mb, j))
        w = st.wake[s]
        if w is not None:
            st.wake[s] = None
            w.succeed()


def _transfer(st: _State, mb: int, tr: Transfer) -> Any:
    env = st.env
    m = st.mbs[mb]
    pair = (tr.src_pool, tr.dst_pool)
    with st.links[pair].request() as req:
        yield req
        dt, de = m.pg.system.transfer(tr.src_pool, tr.dst_pool, tr.nbytes)
        start = env.now
        yield env.timeout(dt)
    world = m.pg.stages[m.pg.stage[tr.consumers[0]]].world
    st.link_busy[pair] += dt
    st.links_j += de * world
    layer = m.pg.graph.nx.nodes[tr.consumers[0]]["layer"]
    st.records.append((mb, OpRecord(f"mb{mb}/{tr.src_key}->{tr.consumers[0]}", "transfer",
                                    layer, start, dt, de * world, "network", 0.0, tr.nbytes),
                       f"link {tr.src_pool}->{tr.dst_pool}"))
    src = tr.src_key
    g = m.pg.graph.nx
    for key in tr.consumers:
        for _ in range(g.number_of_edges(src, key)):
            _release(st, mb, m.index[key])


def _result(st: _State, pg0: PlacedGraph, tokens: int, trace: bool) -> RunResult:
    t = st.env.now
    stages = pg0.stages
    energy = st.devices_j
    for s, stage in enumerate(stages):  # a stage's devices idle while it waits
        idle_w = pg0.system.pools[stage.pool].model.idle_power_w
        energy += idle_w * stage.world * (t - st.busy[s])
    ordered = sorted(st.records, key=lambda x: (x[1].start_s, x[0]))
    records = [r for _, r, _ in ordered]
    result = finish(pg0, "des", t, energy, records, tokens, st.links_j)
    util = {f"stage{s}.{stage.pool}": {"busy_s": st.busy[s],
                                       "utilization": st.busy[s] / t if t > 0 else 0.0}
            for s, stage in enumerate(stages)}
    for (a, b), busy in st.link_busy.items():
        util[f"link.{a}->{b}"] = {"busy_s": busy, "utilization": busy / t if t > 0 else 0.0}
    result.meta.update({"schedule": "pipeline" if len(st.mbs) > 1 else "serial",
                        "micro_batches": len(st.mbs), "resources": util})
    if trace:
        result.meta["trace"] = [{"name": r.key, "cat": r.kind, "ph": "X", "ts": r.start_s * 1e6,
                                 "dur": r.latency_s * 1e6, "pid": 0, "tid": tid}
                                for _, r, tid in ordered]
    return result
