"""``GpuModel``: the GPU's implementation of the hardware contract (``op_cost``).

Each IR op maps to a kernel model: GEMMs and grouped GEMMs (``gemm``), attention
(``attention``), elementwise and data-movement ops (calibrated PyTorch eager implementations:
fixed time plus memory passes over the compulsory bytes), and collectives.

Collectives and expert-parallel dispatch/combine across GPUs belong to the system
(``hwmodels.network.system.SystemModel``); on one GPU only their single-rank forms (a local
permutation, a group of one) are costed here.

Energy = idle power x latency + FLOPs x energy per FLOP (math class) + DRAM bytes x energy
per byte (fitted from NVML energy counters).
"""

from __future__ import annotations

from typing import Any

from codesign.errors import SpecError
from codesign.hw.cost import OpCost
from codesign.ir.dtypes import DType
from codesign.ir.ops import (
    AllGather,
    AllReduce,
    Attention,
    Combine,
    Dispatch,
    Elementwise,
    Embedding,
    Gemm,
    GroupedGemm,
    KvCacheWrite,
    MlaAttention,
    Op,
    ReduceScatter,
    Router,
)
from hwmodels.gpu.attention import decode_estimate, prefill_estimate
from hwmodels.gpu.gemm import KernelEstimate, gemm_estimate, grouped_gemm_estimate
from hwmodels.gpu.spec import ElementwiseProfile, GpuSpec, math_class

#: memory-bound ops and the measured implementation profile that prices each
_MEMORY_FUNC: dict[type[Op], str] = {KvCacheWrite: "cache_write", Embedding: "embedding",
                                     Router: "router"}

#: functions with no benchmark of their own -> the measured profile that stands for them
#: (router: a reduction plus elementwise work like RMSNorm; permute/embedding: a
#: gather/scatter copy like the cache write; layernorm/rmsnorm_rope like RMSNorm;
#: gelu/relu like SiLU-and-multiply)
ELEMENTWISE_FALLBACK: dict[str, str] = {
    "layernorm": "rmsnorm",
    "rmsnorm_rope": "rmsnorm",
    "gelu": "silu_mul",
    "relu": "silu_mul",
    "router": "rmsnorm",
    "permute": "cache_write",
    "embedding": "cache_write",
}



def _bytes_per(dtype: DType) -> float:
    return dtype.bits / 8


def calibration_label(source: str) -> str:
    """``transferred from <chip>`` or ``calibrated`` from an efficiency source string."""
    if source.startswith("transferred from "):
        return " ".join(source.split()[:3])
    return "calibrated"


class GpuModel:
    """A GPU described by a :class:`GpuSpec`."""

    family = "gpu"

    def __init__(self, spec: GpuSpec) -> None:
        self.spec = spec
        self.name = spec.name

    # ------------------------------------------------------------------ contract
    @property
    def memory_bytes(self) -> float:
        return self.spec.hbm_bytes

    @property
    def launch_overhead_s(self) -> float:
        return self.spec.efficiency.eager_launch_s

    @property
    def idle_power_w(self) -> float:
        return self.spec.energy.idle_w

    @property
    def usd_per_hour(self) -> float:
        return self.spec.cost.usd_per_hour

    @property
    def price_usd(self) -> float:
        return self.spec.cost.price_usd

    def supports_dtype(self, dtype: DType) -> bool:
        return math_class(dtype) in self.spec.tensor_flops_per_clk_per_sm

    def describe(self) -> dict[str, Any]:
        s = self.spec
        peaks = {c: s.peak_flops(c) for c in s.supported_classes()}
        return {
            "family": "gpu",
            "name": s.name,
            "kind": "gpu",
            "description": s.description,
            "peak_flops": peaks,
            "calibration": calibration_label(s.efficiency.source),
            **s.model_dump(mode="json"),
        }

    def op_cost(self, op: Op) -> OpCost:
        """Device time, energy and bound of ``op`` (see module docstring)."""
        est, kernels, cls = self._estimate(op)
        latency = est.time_s
        bound = est.bound
        if bound != "network" and max(est.compute_s, est.memory_s) < 0.5 * latency:
            bound = "launch"
        en = self.spec.energy
        energy = (
            en.idle_w * latency
            + op.flops * en.j_per_flop.get(cls, 0.0)
            + est.dram_bytes * en.j_per_dram_byte
        )
        return OpCost(
            latency,
            energy,
            bound,
            float(op.flops),
            est.dram_bytes,  # type: ignore[arg-type]
            kernels,
            {
                "tile": est.tile,
                "waves": est.waves,
                "compute_s": est.compute_s,
                "memory_s": est.memory_s,
            },
        )

    # ------------------------------------------------------------------ per kind
    def _cls(self, dtype: DType, field: str) -> str:
        cls = math_class(dtype)
        if cls not in self.spec.tensor_flops_per_clk_per_sm:
            raise SpecError(
                field,
                f"{self.name} has no {dtype} tensor cores",
                sorted(self.spec.tensor_flops_per_clk_per_sm),
            )
        return cls

    def _estimate(self, op: Op) -> tuple[Any, int, str]:
        s = self.spec
        if isinstance(op, Gemm):
            cls = self._cls(op.math_dtype, "dtype")
            est = gemm_estimate(
                s,
                op.m,
                op.n,
                op.k,
                op.batch,
                cls,
                _bytes_per(op.a_dtype),
                _bytes_per(op.b_dtype),
                _bytes_per(op.out_dtype),
            )
            return est, 2 if "split1" not in est.tile else 1, cls
        if isinstance(op, GroupedGemm):
            cls = self._cls(op.math_dtype, "dtype")
            est = grouped_gemm_estimate(
                s,
                op.tokens_per_expert,
                op.n,
                op.k,
                cls,
                _bytes_per(op.a_dtype),
                _bytes_per(op.b_dtype),
                _bytes_per(op.out_dtype),
            )
            return est, 1, cls
        if isinstance(op, Attention):
            return self._attention(op), 1, self._cls(op.dtype, "dtype")
        if isinstance(op, MlaAttention):
            return self._mla(op), 1, self._cls(op.dtype, "dtype")
        if isinstance(op, AllReduce | AllGather | ReduceScatter | Dispatch | Combine):
            if getattr(op, "group_size", None) == 1 or getattr(op, "ep", 0) == 1:
                return self._memory(op, "permute")
            raise SpecError("op", f"{op.kind} across ranks needs a system, not one GPU "
                                  "(use a system preset or evaluate through codesign.evaluate)")
        if isinstance(op, Elementwise):
            return self._memory(op, op.func)
        func = _MEMORY_FUNC.get(type(op))
        if func is None:
            raise SpecError("op", f"{self.name} cannot run op kind {op.kind!r}")
        return self._memory(op, func)

    def _attention(self, op: Attention) -> KernelEstimate:
        cls = self._cls(op.dtype, "dtype")
        el, kv = _bytes_per(op.dtype), _bytes_per(op.kv_dtype)
        if op.phase == "prefill":
            return prefill_estimate(
                self.spec,
                op.batch,
                op.q_heads,
                op.kv_heads,
                op.q_len,
                op.kv_len,
                op.head_dim,
                op.dv,
                op.causal,
                cls,
                el,
                kv,
            )
        return decode_estimate(
            self.spec,
            op.batch,
            op.q_heads,
            op.kv_heads,
            op.q_len,
            op.kv_len,
            op.head_dim,
            op.dv,
            cls,
            el,
            kv,
        )

    def _mla(self, op: MlaAttention) -> KernelEstimate:
        cls = self._cls(op.dtype, "dtype")
        el, kv = _bytes_per(op.dtype), _bytes_per(op.kv_dtype)
        if op.form == "absorbed":
            d = op.kv_lora_rank + op.qk_rope_head_dim
            if op.phase == "prefill":
                return prefill_estimate(
                    self.spec,
                    op.batch,
                    op.heads,
                    1,
                    op.q_len,
                    op.kv_len,
                    d,
                    op.kv_lora_rank,
                    op.causal,
                    cls,
                    el,
                    kv,
                )
            return decode_estimate(
                self.spec,
                op.batch,
                op.heads,
                1,
                op.q_len,
                op.kv_len,
                d,
                op.kv_lora_rank,
                cls,
                el,
                kv,
                shared_kv=True,
            )
        d = op.qk_nope_head_dim + op.qk_rope_head_dim
        if op.phase == "prefill":
            return prefill_estimate(
                self.spec,
                op.batch,
                op.heads,
                op.heads,
                op.q_len,
                op.kv_len,
                d,
                op.v_head_dim,
                op.causal,
                cls,
                el,
                el,
            )
        return decode_estimate(
            self.spec,
            op.batch,
            op.heads,
            op.heads,
            op.q_len,
            op.kv_len,
            d,
            op.v_head_dim,
            cls,
            el,
            el,
        )

    def _profile(self, func: str) -> ElementwiseProfile:
        table = self.spec.efficiency.elementwise
        key = func if func in table else ELEMENTWISE_FALLBACK.get(func, "")
        if key not in table:
            raise SpecError("func", f"{self.name} has no calibration for {func!r}", sorted(table))
        return table[key]

    def _memory(self, op: Op, func: str) -> tuple[KernelEstimate, int, str]:
        """Measured profile of the implementation of ``func``, at the op's compulsory bytes:
        (estimate, kernels launched, math class for energy)."""
        profile = self._profile(func)
        bytes_ = float(op.bytes_read + op.bytes_written)
        t = profile.time_s(bytes_)
        t_stream = bytes_ / (self.spec.hbm_bytes_per_s * self.spec.efficiency.hbm)
        return KernelEstimate(t, 0.0, t_stream, bytes_, func, 0.0), profile.kernels, "fp32"
