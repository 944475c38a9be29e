"""``ModelConfig``: one normalised description of a transformer, parsed from HF ``config.json``.

Supported ``model_type`` values: llama, mistral, qwen2 (dense/GQA), opt (dense MHA with
learned positions and biases), mixtral (MoE, softmax top-k), deepseek_v2 and deepseek_v3 (MLA;
MoE with shared experts, group-limited routing, sigmoid scores with a selection bias on V3).
Keys a model type needs but the file lacks, and values that contradict each other (heads not
dividing the hidden size, top-k above the expert count, ...) raise :class:`SpecError` naming
the config key.
"""

from __future__ import annotations

import builtins
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from codesign.errors import SpecError
from codesign.ir.dtypes import DType

SUPPORTED_MODEL_TYPES = (
    "llama",
    "mistral",
    "qwen2",
    "opt",
    "mixtral",
    "deepseek_v2",
    "deepseek_v3",
)


class MoEConfig(BaseModel):
    """Mixture-of-experts FFN settings (counts, router and which layers are MoE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_routed_experts: int
    n_shared_experts: int = 0
    top_k: int
    moe_intermediate_size: int
    score_func: Literal["softmax", "sigmoid"] = "softmax"
    n_group: int = 1
    topk_group: int = 1
    route_scale: float = 1.0
    norm_topk_prob: bool = True
    router_bias: bool = False
    first_k_dense: int = 0
    moe_layer_freq: int = 1


class MLAConfig(BaseModel):
    """Multi-head latent attention dimensions (DeepSeek-V2/V3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


class ModelConfig(BaseModel):
    """A transformer LLM, in the fields codesign needs. Sizes in elements."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    ffn_act: Literal["swiglu", "relu", "gelu"] = "swiglu"
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    learned_positions: int = 0
    weight_dtype: DType = DType.BF16
    mla: MLAConfig | None = None
    moe: MoEConfig | None = None
    source: str = ""

    @property
    def attention_kind(self) -> Literal["mha", "gqa", "mla"]:
        if self.mla is not None:
            return "mla"
        return "mha" if self.num_kv_heads == self.num_heads else "gqa"

    def is_moe_layer(self, layer: int) -> bool:
        """Whether layer ``layer`` (0-based) has a MoE FFN (DeepSeek: after the first k dense)."""
        moe = self.moe
        if moe is None:
            return False
        return layer >= moe.first_k_dense and layer % moe.moe_layer_freq == 0

    @property
    def kv_width(self) -> int:
        """Cached elements per token per layer: K and V heads, or MLA latent plus rope key."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def kv_cache_bytes_per_token(self, kv_dtype: DType = DType.BF16) -> int:
        """KV-cache bytes one token occupies over all layers (BF16 by default)."""
        return int(self.kv_width * self.num_layers * kv_dtype.bits / 8)


# --------------------------------------------------------------------------- parsing
class _Reader:
    """Typed access to an HF config dict with errors that name the key."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def int(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        if key not in self.raw or self.raw[key] is None:
            if default is None:
                raise SpecError(f"config.{key}", "missing (required for this model_type)")
            return default
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"config.{key}", f"must be an integer, got {value!r}")
        if value < minimum:
            raise SpecError(f"config.{key}", f"must be >= {minimum}, got {value}")
        return value

    def opt_int(self, key: str) -> builtins.int | None:
        return None if self.raw.get(key) is None else self.int(key)

    def bool(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise SpecError(f"config.{key}", f"must be true or false, got {value!r}")
        return value

    def float(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SpecError(f"config.{key}", f"must be a positive number, got {value!r}")
        return float(value)

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw.get(key, default)
        if value not in allowed:
            raise SpecError(f"config.{key}", f"unsupported value {value!r}", allowed)
        return str(value)


def parse_hf_config(raw: Any, name: str, source: str = "") -> ModelConfig:
    """Build a :class:`ModelConfig` from an HF-style ``config.json`` dictionary.

    Raises:
        SpecError: unknown ``model_type``, a missing key, or contradictory values.
    """
    if not isinstance(raw, dict):
        raise SpecError("config", f"must be a JSON/YAML mapping, got {type(raw).__name__}")
    r = _Reader(raw)
    mtype = raw.get("model_type")
    if mtype not in SUPPORTED_MODEL_TYPES:
        raise SpecError("config.model_type", f"unsupported {mtype!r}", SUPPORTED_MODEL_TYPES)
    common: dict[str, Any] = {
        "name": name,
        "model_type": mtype,
        "vocab_size": r.int("vocab_size"),
        "hidden_size": r.int("hidden_size"),
        "num_layers": r.int("num_hidden_layers"),
        "num_heads": r.int("num_attention_heads"),
        "source": source or str(raw.get("_source", "")),
    }
    builder = _BUILDERS[mtype]
    fields = builder(r, common)
    _check_heads(fields)
    cfg = ModelConfig(**fields)
    _check_consistency(cfg)
    return cfg


def _head_dim(r: _Reader, hidden: int, heads: int) -> int:
    if r.raw.get("head_dim") is not None:
        return r.int("head_dim")
    if hidden % heads:
        raise SpecError(
            "config.num_attention_heads",
            f"{heads} heads do not divide hidden_size {hidden} (and no head_dim is given)",
        )
    return hidden // heads


def _llama_like(r: _Reader, c: dict[str, Any]) -> dict[str, Any]:
    heads = c["num_heads"]
    r.choice("hidden_act", "silu", ("silu", "swish"))
    out = dict(c)
    out.update(
        num_kv_heads=r.int("num_key_value_heads", heads),
        head_dim=_head_dim(r, c["hidden_size"], heads),
        intermediate_size=r.int("intermediate_size"),
        qkv_bias=r.bool("attention_bias", c["model_type"] == "qwen2"),
        o_bias=r.bool("attention_bias", False) if c["model_type"] != "qwen2" else False,
        mlp_bias=r.bool("mlp_bias", False),
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
    )
    return out


def _mixtral(r: _Reader, c: dict[str, Any]) -> dict[str, Any]:
    out = _llama_like(r, c)
    out["moe"] = MoEConfig(
        n_routed_experts=r.int("num_local_experts"),
        top_k=r.int("num_experts_per_tok"),
        moe_intermediate_size=out["intermediate_size"],
        score_func="softmax",
        norm_topk_prob=True,
    )
    return out


def _opt(r: _Reader, c: dict[str, Any]) -> dict[str, Any]:
    hidden = c["hidden_size"]
    if r.raw.get("word_embed_proj_dim", hidden) != hidden:
        raise SpecError("config.word_embed_proj_dim", "must equal hidden_size (no projection)")
    if not r.bool("do_layer_norm_before", True):
        raise SpecError("config.do_layer_norm_before", "only pre-norm OPT is supported", [True])
    act = r.choice("activation_function", "relu", ("relu", "gelu"))
    bias = r.bool("enable_bias", True)
    out = dict(c)
    out.update(
        num_kv_heads=c["num_heads"],
        head_dim=_head_dim(r, hidden, c["num_heads"]),
        intermediate_size=r.int("ffn_dim"),
        ffn_act=act,
        norm="layernorm",
        qkv_bias=bias,
        o_bias=bias,
        mlp_bias=bias,
        tie_word_embeddings=r.bool("tie_word_embeddings", True),
        learned_positions=r.int("max_position_embeddings") + 2,  # OPT offsets positions by 2
    )
    return out


def _deepseek(r: _Reader, c: dict[str, Any]) -> dict[str, Any]:
    v3 = c["model_type"] == "deepseek_v3"
    out = dict(c)
    mla = MLAConfig(
        q_lora_rank=r.opt_int("q_lora_rank"),
        kv_lora_rank=r.int("kv_lora_rank"),
        qk_nope_head_dim=r.int("qk_nope_head_dim"),
        qk_rope_head_dim=r.int("qk_rope_head_dim"),
        v_head_dim=r.int("v_head_dim"),
    )
    score = r.choice("scoring_func", "sigmoid" if v3 else "softmax", ("softmax", "sigmoid"))
    topk_method = r.choice(
        "topk_method",
        "noaux_tc" if v3 else "greedy",
        ("greedy", "group_limited_greedy", "noaux_tc"),
    )
    moe = None
    if r.raw.get("n_routed_experts"):
        moe = MoEConfig(
            n_routed_experts=r.int("n_routed_experts"),
            n_shared_experts=r.int("n_shared_experts", 0, minimum=0),
            top_k=r.int("num_experts_per_tok"),
            moe_intermediate_size=r.int("moe_intermediate_size"),
            score_func=score,  # type: ignore[arg-type]
            n_group=r.int("n_group", 1),
            topk_group=r.int("topk_group", 1),
            route_scale=r.float("routed_scaling_factor", 1.0),
            norm_topk_prob=r.bool("norm_topk_prob", v3),
            router_bias=topk_method == "noaux_tc",
            first_k_dense=r.int("first_k_dense_replace", 0, minimum=0),
            moe_layer_freq=r.int("moe_layer_freq", 1),
        )
    quant = r.raw.get("quantization_config") or {}
    weight_dtype = DType.BF16
    if isinstance(quant, dict) and quant.get("quant_method") == "fp8":
        weight_dtype = DType.parse(quant.get("fmt", "e4m3"), "config.quantization_config.fmt")
    out.update(
        num_kv_heads=r.int("num_key_value_heads", c["num_heads"]),
        head_dim=mla.qk_nope_head_dim + mla.qk_rope_head_dim,
        intermediate_size=r.int("intermediate_size"),
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
        weight_dtype=weight_dtype,
        mla=mla,
        moe=moe,
    )
    return out


_BUILDERS = {
    "llama": _llama_like,
    "mistral": _llama_like,
    "qwen2": _llama_like,
    "mixtral": _mixtral,
    "opt": _opt,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
}


def _check_heads(f: dict[str, Any]) -> None:
    if f["num_heads"] % f["num_kv_heads"]:
        raise SpecError(
            "config.num_key_value_heads",
            f"{f['num_kv_heads']} does not divide num_attention_heads {f['num_heads']}",
        )


def _check_consistency(cfg: ModelConfig) -> None:
    moe = cfg.moe
    if moe is None:
        return
    key = "num_experts_per_tok"
    if moe.top_k > moe.n_routed_experts:
        experts = "num_local_experts" if cfg.model_type == "mixtral" else "n_routed_experts"
        raise SpecError(
            f"config.{key}",
            f"top-k {moe.top_k} exceeds the {moe.n_routed_experts} experts ({experts})",
        )
    if moe.n_routed_experts % moe.n_group:
        raise SpecError("config.n_group", f"{moe.n_group} does not divide {moe.n_routed_experts}")
    if moe.topk_group > moe.n_group:
        raise SpecError("config.topk_group", f"{moe.topk_group} exceeds n_group {moe.n_group}")
    if moe.top_k > moe.topk_group * (moe.n_routed_experts // moe.n_group):
        raise SpecError(f"config.{key}", "exceeds the experts in the top-k groups")
    if moe.first_k_dense > cfg.num_layers:
        raise SpecError("config.first_k_dense_replace", "exceeds num_hidden_layers")
