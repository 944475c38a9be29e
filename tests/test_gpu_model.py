"""The SM-level GPU model: structure, invariants, presets and the calibration machinery."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import SpecError
from codesign.hw import HARDWARE, get_device
from codesign.ir import Attention, DType, Elementwise, Gemm, GroupedGemm, MlaAttention
from hwmodels.gpu.attention import decode_splits
from hwmodels.gpu.calibrate.dataset import Sample
from hwmodels.gpu.calibrate.fit import error_table, fit_gemm
from hwmodels.gpu.model import GpuModel
from hwmodels.gpu.presets import PRESETS, h100_sxm, load_calibration

pytestmark = pytest.mark.unit

EXPECTED = ["a100-sxm", "b200", "h100-sxm", "h200-sxm", "h800-sxm", "jetson-agx-orin",
            "rtx-4090", "v100s"]


def test_registry_lists_every_preset() -> None:
    assert HARDWARE.names() == EXPECTED == sorted(PRESETS)


@pytest.mark.parametrize("name", EXPECTED)
def test_presets_carry_sources(name: str) -> None:
    d = get_device(name).describe()
    for key in ("sm_count", "hbm_bytes_per_s", "hbm_bytes", "tdp_w"):
        assert d["sources"].get(key), key
    assert d["efficiency"]["source"] and d["energy"]["source"] and d["cost"]["source"]
    assert d["peak_flops"]["bf16"] > 0


def test_h100_calibration_provenance() -> None:
    cal = load_calibration("h100-sxm")
    assert "H100" in cal["efficiency"]["source"]
    assert cal["report"]["samples"]["test"] > 100
    # the shipped preset is the calibration, not a copy of numbers
    assert h100_sxm().spec.efficiency.model_dump(mode="json") == cal["efficiency"]


def _scaled(model: GpuModel, **update: float) -> GpuModel:
    return GpuModel(model.spec.model_copy(update=update))


OPS = [
    Gemm("g", m=1, n=4096, k=4096), Gemm("g", m=4096, n=4096, k=4096),
    Gemm("g", m=64, n=28672, k=4096, a_dtype=DType.FP8_E4M3, b_dtype=DType.FP8_E4M3),
    GroupedGemm("gg", (0, 5, 300, 17), 4096, 7168),
    Attention("a", "prefill", 2, 2048, 2048, 32, 8, 128),
    Attention("a", "decode", 16, 1, 4096, 32, 8, 128),
    MlaAttention("m", "decode", "absorbed", 32, 1, 4096, 128, 512, 128, 64, 128),
    Elementwise("n", "rmsnorm", 512, (4096,), 4096, weight_width=4096),
]


@pytest.mark.parametrize("op", OPS, ids=lambda o: f"{o.kind}")
def test_more_bandwidth_or_clock_never_slows_down(op) -> None:
    base = h100_sxm()
    t = base.op_cost(op).latency_s
    assert _scaled(base, hbm_bytes_per_s=base.spec.hbm_bytes_per_s * 2).op_cost(op).latency_s <= t
    assert _scaled(base, clock_hz=base.spec.clock_hz * 1.5).op_cost(op).latency_s <= t * 1.0001


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 20000), n=st.integers(16, 70000), k=st.integers(16, 30000),
       fp8=st.booleans())
def test_gemm_respects_the_roofline(m: int, n: int, k: int, fp8: bool) -> None:
    model = h100_sxm()
    dt = DType.FP8_E4M3 if fp8 else DType.BF16
    op = Gemm("g", m=m, n=n, k=k, a_dtype=dt, b_dtype=dt)
    c = model.op_cost(op)
    s = model.spec
    assert c.latency_s >= op.flops / s.peak_flops("fp8" if fp8 else "bf16")
    assert c.latency_s >= (op.bytes_read + op.bytes_written) / s.hbm_bytes_per_s
    assert c.energy_j >= s.energy.idle_w * c.latency_s
    assert c.bound in ("compute", "memory", "launch")


def test_wave_quantization_is_visible() -> None:
    """One tile row more than a full wave costs a whole extra wave when compute-bound."""
    model = h100_sxm()
    full = model.op_cost(Gemm("g", m=128 * 12, n=256 * 11, k=8192)).latency_s  # 132 tiles
    over = model.op_cost(Gemm("g", m=128 * 12 + 1, n=256 * 11, k=8192)).latency_s
    assert over > full * 1.05


def test_fa2_split_heuristic() -> None:
    # one (batch, kv head) of a long cache: spread over all 128 eligible splits
    assert decode_splits(1, 128, 264) == 128
    # enough CTAs already: no split
    assert decode_splits(256, 32, 264) == 1
    # eligibility: 64 blocks in 11 splits would be 6 per split like 11 -> skip to eligible
    s = decode_splits(8, 64, 264)
    assert -(-64 // s) != -(-64 // (s - 1))


def test_missing_dtype_is_a_clear_error() -> None:
    with pytest.raises(SpecError) as e:
        get_device("a100-sxm").op_cost(Gemm("g", m=8, n=8, k=8, a_dtype=DType.FP8_E4M3,
                                            b_dtype=DType.FP8_E4M3))
    assert e.value.field == "dtype" and "bf16" in (e.value.allowed or ())


def test_fit_recovers_known_efficiencies() -> None:
    """Synthetic measurements from known parameters: the GEMM fit finds them again."""
    truth = h100_sxm()
    eff = truth.spec.efficiency.model_copy(update={"mma": {**truth.spec.efficiency.mma,
                                                           "bf16": 0.61, "fp8": 0.55},
                                                   "hbm": 0.83})
    truth = GpuModel(truth.spec.model_copy(update={"efficiency": eff}))
    samples = []
    for m in (1, 16, 128, 512, 2048, 8192):
        for n, k in ((4096, 4096), (28672, 4096), (7168, 2048), (1536, 7168)):
            for dt in (DType.BF16, DType.FP8_E4M3):
                op = Gemm("g", m=m, n=n, k=k, a_dtype=dt, b_dtype=dt)
                kind = "gemm_fp8" if dt == DType.FP8_E4M3 else "gemm_bf16"
                samples.append(Sample(kind, op, truth.op_cost(op).latency_s, "train"))
    start = h100_sxm().spec
    fitted = fit_gemm(start, samples)
    assert fitted.efficiency.mma["bf16"] == pytest.approx(0.61, rel=0.03)
    assert fitted.efficiency.mma["fp8"] == pytest.approx(0.55, rel=0.03)
    assert fitted.efficiency.hbm == pytest.approx(0.83, rel=0.03)
    errs = error_table(GpuModel(fitted), samples)
    assert errs["gemm_bf16"]["train"]["mape"] < 0.01


def test_benchmark_data_is_committed_with_provenance() -> None:
    root = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "gpu"
    for card in ("h100-sxm-2026-11-26", "h200-sxm-2026-11-26"):
        env = (root / card / "env.json").read_text()
        assert '"torch"' in env and '"gpu"' in env
