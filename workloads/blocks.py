"""Shared machinery of the graph builders: per-rank sizes and layer templates.

A :class:`LayerTemplate` holds one layer's ops under local keys and their edges; the model
builder stamps it once per layer with a ``L{i}.`` prefix. Identical layers share op objects.
The layer's input (the residual stream) is referred to by the key :data:`LAYER_INPUT`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from codesign.errors import SpecError
from codesign.ir.dtypes import DType
from codesign.ir.graph import EdgeMode
from codesign.ir.ops import Op
from workloads.config import ModelConfig
from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec

LAYER_INPUT = "<in>"

#: (producer key, producer output tensor, consumer input tensor, mode)
Src = tuple[str, str, str, EdgeMode]


@dataclass(slots=True)
class LayerTemplate:
    """Ops of one layer in insertion (topological) order, with local keys."""

    nodes: list[tuple[str, Op]] = field(default_factory=list)
    edges: list[tuple[str, str, str, str, EdgeMode]] = field(default_factory=list)
    out: tuple[str, str] = ("", "")

    def add(self, op: Op, *srcs: Src) -> str:
        """Append ``op`` (keyed by its name) fed by ``srcs``; returns its key."""
        self.nodes.append((op.name, op))
        for src, st, dt, mode in srcs:
            self.edges.append((src, op.name, st, dt, mode))
        return op.name


@dataclass(frozen=True, slots=True)
class RankShape:
    """Per-rank sizes derived from model, pass and mapping. Token counts in tokens."""

    cfg: ModelConfig
    phase: PhaseSpec
    par: ParallelSpec
    opts: BuildOptions
    seqs: int  # sequences on this rank's attention group
    tokens: int  # new tokens through attention on this rank
    res_tokens: int  # tokens of the residual stream on this rank (ceil(tokens / tp) under SP)
    sp: bool  # sequence parallel inside the TP group (tp > 1 and ep > 1)
    act: DType
    weight: DType
    kv: DType

    @property
    def tp(self) -> int:
        return self.par.tp

    @property
    def hidden(self) -> int:
        return self.cfg.hidden_size

    @property
    def sp_tokens(self) -> int:
        """Rows of the TP group's full buffer: ``tokens`` padded to a multiple of ``tp`` under
        sequence parallelism (``res_tokens * tp``), else ``tokens``."""
        return self.res_tokens * self.tp if self.sp else self.tokens

    @property
    def sp_padded(self) -> bool:
        """Whether sequence parallelism pads this rank's tokens (``tokens % tp != 0``)."""
        return self.sp_tokens != self.tokens

    def compute_dtype(self) -> DType | None:
        """Tensor-core format of linear layers: FP8/FP4 weights run in that format."""
        return self.weight if self.weight != self.act else None


def rank_shape(
    cfg: ModelConfig, phase: PhaseSpec, par: ParallelSpec, opts: BuildOptions
) -> RankShape:
    """Check the mapping fits the model and derive one rank's sizes.

    Under sequence parallelism (``tp > 1`` with ``ep > 1``) the residual stream of the TP
    group's ``tokens`` is split over its ``tp`` ranks. A token count that does not divide by
    ``tp`` (a decode step of one sequence on TP8, say) is zero-padded to the next multiple of
    ``tp``, as TP+SP implementations do before the reduce-scatter (vLLM's
    ``sequence_parallel_chunk``, SGLang's DP-attention padding): each rank holds
    ``ceil(tokens / tp)`` rows, the padding rows go through the norms, the MoE (router,
    dispatch, experts, combine) and the SP collectives like real rows, and attention runs on
    the real tokens only.

    Raises:
        SpecError: a parallel degree that does not divide what it splits.
    """
    tp = par.tp
    if cfg.num_heads % tp:
        raise SpecError("parallel.tp", f"{tp} does not divide the {cfg.num_heads} attention heads")
    kvh = cfg.num_kv_heads
    if cfg.mla is None and (kvh % tp if kvh >= tp else tp % kvh):
        raise SpecError("parallel.tp", f"{tp} and the {kvh} KV heads do not divide each other")
    if cfg.intermediate_size % tp:
        raise SpecError("parallel.tp", f"{tp} does not divide intermediate size")
    moe = cfg.moe
    if moe is not None:
        slots = moe.n_routed_experts + par.redundant_experts
        if slots % par.ep:
            raise SpecError(
                "parallel.ep",
                f"{par.ep} does not divide {slots} expert slots "
                f"({moe.n_routed_experts} routed + {par.redundant_experts} redundant)",
            )
        if par.ep == 1 and moe.moe_intermediate_size % tp:
            raise SpecError("parallel.tp", f"{tp} does not divide the expert intermediate size")
    elif par.ep > 1 or par.redundant_experts:
        raise SpecError("parallel.ep", f"{cfg.name} has no experts", [1])
    if phase.batch < par.dp:
        raise SpecError("batch", f"{phase.batch} sequences cannot fill dp={par.dp} ranks")
    seqs = math.ceil(phase.batch / par.dp)
    tokens = seqs * phase.seq_len
    sp = tp > 1 and par.ep > 1
    weight = opts.weight_dtype or cfg.weight_dtype
    return RankShape(
        cfg=cfg,
        phase=phase,
        par=par,
        opts=opts,
        seqs=seqs,
        tokens=tokens,
        res_tokens=-(-tokens // tp) if sp else tokens,
        sp=sp,
        act=opts.act_dtype,
        weight=weight,
        kv=opts.kv_dtype,
    )
