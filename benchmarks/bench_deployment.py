"""Speed of the deployment search (``codesign.opt.search_deployment``).

Run: ``python benchmarks/bench_deployment.py`` (writes ``benchmarks/results/deployment.json``).

Target: a search over >= 10,000 candidate configurations in <= 30 s (NVIDIA's AIConfigurator
reports under 30 s for its search). The headline search is DeepSeek-V3 on DeepSeek's own
cluster preset (2,048 H800, multi-plane fat-tree) with a 512-GPU budget and a fine batch grid;
three more searches (Llama-3.1-70B on H100/H800 clusters, DeepSeek-V3 on H100) show the spread.
Every search starts with empty cost caches; module imports are done before timing.

Counts reported per search: ``candidates`` (per-phase configurations enumerated: prefill and
decode, each a (tp, pp, dp, ep, batch per rank) mapping), ``costed`` (of those, fitting memory
and buildable, each with TTFT/TPOT and throughput derived from the engine), ``distinct_graphs``
(per-rank graphs costed by the analytical engine), ``deployments`` (prefill config x decode
config x instance counts within the GPU budget that meet the SLOs: the space the MILP solves
exactly).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from codesign.opt.deployment import DeploymentResult, DeploymentSpace, search_deployment

FINE = DeploymentSpace(
    decode_batch=(1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 448,
                  512, 640, 768, 896, 1024),
    prefill_batch=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
)

#: (model, hw, gpus, prompt, output, TTFT limit s, TPOT limit s, space)
SEARCHES = [
    ("deepseek-v3", "deepseek-h800-mpft", 512, 2048, 512, 2.0, 0.05, FINE),
    ("deepseek-v3", "h100-sxm", 512, 2048, 512, 2.0, 0.05, FINE),
    ("llama-3.1-70b", "h100-sxm", 64, 2048, 512, 2.0, 0.05, FINE),
    ("llama-3.1-70b", "h800-sxm", 64, 4096, 1024, 3.0, 0.04, FINE),
]
TARGET_CANDIDATES = 10_000
TARGET_S = 30.0


def _row(args: tuple, r: DeploymentResult) -> dict:
    model, hw, gpus, prompt, output, ttft, tpot, _ = args
    p, d = r.prefill, r.decode
    return {
        "model": model, "hw": hw, "gpus_budget": gpus, "prompt": prompt, "output": output,
        "ttft_slo_s": ttft, "tpot_slo_s": tpot, "candidates": r.candidates, "costed": r.costed,
        "memory_rejected": r.memory_rejected, "unbuildable": r.unbuildable,
        "slo_rejected": r.slo_rejected, "distinct_graphs": r.distinct_graphs,
        "deployments": r.deployments, "milp_candidates": r.milp_candidates,
        "dinkelbach_iterations": r.dinkelbach_iterations, "search_s": r.search_s,
        "milp_s": r.milp_s,
        "prefill": {**p.as_dict(), "instances": r.prefill_instances},
        "decode": {**d.as_dict(), "instances": r.decode_instances},
        "gpus": r.gpus, "tokens_per_s": r.tokens_per_s, "usd_per_hour": r.usd_per_hour,
        "tokens_per_usd": r.tokens_per_usd, "usd_per_million_tokens": r.usd_per_million_tokens,
        "ttft_s": r.ttft_s, "tpot_s": r.tpot_s,
    }


def main() -> dict:
    rows = []
    for args in SEARCHES:
        model, hw, gpus, prompt, output, ttft, tpot, space = args
        r = search_deployment(model, hw, gpus, prompt, output, ttft, tpot, space=space)
        rows.append(_row(args, r))
    head = rows[0]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"Python {platform.python_version()} (one process, no parallelism)",
        "target": f">= {TARGET_CANDIDATES:,} candidates in <= {TARGET_S:.0f} s",
        "headline": {k: head[k] for k in ("model", "hw", "candidates", "costed",
                                           "distinct_graphs", "deployments", "search_s")},
        "headline_meets_target": head["candidates"] >= TARGET_CANDIDATES
        and head["search_s"] <= TARGET_S,
        "all_candidates": sum(r["candidates"] for r in rows),
        "all_search_s": sum(r["search_s"] for r in rows),
        "searches": rows,
    }
    out = Path(__file__).parent / "results" / "deployment.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        p, d = r["prefill"], r["decode"]
        print(f"{r['model']:14s} {r['hw']:19s} {r['candidates']:6,d} candidates "
              f"({r['costed']:,} costed, {r['distinct_graphs']:,} graphs, "
              f"{r['deployments']:,} deployments) in {r['search_s']:5.2f} s "
              f"(MILP {r['milp_s']:.2f} s): {p['instances']} x P(tp{p['tp']} pp{p['pp']} "
              f"dp{p['dp']} ep{p['ep']} b{p['batch_per_rank']}) + {d['instances']} x "
              f"D(tp{d['tp']} pp{d['pp']} dp{d['dp']} ep{d['ep']} b{d['batch_per_rank']}) = "
              f"{r['gpus']} GPUs, {r['tokens_per_usd']:,.0f} tokens/$")
    print(f"headline: {head['candidates']:,} candidates in {head['search_s']:.2f} s "
          f"(target {result['target']}: {'met' if result['headline_meets_target'] else 'MISSED'})")
    return result


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total wall {time.perf_counter() - t0:.1f} s")
