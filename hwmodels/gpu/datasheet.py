"""``GpuDatasheet``: vendor facts of a GPU, each with its source. SI units.

Kept apart from fitted efficiencies (``calibrated/*.json``) so every number has one home.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GpuDatasheet(BaseModel):
    """Facts from datasheets and whitepapers.

    Attributes:
        name: registry name (lowercase, hyphenated).
        description: marketing name and form factor.
        architecture: ``volta``, ``ampere``, ``ada``, ``hopper``, ``blackwell``.
        sm_count: streaming multiprocessors.
        boost_clock_hz: the clock the datasheet's peak rates assume.
        tensor_flops_per_clk_per_sm: dense tensor FLOPs per SM per clock by math class
            (``tf32``, ``bf16``, ``fp8``, ``fp4``, ``int8``); bf16 also stands for fp16.
        fp32_flops_per_clk_per_sm: CUDA-core FP32 FLOPs per SM per clock (2 per FMA lane).
        sfu_ops_per_clk_per_sm: special-function (exp) results per SM per clock.
        hbm_bytes, hbm_bytes_per_s: device memory capacity and bandwidth.
        l2_bytes: L2 cache.
        smem_bytes_per_sm: shared memory (configurable L1/shared) per SM.
        regs_per_sm: 32-bit registers per SM.
        nvlink_bytes_per_s: total GPU-to-GPU NVLink bandwidth (both directions); 0 if none.
        tdp_w: board power limit.
        idle_w: power when idle (measured or estimated; the source says which).
        price_usd: purchase price estimate.
        usd_per_hour: rental price estimate per GPU-hour.
        sources: field name -> citation (datasheet, whitepaper table, or estimate basis).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    architecture: str
    sm_count: int = Field(gt=0)
    boost_clock_hz: float = Field(gt=0)
    tensor_flops_per_clk_per_sm: dict[str, float]
    fp32_flops_per_clk_per_sm: float = Field(gt=0)
    sfu_ops_per_clk_per_sm: float = Field(gt=0)
    hbm_bytes: float = Field(gt=0)
    hbm_bytes_per_s: float = Field(gt=0)
    l2_bytes: float = Field(gt=0)
    smem_bytes_per_sm: int = Field(gt=0)
    regs_per_sm: int = Field(gt=0)
    nvlink_bytes_per_s: float = Field(ge=0)
    tdp_w: float = Field(gt=0)
    idle_w: float = Field(ge=0)
    price_usd: float = Field(ge=0)
    usd_per_hour: float = Field(ge=0)
    sources: dict[str, str]

    def peak_flops(self, cls: str) -> float:
        """Dense peak at the boost clock, FLOP/s."""
        return self.sm_count * self.tensor_flops_per_clk_per_sm[cls] * self.boost_clock_hz
