"""Accuracy of the GPU model against real measurements (H100 calibration, H200 transfer).

Run: ``python benchmarks/bench_gpu_accuracy.py`` (writes ``benchmarks/results/gpu_accuracy.json``).

Reports, all against measurements committed under ``benchmarks/data/gpu/``:

1. Per op kind, MAPE on the held-out split of the H100 SXM measurements (the fit never saw
   those shapes; see ``hwmodels/gpu/calibrate/dataset.py``) and on the training split.
2. A three-parameter roofline (peak efficiency, bandwidth efficiency, fixed time) fitted to
   the same training GEMMs, on the same held-out GEMMs: the baseline the SM-level model
   must beat.
3. The H200 preset (H200 datasheet + H100 efficiencies, no H200 fit) against GEMMs and
   attention measured on an H200.
4. Energy: joules per call predicted vs NVML for the energy runs (fit runs marked).
5. LLaMA-3.1-8B end to end (plain PyTorch, decode under CUDA graphs, prefill eager) vs the
   analytical engine.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np

from codesign.engines import AnalyticalEngine
from hwmodels.gpu.calibrate.dataset import Sample, attention_samples, gemm_samples, read_jsonl
from hwmodels.gpu.calibrate.fit import error_table
from hwmodels.gpu.presets import h100_sxm, h200_sxm, load_calibration
from workloads.builder import build_model_graph
from workloads.registry import load_model
from workloads.spec import PhaseSpec

DATA = Path(__file__).parent / "data" / "gpu"
H100 = DATA / "h100-sxm-2026-11-26"
H200 = DATA / "h200-sxm-2026-11-26"


def roofline_baseline(samples: list[Sample]) -> dict[str, float]:
    """Fit t = fixed + max(flops / (peak * a), bytes / (bw * b)) on train GEMMs."""
    from scipy.optimize import least_squares

    model = h100_sxm()
    peak = {c: model.spec.peak_flops(c) for c in ("bf16", "fp8")}
    bw = model.spec.hbm_bytes_per_s

    def arrays(ss: list[Sample]) -> tuple[np.ndarray, ...]:
        fl = np.array([s.op.flops for s in ss], dtype=float)
        pk = np.array([peak["fp8" if s.kind.endswith("fp8") else "bf16"] for s in ss])
        by = np.array([s.op.bytes_read + s.op.bytes_written for s in ss], dtype=float)
        t = np.array([s.measured_s for s in ss])
        return fl, pk, by, t

    def pred(x: np.ndarray, fl: np.ndarray, pk: np.ndarray, by: np.ndarray) -> np.ndarray:
        return x[2] * 1e-6 + np.maximum(fl / (pk * x[0]), by / (bw * x[1]))

    train = [s for s in samples if s.split == "train"]
    test = [s for s in samples if s.split == "test"]
    fl, pk, by, t = arrays(train)
    res = least_squares(lambda x: np.log(pred(x, fl, pk, by) / t), [0.7, 0.8, 5.0],
                        bounds=([0.05, 0.05, 0.0], [1.0, 1.0, 50.0]))
    out = {"params": {"peak_eff": res.x[0], "bw_eff": res.x[1], "fixed_us": res.x[2]}}
    for name, ss in (("train", train), ("test", test)):
        fl, pk, by, t = arrays(ss)
        out[f"{name}_mape"] = float(np.mean(np.abs(pred(res.x, fl, pk, by) / t - 1)))
    return out


def llama_end_to_end() -> list[dict[str, float | int | str]]:
    cfg = load_model("llama-3.1-8b")
    dev = h100_sxm()
    rows = []
    for r in read_jsonl(H100 / "llama_e2e.jsonl"):
        if r.get("profile") or "error" in r:
            continue
        b, ctx = r["batch"], r["context"]
        ph = PhaseSpec.decode(b, ctx) if r["phase"] == "decode" else PhaseSpec.prefill(b, ctx)
        mode = "graph" if r["phase"] == "decode" else "eager"
        res = AnalyticalEngine().run(build_model_graph(cfg, ph), dev, tokens=ph.tokens,
                                     launch=mode)
        rows.append({"phase": r["phase"], "batch": b, "context": ctx,
                     "measured_s": r["time_s"], "predicted_s": res.latency_s,
                     "error": res.latency_s / r["time_s"] - 1})
    return rows


def main() -> dict:
    h100 = h100_sxm()
    gemms = gemm_samples(H100)
    samples = gemms + attention_samples(H100)
    from hwmodels.gpu.calibrate.dataset import all_samples

    errors = error_table(h100, all_samples(H100))
    h200_samples = [Sample(s.kind, s.op, s.measured_s, "all", s.meta)
                    for s in gemm_samples(H200) + attention_samples(H200)]
    h200 = error_table(h200_sxm(), h200_samples)
    e2e = llama_end_to_end()
    energy = load_calibration("h100-sxm")["report"]["energy"]
    result = {
        "card": "NVIDIA H100 80GB HBM3 (SXM5), lent machine, torch 2.11.0+cu130, 2026-11-26",
        "held_out_errors": errors,
        "roofline_baseline_gemm": roofline_baseline(gemms),
        "h200_transfer_no_fit": h200,
        "energy": energy,
        "llama_3_1_8b_end_to_end": {
            "points": e2e,
            "mape": statistics.fmean(abs(r["error"]) for r in e2e),
            "max_abs_error": max(abs(r["error"]) for r in e2e),
        },
    }
    del samples
    out = Path(__file__).parent / "results" / "gpu_accuracy.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("kind                      held-out MAPE   train MAPE   (n held-out)")
    for kind, sp in errors.items():
        t, tr = sp.get("test"), sp.get("train")
        if t:
            print(f"{kind:24s}  {t['mape']:12.1%}  {tr['mape'] if tr else float('nan'):11.1%}"
                  f"   ({t['n']})")
    rb = result["roofline_baseline_gemm"]
    print(f"3-parameter roofline on the same GEMMs: held-out MAPE {rb['test_mape']:.1%}")
    for kind, sp in h200.items():
        print(f"H200 preset (no fit) {kind:18s} MAPE {sp['all']['mape']:.1%} (n={sp['all']['n']})")
    for r in energy:
        print(f"energy {r['op']} {r['shape']} {r['dtype']}: {r['error']:+.1%}"
              f"{' (used in fit)' if r['used_in_fit'] else ''}")
    e = result["llama_3_1_8b_end_to_end"]
    print(f"LLaMA-3.1-8B end to end: MAPE {e['mape']:.1%}, max |error| {e['max_abs_error']:.1%}")
    return result


if __name__ == "__main__":
    main()
