"""The discrete-event engine: a graph on one representative rank's SimPy resources.

Same contract as the analytical engine (``run(graph, device, tokens=, world=, launch=)`` ->
:class:`~codesign.engines.result.RunResult`), same ``op_cost``, plus overlap, contention and
queues. Schedules (how the batch is cut and what may overlap):

* ``serial``: every op, communication included, in topological order on one stream: the
  analytical engine's answer, op for op (micro-batch graphs, if given, run back to back).
* ``dbo``: DeepSeek's dual micro-batch overlap (DeepSeek-V3 report, sec. 3.4; profile-data
  repository): micro-batches share the compute stream, a micro-batch keeps it until it
  blocks on communication, and its dispatch/combine (or all-reduce) runs on the links while
  the other micro-batch computes.
* ``nanoflow``: NanoFlow's nano-batches (Zhu et al., 2024), one stream each, co-scheduled on
  the SMs: a compute-bound kernel of one nano-batch overlaps a memory-bound one of another
  (see :mod:`codesign.engines.des.resources` for the sharing approximation).
* ``tokenweave``: TokenWeave (Gond et al., 2025): the tokens split in two, one split's
  all-reduce overlapping the other's compute, with the all-reduce fused with the residual add
  and RMSNorm that follow it into one kernel on the communication SMs (pass a small
  ``comm_sms``, e.g. 8, for its multimem kernel).

Communication kernels take ``comm_sms`` SMs (NCCL, DeepEP NVLink kernels), stretching the
compute they overlap by ``sm_count / (sm_count - comm_sms)``; RDMA transfers (EP dispatch and
combine whose bottleneck is the NIC) take none.

Energy: each op's dynamic energy (its ``op_cost`` energy above idle power) plus idle power
over the pass; records carry dynamic energy plus idle power over the op's own time (as the
analytical engine's records), so under overlap they sum to more than the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from codesign.engines.analytical import finish
from codesign.engines.placed import PlacedGraph, graph_tokens, place
from codesign.engines.result import OpRecord, RunResult
from codesign.errors import SpecError
from codesign.hw.device import DeviceModel, LaunchMode
from codesign.hw.placement import PlacementSpec
from codesign.hw.resolve import System
from codesign.hw.system import SystemSpec
from codesign.ir.graph import WorkloadGraph

if TYPE_CHECKING:
    from codesign.engines.des.sim import GraphPlan, SimOptions, SimOutcome

Schedule = Literal["serial", "dbo", "nanoflow", "tokenweave"]
SCHEDULES: tuple[str, ...] = ("serial", "dbo", "nanoflow", "tokenweave", "pipeline")
#: schedules of a placement over several pools (:mod:`codesign.engines.des.pools`)
POOL_SCHEDULES: tuple[str, ...] = ("serial", "pipeline")
LAUNCH_MODES: tuple[str, ...] = ("graph", "eager")


class DesEngine:
    """SimPy engine: one representative rank (symmetric ranks folded), ``world`` for totals."""

    name = "des"

    def run(
        self,
        graph: WorkloadGraph,
        system: System | SystemSpec | DeviceModel,
        placement: PlacementSpec | None = None,
        *,
        tokens: int | None = None,
        world: int | None = None,
        launch: LaunchMode = "graph",
        schedule: Schedule = "serial",
        micro_batches: int | None = None,
        micro_batch_graphs: list[WorkloadGraph] | None = None,
        comm_sms: int = 20,
        sm_count: int | None = None,
        trace: bool = False,
        seed: int = 0,
        jitter: float = 0.0,
    ) -> RunResult:
        """Simulate one pass of ``graph`` (one rank's share) on ``system``.

        Args:
            graph: the rank's graph (the whole batch).
            system: a system, its spec, or a device model (a pool of ``world`` of them).
            placement: which pool runs which ops (default: all on the first pool, with the
                parallelism in ``graph.meta``); several pools run on
                :mod:`codesign.engines.des.pools` (one stream per pool, a SimPy resource per
                link between pools).
            tokens: new tokens the whole deployment processes in the pass (default: the
                graph's batch x new tokens per sequence).
            world: devices of a bare device model's pool.
            launch: ``graph`` (CUDA-graph replay) or ``eager`` (host issue per kernel).
            schedule: ``serial``, ``dbo``, ``nanoflow`` or ``tokenweave``.
            micro_batches: micro-/nano-batches or token splits (default: the number of
                ``micro_batch_graphs``, else 1 for ``serial`` and 2 otherwise).
            micro_batch_graphs: one graph per micro-batch (see
                :func:`~codesign.engines.des.microbatch.split_graphs`); without them every
                micro-batch runs ``graph`` whole and ``meta["warning"]`` says so.
            comm_sms: SMs a communication kernel occupies (DeepEP: 20 of 132 on H800).
            sm_count: SMs per GPU (default: the device's; no SM model if it has none).
            trace: put Chrome-trace events in ``meta["trace"]`` (see :mod:`.trace`).
            seed: seed of the ``jitter`` draws; a seed repeats a run exactly.
            jitter: run-to-run variation of op times: each op instance's time is multiplied
                by a mean-one lognormal factor of this log-standard-deviation (0: none).

        Raises:
            SpecError: unknown schedule or launch mode, ``micro_batches < 1``,
                ``comm_sms >= sm_count``, or other values out of range (naming the field).
        """
        from codesign.engines.des.resources import device_planes, device_sm_count
        from codesign.engines.des.sim import CostCache, SimOptions, Simulation, prepare

        pg = place(graph, system, placement, world=world)
        n_tokens = tokens if tokens is not None else (graph_tokens(graph) or 1)
        if not pg.single_pool:
            from codesign.engines.des.pools import run_pools

            _check(tokens=n_tokens, world=pg.world, launch=launch, comm_sms=comm_sms,
                   sm_count=None, explicit_sms=False, jitter=jitter, seed=seed)
            if schedule not in POOL_SCHEDULES:
                raise SpecError("schedule", f"{schedule!r} is a schedule of one pool; a "
                                "placement over several pools runs", POOL_SCHEDULES)
            mbs = [pg] if schedule == "serial" or not micro_batch_graphs else [
                place(g, pg.system, pg.placement, phase=pg.phase) for g in micro_batch_graphs]
            return run_pools(mbs, tokens=n_tokens, launch=launch, trace=trace)
        if schedule == "pipeline":
            raise SpecError("schedule", "'pipeline' runs micro-batches through the stages of "
                            "a placement over several pools; this one has one pool",
                            [x for x in SCHEDULES if x != "pipeline"])
        device = pg.model_of(pg.order[0])
        world = pg.world
        tokens = n_tokens
        graphs, warning = _parts(graph, schedule, micro_batches, micro_batch_graphs)
        sms = _check(tokens=tokens, world=world, launch=launch, comm_sms=comm_sms,
                     sm_count=sm_count if sm_count is not None else device_sm_count(device),
                     explicit_sms=sm_count is not None, jitter=jitter, seed=seed)
        costs = CostCache(device)
        cache: dict[int, GraphPlan] = {}
        parts = []
        for g in graphs:
            if id(g) not in cache:
                cache[id(g)] = prepare(g, costs)
            parts.append(cache[id(g)])
        planes = device_planes(device)
        opt = SimOptions(schedule, launch, sms or 0, comm_sms, planes, trace,
                         _jitter(parts, jitter, seed))
        out = Simulation(parts, device, opt).run()
        return _result(self.name, pg, device, tokens, world, out, parts, opt, warning,
                       seed, jitter)


def _parts(graph: WorkloadGraph, schedule: str, micro_batches: int | None,
           micro_batch_graphs: list[WorkloadGraph] | None) -> tuple[list[WorkloadGraph],
                                                                   str | None]:
    if schedule not in SCHEDULES:
        raise SpecError("schedule", f"unknown schedule {schedule!r}", SCHEDULES)
    if micro_batches is not None and (not isinstance(micro_batches, int) or micro_batches < 1):
        raise SpecError("micro_batches", f"must be an integer >= 1, got {micro_batches!r}")
    if micro_batch_graphs is not None:
        mbg = list(micro_batch_graphs)
        if not mbg:
            raise SpecError("micro_batch_graphs", "must hold at least one graph")
        if any(not isinstance(g, WorkloadGraph) for g in mbg):
            raise SpecError("micro_batch_graphs", "must be WorkloadGraphs")
        if micro_batches is not None and micro_batches != len(mbg):
            raise SpecError("micro_batches", f"{micro_batches} != the {len(mbg)} "
                            "micro_batch_graphs")
        return mbg, None
    n = micro_batches if micro_batches is not None else (1 if schedule == "serial" else 2)
    warning = None
    if n > 1:
        warning = (f"no micro_batch_graphs: each of the {n} micro-batches runs the whole "
                   f"graph, so costs are per full batch ({n} x the work)")
    return [graph] * n, warning


def _check(*, tokens: int, world: int, launch: str, comm_sms: int, sm_count: int | None,
           explicit_sms: bool, jitter: float, seed: int) -> int | None:
    if launch not in LAUNCH_MODES:
        raise SpecError("launch", f"unknown launch mode {launch!r}", LAUNCH_MODES)
    for name, v in (("tokens", tokens), ("world", world)):
        if not isinstance(v, int) or v < 1:
            raise SpecError(name, f"must be an integer >= 1, got {v!r}")
    if not isinstance(comm_sms, int) or comm_sms < 0:
        raise SpecError("comm_sms", f"must be an integer >= 0, got {comm_sms!r}")
    if explicit_sms and (not isinstance(sm_count, int) or sm_count < 1):
        raise SpecError("sm_count", f"must be an integer >= 1, got {sm_count!r}")
    if sm_count is not None and comm_sms >= sm_count:
        raise SpecError("comm_sms", f"must be < sm_count ({sm_count}), got {comm_sms}")
    if not (isinstance(jitter, int | float) and math.isfinite(jitter) and jitter >= 0):
        raise SpecError("jitter", f"must be a finite number >= 0, got {jitter!r}")
    if not isinstance(seed, int):
        raise SpecError("seed", f"must be an integer, got {seed!r}")
    return sm_count


def _jitter(parts: list[GraphPlan], jitter: float, seed: int) -> list[list[float]] | None:
    if jitter == 0:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.lognormal(-jitter * jitter / 2, jitter, len(gp.keys)).tolist() for gp in parts]


@dataclass(slots=True)
class _Tally:
    records: list[OpRecord] = field(default_factory=list)
    slices: list[tuple[list[int], OpRecord, int]] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)  # per track: streams, then links
    compute_s: float = 0.0
    comm_s: float = 0.0
    dynamic_j: float = 0.0


def _tally(out: SimOutcome, parts: list[GraphPlan], idle_w: float, trace: bool) -> _Tally:
    """Records in start order, busy time per track, and trace slices."""
    from codesign.engines.des.sim import links_of

    multi = len(parts) > 1
    nstreams, planes = len(out.streams), len(out.links) - 1
    t = _Tally(busy=[0.0] * (nstreams + len(out.links)))
    busy = t.busy
    for mb, i, start, end, held in sorted(out.done, key=itemgetter(2, 0, 1)):
        gp = parts[mb]
        p = gp.plans[i]
        lat = end - start
        key = f"mb{mb}/{gp.keys[i]}" if multi else gp.keys[i]
        rec = OpRecord(key, gp.ops[i].kind, gp.layers[i], start, lat, p.dynamic_j + idle_w * lat,
                       "launch" if held else p.cost.bound, p.cost.flops, p.cost.dram_bytes)
        t.records.append(rec)
        t.dynamic_j += p.dynamic_j
        tids: list[int] = []
        tid = out.track_of[mb][i]
        if tid >= 0:
            busy[tid] += lat
            tids.append(tid)
        via = out.offstream[mb].get(i, i)
        if p.comm or via != i:
            t.comm_s += lat
            for k in links_of(gp.plans[via], planes):
                busy[nstreams + k] += lat
                tids.append(nstreams + k)
        else:
            t.compute_s += lat
        if trace:
            t.slices.append((tids, rec, mb))
    return t


def _result(engine: str, pg: PlacedGraph, device: DeviceModel, tokens: int, world: int,
            out: SimOutcome, parts: list[GraphPlan], opt: SimOptions, warning: str | None,
            seed: int, jitter: float) -> RunResult:
    idle_w = device.idle_power_w
    t = _tally(out, parts, idle_w, opt.trace)
    span = out.makespan_s

    def use(busy: float) -> dict[str, float]:
        return {"busy_s": busy, "utilization": busy / span if span > 0 else 0.0}

    names = [s.name for s in out.streams] + [lk.name for lk in out.links]
    util = {name: use(b) for name, b in zip(names, t.busy, strict=True)}
    util["sm.compute"] = use(out.sm.busy_s)  # time with any compute kernel running
    if opt.sm_count:  # SM-seconds held by communication, in whole-GPU seconds
        util["sm.communication"] = use(out.sm.comm_sm_s / opt.sm_count)
    meta: dict[str, Any] = {
        "schedule": opt.schedule, "micro_batches": len(parts),
        "sm_count": opt.sm_count or None, "comm_sms": opt.comm_sms, "planes": opt.planes,
        "seed": seed, "jitter": jitter, "events": out.events,
        "compute_s": t.compute_s, "comm_s": t.comm_s, "resources": util,
    }
    if warning:
        meta["warning"] = warning
    if opt.trace:
        from codesign.engines.des.trace import timeline_events

        meta["trace"] = timeline_events(
            names, t.slices, out.sm.log or [],
            process=f"rank 0 of {world} ({device.name}, {opt.schedule})")
    r = finish(pg, engine, span, (t.dynamic_j + idle_w * span) * world, t.records, tokens)
    r.meta.update(meta)
    return r
