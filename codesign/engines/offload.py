"""Routed experts placed on another pool (``PlacementSpec.experts``): a graph transform.

KTransformers-style hybrid MoE: some routed experts run on another pool (a CPU host from DRAM,
another accelerator), the rest with their stage. For each MoE layer the expert chain of the
representative rank (``*.moe.experts.gate_up_proj`` -> ``*.moe.experts.act`` ->
``*.moe.experts.down_proj``, the IR's key convention) is split in two: the stage keeps its
remaining local experts, and a copy with the offloaded experts' tokens runs on the expert
pool, fed by the dispatch and feeding the combine, so its inputs and outputs cross the link
between the pools (timed there).

Which of a rank's experts are offloaded: the placement names expert ids out of the model's
routed experts; each rank offloads the same share of its local experts (rounded to whole
experts), its first ones. Sharing: ``w`` ranks of the stage send their offloaded experts to
the ``n`` devices of the expert pool, so one expert device runs ``ceil(w / n)`` ranks' worth
(its op carries that many times the tokens). The analytical engine runs the two halves one
after the other (its serial schedule); the discrete-event engine runs the expert pool's half
on that pool's stream, in parallel with the stage's own experts, as KTransformers overlaps
CPU and GPU experts.
"""

from __future__ import annotations

import math
from dataclasses import replace

from codesign.errors import SpecError
from codesign.hw.placement import PlacementSpec, StageSpec
from codesign.ir.graph import EdgeMode, WorkloadGraph
from codesign.ir.ops import Elementwise, GroupedGemm, Op

CHAIN = ("moe.experts.gate_up_proj", "moe.experts.act", "moe.experts.down_proj")


def offload_experts(graph: WorkloadGraph, placement: PlacementSpec, phase: str,
                    num_experts: int, pool_devices: dict[str, int]) -> WorkloadGraph:
    """The graph with each MoE layer's offloaded experts on their pools (see module doc).

    Args:
        graph: the phase's graph (one stage per op, or ``meta["stages"]`` from composition).
        placement: the placement; ``placement.experts`` maps pool -> expert ids.
        num_experts: routed experts of the model.
        pool_devices: devices of each pool (expert pools share their work over them).

    Returns:
        A new graph whose ``meta["stages"]`` gives every op its stage index and
        ``meta["extra_stages"]`` the expert pools' stages (indices after the phase's).
    """
    stages = placement.stages(phase)
    keys, ops, layers = graph.topological()
    given = graph.meta.get("stages")
    owner = {k: int(given[k]) if isinstance(given, dict) else
             placement.stage_of(phase, k, x, max(y for y in layers if y is not None))
             for k, x in zip(keys, layers, strict=True)}
    nodes: list[tuple[str, Op, int | None]] = []
    new_ops: dict[str, Op] = {}
    extra: list[StageSpec] = []
    moved: dict[str, list[tuple[str, Op]]] = {}
    for pool, ids in placement.experts.items():
        share = len(set(ids)) / num_experts
        extra.append(StageSpec(pool=pool, dp=max(1, pool_devices[pool])))
        rows: dict[str, tuple[int, int]] = {}  # layer prefix -> (kept, offloaded) token rows
        for key, op, _ in zip(keys, ops, layers, strict=True):
            if not key.endswith(CHAIN):
                continue
            rank_world = stages[owner[key]].world
            fan_in = math.ceil(rank_world / max(1, pool_devices[pool]))
            prefix = key.rsplit(".moe.", 1)[0]
            kept, off = _split(new_ops.get(key, op), share, fan_in, key, rows, prefix)
            new_ops[key] = kept
            moved.setdefault(key, []).append((f"{key}@{pool}", off))
            owner[f"{key}@{pool}"] = len(stages) + len(extra) - 1
    edges: set[tuple[str, str, str, str, EdgeMode]] = set()
    g = graph.nx
    for key, op, layer in zip(keys, ops, layers, strict=True):
        nodes.append((key, new_ops.get(key, op), layer))
        for off_key, off_op in moved.get(key, ()):
            nodes.append((off_key, off_op, layer))
    for src, dst, data in g.edges(data=True):
        e = (data["src_tensor"], data["dst_tensor"], data["mode"])
        edges.add((src, dst, *e))
        for i, (s_off, _) in enumerate(moved.get(src, ())):
            if dst in moved:  # inside the chain: offloaded copy to offloaded copy
                edges.add((s_off, moved[dst][i][0], *e))
            else:  # the chain's end: offloaded copy into the combine
                edges.add((s_off, dst, *e))
        if dst in moved and src not in moved:  # the chain's start: dispatch into the copy
            for d_off, _ in moved[dst]:
                edges.add((src, d_off, *e))
    out = WorkloadGraph(graph.name, {**graph.meta, "stages": owner,
                                     "extra_stages": [st.model_dump() for st in extra]})
    out.add_bulk(nodes, sorted(edges))
    return out


def _split(op: Op, share: float, fan_in: int, key: str, rows: dict[str, tuple[int, int]],
           prefix: str) -> tuple[Op, Op]:
    """(the part that stays, the offloaded part times ``fan_in`` ranks) of an expert op; the
    activation between the grouped GEMMs takes the rows the layer's first GEMM split."""
    if isinstance(op, GroupedGemm):
        tpe = op.tokens_per_expert
        n_off = min(len(tpe), round(share * len(tpe)))
        if n_off == 0:
            raise SpecError("placement.experts", f"{key}: {share:.1%} of the routed experts "
                            f"is less than one of the {len(tpe)} experts a rank holds")
        off = tuple(t * fan_in for t in tpe[:n_off])
        kept = tpe[n_off:] or (0,)
        rows[prefix] = (sum(kept), sum(off))
        return replace(op, tokens_per_expert=kept), replace(op, tokens_per_expert=off)
    if isinstance(op, Elementwise) and prefix in rows:
        k, o = rows[prefix]
        return replace(op, tokens=max(k, 1)), replace(op, tokens=max(o, 1))
    raise SpecError("placement.experts", f"{key}: not an expert op ({op.kind})")
