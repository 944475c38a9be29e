"""Expert placement: the MILP against DeepSeek's EPLB on Zipf-skewed loads.

Run: ``python benchmarks/bench_placement.py`` (writes ``benchmarks/results/placement.json``;
``--quick`` runs the two DeepSeek cases only).

Instances: Zipf exponent s in {0.8, 1.2}; experts in {64, 128, 256}; GPUs in {8, 16, 32, 64};
slots = experts + GPUs (one redundant expert per GPU). The DeepSeek-V3 cases are in the grid:
256 experts on 32 GPUs with 288 slots (prefill unit, 9 per GPU) and on 64 GPUs with 320 slots
(5 per GPU). 8 expert groups, 8 GPUs per node (nodes = GPUs / 8), as DeepSeek deploys them.
Loads: 131,072 routed tokens per layer (16,384 tokens x top-8) split by Zipf(s) over the
experts in a seeded random order, rounded to whole tokens (at least 1).

Per instance: max GPU load of EPLB as configured (hierarchical: groups packed to nodes), of
EPLB's global policy, after the MILP method's local search with restarts (its first stage, from
the better EPLB), and of the MILP method (``place_experts(method="milp")``: HiGHS, 2 threads,
30 s, 1% gap); the HiGHS calls made; the improvement over each EPLB; the proven gap and where
the bound comes from (``mean/replica``: the mean GPU load or the largest replica, valid for
every placement and equal to the LP bound of the full MILP; ``highs``: HiGHS's bound of the
exact model); the solve time. Loads are reported as balance = max / mean GPU load.

A second table repeats the two DeepSeek shapes over 8 load seeds and s in {0.8, 1.0, 1.2}.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from codesign.opt import place_experts

OUT = Path(__file__).parent / "results" / "placement.json"
TOKENS = 16_384 * 8
TIME_LIMIT_S = 30.0
THREADS = 2
DEEPSEEK = {(256, 32, 288), (256, 64, 320)}


def zipf_loads(experts: int, s: float, seed: int) -> list[int]:
    p = np.arange(1, experts + 1, dtype=float) ** -s
    w = np.maximum(1, np.round(TOKENS * p / p.sum())).astype(int)
    return w[np.random.default_rng(seed).permutation(experts)].tolist()


def run_instance(s: float, experts: int, gpus: int, seed: int) -> dict:
    slots = experts + gpus
    nodes = max(1, gpus // 8)
    loads = zipf_loads(experts, s, seed)
    mean = sum(loads) / gpus
    hier = place_experts([loads], slots, 8, nodes, gpus, method="eplb").layers[0]
    glob = place_experts([loads], slots, 1, 1, gpus, method="eplb").layers[0]
    t0 = time.perf_counter()
    res = place_experts([loads], slots, 8, nodes, gpus, method="milp",
                        time_limit_s=TIME_LIMIT_S, mip_gap=0.01, threads=THREADS)
    wall = time.perf_counter() - t0
    m = res.layers[0]
    stages = dict(m.stages)
    ls = stages.get("local_search", stages["start"])
    assert m.max_gpu_load <= min(hier.max_gpu_load, glob.max_gpu_load) * (1 + 1e-12)
    return {
        "zipf_s": s, "experts": experts, "gpus": gpus, "slots": slots, "nodes": nodes,
        "seed": seed, "deepseek_case": (experts, gpus, slots) in DEEPSEEK,
        "mean_gpu_load": mean,
        "eplb_max_gpu_load": hier.max_gpu_load, "eplb_global_max_gpu_load": glob.max_gpu_load,
        "local_search_max_gpu_load": ls, "milp_max_gpu_load": m.max_gpu_load,
        "eplb_balance": hier.max_gpu_load / mean, "eplb_global_balance": glob.max_gpu_load / mean,
        "local_search_balance": ls / mean, "milp_balance": m.balance,
        "improvement_vs_eplb_pct": 100 * (1 - m.max_gpu_load / hier.max_gpu_load),
        "improvement_vs_eplb_global_pct": 100 * (1 - m.max_gpu_load / glob.max_gpu_load),
        "lower_bound": m.lower_bound, "bound_source": m.bound_source, "gap": m.gap,
        "status": m.status, "solve_time_s": m.solve_time_s, "wall_s": wall,
        "highs_solves": m.highs_solves, "highs_improved": m.max_gpu_load < ls * (1 - 1e-12),
        "milp_cross_node_load_frac": (m.cross_node_load or 0.0) / sum(loads),
    }


def summarise(rows: list[dict]) -> dict:
    imp = [r["improvement_vs_eplb_pct"] for r in rows]
    imp_g = [r["improvement_vs_eplb_global_pct"] for r in rows]
    ds = [r for r in rows if r["deepseek_case"]]
    return {
        "instances": len(rows),
        "never_worse_than_eplb": all(x >= -1e-10 for x in imp + imp_g),
        "improvement_vs_eplb_pct": {"worst": min(imp), "median": statistics.median(imp),
                                    "best": max(imp)},
        "improvement_vs_eplb_global_pct": {"worst": min(imp_g),
                                           "median": statistics.median(imp_g),
                                           "best": max(imp_g)},
        "max_gap": max(r["gap"] for r in rows),
        "within_1pct_gap": sum(r["gap"] <= 0.01 + 1e-9 for r in rows),
        "deepseek_cases": {"max_gap": max(r["gap"] for r in ds),
                           "max_solve_time_s": max(r["solve_time_s"] for r in ds)}
        if ds else None,
        "max_solve_time_s": max(r["solve_time_s"] for r in rows),
        "instances_calling_highs": sum(r["highs_solves"] > 0 for r in rows),
        "instances_highs_improved": sum(r["highs_improved"] for r in rows),
    }


def main(quick: bool = False) -> dict:
    grid = [(s, e, g) for s in (0.8, 1.2) for e in (64, 128, 256) for g in (8, 16, 32, 64)]
    rows = []
    for i, (s, e, g) in enumerate(grid):
        if quick and (e, g, e + g) not in DEEPSEEK:
            continue
        row = run_instance(s, e, g, seed=1000 + i)
        rows.append(row)
        print(f"s={s} E={e:3d} G={g:2d} slots={row['slots']:3d}  EPLB {row['eplb_balance']:.4f}"
              f"  global {row['eplb_global_balance']:.4f}  LS {row['local_search_balance']:.4f}"
              f"  MILP {row['milp_balance']:.4f}  vs EPLB {row['improvement_vs_eplb_pct']:6.2f}%"
              f"  vs global {row['improvement_vs_eplb_global_pct']:5.2f}%"
              f"  gap {100 * row['gap']:.2f}% ({row['bound_source']})"
              f"  {row['solve_time_s']:.1f} s  HiGHS x{row['highs_solves']}", flush=True)
    seeds = [] if quick else deepseek_seeds()
    from importlib.metadata import version

    import pyomo

    out = {
        "benchmark": "expert placement: MILP vs EPLB",
        "settings": {"time_limit_s": TIME_LIMIT_S, "threads": THREADS, "mip_gap": 0.01,
                     "tokens_per_layer": TOKENS, "groups": 8, "gpus_per_node": 8},
        "environment": {"python": platform.python_version(), "pyomo": pyomo.__version__,
                        "highspy": version("highspy"),
                        "cpus": os.cpu_count(), "machine": platform.machine()},
        "summary": summarise(rows),
        "deepseek_seeds_summary": summarise(seeds) if seeds else None,
        "rows": rows,
        "deepseek_seeds": seeds,
    }
    if not quick:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({"grid": out["summary"], "deepseek_seeds": out["deepseek_seeds_summary"]},
                     indent=2))
    return out


def deepseek_seeds() -> list[dict]:
    """The two DeepSeek shapes, 8 load seeds each, s in {0.8, 1.0, 1.2}."""
    rows = []
    for e, g, _ in sorted(DEEPSEEK):
        for s in (0.8, 1.0, 1.2):
            for seed in range(8):
                rows.append(run_instance(s, e, g, seed=seed))
        ds = [r for r in rows if r["gpus"] == g]
        print(f"DeepSeek {e}/{g}: {len(ds)} seeds, max gap {100 * max(r['gap'] for r in ds):.2f}%"
              f", max time {max(r['solve_time_s'] for r in ds):.1f} s", flush=True)
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
