"""Datasheets of the GPUs the project models: one factory per GPU, and ``DATASHEETS``.

Every number carries its source in ``sources`` (keyed by field name): the vendor datasheet or
whitepaper, the CUDA programming guide, a measurement on the lent machines, or, for prices and
most idle powers, ``estimate: <basis>``.

Conventions (see ``GpuDatasheet``):

* Tensor rates are dense (no 2:4 sparsity) FLOPs per SM per clock by math class, derived as
  ``vendor dense peak / (sm_count * boost_clock_hz)``; ``boost_clock_hz`` is the clock that
  makes the vendor's tensor peaks consistent, which is not always the maximum SM clock.
* ``bf16`` stands for 16-bit float tensor math, fp16 included. CUDA-core FP32 is the separate
  ``fp32_flops_per_clk_per_sm`` field, not a key of the tensor dict.
* Device memory capacities are the vendor's decimal figures (80 GB -> 80e9 B). Cache sizes are
  binary, as vendors mean them and as the driver reports them (50 MB L2 -> 52,428,800 B).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwmodels.gpu.datasheet import GpuDatasheet

KIB = 1024
MIB = 1024 * 1024

_PUBLISHED = "shared/reference/published.md (vendor datasheet)"
_H100_WP = "NVIDIA H100 Tensor Core GPU Architecture whitepaper, Table 3"
_A100_WP = "NVIDIA A100 Tensor Core GPU Architecture whitepaper"
_V100_WP = "NVIDIA Tesla V100 GPU Architecture whitepaper"
_ADA_WP = "NVIDIA Ada GPU Architecture whitepaper, Appendix A (GeForce RTX 4090)"
_ORIN_DS = "NVIDIA Jetson AGX Orin series datasheet / technical brief (AGX Orin 64GB)"
_CC_TABLE = (
    "CUDA C++ Programming Guide, Technical Specifications per Compute Capability "
    "(also CCCL cuda::arch_traits)"
)
_SFU = (
    "CUDA C++ Programming Guide, Throughput of Native Arithmetic Instructions: 16 results "
    "per clock per SM for 32-bit exp2/log2/rcp/rsqrt/sin/cos (4 SFUs x 4 SM sub-partitions)"
)


# --------------------------------------------------------------------------------- Hopper
def _gh100(name: str, description: str) -> dict[str, Any]:
    """Fields shared by the GH100 SXM parts (H100, H800, H200): same SMs, clocks, math."""
    return {
        "name": name,
        "description": description,
        "architecture": "hopper",
        "sm_count": 132,
        "boost_clock_hz": 1.83e9,
        "tensor_flops_per_clk_per_sm": {
            "tf32": 2048.0,
            "bf16": 4096.0,
            "fp8": 8192.0,
            "int8": 8192.0,
        },
        "fp32_flops_per_clk_per_sm": 256.0,
        "sfu_ops_per_clk_per_sm": 16.0,
        "smem_bytes_per_sm": 228 * KIB,
        "regs_per_sm": 65536,
        "tdp_w": 700.0,
    }


def _gh100_sources() -> dict[str, str]:
    return {
        "sm_count": f"{_PUBLISHED}: 132 SMs; {_H100_WP} (H100 SXM5: 132 SMs)",
        "boost_clock_hz": (
            f"clock behind the dense peaks of {_H100_WP}: 989.4 TFLOP/s BF16 / (132 SMs x "
            "4096 FLOP/clk) = 1830 MHz. The max SM clock is 1980 MHz "
            f"({_PUBLISHED}); the datasheet FP32 CUDA-core peak (67 TF) uses 1980 MHz"
        ),
        "tensor_flops_per_clk_per_sm": (
            f"dense peak / (132 SMs x 1830 MHz), {_H100_WP} (dense = half the sparse "
            "figures): TF32 494.7 TF -> 2048; BF16/FP16 989.4 TF -> 4096; FP8 1978.9 TF -> "
            f"8192; INT8 1978.9 TOPS -> 8192. Consistent with {_PUBLISHED} (989 / 1979 TF "
            "dense BF16 / FP8). Hopper has no FP4 tensor math"
        ),
        "fp32_flops_per_clk_per_sm": (
            f"128 FP32 lanes per SM x 2 FLOP/FMA ({_H100_WP}: 128 FP32 cores/SM); at 1830 MHz "
            "this is 61.8 TF, the datasheet's 67 TF assumes 1980 MHz"
        ),
        "sfu_ops_per_clk_per_sm": f"{_SFU}; cc 9.0",
        "smem_bytes_per_sm": f"{_CC_TABLE}: cc 9.0, 228 KB shared memory per SM",
        "regs_per_sm": f"{_CC_TABLE}: cc 9.0, 64K 32-bit registers per SM (256 KB, {_H100_WP})",
        "tdp_w": f"{_PUBLISHED}: 700 W (H100/H200 SXM)",
    }


def h100_sxm() -> GpuDatasheet:
    """NVIDIA H100 SXM5 80GB."""
    sources = _gh100_sources()
    sources.update(
        {
            "hbm_bytes": f"{_PUBLISHED}: 80 GB HBM3",
            "hbm_bytes_per_s": f"{_PUBLISHED}: 3.35 TB/s",
            "l2_bytes": (
                f"{_H100_WP}: 50 MB; 52,428,800 B reported by torch.cuda."
                "get_device_properties on the lent H100 SXM "
                "(benchmarks/data/gpu/h100-sxm-2026-11-26/env.json)"
            ),
            "nvlink_bytes_per_s": f"{_PUBLISHED}: NVLink 900 GB/s per GPU (NVLink 4, 18 links)",
            "idle_w": (
                "measured on the lent H100 SXM, NVML energy counter, 2026-11-26: 128.2 W "
                "over 3 s (benchmarks/data/gpu/h100-sxm-2026-11-26/energy.jsonl)"
            ),
            "price_usd": (
                "estimate: press-reported H100 SXM unit prices of roughly $25k-$40k "
                "(2023-2025); $30k taken"
            ),
            "usd_per_hour": (
                "estimate: public cloud on-demand H100 SXM prices of roughly $2-$4 "
                "per GPU-hour (2025), lower at smaller GPU clouds; $2.5 taken"
            ),
        }
    )
    return GpuDatasheet(
        **_gh100("h100-sxm", "NVIDIA H100 SXM5 80GB (HBM3, 700 W)"),
        hbm_bytes=80e9,
        hbm_bytes_per_s=3.35e12,
        l2_bytes=50 * MIB,
        nvlink_bytes_per_s=900e9,
        idle_w=128.0,
        price_usd=30_000.0,
        usd_per_hour=2.5,
        sources=sources,
    )


def h800_sxm() -> GpuDatasheet:
    """NVIDIA H800 SXM5 80GB: the export variant of the H100 SXM with NVLink cut to 400 GB/s."""
    sources = _gh100_sources()
    sources.update(
        {
            "sm_count": f"{_PUBLISHED}: 132 SMs (DeepSeek-V3 technical report, section 3.2.2)",
            "tensor_flops_per_clk_per_sm": (
                f"{_PUBLISHED}: dense BF16/FP8 tensor 'same as H100'; NVIDIA H800 datasheet "
                "(H800 SXM: 1979 / 3958 TF BF16 / FP8 with sparsity). Per-SM rates as H100: "
                + _gh100_sources()["tensor_flops_per_clk_per_sm"]
            ),
            "boost_clock_hz": (
                "same GH100 SXM5 part as H100; the identical datasheet peaks imply "
                "the same 1830 MHz: " + _gh100_sources()["boost_clock_hz"]
            ),
            "tdp_w": (f"NVIDIA H800 datasheet: H800 SXM up to 700 W (blank in {_PUBLISHED})"),
            "hbm_bytes": f"{_PUBLISHED}: 80 GB",
            "hbm_bytes_per_s": (
                "NVIDIA H800 datasheet: H800 SXM 3.35 TB/s, as H100 SXM "
                f"({_PUBLISHED} lists only the 80 GB capacity)"
            ),
            "l2_bytes": (
                "not in the H800 datasheet; assumed equal to the H100 SXM's 50 MB "
                f"({_H100_WP}), the same GH100 SXM5 configuration"
            ),
            "nvlink_bytes_per_s": f"{_PUBLISHED}: NVLink 400 GB/s per GPU (H100: 900 GB/s)",
            "idle_w": (
                "estimate: the H100 SXM value measured on the lent H100 (NVML energy "
                "counter, 2026-11-26, 128 W); same board and GPU, not measured on an H800"
            ),
            "price_usd": (
                "estimate: press-reported H800 prices in China similar to H100 SXM "
                "(roughly $25k-$40k, 2023-2024); $30k taken"
            ),
            "usd_per_hour": (
                "estimate: the DeepSeek-V3 technical report costs its training at an "
                "assumed H800 rental price of $2 per GPU-hour"
            ),
        }
    )
    return GpuDatasheet(
        **_gh100("h800-sxm", "NVIDIA H800 SXM5 80GB (HBM3, NVLink 400 GB/s)"),
        hbm_bytes=80e9,
        hbm_bytes_per_s=3.35e12,
        l2_bytes=50 * MIB,
        nvlink_bytes_per_s=400e9,
        idle_w=128.0,
        price_usd=30_000.0,
        usd_per_hour=2.0,
        sources=sources,
    )


def h200_sxm() -> GpuDatasheet:
    """NVIDIA H200 SXM 141GB: GH100 with six HBM3e stacks."""
    sources = _gh100_sources()
    sources.update(
        {
            "sm_count": f"{_PUBLISHED}: 132 SMs",
            "boost_clock_hz": (
                "same GH100 SXM part as H100; the identical datasheet peaks (989 / "
                "1979 TF dense BF16 / FP8) imply the same 1830 MHz: "
                + _gh100_sources()["boost_clock_hz"]
            ),
            "tensor_flops_per_clk_per_sm": (
                f"{_PUBLISHED}: 989 / 1979 TF dense BF16 / FP8, as H100 SXM. Per-SM rates as "
                "H100: " + _gh100_sources()["tensor_flops_per_clk_per_sm"]
            ),
            "hbm_bytes": f"{_PUBLISHED}: 141 GB HBM3e",
            "hbm_bytes_per_s": f"{_PUBLISHED}: 4.8 TB/s",
            "l2_bytes": (
                "measured on the lent H200, torch 2.11: torch.cuda.get_device_properties "
                "reported 62,914,560 B (60 MiB) of L2 (lab notes); NVIDIA's H200 "
                "datasheet gives no L2 size (H100 SXM: 50 MB)"
            ),
            "nvlink_bytes_per_s": f"{_PUBLISHED}: NVLink 900 GB/s per GPU",
            "idle_w": (
                "measured on the lent H200, NVML energy counter, 2026-11-26: 122 W (lab notes)"
            ),
            "price_usd": (
                "estimate: press-reported H200 unit prices of roughly $30k-$40k "
                "(2024-2025); $35k taken"
            ),
            "usd_per_hour": (
                "estimate: public cloud on-demand H200 prices of roughly $3-$5 per "
                "GPU-hour (2025); $3.5 taken"
            ),
        }
    )
    return GpuDatasheet(
        **_gh100("h200-sxm", "NVIDIA H200 SXM 141GB (HBM3e, 700 W)"),
        hbm_bytes=141e9,
        hbm_bytes_per_s=4.8e12,
        l2_bytes=60 * MIB,
        nvlink_bytes_per_s=900e9,
        idle_w=122.0,
        price_usd=35_000.0,
        usd_per_hour=3.5,
        sources=sources,
    )


# ------------------------------------------------------------------------------ Blackwell
_B200_DS = (
    "NVIDIA HGX B200 / DGX B200 datasheet (B200 at 1000 W, per GPU; figures as "
    "tabulated at glennklockwood.com/garden/processors/B200)"
)
_B200_CLOCK = 2.25e15 / (148 * 8192)  # = 1.8557 GHz, the assumed clock behind the peaks


def b200() -> GpuDatasheet:
    """NVIDIA B200 (HGX B200, SXM, 1000 W): two dies, 148 SMs, 180 GB usable HBM3e."""
    return GpuDatasheet(
        name="b200",
        description="NVIDIA B200 SXM (HGX B200, 180 GB HBM3e usable, 1000 W)",
        architecture="blackwell",
        sm_count=148,
        boost_clock_hz=_B200_CLOCK,
        tensor_flops_per_clk_per_sm={
            "tf32": 4096.0,
            "bf16": 8192.0,
            "fp8": 16384.0,
            "fp4": 32768.0,
            "int8": 16384.0,
        },
        fp32_flops_per_clk_per_sm=256.0,
        sfu_ops_per_clk_per_sm=16.0,
        hbm_bytes=180e9,
        hbm_bytes_per_s=8e12,
        l2_bytes=132_644_864,
        smem_bytes_per_sm=228 * KIB,
        regs_per_sm=65536,
        nvlink_bytes_per_s=1.8e12,
        tdp_w=1000.0,
        idle_w=150.0,
        price_usd=35_000.0,
        usd_per_hour=5.0,
        sources={
            "sm_count": (
                "not printed on NVIDIA's datasheet; 148 SMs (2 dies x 74 enabled of "
                "80) as reported by the CUDA driver, per Chips and Cheese, 'Nvidia's "
                "B200: Keeping the CUDA Juggernaut Rolling'"
            ),
            "boost_clock_hz": (
                "ASSUMED: NVIDIA does not publish the clock behind the B200 peaks. Taken as "
                "2.25 PF dense BF16 / (148 SMs x 8192 FLOP/clk) = 1856 MHz, so the datasheet "
                "BF16/FP8/FP4 peaks are reproduced exactly; third-party databases list a "
                "'tensor clock' of 1.86 GHz; the driver's max SM clock is 1965 MHz"
            ),
            "tensor_flops_per_clk_per_sm": (
                f"{_B200_DS}, dense (half the sparse figures): FP4 9 PF, FP8/FP6 4.5 PF, "
                "BF16/FP16 2.25 PF, TF32 1.1 PF, INT8 4.5 POPS. Split into per-SM-per-clock "
                "with the assumed 1856 MHz: FP4 32768, FP8 16384, BF16 8192, INT8 16384, "
                "TF32 4096 (twice Hopper per SM per clock; only sm x rate x clock is pinned "
                "by the datasheet). TF32 gives 1.125 PF against the printed 1.1 PF (2.3% "
                "over; the datasheet rounds)"
            ),
            "fp32_flops_per_clk_per_sm": (
                "128 FP32 lanes per SM x 2, unchanged from Hopper (Chips and Cheese B200 "
                f"article). At 1856 MHz this is 70.3 TF; {_B200_DS} lists FP32 80 TF, which "
                "would imply ~2.1 GHz, so CUDA-core FP32 is likely understated here by ~12%"
            ),
            "sfu_ops_per_clk_per_sm": (
                f"{_SFU}; assumed unchanged on cc 10.0 (the 2x "
                "attention SFU rate is a Blackwell Ultra/B300 feature)"
            ),
            "hbm_bytes": (
                f"{_B200_DS}: DGX/HGX B200 1,440 GB over 8 GPUs = 180 GB usable per "
                "GPU; 192 GB physical (8 x 24 GB HBM3e stacks, GTC 2024 announcement)"
            ),
            "hbm_bytes_per_s": (
                f"{_B200_DS}: DGX B200 64 TB/s over 8 GPUs = 8 TB/s per GPU "
                "(GTC 2024 B200 figure: 8 TB/s)"
            ),
            "l2_bytes": (
                "not in NVIDIA's datasheet; 132,644,864 B (126.5 MiB) as reported by "
                "the CUDA driver (cudaDevAttrL2CacheSize) in public B200 device "
                "profiles; Chips and Cheese's B200 article reports 126 MB"
            ),
            "smem_bytes_per_sm": f"{_CC_TABLE}: cc 10.0, 228 KB shared memory per SM",
            "regs_per_sm": f"{_CC_TABLE}: cc 10.0, 64K 32-bit registers per SM",
            "nvlink_bytes_per_s": f"{_B200_DS}: NVLink 5, 1.8 TB/s total per GPU (18 links)",
            "tdp_w": f"{_B200_DS}: up to 1,000 W per GPU (HGX B200)",
            "idle_w": (
                "estimate: about 1.2x the 128 W measured idle of the H100 SXM here "
                "(two dies, eight HBM3e stacks); not measured on a B200"
            ),
            "price_usd": (
                "estimate: NVIDIA's CEO quoted $30k-$40k per Blackwell GPU (CNBC, "
                "March 2024); $35k taken, system-level prices run higher"
            ),
            "usd_per_hour": (
                "estimate: public cloud on-demand B200 prices of roughly $4-$7 "
                "per GPU-hour (2025); $5 taken"
            ),
        },
    )


# -------------------------------------------------------------------------------- Ampere
def a100_sxm() -> GpuDatasheet:
    """NVIDIA A100 80GB SXM4 (the 80 GB HBM2e variant; the 40 GB one has 1.555 TB/s)."""
    return GpuDatasheet(
        name="a100-sxm",
        description="NVIDIA A100 80GB SXM4 (HBM2e, 400 W)",
        architecture="ampere",
        sm_count=108,
        boost_clock_hz=1.41e9,
        tensor_flops_per_clk_per_sm={"tf32": 1024.0, "bf16": 2048.0, "int8": 4096.0},
        fp32_flops_per_clk_per_sm=128.0,
        sfu_ops_per_clk_per_sm=16.0,
        hbm_bytes=80e9,
        hbm_bytes_per_s=2.039e12,
        l2_bytes=40 * MIB,
        smem_bytes_per_sm=164 * KIB,
        regs_per_sm=65536,
        nvlink_bytes_per_s=600e9,
        tdp_w=400.0,
        idle_w=55.0,
        price_usd=15_000.0,
        usd_per_hour=1.5,
        sources={
            "sm_count": f"{_A100_WP}: A100 has 108 SMs (of 128 on the full GA100)",
            "boost_clock_hz": (
                f"{_A100_WP}: GPU boost clock 1410 MHz, the clock behind the "
                "NVIDIA A100 datasheet peaks (312 TF = 108 x 2048 x 1.41 GHz)"
            ),
            "tensor_flops_per_clk_per_sm": (
                "NVIDIA A100 datasheet dense peaks / (108 SMs x 1410 MHz): TF32 156 TF -> "
                "1024; BF16/FP16 312 TF -> 2048; INT8 624 TOPS -> 4096. Ampere has no FP8 or "
                "FP4 tensor math"
            ),
            "fp32_flops_per_clk_per_sm": (
                f"{_A100_WP}: 64 FP32 lanes per GA100 SM x 2; "
                "108 x 128 x 1.41 GHz = 19.5 TF as the datasheet"
            ),
            "sfu_ops_per_clk_per_sm": f"{_SFU}; cc 8.0",
            "hbm_bytes": "NVIDIA A100 datasheet: A100 80GB SXM, 80 GB HBM2e",
            "hbm_bytes_per_s": "NVIDIA A100 datasheet: A100 80GB SXM, 2,039 GB/s",
            "l2_bytes": (
                f"{_A100_WP}: 40 MB L2; 41,943,040 B as reported by deviceQuery on A100 SXM4"
            ),
            "smem_bytes_per_sm": f"{_CC_TABLE}: cc 8.0, 164 KB shared memory per SM",
            "regs_per_sm": f"{_CC_TABLE}: cc 8.0, 64K 32-bit registers per SM",
            "nvlink_bytes_per_s": "NVIDIA A100 datasheet: NVLink 600 GB/s (SXM, NVLink 3)",
            "tdp_w": "NVIDIA A100 datasheet: A100 80GB SXM max TDP 400 W",
            "idle_w": (
                "estimate: idle draw commonly reported by nvidia-smi for A100 SXM4 "
                "boards, roughly 50-60 W; not measured here"
            ),
            "price_usd": (
                "estimate: press-reported A100 80GB SXM prices of roughly $10k-$20k "
                "(2021-2024); $15k taken"
            ),
            "usd_per_hour": (
                "estimate: public cloud on-demand A100 80GB prices of roughly "
                "$1.2-$2 per GPU-hour (2025); $1.5 taken"
            ),
        },
    )


def jetson_agx_orin() -> GpuDatasheet:
    """NVIDIA Jetson AGX Orin 64GB module: the GPU part of the SoC only (no DLAs)."""
    return GpuDatasheet(
        name="jetson-agx-orin",
        description="NVIDIA Jetson AGX Orin 64GB module, GA10B integrated GPU (LPDDR5, 60 W)",
        architecture="ampere",
        sm_count=16,
        boost_clock_hz=1.3e9,
        tensor_flops_per_clk_per_sm={"tf32": 1024.0, "bf16": 2048.0, "int8": 4096.0},
        fp32_flops_per_clk_per_sm=256.0,
        sfu_ops_per_clk_per_sm=16.0,
        hbm_bytes=64e9,
        hbm_bytes_per_s=204.8e9,
        l2_bytes=4 * MIB,
        smem_bytes_per_sm=164 * KIB,
        regs_per_sm=65536,
        nvlink_bytes_per_s=0.0,
        tdp_w=60.0,
        idle_w=7.0,
        price_usd=1_999.0,
        usd_per_hour=0.08,
        sources={
            "sm_count": (
                f"{_ORIN_DS}: GPU of 2 GPCs, 16 SMs, 2048 CUDA cores, 64 third-"
                "generation tensor cores"
            ),
            "boost_clock_hz": f"{_ORIN_DS}: GPU max frequency 1.3 GHz (MAXN mode)",
            "tensor_flops_per_clk_per_sm": (
                f"GPU only, dense. {_ORIN_DS}: 170 sparse INT8 TOPS from the GPU (the 275 TOPS "
                "headline adds 105 sparse TOPS from the two DLAs) -> 85 dense TOPS / (16 SMs "
                "x 1.3 GHz) = 4087 -> INT8 4096 (85.2 TOPS). The datasheet prints no dense "
                "FP16 tensor figure: BF16/FP16 = INT8/2 = 2048 (42.6 TF) and TF32 = INT8/4 = "
                "1024 (21.3 TF), the ratios of every Ampere tensor core (A100 datasheet). "
                "No FP8 or FP4"
            ),
            "fp32_flops_per_clk_per_sm": (
                f"{_ORIN_DS}: 128 CUDA cores per SM x 2; 16 x 256 x "
                "1.3 GHz = 5.3 TF as the datasheet"
            ),
            "sfu_ops_per_clk_per_sm": f"{_SFU}; cc 8.7",
            "hbm_bytes": (
                f"{_ORIN_DS}: 64 GB 256-bit LPDDR5 (not HBM), shared by CPU, GPU and accelerators"
            ),
            "hbm_bytes_per_s": f"{_ORIN_DS}: 204.8 GB/s LPDDR5",
            "l2_bytes": f"{_ORIN_DS}: GPU L2 cache 4 MB",
            "smem_bytes_per_sm": f"{_CC_TABLE}: cc 8.7, 164 KB shared memory per SM",
            "regs_per_sm": f"{_CC_TABLE}: cc 8.7, 64K 32-bit registers per SM",
            "nvlink_bytes_per_s": f"{_ORIN_DS}: no NVLink (SoC; PCIe Gen4 only)",
            "tdp_w": (
                f"{_ORIN_DS}: module power 15-60 W, 60 W max (whole module: CPU, GPU, DLAs, memory)"
            ),
            "idle_w": (
                "estimate: module idle of roughly 5-10 W in community tegrastats "
                "readings; not measured here"
            ),
            "price_usd": (
                "estimate: NVIDIA list price of the Jetson AGX Orin 64GB developer "
                "kit, $1,999 (2022); production modules cost less in volume"
            ),
            "usd_per_hour": (
                "estimate: no public rental market; $1,999 amortized over 3 "
                "years (~$0.076/h) plus ~60 W of electricity; $0.08 taken"
            ),
        },
    )


# ---------------------------------------------------------------------------------- Volta
def v100s() -> GpuDatasheet:
    """NVIDIA V100S PCIe 32GB (PCIe only; no NVLink variant exists)."""
    return GpuDatasheet(
        name="v100s",
        description="NVIDIA V100S PCIe 32GB (HBM2, 250 W)",
        architecture="volta",
        sm_count=80,
        boost_clock_hz=1.597e9,
        tensor_flops_per_clk_per_sm={"bf16": 1024.0},
        fp32_flops_per_clk_per_sm=128.0,
        sfu_ops_per_clk_per_sm=16.0,
        hbm_bytes=32e9,
        hbm_bytes_per_s=1.134e12,
        l2_bytes=6 * MIB,
        smem_bytes_per_sm=96 * KIB,
        regs_per_sm=65536,
        nvlink_bytes_per_s=0.0,
        tdp_w=250.0,
        idle_w=30.0,
        price_usd=10_000.0,
        usd_per_hour=1.0,
        sources={
            "sm_count": f"{_V100_WP}: Tesla V100 has 80 SMs (of 84 on the full GV100)",
            "boost_clock_hz": (
                "V100S boost clock 1597 MHz (NVIDIA V100S launch specification, Nov 2019; the "
                "V100S datasheet prints no clock). The datasheet peaks imply 1587 MHz "
                "(130 TF tensor) and 1602 MHz (16.4 TF FP32); at 1597 MHz the model gives "
                "130.8 and 16.35 TF, within 0.6%"
            ),
            "tensor_flops_per_clk_per_sm": (
                f"{_V100_WP}: 8 tensor cores per SM x 64 FP16 FMA/clk = 1024 FLOP/clk/SM; "
                "NVIDIA V100S datasheet: 130 TF tensor. Volta's tensor cores run FP16 inputs "
                "with FP32 accumulate, NOT BF16: the 'bf16' key here means the 16-bit float "
                "class. Volta has no TF32, FP8, FP4 or INT8 tensor math"
            ),
            "fp32_flops_per_clk_per_sm": (
                f"{_V100_WP}: 64 FP32 lanes per SM x 2; NVIDIA "
                "V100S datasheet: 16.4 TF single precision"
            ),
            "sfu_ops_per_clk_per_sm": f"{_SFU}; cc 7.0",
            "hbm_bytes": "NVIDIA V100S datasheet: 32 GB HBM2",
            "hbm_bytes_per_s": "NVIDIA V100S datasheet: 1,134 GB/s",
            "l2_bytes": f"{_V100_WP}: 6144 KB L2",
            "smem_bytes_per_sm": f"{_CC_TABLE}: cc 7.0, 96 KB shared memory per SM",
            "regs_per_sm": f"{_CC_TABLE}: cc 7.0, 64K 32-bit registers per SM",
            "nvlink_bytes_per_s": (
                "NVIDIA V100S datasheet: PCIe Gen3 32 GB/s interconnect only; V100S has no NVLink"
            ),
            "tdp_w": "NVIDIA V100S datasheet: max power 250 W",
            "idle_w": (
                "estimate: idle draw commonly reported by nvidia-smi for V100 PCIe "
                "boards, roughly 25-40 W; not measured here"
            ),
            "price_usd": (
                "estimate: launch-era (2019-2020) street prices of roughly "
                "$8k-$12k; used units now sell far lower; $10k taken"
            ),
            "usd_per_hour": (
                "estimate: V100 cloud prices of roughly $0.5-$3 per GPU-hour "
                "(large clouds near the top, smaller ones near the bottom); "
                "$1.0 taken"
            ),
        },
    )


# ------------------------------------------------------------------------------------ Ada
def rtx_4090() -> GpuDatasheet:
    """NVIDIA GeForce RTX 4090 (AD102, 24 GB GDDR6X, 450 W)."""
    return GpuDatasheet(
        name="rtx-4090",
        description="NVIDIA GeForce RTX 4090 (AD102, 24 GB GDDR6X, 450 W)",
        architecture="ada",
        sm_count=128,
        boost_clock_hz=2.52e9,
        tensor_flops_per_clk_per_sm={"tf32": 256.0, "bf16": 512.0, "fp8": 1024.0, "int8": 2048.0},
        fp32_flops_per_clk_per_sm=256.0,
        sfu_ops_per_clk_per_sm=16.0,
        hbm_bytes=24e9,
        hbm_bytes_per_s=1.008e12,
        l2_bytes=72 * MIB,
        smem_bytes_per_sm=100 * KIB,
        regs_per_sm=65536,
        nvlink_bytes_per_s=0.0,
        tdp_w=450.0,
        idle_w=25.0,
        price_usd=1_599.0,
        usd_per_hour=0.4,
        sources={
            "sm_count": f"{_ADA_WP}: 128 SMs (of 144 on the full AD102)",
            "boost_clock_hz": f"{_ADA_WP}: boost clock 2520 MHz, the clock behind its peaks",
            "tensor_flops_per_clk_per_sm": (
                f"{_ADA_WP}, dense / (128 SMs x 2520 MHz): FP16/BF16 with FP32 accumulate "
                "165.2 TF -> 512; FP8 with FP32 accumulate 330.3 TF -> 1024; TF32 82.6 TF -> "
                "256; INT8 660.6 TOPS -> 2048. GeForce runs FP16/FP8 with FP16 accumulate at "
                "twice these rates (330.3 / 660.6 TF); FP32 accumulate is modelled, as LLM "
                "GEMMs use it. No FP4 on Ada"
            ),
            "fp32_flops_per_clk_per_sm": f"{_ADA_WP}: 128 FP32 lanes per SM x 2; 82.6 TF",
            "sfu_ops_per_clk_per_sm": f"{_SFU}; cc 8.9",
            "hbm_bytes": f"{_ADA_WP}: 24 GB GDDR6X (not HBM)",
            "hbm_bytes_per_s": f"{_ADA_WP}: 1008 GB/s (384-bit GDDR6X at 21 Gbps)",
            "l2_bytes": f"{_ADA_WP}: 72 MB L2 (73,728 KB)",
            "smem_bytes_per_sm": f"{_CC_TABLE}: cc 8.9, 100 KB shared memory per SM",
            "regs_per_sm": f"{_CC_TABLE}: cc 8.9, 64K 32-bit registers per SM",
            "nvlink_bytes_per_s": f"{_ADA_WP}: no NVLink on RTX 4090 (PCIe 4.0 x16 only)",
            "tdp_w": f"{_ADA_WP}: total graphics power 450 W",
            "idle_w": (
                "estimate: idle board power commonly reported for RTX 4090 cards, "
                "roughly 15-30 W; not measured here"
            ),
            "price_usd": (
                "estimate: NVIDIA launch MSRP $1,599 (Sept 2022); street prices "
                "since have ranged well above it"
            ),
            "usd_per_hour": (
                "estimate: GPU marketplace rental prices of roughly $0.3-$0.7 "
                "per GPU-hour (2025); $0.4 taken"
            ),
        },
    )


DATASHEETS: dict[str, Callable[[], GpuDatasheet]] = {
    "h100-sxm": h100_sxm,
    "h800-sxm": h800_sxm,
    "h200-sxm": h200_sxm,
    "b200": b200,
    "a100-sxm": a100_sxm,
    "v100s": v100s,
    "rtx-4090": rtx_4090,
    "jetson-agx-orin": jetson_agx_orin,
}
