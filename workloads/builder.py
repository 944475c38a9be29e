"""Assemble a model's :class:`~codesign.ir.graph.WorkloadGraph` for one pass on one rank.

The graph is: embedding (and learned positions for OPT), then ``num_layers`` layers stamped
from at most two templates (dense and MoE; ops shared between identical layers), then the
final norm and the LM head. Each layer is pre-norm: norm, attention (GQA/MHA or MLA), TP
reduction, residual add, norm, FFN (dense or MoE), residual add.

Not built: DeepSeek-V3's multi-token-prediction module; sampling; the all-gather of
vocabulary-parallel logits.
"""

from __future__ import annotations

import math

from codesign.ir.graph import WorkloadGraph
from codesign.ir.ops import (
    AllGather,
    AllReduce,
    Elementwise,
    Embedding,
    LmHead,
    Op,
    ReduceScatter,
)
from workloads.blocks import LAYER_INPUT, LayerTemplate, RankShape, Src, rank_shape
from workloads.config import ModelConfig
from workloads.mla.builder import build_mla_attention
from workloads.moe.builder import build_moe_ffn
from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec
from workloads.transformer.builder import Ref, build_dense_ffn, build_gqa_attention, norm_op


def _tp_reduce(t: LayerTemplate, rs: RankShape, src: Ref, name: str) -> Ref:
    """Sum tp partial outputs of the rank's tokens: all-reduce, or reduce-scatter under
    sequence parallelism (of the tokens zero-padded to a multiple of tp, see
    :func:`workloads.blocks.rank_shape`)."""
    if rs.tp == 1:
        return src
    if rs.sp:
        op: Op = ReduceScatter(name, rs.sp_tokens * rs.hidden, rs.tp, rs.act)
        return (t.add(op, (*src, "x", "pad" if rs.sp_padded else "same")), "y")
    return (t.add(AllReduce(name, rs.tokens * rs.hidden, rs.tp, rs.act), (*src, "x", "same")), "y")


def build_layer_template(rs: RankShape, moe: bool) -> LayerTemplate:
    """One transformer layer on one rank, keyed locally."""
    t = LayerTemplate()
    H, res = rs.hidden, rs.res_tokens
    norm = t.add(norm_op(rs, "attn_norm", res, H), (LAYER_INPUT, "y", "x0", "same"))
    x: Ref = (norm, "y")
    gather = ""
    if rs.sp:
        gather = t.add(AllGather("attn.sp_all_gather", res * H, rs.tp, rs.act), (*x, "x", "same"))
        x = (gather, "y")
    first = len(t.edges)
    if rs.cfg.mla is not None:
        form = rs.opts.mla_form or ("naive" if rs.phase.phase == "prefill" else "absorbed")
        o = build_mla_attention(t, rs, x, form)
    else:
        o = build_gqa_attention(t, rs, x)
    if rs.sp_padded:  # attention reads the real tokens of the gathered, padded buffer
        t.edges[first:] = [(s, d, st, dt, "slice" if s == gather else m)
                           for s, d, st, dt, m in t.edges[first:]]
    o = _tp_reduce(t, rs, o, "attn.tp_reduce")
    h1 = t.add(
        Elementwise("attn.residual", "add", res, (H, H), H, rs.act),
        (*o, "x0", "same"),
        (LAYER_INPUT, "y", "x1", "same"),
    )
    fn = t.add(norm_op(rs, "ffn_norm", res, H), (h1, "y", "x0", "same"))
    outs = build_moe_ffn(t, rs, (fn, "y")) if moe else [build_dense_ffn(t, rs, (fn, "y"))]
    srcs: list[Src] = [(*o_, f"x{i}", "same") for i, o_ in enumerate([*outs, (h1, "y")])]
    out = t.add(Elementwise("ffn.residual", "add", res, (H,) * len(srcs), H, rs.act), *srcs)
    t.out = (out, "y")
    return t


def build_model_graph(
    cfg: ModelConfig,
    phase: PhaseSpec,
    parallel: ParallelSpec | None = None,
    options: BuildOptions | None = None,
) -> WorkloadGraph:
    """The graph of one forward pass on one rank.

    Args:
        cfg: the model.
        phase: prefill or decode, batch and lengths.
        parallel: TP/DP/EP mapping (default: one device).
        options: dtypes and MLA form.

    Raises:
        SpecError: a mapping that does not fit the model or batch.
    """
    par = parallel or ParallelSpec()
    opts = options or BuildOptions()
    rs = rank_shape(cfg, phase, par, opts)
    g = WorkloadGraph(
        f"{cfg.name}/{phase.phase}/b{phase.batch}/s{phase.seq_len}/c{phase.context_len}",
        meta={
            "model": cfg.name,
            "phase": phase.model_dump(),
            "parallel": par.model_dump(),
            "options": opts.model_dump(mode="json"),
            "rank_tokens": rs.tokens,
            "rank_sequences": rs.seqs,
            "residual_tokens": rs.res_tokens,
        },
    )
    head = LayerTemplate()
    prev = _build_embedding(head, rs)
    nodes: list[tuple[str, Op, int | None]] = [(k, op, None) for k, op in head.nodes]
    edges = list(head.edges)
    templates: dict[bool, LayerTemplate] = {}
    for layer in range(cfg.num_layers):
        kind = cfg.is_moe_layer(layer)
        if kind not in templates:
            templates[kind] = build_layer_template(rs, kind)
        t = templates[kind]
        p = f"L{layer}."
        nodes.extend((p + k, op, layer) for k, op in t.nodes)
        for s, d, st, dt, mode in t.edges:
            if s == LAYER_INPUT:
                edges.append((prev[0], p + d, prev[1], dt, mode))
            else:
                edges.append((p + s, p + d, st, dt, mode))
        prev = (p + t.out[0], t.out[1])
    tail = LayerTemplate()
    final = tail.add(
        norm_op(rs, "final_norm", rs.res_tokens, rs.hidden), ("<prev>", prev[1], "x0", "same")
    )
    rows = rs.seqs if phase.logits == "last" else rs.tokens
    if rs.sp:
        rows = math.ceil(rows / rs.tp)
    vocab = math.ceil(cfg.vocab_size / rs.tp)
    tail.add(
        LmHead(
            "lm_head",
            m=rows,
            n=vocab,
            k=rs.hidden,
            a_dtype=rs.act,
            b_dtype=rs.act,
            out_dtype=rs.act,
        ),
        (final, "y", "a", "slice"),
    )
    nodes.extend((k, op, None) for k, op in tail.nodes)
    edges.extend((prev[0] if s == "<prev>" else s, d, st, dt, m) for s, d, st, dt, m in tail.edges)
    g.add_bulk(nodes, edges)
    return g


def _build_embedding(t: LayerTemplate, rs: RankShape) -> Ref:
    """Token embedding (vocabulary split over tp, then summed) and learned positions."""
    cfg, H = rs.cfg, rs.hidden
    emb = t.add(Embedding("embed", rs.tokens, math.ceil(cfg.vocab_size / rs.tp), H, rs.act))
    x: Ref = _tp_reduce(t, rs, (emb, "x"), "embed.tp_reduce")
    if cfg.learned_positions:
        pos = t.add(Embedding("pos_embed", rs.res_tokens, cfg.learned_positions, H, rs.act))
        x = (
            t.add(
                Elementwise("embed.add_pos", "add", rs.res_tokens, (H, H), H, rs.act),
                (*x, "x0", "same"),
                (pos, "x", "x1", "same"),
            ),
            "y",
        )
    return x
