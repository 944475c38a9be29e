"""Vendor datasheets of the modelled GPUs: every factory builds, every number is sourced, and
the derived per-SM-per-clock rates reproduce the vendors' dense peaks."""

from __future__ import annotations

import re

import pytest

from hwmodels.gpu.datasheet import GpuDatasheet
from hwmodels.gpu.datasheets import DATASHEETS

pytestmark = pytest.mark.unit

NAMES = sorted(DATASHEETS)
MATH_CLASSES = {"tf32", "bf16", "fp8", "fp4", "int8"}
ARCHITECTURES = {"volta", "ampere", "ada", "hopper", "blackwell"}

# Vendor dense 16-bit float tensor peaks, FLOP/s (fp16 for Volta; FP32 accumulate for Ada).
# Hopper: H100 whitepaper Table 3 / published.md; A100 datasheet; B200: HGX B200 datasheet
# (2.25 PF dense); RTX 4090: Ada whitepaper; V100S datasheet. Orin prints no FP16 figure.
GOLDEN_BF16 = {
    "h100-sxm": 989.4e12,
    "h200-sxm": 989.4e12,
    "h800-sxm": 989.4e12,
    "a100-sxm": 312e12,
    "b200": 2.25e15,
    "rtx-4090": 165.2e12,
    "v100s": 130e12,
}

# Other dense vendor peaks: (name, class, FLOP/s or OP/s).
GOLDEN_OTHER = [
    ("h100-sxm", "fp8", 1978.9e12),
    ("h100-sxm", "tf32", 494.7e12),
    ("h200-sxm", "fp8", 1978.9e12),
    ("a100-sxm", "tf32", 156e12),
    ("a100-sxm", "int8", 624e12),
    ("b200", "fp8", 4.5e15),
    ("b200", "fp4", 9e15),
    ("b200", "int8", 4.5e15),
    ("rtx-4090", "fp8", 330.3e12),
    ("rtx-4090", "int8", 660.6e12),
    ("jetson-agx-orin", "int8", 85e12),  # 170 sparse GPU TOPS / 2 (DLAs excluded)
]

# Device memory bandwidth, B/s (A100: the 80 GB SXM4 variant).
GOLDEN_MEM_BW = {
    "h100-sxm": 3.35e12,
    "h800-sxm": 3.35e12,
    "h200-sxm": 4.8e12,
    "a100-sxm": 2.039e12,
    "v100s": 1.134e12,
    "rtx-4090": 1.008e12,
    "b200": 8e12,
    "jetson-agx-orin": 204.8e9,
}

# Device memory capacity, B (B200: the 180 GB usable of HGX/DGX B200).
GOLDEN_MEM = {
    "h100-sxm": 80e9,
    "h800-sxm": 80e9,
    "h200-sxm": 141e9,
    "a100-sxm": 80e9,
    "v100s": 32e9,
    "rtx-4090": 24e9,
    "b200": 180e9,
    "jetson-agx-orin": 64e9,
}

# NVLink total per GPU, B/s (published.md for Hopper; 0 where the part has none).
GOLDEN_NVLINK = {
    "h100-sxm": 900e9,
    "h800-sxm": 400e9,
    "h200-sxm": 900e9,
    "a100-sxm": 600e9,
    "v100s": 0.0,
    "rtx-4090": 0.0,
    "b200": 1.8e12,
    "jetson-agx-orin": 0.0,
}


def _numeric_fields(ds: GpuDatasheet) -> list[str]:
    return [f for f, v in ds if f != "sources" and isinstance(v, (int, float, dict))]


def test_registry_is_the_expected_set_of_factories() -> None:
    assert set(DATASHEETS) == {"h100-sxm", "h800-sxm", "h200-sxm", "b200", "a100-sxm",
                               "v100s", "rtx-4090", "jetson-agx-orin"}
    for factory in DATASHEETS.values():
        assert callable(factory)
        assert not isinstance(factory, GpuDatasheet)


def test_golden_tables_cover_the_registry() -> None:
    assert set(GOLDEN_MEM_BW) == set(DATASHEETS)
    assert set(GOLDEN_MEM) == set(DATASHEETS)
    assert set(GOLDEN_NVLINK) == set(DATASHEETS)
    assert set(GOLDEN_BF16) == set(DATASHEETS) - {"jetson-agx-orin"}


@pytest.mark.parametrize("name", NAMES)
def test_factory_builds_with_matching_name(name: str) -> None:
    ds = DATASHEETS[name]()
    assert isinstance(ds, GpuDatasheet)
    assert ds.name == name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert ds.architecture in ARCHITECTURES
    assert ds.description
    assert DATASHEETS[name]() == ds  # a factory builds the same facts each call


@pytest.mark.parametrize("name", NAMES)
def test_every_number_has_a_source(name: str) -> None:
    ds = DATASHEETS[name]()
    fields = _numeric_fields(ds)
    assert "tensor_flops_per_clk_per_sm" in fields
    for field in fields:
        assert ds.sources.get(field, "").strip(), f"{name}.{field} has no source"
    assert set(ds.sources) <= set(GpuDatasheet.model_fields), "source for an unknown field"


@pytest.mark.parametrize("name", NAMES)
def test_estimates_and_measurements_say_so(name: str) -> None:
    src = DATASHEETS[name]().sources
    assert src["price_usd"].startswith("estimate:")
    assert src["usd_per_hour"].startswith("estimate:")
    assert src["idle_w"].startswith(("estimate:", "measured"))


@pytest.mark.parametrize("name", NAMES)
def test_tensor_classes(name: str) -> None:
    rates = DATASHEETS[name]().tensor_flops_per_clk_per_sm
    assert "bf16" in rates
    assert set(rates) <= MATH_CLASSES
    assert all(r > 0 for r in rates.values())
    arch = DATASHEETS[name]().architecture
    assert ("fp8" in rates) == (arch in {"ada", "hopper", "blackwell"})
    assert ("fp4" in rates) == (arch == "blackwell")


@pytest.mark.parametrize(("name", "peak"), sorted(GOLDEN_BF16.items()))
def test_bf16_peak_matches_vendor(name: str, peak: float) -> None:
    assert DATASHEETS[name]().peak_flops("bf16") == pytest.approx(peak, rel=0.01)


@pytest.mark.parametrize(("name", "cls", "peak"), GOLDEN_OTHER)
def test_other_peaks_match_vendor(name: str, cls: str, peak: float) -> None:
    assert DATASHEETS[name]().peak_flops(cls) == pytest.approx(peak, rel=0.01)


@pytest.mark.parametrize(("name", "bw"), sorted(GOLDEN_MEM_BW.items()))
def test_memory_bandwidth(name: str, bw: float) -> None:
    assert DATASHEETS[name]().hbm_bytes_per_s == pytest.approx(bw, rel=1e-9)


@pytest.mark.parametrize(("name", "cap"), sorted(GOLDEN_MEM.items()))
def test_memory_capacity(name: str, cap: float) -> None:
    assert DATASHEETS[name]().hbm_bytes == pytest.approx(cap, rel=1e-9)


@pytest.mark.parametrize(("name", "bw"), sorted(GOLDEN_NVLINK.items()))
def test_nvlink(name: str, bw: float) -> None:
    assert DATASHEETS[name]().nvlink_bytes_per_s == pytest.approx(bw, rel=1e-9)


def test_hopper_variants_share_the_sm() -> None:
    h100, h800, h200 = (DATASHEETS[n]() for n in ("h100-sxm", "h800-sxm", "h200-sxm"))
    for other in (h800, h200):
        assert other.sm_count == h100.sm_count == 132
        assert other.boost_clock_hz == h100.boost_clock_hz == pytest.approx(1.83e9)
        assert other.tensor_flops_per_clk_per_sm == h100.tensor_flops_per_clk_per_sm
        assert other.smem_bytes_per_sm == h100.smem_bytes_per_sm == 228 * 1024


@pytest.mark.parametrize(("name", "fp32_peak"), [
    ("a100-sxm", 19.5e12), ("v100s", 16.4e12), ("rtx-4090", 82.6e12),
    ("jetson-agx-orin", 5.3e12),
])
def test_cuda_core_fp32_peak(name: str, fp32_peak: float) -> None:
    """Where the vendor's FP32 peak uses the same clock as its tensor peaks."""
    ds = DATASHEETS[name]()
    got = ds.sm_count * ds.fp32_flops_per_clk_per_sm * ds.boost_clock_hz
    assert got == pytest.approx(fp32_peak, rel=0.01)
