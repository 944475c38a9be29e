"""Speed of the discrete-event engine (timings live here, never in tests).

Run: ``python benchmarks/bench_des.py`` (writes ``benchmarks/results/des.json``).

* A DeepSeek-V3 decode step (61 layers, context 4096, TP4 x DP80 attention, EP320 experts
  with 64 redundant, 128 sequences per attention group, two micro-batches of 64) on 320
  H800s (``resolve_system("h800-sxm", 320)``), dual micro-batch overlap, symmetric GPUs
  folded onto one simulated rank: wall time of ``DesEngine.run`` with the micro-batch
  graphs prebuilt (a fresh cost cache each run), and with their build included.
  Target <= 1 s.
* Simulated events per second on one core, per schedule and on DeepSeek's 8-plane system
  (8 NIC tracks): SimPy events processed over the wall time of the event loop alone
  (``loop``), and over the whole ``run`` (graph flattening, op costs, records; ``run``).
  Target >= 200,000.
* Agreement: the serial schedule against the analytical engine (relative difference).

Timings: median and best of ``REPEATS`` (the best is the least disturbed by other load).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from codesign.engines.analytical import AnalyticalEngine
from codesign.engines.des import DesEngine, split_graphs
from codesign.engines.des.resources import device_planes, device_sm_count
from codesign.engines.des.sim import CostCache, SimOptions, Simulation, prepare
from codesign.hw import resolve_system
from codesign.ir.graph import WorkloadGraph
from workloads.builder import build_model_graph
from workloads.registry import load_model
from workloads.spec import ParallelSpec, PhaseSpec

BATCH = 80 * 128  # 128 sequences per attention data-parallel group
CONTEXT = 4096
REPEATS = 20


def _timed(run: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    ts, r = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        r = run()
        ts.append(time.perf_counter() - t0)
    return {"median": statistics.median(ts), "best": min(ts)}, r


def _loop_rate(graphs: list[WorkloadGraph], system: Any, schedule: str) -> dict[str, float]:
    """Events per second of the event loop alone (flattening and costs done beforehand)."""
    costs = CostCache(system)
    parts = [prepare(g, costs) for g in graphs]
    opt = SimOptions(schedule, "graph", device_sm_count(system) or 0, 20,
                     device_planes(system), False, None)
    ts, events = [], 0
    for _ in range(REPEATS):
        sim = Simulation(parts, system, opt)
        t0 = time.perf_counter()
        out = sim.run()
        ts.append(time.perf_counter() - t0)
        events = out.events
    return {"median": events / statistics.median(ts), "best": events / min(ts)}


def main() -> dict[str, Any]:
    cfg = load_model("deepseek-v3")
    par = ParallelSpec(tp=4, dp=80, ep=320, redundant_experts=64)

    def build(b: int) -> WorkloadGraph:
        return build_model_graph(cfg, PhaseSpec.decode(b, CONTEXT), par)

    graph = build(BATCH)
    mbs = split_graphs(build, BATCH, 2, multiple=par.dp)
    system = resolve_system("h800-sxm", par.world).main.model
    mpft = resolve_system("deepseek-h800-mpft", par.world).main.model
    des = DesEngine()

    def step(parts: list[WorkloadGraph], sysm: Any = system, schedule: str = "dbo") -> Any:
        return des.run(graph, sysm, tokens=BATCH, world=par.world, schedule=schedule,  # type: ignore[arg-type]
                       micro_batch_graphs=parts)

    step(mbs)  # warm imports
    wall, r = _timed(lambda: step(mbs))
    wall_build, _ = _timed(lambda: step(split_graphs(build, BATCH, 2, multiple=par.dp)))
    serial = des.run(graph, system, tokens=BATCH, world=par.world)
    serial_mb = step(mbs, schedule="serial")
    analytical = AnalyticalEngine().run(graph, system, tokens=BATCH, world=par.world)
    loop: dict[str, dict[str, float]] = {}
    whole: dict[str, dict[str, float]] = {}
    cases = [("serial", [graph], system, "serial"), ("dbo", mbs, system, "dbo"),
             ("nanoflow", mbs, system, "nanoflow"), ("tokenweave", mbs, system, "tokenweave"),
             ("dbo_mpft_8_planes", mbs, mpft, "dbo")]
    for name, parts, sysm, sched in cases:
        loop[name] = _loop_rate(parts, sysm, sched)
        w, res = _timed(partial(step, parts, sysm, sched))
        whole[name] = {"median": res.meta["events"] / w["median"],
                       "best": res.meta["events"] / w["best"], "events": res.meta["events"]}
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "deepseek_v3_decode_dbo_wall_s": wall,
        "deepseek_v3_decode_dbo_with_graph_build_wall_s": wall_build,
        "deepseek_v3_decode_dbo_events": r.meta["events"],
        "deepseek_v3_decode_dbo_ops": len(r.records),
        "deepseek_v3_decode_dbo_latency_ms": r.latency_s * 1e3,
        "deepseek_v3_decode_serial_latency_ms": serial.latency_s * 1e3,
        "deepseek_v3_decode_serial_micro_batches_latency_ms": serial_mb.latency_s * 1e3,
        "serial_vs_analytical_rel_diff": abs(serial.latency_s / analytical.latency_s - 1),
        "events_per_s_loop": loop,
        "events_per_s_run": whole,
        "events_per_s_loop_min_median": min(v["median"] for v in loop.values()),
        "events_per_s_run_min_median": min(v["median"] for v in whole.values()),
        "targets": {"deepseek_v3_decode_dbo_wall_s": 1.0, "events_per_s": 200_000},
    }
    out = Path(__file__).parent / "results" / "des.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result.items():
        print(f"{k:52s} {v if isinstance(v, str | dict) else round(v, 6)}")
    return result


if __name__ == "__main__":
    main()
