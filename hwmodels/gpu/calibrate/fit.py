"""Fit the GPU model's efficiency and energy parameters to microbenchmark measurements.

    python -m hwmodels.gpu.calibrate.fit --data DIR --datasheet h100-sxm --out FILE.json

Stages, each a bounded least-squares fit of ``log(predicted / measured)`` on the training
split (``dataset``), the others held fixed:

1. GEMM (BF16 and FP8 together): tensor efficiency per class, HBM efficiency, per-SM
   bandwidth, fixed kernel time, tile overhead, roofline softness, split-K fixed time.
2. Grouped GEMM: its extra fixed time.
3. Attention: tensor efficiency of flash attention, fixed time, decode HBM efficiency.
4. Elementwise: per function, the measured time against compulsory bytes (a profile
   interpolated log-log).
5. Energy: idle power from the idle run; energy per FLOP (BF16, FP8) from the large GEMMs and
   per DRAM byte from a GEMV, net of idle power over the measured time.

The result (efficiency, energy, provenance and per-kind errors on both splits) is written
as JSON; ``hwmodels.gpu.presets`` loads it.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwmodels.gpu.calibrate.dataset import Sample, all_samples, read_jsonl
from hwmodels.gpu.datasheet import GpuDatasheet
from hwmodels.gpu.model import GpuModel
from hwmodels.gpu.spec import ElementwiseProfile, GpuCost, GpuEfficiency, GpuEnergy, GpuSpec

#: starting point of the fit (Hopper-like guesses; every one is refitted)
INITIAL_EFFICIENCY: dict[str, Any] = {
    "mma": {"tf32": 0.7, "bf16": 0.75, "fp8": 0.65, "fp4": 0.6, "int8": 0.65, "fp32": 0.7},
    "hbm": 0.85,
    "sm_bytes_per_s": 40e9,
    "kernel_fixed_s": 4e-6,
    "tile_overhead_cycles": 2000.0,
    "wave_tail": 1.0,
    "smem_bytes_per_clk": 128.0,
    "roofline_p": 4.0,
    "splitk_fixed_s": 2e-6,
    "grouped_fixed_s": 5e-6,
    "grouped_mma": 1.0,
    "attn_mma": 0.5,
    "attn_fixed_s": 5e-6,
    "attn_cta_overhead_cycles": 2000.0,
    "decode_hbm": 0.7,
    "decode_split_hbm": 0.8,
    "decode_split_s": 0.1e-6,
    "eager_launch_s": 8e-6,
    "elementwise": {"add": {"kernels": 1, "points": [(1e3, 2e-6)]}},
    "source": "initial guess",
}

#: kernels each measured PyTorch implementation launches (counted from the torch profiler
#: trace of the end-to-end run: hwmodels/gpu/calibrate/torch_kernels.py)
ELEMENTWISE_KERNELS = {
    "rmsnorm": 7,
    "add": 1,
    "silu_mul": 2,
    "rope": 10,
    "cache_write": 2,
    "embedding": 1,
}


def build_spec(
    ds: GpuDatasheet, eff: GpuEfficiency, energy: GpuEnergy, clock_hz: float | None = None
) -> GpuSpec:
    """Combine datasheet facts with efficiencies and energy into a model spec."""
    classes = dict(ds.tensor_flops_per_clk_per_sm)
    classes.setdefault("fp32", ds.fp32_flops_per_clk_per_sm)
    return GpuSpec(
        name=ds.name,
        description=ds.description,
        sm_count=ds.sm_count,
        clock_hz=clock_hz or ds.boost_clock_hz,
        max_clock_hz=ds.boost_clock_hz,
        tensor_flops_per_clk_per_sm=classes,
        fp32_flops_per_clk_per_sm=ds.fp32_flops_per_clk_per_sm,
        sfu_ops_per_clk_per_sm=ds.sfu_ops_per_clk_per_sm,
        hbm_bytes=ds.hbm_bytes,
        hbm_bytes_per_s=ds.hbm_bytes_per_s,
        l2_bytes=ds.l2_bytes,
        smem_bytes_per_sm=ds.smem_bytes_per_sm,
        regs_per_sm=ds.regs_per_sm,
        nvlink_bytes_per_s=ds.nvlink_bytes_per_s,
        efficiency=eff,
        energy=energy,
        cost=GpuCost(
            price_usd=ds.price_usd,
            usd_per_hour=ds.usd_per_hour,
            source=f"{ds.sources.get('price_usd', '')}; {ds.sources.get('usd_per_hour', '')}",
        ),
        sources=dict(ds.sources),
    )


def _placeholder_energy(ds: GpuDatasheet) -> GpuEnergy:
    return GpuEnergy(
        idle_w=ds.idle_w, tdp_w=ds.tdp_w, j_per_flop={}, j_per_dram_byte=0.0, source="not fitted"
    )


# ----------------------------------------------------------------------------- errors
def predict(model: GpuModel, samples: Sequence[Sample]) -> np.ndarray:
    return np.array([model.op_cost(s.op).latency_s for s in samples])


def error_table(model: GpuModel, samples: Sequence[Sample]) -> dict[str, dict[str, Any]]:
    """Per kind and split: count, MAPE, median APE, max APE, median predicted/measured."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for s, p in zip(samples, predict(model, samples), strict=True):
        groups.setdefault((s.kind, s.split), []).append((p, s.measured_s))
        family = s.kind.split("_")[0] if s.kind.startswith(("attention", "elementwise")) else None
        if family:
            groups.setdefault((family, s.split), []).append((p, s.measured_s))
    out: dict[str, dict[str, Any]] = {}
    for (kind, split), pairs in sorted(groups.items()):
        ape = [abs(p / m - 1) for p, m in pairs]
        out.setdefault(kind, {})[split] = {
            "n": len(pairs),
            "mape": statistics.fmean(ape),
            "median_ape": statistics.median(ape),
            "max_ape": max(ape),
            "median_ratio": statistics.median(p / m for p, m in pairs),
        }
    return out


# ----------------------------------------------------------------------------- fitting
def _fit(
    spec: GpuSpec,
    samples: Sequence[Sample],
    names: list[str],
    x0: list[float],
    lo: list[float],
    hi: list[float],
    scale: list[float],
) -> GpuSpec:
    """Least-squares fit of efficiency fields ``names`` (``mma.bf16`` style for dicts)."""
    from scipy.optimize import least_squares

    meas = np.log(np.array([s.measured_s for s in samples]))

    def spec_for(x: np.ndarray) -> GpuSpec:
        eff = spec.efficiency.model_dump()
        for name, v, sc in zip(names, x, scale, strict=True):
            if "." in name:
                group, key = name.split(".")
                eff[group] = {**eff[group], key: float(v * sc)}
            else:
                eff[name] = float(v * sc)
        return spec.model_copy(update={"efficiency": GpuEfficiency(**eff)})

    def resid(x: np.ndarray) -> np.ndarray:
        return np.log(predict(GpuModel(spec_for(x)), samples)) - meas

    x0s = np.array(x0) / np.array(scale)
    res = least_squares(
        resid,
        x0s,
        bounds=(np.array(lo) / scale, np.array(hi) / scale),
        x_scale="jac",
        diff_step=1e-3,
        max_nfev=400,
    )
    return spec_for(res.x)


def fit_gemm(spec: GpuSpec, train: Sequence[Sample]) -> GpuSpec:
    names = [
        "mma.bf16",
        "mma.fp8",
        "hbm",
        "sm_bytes_per_s",
        "kernel_fixed_s",
        "tile_overhead_cycles",
        "roofline_p",
        "splitk_fixed_s",
        "wave_tail",
        "smem_bytes_per_clk",
    ]
    x0 = [0.75, 0.65, 0.8, 40e9, 4e-6, 2000.0, 4.0, 2e-6, 0.7, 128.0]
    lo = [0.3, 0.2, 0.4, 5e9, 0.0, 0.0, 1.0, 0.0, 0.0, 16.0]
    hi = [1.0, 1.0, 1.0, 400e9, 30e-6, 50000.0, 30.0, 30e-6, 1.0, 1024.0]
    scale = [1, 1, 1, 1e9, 1e-6, 1000.0, 1, 1e-6, 1, 100.0]
    gemms = [s for s in train if s.kind.startswith("gemm")]
    return _fit(spec, gemms, names, x0, lo, hi, scale)


def fit_grouped(spec: GpuSpec, train: Sequence[Sample]) -> GpuSpec:
    grouped = [s for s in train if s.kind == "grouped_gemm"]
    if not grouped:
        return spec
    return _fit(
        spec,
        grouped,
        ["grouped_fixed_s", "grouped_mma"],
        [5e-6, 1.0],
        [0.0, 0.2],
        [200e-6, 1.5],
        [1e-6, 1],
    )


def fit_attention(spec: GpuSpec, train: Sequence[Sample]) -> GpuSpec:
    attn = [s for s in train if s.kind.startswith("attention")]
    if not attn:
        return spec
    pre = [s for s in attn if s.kind == "attention_prefill"]
    dec = [s for s in attn if s.kind == "attention_decode"]
    spec = _fit(
        spec,
        pre,
        ["attn_mma", "attn_fixed_s", "attn_cta_overhead_cycles"],
        [0.5, 5e-6, 2000.0],
        [0.1, 0.0, 0.0],
        [1.0, 50e-6, 100000.0],
        [1, 1e-6, 1000],
    )
    names = ["decode_hbm", "decode_split_hbm", "decode_split_s"]
    return _fit(
        spec, dec, names, [0.7, 0.8, 0.1e-6], [0.1, 0.1, 0.0], [1.0, 1.0, 5e-6], [1, 1, 1e-6]
    )


def fit_elementwise(spec: GpuSpec, train: Sequence[Sample]) -> GpuSpec:
    """Per function, the measured (compulsory bytes, seconds) points of the training split
    become its :class:`ElementwiseProfile` (medians where bytes repeat). Functions with no
    benchmark of their own are priced by ``hwmodels.gpu.model.ELEMENTWISE_FALLBACK``."""
    table: dict[str, ElementwiseProfile] = {}
    for func, kernels in ELEMENTWISE_KERNELS.items():
        by_bytes: dict[float, list[float]] = {}
        for s in train:
            if s.kind == f"elementwise_{func}":
                nbytes = float(s.op.bytes_read + s.op.bytes_written)
                by_bytes.setdefault(nbytes, []).append(s.measured_s)
        if by_bytes:
            pts = [(b, statistics.median(ts)) for b, ts in sorted(by_bytes.items())]
            # keep time non-decreasing in bytes, so interpolation never predicts a dip
            mono = [pts[0]]
            for b, t in pts[1:]:
                mono.append((b, max(t, mono[-1][1])))
            table[func] = ElementwiseProfile(kernels=kernels, points=mono)
    eff = spec.efficiency.model_copy(update={"elementwise": table})
    return spec.model_copy(update={"efficiency": eff})


def fit_energy(spec: GpuSpec, data: Path) -> tuple[GpuSpec, list[dict[str, Any]]]:
    """Idle power, J/FLOP by class (large GEMMs) and J/byte (GEMV), from NVML energy runs.

    Returns the spec and, per energy run, predicted vs measured joules per call (runs used
    to fit are marked ``fit``)."""
    runs = [r for r in read_jsonl(data / "energy.jsonl") if "error" not in r]
    idle = next((r["power_w"] for r in runs if r["op"] == "idle"), spec.energy.idle_w)
    model = GpuModel(spec)

    def gemm_op(r: dict[str, Any]) -> Any:
        from codesign.ir.dtypes import DType
        from codesign.ir.ops import Gemm

        dt = DType.FP8_E4M3 if r["dtype"] == "fp8" else DType.BF16
        return Gemm("g", m=r["m"], n=r["n"], k=r["k"], a_dtype=dt, b_dtype=dt)

    def find(dtype: str, m: int, n: int, k: int) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in runs
                if r["op"] == "gemm"
                and r["dtype"] == dtype
                and (r["m"], r["n"], r["k"]) == (m, n, k)
            ),
            None,
        )

    dyn: dict[str, float] = {}
    j_byte = 0.0
    gemv = find("bf16", 1, 28672, 4096)  # J/byte from a memory-bound GEMV
    if gemv:
        c = model.op_cost(gemm_op(gemv))
        j_byte = (gemv["j_per_call"] - idle * gemv["s_per_call"]) / c.dram_bytes
        gemv["fit"] = True
    for dtype in ("bf16", "fp8"):  # J/FLOP from an 8192^3 GEMM, net of its DRAM bytes
        r = find(dtype, 8192, 8192, 8192)
        if r:
            c = model.op_cost(gemm_op(r))
            net = r["j_per_call"] - idle * r["s_per_call"] - j_byte * c.dram_bytes
            dyn[dtype] = net / r["flops_per_call"]
            r["fit"] = True
    j_flop = dict(dyn)
    j_flop.setdefault("tf32", dyn.get("bf16", 0.0) * 2)
    j_flop.setdefault("fp32", dyn.get("bf16", 0.0) * 8)
    energy = GpuEnergy(
        idle_w=idle,
        tdp_w=spec.energy.tdp_w,
        j_per_flop=j_flop,
        j_per_dram_byte=j_byte,
        source="fitted to NVML total-energy counter runs (energy.jsonl)",
    )
    spec = spec.model_copy(update={"energy": energy})
    model = GpuModel(spec)
    report = []
    for r in runs:
        if r["op"] == "idle":
            continue
        if r["op"] == "copy":  # one read and one write of the buffer, at the measured time
            pred_j = idle * r["s_per_call"] + j_byte * 2 * r["bytes"]
        else:
            c = model.op_cost(gemm_op(r))
            pred_j = c.energy_j
        report.append(
            {
                "op": r["op"],
                "shape": [r.get("m"), r.get("n"), r.get("k")],
                "dtype": r.get("dtype"),
                "measured_j": r["j_per_call"],
                "predicted_j": pred_j,
                "error": pred_j / r["j_per_call"] - 1,
                "used_in_fit": bool(r.get("fit")),
            }
        )
    return spec, report


def calibrate(data: Path, ds: GpuDatasheet) -> tuple[GpuSpec, dict[str, Any]]:
    """All stages; returns the fitted spec and a report."""
    launch = read_jsonl(data / "launch.jsonl")
    init = dict(INITIAL_EFFICIENCY)
    if launch:
        init["eager_launch_s"] = launch[0]["eager_s"]
    spec = build_spec(ds, GpuEfficiency(**init), _placeholder_energy(ds))
    samples = all_samples(data)
    train = [s for s in samples if s.split == "train"]
    spec = fit_gemm(spec, train)
    spec = fit_grouped(spec, train)
    spec = fit_attention(spec, train)
    spec = fit_elementwise(spec, train)
    spec, energy_report = fit_energy(spec, data)
    env = json.loads((data / "env.json").read_text()) if (data / "env.json").exists() else {}
    eff = spec.efficiency.model_copy(
        update={
            "source": (
                f"fitted by hwmodels.gpu.calibrate.fit to {data.name} measured on "
                f"{env.get('gpu', '?')} ({env.get('date', '?')}, torch {env.get('torch', '?')}, "
                f"CUDA {env.get('cuda', '?')})"
            )
        }
    )
    spec = spec.model_copy(update={"efficiency": eff})
    errors = error_table(GpuModel(spec), samples)
    report = {
        "environment": env,
        "errors": errors,
        "energy": energy_report,
        "samples": {"train": len(train), "test": len(samples) - len(train)},
    }
    return spec, report


def main(argv: list[str] | None = None) -> None:
    from hwmodels.gpu.datasheets import DATASHEETS

    ap = argparse.ArgumentParser(description="fit GPU model parameters to measurements")
    ap.add_argument("--data", required=True)
    ap.add_argument("--datasheet", default="h100-sxm", choices=sorted(DATASHEETS))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    spec, report = calibrate(Path(args.data), DATASHEETS[args.datasheet]())
    doc = {
        "family": "gpu",
        "datasheet": args.datasheet,
        "efficiency": spec.efficiency.model_dump(mode="json"),
        "energy": spec.energy.model_dump(mode="json"),
        "report": report,
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    for kind, splits in report["errors"].items():
        row = "  ".join(
            f"{k}: n={v['n']} MAPE={v['mape']:.1%} med={v['median_ape']:.1%}"
            for k, v in splits.items()
        )
        print(f"{kind:24s} {row}")
    for r in report["energy"]:
        print(
            f"energy {r['op']} {r['shape']} {r['dtype']}: {r['error']:+.1%}"
            f"{' (fit)' if r['used_in_fit'] else ''}"
        )


if __name__ == "__main__":
    main()
