"""Graph block of DeepSeek Multi-head Latent Attention, naive or weight-absorbed.

Per rank, heads are split over ``tp``; the down-projections (``q_a_proj``, ``kv_a_proj``) are
replicated. The cache holds the normalised latent and the roped shared key per token.

* ``absorbed`` (DeepSeek decode): ``W_UK`` is folded into the query (``q_absorb``, a GEMM
  batched over heads), attention runs on the latent, ``W_UV`` is applied after (``v_absorb``).
  The absorbed weights are kept in BF16, as serving stacks do.
* ``naive`` (DeepSeek prefill): ``kv_b_proj`` decompresses the cached latent of all
  ``kv_len`` tokens into per-head keys and values, then plain multi-head attention.
"""

from __future__ import annotations

from codesign.ir.ops import Elementwise, Gemm, KvCacheWrite, MlaAttention
from codesign.ir.tensors import KV
from workloads.blocks import LayerTemplate, RankShape
from workloads.transformer.builder import Ref, linear, norm_op


def build_mla_attention(t: LayerTemplate, rs: RankShape, x: Ref, form: str) -> Ref:
    """Append MLA to ``t``; returns the output projection (tp partial sums)."""
    cfg, T, H = rs.cfg, rs.tokens, rs.hidden
    mla = cfg.mla
    assert mla is not None
    h = cfg.num_heads // rs.tp
    nope, rope, r, v = (
        mla.qk_nope_head_dim,
        mla.qk_rope_head_dim,
        mla.kv_lora_rank,
        mla.v_head_dim,
    )
    qw = h * (nope + rope)
    if mla.q_lora_rank:
        qa = t.add(linear(rs, "attn.q_a_proj", T, mla.q_lora_rank, H), (*x, "a", "same"))
        qn = t.add(norm_op(rs, "attn.q_a_norm", T, mla.q_lora_rank), (qa, "c", "x0", "same"))
        q = t.add(linear(rs, "attn.q_b_proj", T, qw, mla.q_lora_rank), (qn, "y", "a", "same"))
    else:
        q = t.add(linear(rs, "attn.q_proj", T, qw, H), (*x, "a", "same"))
    kva = t.add(linear(rs, "attn.kv_a_proj", T, r + rope, H), (*x, "a", "same"))
    kvn = t.add(
        Elementwise(
            "attn.kv_norm_rope",
            "rmsnorm_rope",
            T,
            (r + rope,),
            r + rope,
            rs.act,
            weight_width=r,
            flops_per_token=4 * r + 3 * rope,
        ),
        (kva, "c", "x0", "same"),
    )
    qr = t.add(
        Elementwise("attn.q_rope", "rope", T, (qw,), qw, rs.act, flops_per_token=3 * h * rope),
        (q, "c", "x0", "same"),
    )
    cache = t.add(
        KvCacheWrite("attn.kv_cache_write", T, (r + rope,), rs.act, rs.kv), (kvn, "y", "x0", "same")
    )
    ph = rs.phase
    dims = dict(
        phase=ph.phase,
        form=form,
        batch=rs.seqs,
        q_len=ph.seq_len,
        kv_len=ph.kv_len,
        heads=h,
        kv_lora_rank=r,
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=v,
        dtype=rs.act,
        kv_dtype=rs.kv,
    )
    if form == "absorbed":
        qa_ = t.add(
            Gemm(
                "attn.q_absorb",
                m=T,
                n=r,
                k=nope,
                batch=h,
                a_dtype=rs.act,
                b_dtype=rs.act,
                out_dtype=rs.act,
            ),
            (qr, "y", "a", "slice"),
        )
        core = t.add(
            MlaAttention("attn.core", **dims),  # type: ignore[arg-type]
            (qa_, "c", "q_latent", "same"),
            (qr, "y", "q_pe", "slice"),
            (cache, "c0", "latent_cache", "append"),
        )
        va = t.add(
            Gemm(
                "attn.v_absorb",
                m=T,
                n=v,
                k=r,
                batch=h,
                a_dtype=rs.act,
                b_dtype=rs.act,
                out_dtype=rs.act,
            ),
            (core, "o", "a", "same"),
        )
        o = t.add(linear(rs, "attn.o_proj", T, H, h * v), (va, "c", "a", "same"))
        return (o, "c")
    rows = rs.seqs * ph.kv_len
    kvb = t.add(
        Gemm(
            "attn.kv_b_proj",
            m=rows,
            n=h * (nope + v),
            k=r,
            a_dtype=rs.kv,
            b_dtype=rs.weight,
            out_dtype=rs.act,
            compute_dtype=rs.compute_dtype(),
            a_role=KV,
        ),
        (cache, "c0", "a", "append"),
    )
    core = t.add(
        MlaAttention("attn.core", **dims),  # type: ignore[arg-type]
        (qr, "y", "q", "same"),
        (kvb, "c", "k_nope", "slice"),
        (cache, "c0", "k_pe", "append"),
        (kvb, "c", "v", "slice"),
    )
    o = t.add(linear(rs, "attn.o_proj", T, H, h * v), (core, "o", "a", "same"))
    return (o, "c")
