"""The transformer workload family as the core sees it (``codesign.ir.models.WORKLOADS``)."""

from __future__ import annotations

import math
from typing import Any

from codesign.errors import SpecError
from codesign.hw.placement import ParallelSpec
from codesign.ir import models as contract
from codesign.ir.dtypes import DType
from codesign.ir.graph import WorkloadGraph
from codesign.ir.models import WORKLOADS, MemoryFootprint, ParamCounts
from codesign.ir.spec import BuildOptions, PhaseSpec
from workloads import registry
from workloads.builder import build_model_graph
from workloads.config import ModelConfig
from workloads.params import count_params

#: live activation tensors of the widest layer counted in a pass's workspace (residual,
#: normed input, the projection output and one temporary): an estimate
ACTIVATION_TENSORS = 4


def own_config(cfg: contract.ModelConfig) -> ModelConfig:
    """``cfg`` as this family's config.

    Raises:
        SpecError: a config of another family.
    """
    if not isinstance(cfg, ModelConfig):
        raise SpecError("model", f"not a transformer config: {type(cfg).__name__}")
    return cfg


class TransformerFamily:
    """Dense, GQA, MLA and MoE transformers (``workloads``)."""

    def names(self) -> list[str]:
        return registry.model_names()

    def load(self, name_or_path: str, field: str = "model") -> ModelConfig:
        # looked up on the module at call time, so a patched ``registry.load_model`` is used
        return registry.load_model(name_or_path, field)

    def build_graph(self, cfg: contract.ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                    options: BuildOptions) -> WorkloadGraph:
        return build_model_graph(own_config(cfg), phase, parallel, options)

    def num_experts(self, cfg: contract.ModelConfig) -> int | None:
        moe = own_config(cfg).moe
        return moe.n_routed_experts if moe is not None else None

    def count_params(self, cfg: contract.ModelConfig) -> ParamCounts:
        return count_params(own_config(cfg))

    def describe(self, cfg: contract.ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                 options: BuildOptions) -> dict[str, Any]:
        from workloads.summary import describe_model

        return describe_model(own_config(cfg), phase, parallel, options)

    def footprint(self, cfg: contract.ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                  options: BuildOptions, layers: tuple[int, int] | None = None,
                  ops: str = "all", routed_share: float = 1.0) -> MemoryFootprint:
        """Weights, KV cache and activations of the busiest rank (see
        :func:`rank_footprint`)."""
        return rank_footprint(own_config(cfg), phase, parallel, options, layers, ops,
                              routed_share)


def rank_footprint(cfg: ModelConfig, phase: PhaseSpec, par: ParallelSpec,
                   options: BuildOptions, layers: tuple[int, int] | None = None,
                   ops: str = "all", routed_share: float = 1.0) -> MemoryFootprint:
    """Bytes on the busiest rank of a stage.

    Routed experts (with ``redundant_experts`` replicas) are split over ``ep`` ranks (over
    ``tp`` when ``ep == 1``); other linear layers and the remaining weights over ``tp``; the
    KV cache of ``ceil(batch / dp)`` sequences of ``context + seq`` tokens over
    ``min(tp, kv heads)`` (MLA's latent cache is replicated over TP ranks). A stage holding
    ``layers`` holds that fraction of the layer weights and KV; the embedding goes with
    layer 0 and the LM head with the last layer. An ``attention`` stage holds the attention
    weights and the KV cache, an ``ffn`` stage the FFN weights and no KV; ``experts`` is a
    pool holding only routed experts (``routed_share`` of them, split over ``ep``), and any
    stage holds ``routed_share`` of its routed experts. Activations:
    :data:`ACTIVATION_TENSORS` tensors of the rank's tokens at the widest per-rank width
    (an estimate; workspaces of attention kernels and the CUDA context are not counted).
    """
    p = count_params(cfg)
    w = (options.weight_dtype or cfg.weight_dtype).bits / 8
    other = options.act_dtype.bits / 8
    tp, ep = par.tp, par.ep
    routed = float(p.moe_routed) * w * routed_share
    if cfg.moe is not None and p.moe_routed:
        slots = cfg.moe.n_routed_experts + par.redundant_experts
        routed = routed * slots / cfg.moe.n_routed_experts / (ep if ep > 1 else tp)
    attn = p.attention * w / tp
    ffn = (p.dense_ffn + p.moe_shared) * w / tp + routed + p.moe_gate * other
    norms = p.norms * other
    L = cfg.num_layers
    a, b = layers if layers is not None else (0, L)
    frac = (b - a) / L
    if ops == "experts":
        return MemoryFootprint(routed * frac, 0.0, 0.0)
    weights = {"all": attn + ffn, "attention": attn, "ffn": ffn}[ops] * frac
    weights += norms * frac
    if a == 0 and ops in ("all", "attention"):
        weights += p.embedding * other / tp
    if b == L and ops in ("all", "ffn"):
        weights += p.lm_head * other / tp
    kv_split = 1 if cfg.mla is not None else min(tp, cfg.num_kv_heads)
    seqs = math.ceil(phase.batch / par.dp)
    kv_dtype: DType = options.kv_dtype
    kv = (cfg.kv_cache_bytes_per_token(kv_dtype) * seqs * phase.kv_len / kv_split * frac
          if ops in ("all", "attention") else 0.0)
    tokens = seqs * phase.seq_len
    width = max(cfg.hidden_size, cfg.num_heads * cfg.head_dim // tp,
                2 * cfg.intermediate_size // tp)
    act = ACTIVATION_TENSORS * tokens * width * other
    return MemoryFootprint(weights, kv, act)


WORKLOADS.register("transformer", TransformerFamily)
