"""Parameter counts and weight bytes of a model, total and activated per token.

Counts include biases, norm weights, the MoE gate and DeepSeek-V3's router bias. The
multi-token-prediction module of DeepSeek-V3 is not counted (published totals exclude it too).
Activated parameters count what one token's forward pass multiplies with: the routed experts
it uses (top-k) plus every other weight, but not the input embedding table, of which a token
touches one row. With this convention DeepSeek-V3 has 36.6B activated parameters (published:
36.7B, README_WEIGHTS), DeepSeek-V2-Lite 2.45B (published 2.4B) and Mixtral-8x7B 12.75B
(published 12.9B, which appears to include the embedding table).
"""

from __future__ import annotations

from codesign.ir.dtypes import DType
from codesign.ir.models import ParamCounts
from workloads.config import ModelConfig

__all__ = ["ParamCounts", "count_params", "weight_bytes"]


def _attention_params(cfg: ModelConfig) -> tuple[int, int]:
    """(linear weights, biases) of one attention block."""
    H = cfg.hidden_size
    if cfg.mla is not None:
        m, h = cfg.mla, cfg.num_heads
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = H * m.q_lora_rank + m.q_lora_rank * h * qk if m.q_lora_rank else H * h * qk
        kv = H * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv += m.kv_lora_rank * h * (m.qk_nope_head_dim + m.v_head_dim)
        return q + kv + h * m.v_head_dim * H, 0
    d, hq, hkv = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    lin = H * (hq + 2 * hkv) * d + hq * d * H
    bias = (hq + 2 * hkv) * d * cfg.qkv_bias + H * cfg.o_bias
    return lin, bias


def _mla_norms(cfg: ModelConfig) -> int:
    if cfg.mla is None:
        return 0
    return (cfg.mla.q_lora_rank or 0) + cfg.mla.kv_lora_rank


def _ffn_params(cfg: ModelConfig, inter: int) -> tuple[int, int]:
    """(linear weights, biases) of one dense FFN with intermediate size ``inter``."""
    H = cfg.hidden_size
    if cfg.ffn_act == "swiglu":
        return 3 * H * inter, (2 * inter + H) * cfg.mlp_bias
    return 2 * H * inter, (inter + H) * cfg.mlp_bias


def count_params(cfg: ModelConfig) -> ParamCounts:
    """Total and activated parameter counts of ``cfg``."""
    H, L = cfg.hidden_size, cfg.num_layers
    norm_w = 2 * H if cfg.norm == "layernorm" else H
    attn_lin, attn_bias = _attention_params(cfg)
    embedding = cfg.vocab_size * H + cfg.learned_positions * H
    lm_head = 0 if cfg.tie_word_embeddings else cfg.vocab_size * H
    norms = L * (2 * norm_w + _mla_norms(cfg)) + norm_w
    dense_ffn = routed = shared = gate = 0
    routed_active = 0
    biases = L * attn_bias
    n_moe = sum(cfg.is_moe_layer(i) for i in range(L))
    n_dense = L - n_moe
    lin, b = _ffn_params(cfg, cfg.intermediate_size)
    dense_ffn, biases = n_dense * lin, biases + n_dense * b
    if cfg.moe is not None and n_moe:
        moe = cfg.moe
        expert, _ = _ffn_params(cfg, moe.moe_intermediate_size)
        routed = n_moe * moe.n_routed_experts * expert
        routed_active = n_moe * moe.top_k * expert
        shared = n_moe * moe.n_shared_experts * expert
        gate = n_moe * moe.n_routed_experts * (H + (1 if moe.router_bias else 0))
    attention = L * attn_lin
    linear = attention + dense_ffn + routed + shared
    fixed = embedding + lm_head + norms + biases + attention + dense_ffn + shared + gate
    return ParamCounts(
        total=fixed + routed,
        activated=fixed + routed_active - embedding,
        embedding=embedding,
        lm_head=lm_head,
        attention=attention + L * attn_bias,
        dense_ffn=dense_ffn + n_dense * b,
        moe_routed=routed,
        moe_shared=shared,
        moe_gate=gate,
        norms=norms,
        linear=linear,
    )


def weight_bytes(
    cfg: ModelConfig, weight_dtype: DType | None = None, other_dtype: DType = DType.BF16
) -> int:
    """Bytes of all weights: linear layers at ``weight_dtype`` (default: the model's own),
    embeddings, head, norms, biases and gates at ``other_dtype``."""
    p = count_params(cfg)
    wd = weight_dtype or cfg.weight_dtype
    return int(p.linear * wd.bits / 8 + (p.total - p.linear) * other_dtype.bits / 8)
