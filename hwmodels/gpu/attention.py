"""Flash-attention prefill and split-KV decode attention on a GPU, at CTA level.

Prefill (FlashAttention-2 style): one CTA per (sequence, head, block of 128 queries); a CTA
streams the keys it can see (all of them, or up to its diagonal when causal) through the
tensor cores (``2*(d + dv)`` FLOPs per score at the attention efficiency) and the special
function units (one exponential per score). CTAs are list-scheduled over the SMs: time is
the total work over the SMs plus half the longest CTA as tail, at least the longest CTA.

Decode (flash-decoding): the query heads of one KV head are packed as rows (padded to 64),
the cache is split along its length so that enough CTAs fill the SMs (FA2's heuristic: the
fewest splits reaching 85% of the best wave efficiency, at most 128), partial results are
merged by a second pass. Decode is bound by reading the KV cache; its achievable bandwidth
is fitted separately for the unsplit and the split kernel (``decode_hbm``,
``decode_split_hbm``). MLA's absorbed form is the same kernel with one
latent "KV head" shared by all query heads (FlashMLA's layout: keys and values are one
cache, read once).

Approximate: not modelled are the per-backend tile choices (cuDNN vs FlashAttention),
register pressure for head dims above 128, and paged-cache indirection.
"""

from __future__ import annotations

import math

from hwmodels.gpu.gemm import KernelEstimate, soft_max
from hwmodels.gpu.spec import GpuSpec

BLOCK_M = 128
DECODE_ROWS = 64


def _rates(spec: GpuSpec, cls: str, eff: float) -> tuple[float, float]:
    tensor = spec.tensor_flops_per_clk_per_sm[cls] * spec.clock_hz * eff
    sfu = spec.sfu_ops_per_clk_per_sm * spec.clock_hz
    return tensor, sfu


def prefill_estimate(
    spec: GpuSpec,
    batch: int,
    hq: int,
    hkv: int,
    q_len: int,
    kv_len: int,
    d: int,
    dv: int,
    causal: bool,
    cls: str,
    el_bytes: float,
    kv_bytes: float,
) -> KernelEstimate:
    """Flash-attention prefill of ``q_len`` queries against ``kv_len`` keys per head."""
    e = spec.efficiency
    tensor, sfu = _rates(spec, cls, e.attn_mma)
    per_score = 2.0 * (d + dv) * BLOCK_M / tensor + BLOCK_M / sfu
    blocks = math.ceil(q_len / BLOCK_M)
    past = kv_len - q_len
    if causal:
        keys = [past + min((i + 1) * BLOCK_M, q_len) for i in range(blocks)]
    else:
        keys = [kv_len] * blocks
    over = e.attn_cta_overhead_cycles / spec.clock_hz
    per_head = sum(keys) * per_score + blocks * over
    heads = batch * hq
    longest = max(keys) * per_score + over
    total_cta = heads * per_head
    t_comp = max(
        total_cta / spec.sm_count + (0.5 * longest if heads * blocks > spec.sm_count else 0.0),
        longest,
    )
    dram = batch * hq * q_len * (d + dv) * el_bytes + batch * hkv * kv_len * (d + dv) * kv_bytes
    t_mem = dram / (spec.hbm_bytes_per_s * e.hbm)
    t = float(soft_max(t_comp, t_mem, e.roofline_p)) + e.attn_fixed_s
    return KernelEstimate(t, t_comp, t_mem, dram, f"{BLOCK_M}xkv", heads * blocks / spec.sm_count)


DECODE_CTAS_PER_SM = 2  # FlashAttention-2 sizes its split heuristic for 2 CTAs per SM


def decode_splits(base_ctas: int, kv_blocks: int, slots: int, max_splits: int = 128) -> int:
    """FlashAttention-2's ``num_splits_heuristic``: the fewest eligible splits within 85% of
    the best wave efficiency over ``slots`` CTA slots; a split count is eligible when it
    changes the number of KV blocks per split."""
    if base_ctas >= 0.8 * slots:
        return 1
    limit = max(1, min(max_splits, kv_blocks, slots))
    effs = [0.0] * (limit + 1)
    for s in range(1, limit + 1):
        if s > 1 and math.ceil(kv_blocks / s) == math.ceil(kv_blocks / (s - 1)):
            continue
        waves = base_ctas * s / slots
        effs[s] = waves / math.ceil(waves)
    best = max(effs)
    return next(s for s in range(1, limit + 1) if effs[s] > 0 and effs[s] >= 0.85 * best)


def decode_estimate(
    spec: GpuSpec,
    batch: int,
    hq: int,
    hkv: int,
    q_len: int,
    kv_len: int,
    d: int,
    dv: int,
    cls: str,
    el_bytes: float,
    kv_bytes: float,
    shared_kv: bool = False,
) -> KernelEstimate:
    """Split-KV decode attention; ``shared_kv``: values are the first ``dv`` dims of the
    keys (MLA latent), so the cache is read once."""
    e = spec.efficiency
    tensor, sfu = _rates(spec, cls, e.attn_mma)
    rows = (hq // hkv) * q_len
    row_blocks = math.ceil(rows / DECODE_ROWS)
    base = batch * hkv * row_blocks
    slots = spec.sm_count * DECODE_CTAS_PER_SM
    block_n = 256 if d <= 64 else (128 if d <= 128 else 64)
    splits = decode_splits(base, math.ceil(kv_len / block_n), slots)
    ctas = base * splits
    keys = math.ceil(kv_len / splits)
    key_bytes = (d if shared_kv else d + dv) * kv_bytes
    waves = math.ceil(ctas / slots)
    t_cta = keys * (2.0 * (d + dv) * DECODE_ROWS / tensor + rows / row_blocks / sfu)
    t_comp = waves * t_cta * DECODE_CTAS_PER_SM
    cache = batch * hkv * kv_len * key_bytes
    partial = batch * hq * q_len * dv * 4.0 * splits * 2.0 if splits > 1 else 0.0
    dram = cache + batch * hq * q_len * (d + dv) * el_bytes + partial
    t_mem = dram / (spec.hbm_bytes_per_s * (e.decode_split_hbm if splits > 1 else e.decode_hbm))
    t = float(soft_max(t_comp, t_mem, e.roofline_p)) + e.attn_fixed_s
    if splits > 1:
        t += e.splitk_fixed_s + splits * e.decode_split_s
    return KernelEstimate(t, t_comp, t_mem, dram, f"split{splits}", ctas / slots)
