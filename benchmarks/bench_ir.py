"""IR benchmarks: graph build speed and the published FLOPs-per-token check.

Run: ``python benchmarks/bench_ir.py`` (writes ``benchmarks/results/ir.json``).

* Building the full DeepSeek-V3 decode graph (61 layers, batch 128, context 4096) must take
  <= 10 ms (median of 50 builds, validation excluded; validation timed separately).
* Training FLOPs per token at sequence 4096 within 5% of DeepSeek's published 250 GFLOPs
  (ISCA 2025, "Insights into DeepSeek-V3", Table 2). Convention: training = 3 x forward;
  forward = every matrix product of the 61 layers and the LM head over all 4096 positions
  (MLA in naive form, as trained), causal attention on the unmasked pairs only, elementwise
  work included, the MTP module excluded.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from workloads.builder import build_model_graph
from workloads.registry import load_model
from workloads.spec import BuildOptions, PhaseSpec


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> dict:
    cfg = load_model("deepseek-v3")
    phase = PhaseSpec.decode(128, 4096)
    build_model_graph(cfg, phase)  # warm caches
    build_ms = _median_ms(lambda: build_model_graph(cfg, phase), 50)
    g = build_model_graph(cfg, phase)
    validate_ms = _median_ms(g.validate, 20)
    train = build_model_graph(
        cfg,
        PhaseSpec(phase="prefill", batch=1, seq_len=4096, logits="all"),
        options=BuildOptions(mla_form="naive"),
    )
    gflops = 3 * train.totals().flops / 4096 / 1e9
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "deepseek_v3_decode_graph_ops": len(g),
        "build_ms_median": round(build_ms, 3),
        "build_target_ms": 10.0,
        "validate_ms_median": round(validate_ms, 3),
        "training_gflops_per_token": round(gflops, 2),
        "published_gflops_per_token": 250.0,
        "ratio_to_published": round(gflops / 250.0, 4),
    }
    out = Path(__file__).parent / "results" / "ir.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result.items():
        print(f"{k:32s} {v}")
    return result


if __name__ == "__main__":
    main()
