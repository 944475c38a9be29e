"""Graph block of a mixture-of-experts FFN: gate, router, shared experts, dispatch, expert
GEMMs (grouped), combine.

Tokens per expert on a rank follow the expectation under uniform routing: each of the rank's
``m * top_k`` received rows lands on one of its local expert slots; the number of slots that
receive any token is the expected number of distinct slots hit when ``m * ep`` tokens each
pick ``top_k`` of ``E + redundant`` slots, and the rows spread evenly over those. This is an
approximation of real routing (which is skewed); a skewed distribution can be passed to
:func:`build_moe_ffn` directly.
"""

from __future__ import annotations

from codesign.ir.dtypes import DType
from codesign.ir.ops import AllReduce, Combine, Dispatch, Elementwise, Gemm, GroupedGemm, Router
from workloads.blocks import LayerTemplate, RankShape
from workloads.transformer.builder import Ref, linear


def expected_tokens_per_expert(
    rows: int, slots: int, tokens_global: int, top_k: int, slots_global: int
) -> tuple[int, ...]:
    """Rows per local expert slot under uniform routing (see module docstring).

    Args:
        rows: (token, expert) rows this rank receives.
        slots: expert slots on this rank.
        tokens_global: tokens routed over all ranks.
        top_k: experts per token.
        slots_global: expert slots over all ranks.
    """
    if rows == 0:
        return (0,) * slots
    p_miss = (1.0 - top_k / slots_global) ** tokens_global
    active = min(slots, rows, max(1, round(slots * (1.0 - p_miss))))
    base, extra = divmod(rows, active)
    return tuple([base + 1] * extra + [base] * (active - extra) + [0] * (slots - active))


def build_moe_ffn(
    t: LayerTemplate, rs: RankShape, x: Ref, tokens_per_expert: tuple[int, ...] | None = None
) -> list[Ref]:
    """Append a MoE FFN fed by the normed hidden state ``x``.

    With ``ep == 1`` every expert's intermediate dimension is split over ``tp`` and the
    routed and shared outputs are summed and all-reduced; with ``ep > 1`` each rank holds
    ``(E + redundant) / ep`` whole experts and a full copy of the shared experts.

    Returns:
        the tensors the residual add must sum (routed output, shared output if any).
    """
    cfg, par, H = rs.cfg, rs.par, rs.hidden
    moe = cfg.moe
    assert moe is not None
    E, k, ep = moe.n_routed_experts, moe.top_k, par.ep
    m = rs.res_tokens
    split = rs.tp if ep == 1 else 1
    inter = moe.moe_intermediate_size // split
    gate = t.add(
        Gemm("moe.gate", m=m, n=E, k=H, a_dtype=rs.act, b_dtype=rs.act, out_dtype=DType.FP32),
        (*x, "a", "same"),
    )
    router = t.add(
        Router(
            "moe.router",
            m,
            E,
            k,
            moe.score_func,
            moe.n_group,
            moe.topk_group,
            moe.router_bias,
            moe.norm_topk_prob,
            moe.route_scale,
        ),
        (gate, "c", "logits", "same"),
    )
    outs: list[Ref] = []
    if moe.n_shared_experts:
        si = moe.n_shared_experts * inter
        up = t.add(linear(rs, "moe.shared.gate_up_proj", m, 2 * si, H), (*x, "a", "same"))
        act = t.add(
            Elementwise("moe.shared.act", "silu_mul", m, (2 * si,), si, rs.act),
            (up, "c", "x0", "same"),
        )
        down = t.add(linear(rs, "moe.shared.down_proj", m, H, si), (act, "y", "a", "same"))
        outs.append((down, "c"))
    slots_global = E + par.redundant_experts
    slots = slots_global // ep
    rows = m * k
    tpe = tokens_per_expert or expected_tokens_per_expert(rows, slots, m * ep, k, slots_global)
    wire = rs.opts.dispatch_dtype or (DType.FP8_E4M3 if rs.weight.bits <= 8 else rs.act)
    disp = t.add(
        Dispatch("moe.dispatch", m, k, H, sum(tpe), ep, rs.act, wire),
        (*x, "x", "same"),
        (router, "topk_ids", "topk_ids", "same"),
    )
    cd = rs.compute_dtype()
    up = t.add(
        GroupedGemm(
            "moe.experts.gate_up_proj",
            tpe,
            2 * inter,
            H,
            a_dtype=wire,
            b_dtype=rs.weight,
            out_dtype=rs.act,
            compute_dtype=cd,
        ),
        (disp, "x_recv", "x", "same"),
    )
    act = t.add(
        Elementwise("moe.experts.act", "silu_mul", sum(tpe), (2 * inter,), inter, rs.act),
        (up, "y", "x0", "same"),
    )
    down = t.add(
        GroupedGemm(
            "moe.experts.down_proj",
            tpe,
            H,
            inter,
            a_dtype=rs.act,
            b_dtype=rs.weight,
            out_dtype=rs.act,
            compute_dtype=cd,
        ),
        (act, "y", "x", "same"),
    )
    comb = t.add(
        Combine("moe.combine", m, k, H, sum(tpe), ep, rs.act),
        (down, "y", "y", "same"),
        (router, "topk_weights", "topk_weights", "same"),
    )
    outs.insert(0, (comb, "out"))
    if split > 1:
        total = t.add(
            Elementwise("moe.sum", "add", m, (H,) * len(outs), H, rs.act),
            *[(*o, f"x{i}", "same") for i, o in enumerate(outs)],
        )
        red = t.add(AllReduce("moe.all_reduce", m * H, split, rs.act), (total, "y", "x", "same"))
        return [(red, "y")]
    return outs
