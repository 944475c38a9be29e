"""Network models against measurements and published tables, and their speed.

Run: ``python benchmarks/bench_network.py`` (writes ``benchmarks/results/network.json``).

1. Collectives vs NCCL on 2 and 4 H200s (NVLink 4, CUDA-graph mode; data in
   ``benchmarks/data/network/``): MAPE on the held-out sizes (every third size, 2^17..2^29 B).
   ASTRA-sim reports 17% geomean against NCCL-tests for comparison.
2. Expert-parallel dispatch/combine vs the DeepEP table (``shared/reference/published.md``:
   H800 + CX7 400 Gb/s, 4096 tokens, hidden 7168, top-4 groups, top-8 experts, FP8 dispatch,
   BF16 combine; "bottleneck bandwidth" per GPU). Nothing of DeepEP was fitted: NVLink comes
   from the H200 NCCL fit scaled to H800's 400 GB/s, RDMA from the NIC line rate x 0.92.
3. Speed: one collective prediction (median of 2,000), one EP prediction.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from codesign.ir.dtypes import DType
from hwmodels.network.calibrate.fit import error_table, load
from hwmodels.network.collectives import collective_time
from hwmodels.network.ep import ep_estimate
from hwmodels.network.presets import pool_network
from hwmodels.network.system import nvlink_params

DATA = Path(__file__).parent / "data" / "network" / "hgx-h200-4gpu-2026-11-26"
#: a second lease of the same kind, later the same day: never fitted, all sizes
REPEAT = Path(__file__).parent / "data" / "network" / "hgx-h200-4gpu-2026-11-26-repeat"

#: DeepEP normal kernels (deepseek-ai/DeepEP README, first release), GB/s
DEEPEP = [  # (kind, ep, dispatch, combine, bottleneck link)
    ("intranode", 8, 153.0, 158.0, "nvlink"),
    ("internode", 16, 43.0, 43.0, "rdma"),
    ("internode", 32, 44.0, 47.0, "rdma"),
    ("internode", 64, 46.0, 45.0, "rdma"),
]


def deepep_table() -> list[dict]:
    ds = pool_network("deepseek-h800-mpft")
    rows = []
    for kind, ep, disp, comb, link in DEEPEP:
        for phase, dt, pub in (("dispatch", DType.FP8_E4M3, disp), ("combine", DType.BF16,
                                                                     comb)):
            e = ep_estimate(ds, phase, 4096, 7168, 8, ep, dt, max_nodes=4)  # type: ignore[arg-type]
            link_bytes = e.rdma_bytes if link == "rdma" else e.nvlink_bytes
            bw = link_bytes / e.time_s
            rows.append({"type": kind, "ep": ep, "phase": phase, "link": link,
                         "published_gb_s": pub, "predicted_gb_s": bw / 1e9,
                         "model_bottleneck": e.bottleneck, "error": bw / 1e9 / pub - 1})
    return rows


def main() -> dict:
    params = nvlink_params()
    rows = load(DATA, "graph")
    errors = error_table(params, rows)
    ep = deepep_table()
    repeat = load(REPEAT, "graph")
    rep_ape = [abs(collective_time(params, r["op"], r["bytes"], r["world"]).time_s
                   / r["time_s"] - 1) for r in repeat]
    first = {(r["op"], r["world"], r["bytes"]): r["time_s"] for r in rows}
    drift = [abs(r["time_s"] / first[(r["op"], r["world"], r["bytes"])] - 1) for r in repeat]
    ds = pool_network("hgx-h200")
    ts = []
    for i in range(2000):
        t0 = time.perf_counter()
        ds.collective("all_reduce", 65536 * (1 + i % 4096), 2 + i % 7)  # type: ignore[attr-defined]
        ts.append(time.perf_counter() - t0)
    mp = pool_network("deepseek-h800-mpft")
    ets = []
    for i in range(500):
        t0 = time.perf_counter()
        ep_estimate(mp, "dispatch", 128 + i, 7168, 8, 64, DType.FP8_E4M3, 4)  # type: ignore[arg-type]
        ets.append(time.perf_counter() - t0)
    result = {
        "nccl_machine": "4 x NVIDIA H200 (NVLink 4, NV18), NCCL 2.28.9, torch 2.11.0+cu130, "
                        "2026-11-26, CUDA-graph mode",
        "collective_errors": errors,
        "repeat_lease_all_sizes": {"n": len(repeat), "mape": statistics.fmean(rep_ape),
                                   "max_ape": max(rep_ape),
                                   "run_to_run_median": statistics.median(drift)},
        "deepep": ep,
        "deepep_max_abs_error": max(abs(r["error"]) for r in ep),
        "collective_prediction_us_median": statistics.median(ts) * 1e6,
        "ep_prediction_us_median": statistics.median(ets) * 1e6,
    }
    out = Path(__file__).parent / "results" / "network.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for op, sp in errors.items():
        t = sp.get("test")
        if t:
            print(f"{op:15s} held-out MAPE {t['mape']:6.1%} (n={t['n']}, max {t['max_ape']:.0%})")
    rl = result["repeat_lease_all_sizes"]
    print(f"second lease (never fitted), all sizes: MAPE {rl['mape']:.1%} (n={rl['n']}); "
          f"run-to-run median difference {rl['run_to_run_median']:.1%}")
    for r in ep:
        print(f"DeepEP {r['type']:9s} EP{r['ep']:<3d} {r['phase']:8s} {r['link']:6s} "
              f"published {r['published_gb_s']:6.1f}  predicted {r['predicted_gb_s']:6.1f} GB/s "
              f"({r['error']:+.1%}; model bottleneck {r['model_bottleneck']})")
    print(f"one collective prediction: {result['collective_prediction_us_median']:.1f} us; "
          f"one EP prediction: {result['ep_prediction_us_median']:.1f} us")
    return result


if __name__ == "__main__":
    main()
