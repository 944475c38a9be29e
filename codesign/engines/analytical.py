"""The analytical engine: a placed graph, ops in topological order, one after another.

Every op costs what its pool's device model says (``op_cost``, the same function the
discrete-event engine calls); the ops of a pass run back to back, so the pass takes their sum
(the critical path of a serial schedule). An edge between ops on different pools is a transfer
on the link between them (latency plus bytes over the link's bandwidth per device), which the
consumer waits for. Contention and overlap are the discrete-event engine's business.

Launch modes: ``graph`` (CUDA-graph replay) takes device times as they are. ``eager``
models the host issuing kernels one at a time, ``launch_overhead_s`` apart: a kernel starts
when both the previous kernel has finished and the host has issued it, so short kernels
wait on the host (bound ``launch``) while long ones let the host run ahead.

Energy: each op's energy on its pool's devices, times the stage's devices; devices of the
other stages idle meanwhile (idle power); transfers add the link's energy per byte; network
hardware (NICs, switches) adds its power over the pass. Costs are cached per op object:
identical layers share ops, so a 61-layer graph costs a few dozen distinct predictions.
"""

from __future__ import annotations

from codesign.engines.placed import PlacedGraph, graph_tokens, place
from codesign.engines.result import OpRecord, RunResult
from codesign.hw.cost import OpCost
from codesign.hw.device import DeviceModel, LaunchMode
from codesign.hw.placement import PlacementSpec
from codesign.hw.resolve import System
from codesign.hw.system import SystemSpec
from codesign.ir.graph import WorkloadGraph


class AnalyticalEngine:
    """Sum of per-op costs along the placed graph."""

    name = "analytical"

    def run(self, graph: WorkloadGraph, system: System | SystemSpec | DeviceModel,
            placement: PlacementSpec | None = None, *, tokens: int | None = None,
            world: int | None = None, launch: LaunchMode = "graph") -> RunResult:
        """Cost one pass of ``graph`` (one rank's share per stage) on ``system``.

        Args:
            graph: the rank's graph (or a graph composed from per-stage graphs).
            system: a system, its spec, or a device model (a pool of ``world`` of them).
            placement: which pool runs which ops (default: all on the first pool, with the
                parallelism in ``graph.meta``).
            tokens: new tokens the whole deployment processes in the pass (default: the
                graph's batch x new tokens per sequence).
            world: devices of a bare device model's pool (see :func:`~.placed.place`).
            launch: ``graph`` (CUDA-graph replay) or ``eager`` kernel launches.
        """
        pg = place(graph, system, placement, world=world)
        return run_placed(pg, tokens=tokens, launch=launch, engine=self.name)


def run_placed(pg: PlacedGraph, *, tokens: int | None, launch: LaunchMode,
               engine: str = "analytical") -> RunResult:
    """The analytical engine on an already placed graph."""
    sysm = pg.system
    stages = pg.stages
    caches: list[dict[int, OpCost]] = [{} for _ in stages]  # per stage: op id -> cost
    records: list[OpRecord] = []
    append = records.append
    t = energy = link_j = 0.0
    host = [0.0] * len(stages)  # each stage's host issue clock (eager)
    busy = [0.0] * len(stages)
    ran = [False] * len(stages)
    _, ops, layers = pg.graph.topological()
    models = [sysm.pools[st.pool].model for st in stages]
    eager = launch == "eager"
    issue = [m.launch_overhead_s if eager else 0.0 for m in models]
    idle = [m.idle_power_w for m in models]
    worlds = [st.world for st in stages]
    transfers = pg.transfers
    stage_of = pg.stage
    for key, op, layer in zip(pg.order, ops, layers, strict=True):
        s = stage_of[key]
        if transfers:
            for tr in transfers.get(key, ()):
                dt, de = sysm.transfer(tr.src_pool, tr.dst_pool, tr.nbytes)
                append(OpRecord(f"{tr.src_key}->{key}", "transfer", layer, t, dt,
                                de * worlds[s], "network", 0.0, tr.nbytes))
                t += dt
                link_j += de * worlds[s]
        cache = caches[s]
        c = cache.get(id(op))
        if c is None:
            c = cache[id(op)] = models[s].op_cost(op)
        start, bound, n = t, c.bound, c.kernels
        if eager:
            per_kernel = c.latency_s / n
            h = host[s]
            for _ in range(n):
                h += issue[s]
                if h > t:
                    bound = "launch"
                t = (t if t > h else h) + per_kernel
            host[s] = h
        elif n == 1:
            t += c.latency_s
        else:
            per_kernel = c.latency_s / n
            for _ in range(n):
                t += per_kernel
        latency = t - start
        e1 = c.energy_j + idle[s] * (latency - c.latency_s)  # waiting on the host idles
        append(OpRecord(key, op.kind, layer, start, latency, e1, bound, c.flops, c.dram_bytes))
        busy[s] += latency
        ran[s] = True
        energy += e1 * worlds[s]
    for s in range(len(stages)):  # other stages' devices idle while one works
        if ran[s]:
            energy += idle[s] * worlds[s] * (t - busy[s])
    return finish(pg, engine, t, energy, records, tokens, link_j)


def finish(pg: PlacedGraph, engine: str, latency_s: float, devices_j: float,
           records: list[OpRecord], tokens: int | None, links_j: float = 0.0) -> RunResult:
    """The RunResult of a placed pass: totals with their energy and cost splits, pools.

    ``devices_j`` is the devices' energy; the network hardware's power over the pass and
    ``links_j`` (inter-pool transfers) are added here, each reported in ``meta["energy"]``.
    """
    n_tokens = tokens if tokens is not None else (graph_tokens(pg.graph) or 1)
    meta = pg.cost_meta()
    network_j = pg.system.network_power_w(pg.used) * latency_s
    meta["energy"] = {"devices_j": devices_j, "network_j": network_j, "links_j": links_j}
    energy_j = devices_j + network_j + links_j
    usd = sum(meta["cost"].values())
    device = (pg.system.pools[pg.stages[0].pool].model.name if pg.single_pool
              else pg.system.name)
    return RunResult(graph=pg.graph.name, device=device, engine=engine, world=pg.world,
                     tokens=n_tokens, latency_s=latency_s, energy_j=energy_j,
                     usd_per_hour=usd, records=records, meta=meta)
