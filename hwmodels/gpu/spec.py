"""``GpuSpec``: a GPU at SM level, its fitted efficiencies, energy and cost. SI units.

Tensor throughput is given per SM per clock by *math class* (``fp32`` CUDA-core FMA,
``tf32``, ``bf16`` (= fp16), ``fp8``, ``fp4``, ``int8``), dense (no 2:4 sparsity), so that
peak = ``sm_count * flops_per_clk_per_sm * clock_hz``.
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel, ConfigDict, Field

from codesign.ir.dtypes import DType

_MATH_CLASS = {
    DType.FP32: "fp32",
    DType.TF32: "tf32",
    DType.FP16: "bf16",
    DType.BF16: "bf16",
    DType.FP8_E4M3: "fp8",
    DType.FP8_E5M2: "fp8",
    DType.MXFP4: "fp4",
    DType.NVFP4: "fp4",
    DType.INT8: "int8",
    DType.INT4: "int4",
}


def math_class(dtype: DType) -> str:
    """The tensor-core rate class of ``dtype`` (bf16 and fp16 share one; fp8 formats too)."""
    return _MATH_CLASS.get(dtype, dtype.value)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ElementwiseProfile(_Frozen):
    """Time of a memory-bound op as a function of its compulsory bytes.

    ``points`` are measured ``(bytes, seconds)`` pairs, increasing in bytes; between them time
    is interpolated linearly (fixed cost plus a per-byte slope, piecewise), below them it is the
    first point's time (fixed costs dominate), above them it grows in proportion to bytes.
    ``kernels`` is how many kernels the implementation launches (for eager launch costs).
    """

    kernels: int = Field(gt=0)
    points: list[tuple[float, float]] = Field(min_length=1)

    def time_s(self, nbytes: float) -> float:
        pts = self.points
        if nbytes <= pts[0][0]:
            return pts[0][1]
        if nbytes >= pts[-1][0]:
            return pts[-1][1] * nbytes / pts[-1][0]
        for (b0, t0), (b1, t1) in itertools.pairwise(pts):
            if nbytes <= b1:
                return t0 + (t1 - t0) * (nbytes - b0) / (b1 - b0)
        return pts[-1][1]  # unreachable


class GpuEfficiency(_Frozen):
    """Efficiency parameters of the kernel models, fitted by ``codesign calibrate gpu``.

    Attributes:
        mma: fraction of the tensor peak a GEMM main loop sustains, by math class.
        hbm: fraction of datasheet HBM bandwidth a streaming kernel sustains.
        sm_bytes_per_s: HBM bandwidth one SM can pull (limits kernels with few CTAs).
        kernel_fixed_s: fixed time of any kernel (ramp-up, first DRAM latency, tail).
        tile_overhead_cycles: per CTA tile (prologue, pipeline fill, epilogue), SM cycles.
        wave_tail: fraction of a full wave that a partial last wave costs (1: plain wave
            quantization; less where stream-K/persistent kernels rebalance the tail).
        smem_bytes_per_clk: shared-memory bandwidth per SM feeding the tensor cores; small
            tiles, which reuse each loaded byte less, are bound by it.
        roofline_p: exponent of the soft maximum joining compute and memory time
            (``(tc^p + tm^p)^(1/p)``; large p is the plain roofline).
        splitk_fixed_s: extra fixed time of a split-K GEMM (its reduction pass).
        grouped_fixed_s: extra fixed time of a grouped GEMM (problem setup, scheduler).
        grouped_mma: tensor efficiency of grouped GEMM relative to ``mma``.
        attn_mma: fraction of the tensor peak in flash-attention main loops.
        attn_fixed_s: fixed time of an attention kernel.
        attn_cta_overhead_cycles: per attention CTA (loading its queries, writing its
            output, pipeline fill), SM cycles.
        decode_hbm: fraction of HBM bandwidth decode attention reaches without KV splits
            (one CTA per sequence and KV head).
        decode_split_hbm: the same with the cache split over more CTAs (flash-decoding).
        decode_split_s: cost per KV split of merging split-KV partial results.
        eager_launch_s: time per kernel launched eagerly from Python (launch-rate bound).
        elementwise: per function, the measured time of the PyTorch eager implementation
            (several kernels for one IR op) against its compulsory bytes; see
            :class:`ElementwiseProfile`.
        source: where these numbers come from.

    Times are as measured back to back under CUDA-graph replay, so fixed times include the
    gap between kernels; eager execution is bounded below by ``eager_launch_s`` per kernel.
    """

    mma: dict[str, float]
    hbm: float = Field(gt=0, le=1)
    sm_bytes_per_s: float = Field(gt=0)
    kernel_fixed_s: float = Field(ge=0)
    tile_overhead_cycles: float = Field(ge=0)
    wave_tail: float = Field(ge=0, le=1)
    smem_bytes_per_clk: float = Field(gt=0)
    roofline_p: float = Field(ge=1)
    splitk_fixed_s: float = Field(ge=0)
    grouped_fixed_s: float = Field(ge=0)
    grouped_mma: float = Field(gt=0, le=1.5)
    attn_mma: float = Field(gt=0, le=1)
    attn_fixed_s: float = Field(ge=0)
    attn_cta_overhead_cycles: float = Field(ge=0)
    decode_hbm: float = Field(gt=0, le=1)
    decode_split_hbm: float = Field(gt=0, le=1)
    decode_split_s: float = Field(ge=0)
    eager_launch_s: float = Field(ge=0)
    elementwise: dict[str, ElementwiseProfile]
    source: str


class GpuEnergy(_Frozen):
    """Energy: idle power plus dynamic energy per FLOP (by math class) and per DRAM byte.

    ``j_per_flop`` includes the register-file and shared-memory traffic of a tensor-core
    main loop; ``j_per_dram_byte`` includes the on-chip path of streamed data (L2, SM).
    """

    idle_w: float = Field(ge=0)
    tdp_w: float = Field(gt=0)
    j_per_flop: dict[str, float]
    j_per_dram_byte: float = Field(ge=0)
    source: str


class GpuCost(_Frozen):
    """Purchase price and rental price, USD."""

    price_usd: float = Field(ge=0)
    usd_per_hour: float = Field(ge=0)
    source: str


class GpuSpec(_Frozen):
    """One GPU model. ``sources`` cites each datasheet number by field name."""

    name: str
    description: str
    sm_count: int = Field(gt=0)
    clock_hz: float = Field(gt=0)
    max_clock_hz: float = Field(gt=0)
    tensor_flops_per_clk_per_sm: dict[str, float]
    fp32_flops_per_clk_per_sm: float = Field(gt=0)
    sfu_ops_per_clk_per_sm: float = Field(gt=0)
    hbm_bytes: float = Field(gt=0)
    hbm_bytes_per_s: float = Field(gt=0)
    l2_bytes: float = Field(gt=0)
    smem_bytes_per_sm: int = Field(gt=0)
    regs_per_sm: int = Field(gt=0)
    nvlink_bytes_per_s: float = Field(ge=0)
    efficiency: GpuEfficiency
    energy: GpuEnergy
    cost: GpuCost
    sources: dict[str, str]

    def peak_flops(self, cls: str) -> float:
        """Datasheet-style dense peak at ``clock_hz`` for math class ``cls``, FLOP/s."""
        return self.sm_count * self.tensor_flops_per_clk_per_sm[cls] * self.clock_hz

    def supported_classes(self) -> list[str]:
        return sorted(self.tensor_flops_per_clk_per_sm)
