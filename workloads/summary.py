"""Plain-data summaries of a model and of one of its graphs (what ``codesign models show``
prints). All sizes in elements or bytes, FLOPs in operations."""

from __future__ import annotations

from typing import Any

from codesign.ir.graph import WorkloadGraph
from workloads.builder import build_model_graph
from workloads.config import ModelConfig
from workloads.params import count_params, weight_bytes
from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec


def describe_graph(g: WorkloadGraph, tokens_per_rank: float) -> dict[str, Any]:
    """Totals of one rank's graph ``g``.

    ``tokens_per_rank`` is the deployment's new tokens divided by its ranks, so that
    ``flops_per_token`` is the whole deployment's FLOPs per token when ranks are symmetric.
    """
    tot = g.totals()
    return {
        "op_count": tot.op_count,
        "edge_count": g.nx.number_of_edges(),
        "flops": tot.flops,
        "flops_per_token": tot.flops / tokens_per_rank,
        "bytes_read": tot.bytes_read,
        "bytes_written": tot.bytes_written,
        "weight_bytes_read": tot.weight_bytes_read,
        "kv_bytes_read": tot.kv_bytes_read,
        "comm_send_bytes": tot.comm_send_bytes,
        "ops_by_kind": dict(sorted(tot.ops_by_kind.items())),
        "flops_by_kind": dict(sorted(tot.flops_by_kind.items())),
    }


def describe_model(
    cfg: ModelConfig,
    phase: PhaseSpec,
    parallel: ParallelSpec | None = None,
    options: BuildOptions | None = None,
) -> dict[str, Any]:
    """Model facts plus the totals of its graph for ``phase`` on one rank."""
    p = count_params(cfg)
    g = build_model_graph(cfg, phase, parallel, options)
    g.validate()
    world = (parallel or ParallelSpec()).world
    graph = describe_graph(g, phase.tokens / world)
    graph.update(
        {
            "phase": phase.model_dump(),
            "parallel": g.meta["parallel"],
            "options": g.meta["options"],
            "rank_tokens": g.meta["rank_tokens"],
        }
    )
    moe = cfg.moe.model_dump() if cfg.moe else None
    return {
        "name": cfg.name,
        "model_type": cfg.model_type,
        "attention": cfg.attention_kind,
        "layers": cfg.num_layers,
        "moe_layers": sum(cfg.is_moe_layer(i) for i in range(cfg.num_layers)),
        "hidden_size": cfg.hidden_size,
        "heads": cfg.num_heads,
        "kv_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "params_total": p.total,
        "params_activated": p.activated,
        "params": p.as_dict(),
        "weight_dtype": str(cfg.weight_dtype),
        "weight_bytes": weight_bytes(cfg),
        "kv_cache_bytes_per_token": cfg.kv_cache_bytes_per_token(),
        "mla": cfg.mla.model_dump() if cfg.mla else None,
        "moe": moe,
        "op_count": graph["op_count"],
        "flops_per_token": graph["flops_per_token"],
        "graph": graph,
        "source": cfg.source,
    }
