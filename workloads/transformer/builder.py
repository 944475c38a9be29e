"""Graph blocks of dense transformers: GQA/MHA attention, dense FFN, norms.

All sizes are one rank's share (see :class:`workloads.blocks.RankShape`).
"""

from __future__ import annotations

from codesign.ir.ops import (
    AllReduce,
    Attention,
    Elementwise,
    Gemm,
    KvCacheWrite,
)
from workloads.blocks import LayerTemplate, RankShape

Ref = tuple[str, str]  # (op key, output tensor)


def norm_op(rs: RankShape, name: str, tokens: int, width: int) -> Elementwise:
    """The model's norm (RMSNorm or LayerNorm with bias) over ``[tokens, width]``."""
    func = rs.cfg.norm
    gamma = width * (2 if func == "layernorm" else 1)
    return Elementwise(name, func, tokens, (width,), width, rs.act, weight_width=gamma)


def linear(rs: RankShape, name: str, m: int, n: int, k: int) -> Gemm:
    """A linear layer ``[m, k] @ [k, n]`` with the model's weight format."""
    return Gemm(
        name,
        m=m,
        n=n,
        k=k,
        a_dtype=rs.act,
        b_dtype=rs.weight,
        out_dtype=rs.act,
        compute_dtype=rs.compute_dtype(),
    )


def build_gqa_attention(t: LayerTemplate, rs: RankShape, x: Ref) -> Ref:
    """Fused QKV projection, rotary embedding, KV-cache write, attention and output projection.

    Heads are split over ``tp`` ranks; KV heads fewer than ``tp`` are replicated (one per rank).
    Returns the output projection (partial sums when ``tp > 1``).
    """
    cfg, tp, T = rs.cfg, rs.tp, rs.tokens
    d = cfg.head_dim
    hq = cfg.num_heads // tp
    hkv = max(cfg.num_kv_heads // tp, 1)
    width = (hq + 2 * hkv) * d
    qkv = t.add(linear(rs, "attn.qkv_proj", T, width, rs.hidden), (*x, "a", "same"))
    q_src = k_src = (qkv, "c")
    if cfg.learned_positions == 0:  # rotary embedding on q and k
        rope = t.add(
            Elementwise(
                "attn.rope", "rope", T, (width,), width, rs.act, flops_per_token=3 * (hq + hkv) * d
            ),
            (qkv, "c", "x0", "same"),
        )
        q_src = k_src = (rope, "y")
    cache = t.add(
        KvCacheWrite("attn.kv_cache_write", T, (hkv * d, hkv * d), rs.act, rs.kv),
        (*k_src, "x0", "slice"),
        (qkv, "c", "x1", "slice"),
    )
    ph = rs.phase
    core = t.add(
        Attention(
            "attn.core",
            ph.phase,
            rs.seqs,
            ph.seq_len,
            ph.kv_len,
            hq,
            hkv,
            d,
            dtype=rs.act,
            kv_dtype=rs.kv,
        ),
        (*q_src, "q", "slice"),
        (cache, "c0", "k_cache", "append"),
        (cache, "c1", "v_cache", "append"),
    )
    o = t.add(linear(rs, "attn.o_proj", T, rs.hidden, hq * d), (core, "o", "a", "same"))
    return (o, "c")


def build_dense_ffn(t: LayerTemplate, rs: RankShape, x: Ref, prefix: str = "ffn") -> Ref:
    """SwiGLU (gate and up fused) or a two-matrix ReLU/GELU MLP, intermediate split over tp.

    Under sequence parallelism (``tp > 1`` with expert parallelism) the FFN runs unsplit on
    the rank's share of the tokens; otherwise an all-reduce sums the tp partial outputs.
    """
    cfg, H = rs.cfg, rs.hidden
    split = 1 if rs.sp else rs.tp
    inter = cfg.intermediate_size // split
    m = rs.res_tokens
    if cfg.ffn_act == "swiglu":
        up = t.add(linear(rs, f"{prefix}.gate_up_proj", m, 2 * inter, H), (*x, "a", "same"))
        act = t.add(
            Elementwise(f"{prefix}.act", "silu_mul", m, (2 * inter,), inter, rs.act),
            (up, "c", "x0", "same"),
        )
    else:
        up = t.add(linear(rs, f"{prefix}.fc1", m, inter, H), (*x, "a", "same"))
        act = t.add(
            Elementwise(f"{prefix}.act", cfg.ffn_act, m, (inter,), inter, rs.act),
            (up, "c", "x0", "same"),
        )
    down = t.add(linear(rs, f"{prefix}.down_proj", m, H, inter), (act, "y", "a", "same"))
    if split > 1:
        down = t.add(
            AllReduce(f"{prefix}.all_reduce", m * H, split, rs.act), (down, "c", "x", "same")
        )
        return (down, "y")
    return (down, "c")
