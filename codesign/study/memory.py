"""A lower bound on the memory one rank holds: its share of the weights plus its KV cache.

Activations, workspaces, communication buffers and the CUDA context are left out, so a point
whose bound exceeds the device's memory certainly does not fit, and one under it may still not.
(This is generic over model configs; it belongs in ``workloads`` once that package offers a
per-rank footprint.)
"""

from __future__ import annotations

import math
from typing import Any

from codesign.ir.dtypes import DType


def estimate_rank_memory_bytes(
    cfg: Any, batch: int, kv_len: int, *, tp: int, dp: int, ep: int, redundant_experts: int,
    weight_dtype: DType, kv_dtype: DType = DType.BF16, other_dtype: DType = DType.BF16,
) -> float:
    """Bytes of weights and KV cache on the busiest rank (a lower bound, see module docstring).

    Routed experts (with ``redundant_experts`` replicas) are split over ``ep`` ranks (over
    ``tp`` when ``ep == 1``); other linear layers and the remaining weights over ``tp``; the KV
    cache of ``ceil(batch / dp)`` sequences of ``kv_len`` tokens over ``min(tp, kv heads)``
    (MLA's latent cache is replicated over TP ranks).
    """
    from workloads.params import count_params

    p = count_params(cfg)
    w = weight_dtype.bits / 8
    routed = float(p.moe_routed) * w
    if cfg.moe is not None and p.moe_routed:
        slots = cfg.moe.n_routed_experts + redundant_experts
        routed = routed * slots / cfg.moe.n_routed_experts / (ep if ep > 1 else tp)
    other_linear = (p.linear - p.moe_routed) * w / tp
    rest = (p.total - p.linear) * other_dtype.bits / 8 / tp
    kv_split = 1 if cfg.mla is not None else min(tp, cfg.num_kv_heads)
    kv = cfg.kv_cache_bytes_per_token(kv_dtype) * math.ceil(batch / dp) * kv_len / kv_split
    return routed + other_linear + rest + kv
