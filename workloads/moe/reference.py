"""NumPy references of mixture-of-experts routing, dispatch/combine and expert GEMMs.

* :func:`route_softmax_topk` -- Mixtral: softmax over all experts, top-k, renormalised.
* :func:`route_deepseek_v3` -- DeepSeek-V3 (``noaux_tc``): sigmoid scores; a per-expert bias
  is added for *selection only*; experts form ``n_group`` groups, a group's score is the sum of
  its two best biased scores, the best ``topk_group`` groups are kept, top-k over their
  experts; weights are the unbiased scores of the chosen experts, normalised to sum 1 and
  multiplied by ``route_scale`` (DeepSeek-V3 inference/model.py ``Gate``).
* :func:`dispatch` / :func:`combine` -- the permutation that sorts (token, slot) pairs by
  expert, and its inverse weighted sum. Every pair is delivered exactly once.
* :func:`grouped_gemm` -- one GEMM per expert over its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.counting import OpCounter, counter_or_null


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest per row, largest first (ties: lower index first)."""
    idx = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    return idx


def route_softmax_topk(
    logits: np.ndarray, k: int, normalize: bool = True, counter: OpCounter | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mixtral routing. Returns ``(ids [t, k] int32, weights [t, k] float)``."""
    c = counter_or_null(counter)
    c.reads(logits)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    c.add_flops(3 * logits.size)
    ids = _topk(probs, k)
    w = np.take_along_axis(probs, ids, axis=-1)
    if normalize:
        w = w / w.sum(axis=-1, keepdims=True)
        c.add_flops(2 * w.size)
    ids = ids.astype(np.int32)
    c.writes(ids, w)
    return ids, w


def route_deepseek_v3(
    logits: np.ndarray,
    bias: np.ndarray,
    k: int,
    n_group: int,
    topk_group: int,
    route_scale: float,
    counter: OpCounter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """DeepSeek-V3 group-limited sigmoid routing. Returns ``(ids, weights)``."""
    c = counter_or_null(counter)
    c.reads(logits, bias)
    t, E = logits.shape
    scores = 1.0 / (1.0 + np.exp(-logits))
    biased = scores + bias
    c.add_flops(4 * logits.size)
    grouped = biased.reshape(t, n_group, E // n_group)
    group_score = np.sort(grouped, axis=-1)[..., -2:].sum(axis=-1)  # top-2 sum per group
    keep = _topk(group_score, topk_group)
    mask = np.zeros((t, n_group), dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    masked = np.where(np.repeat(mask, E // n_group, axis=-1), biased, -np.inf)
    ids = _topk(masked, k)
    w = np.take_along_axis(scores, ids, axis=-1)
    w = w / w.sum(axis=-1, keepdims=True) * route_scale
    c.add_flops(2 * w.size)
    ids = ids.astype(np.int32)
    c.writes(ids, w)
    return ids, w


@dataclass(frozen=True)
class Dispatched:
    """Result of :func:`dispatch`.

    Attributes:
        x: rows sorted by expert, ``[t * k, hidden]``.
        token: the token each row came from.
        slot: which of the token's k choices the row is.
        tokens_per_expert: rows per expert, ``[n_experts]``.
        rank_of_row: the expert-parallel rank each row is sent to.
    """

    x: np.ndarray
    token: np.ndarray
    slot: np.ndarray
    tokens_per_expert: np.ndarray
    rank_of_row: np.ndarray


def dispatch(
    x: np.ndarray, ids: np.ndarray, n_experts: int, ep: int = 1, counter: OpCounter | None = None
) -> Dispatched:
    """Send each (token, expert) pair's hidden state to its expert, grouped by expert.

    Experts ``e`` live on rank ``e // (n_experts / ep)``; rows are ordered by expert (and so by
    rank), then by token.
    """
    c = counter_or_null(counter)
    if n_experts % ep:
        raise ValueError("ep must divide n_experts")
    k = ids.shape[1]
    c.reads(x, ids)
    flat = ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    token, slot = np.divmod(order, k)
    out = x[token]
    tpe = np.bincount(flat, minlength=n_experts)
    rank = flat[order] // (n_experts // ep)
    c.writes(out)
    return Dispatched(out, token, slot, tpe, rank)


def grouped_gemm(
    x: np.ndarray, tokens_per_expert: np.ndarray, w: np.ndarray, counter: OpCounter | None = None
) -> np.ndarray:
    """``y[rows of e] = x[rows of e] @ w[e]`` for experts in order; ``w [E, k, n]``.

    Experts without rows read no weights."""
    c = counter_or_null(counter)
    c.reads(x)
    out = np.empty((x.shape[0], w.shape[-1]), dtype=np.result_type(x, w))
    start = 0
    for e, n in enumerate(np.asarray(tokens_per_expert)):
        if n == 0:
            continue
        c.reads(w[e])
        out[start : start + n] = c.matmul(x[start : start + n], w[e])
        start += n
    c.writes(out)
    return out


def combine(
    y: np.ndarray, d: Dispatched, weights: np.ndarray, counter: OpCounter | None = None
) -> np.ndarray:
    """Return rows to their tokens and sum them weighted by the router weights."""
    c = counter_or_null(counter)
    c.reads(y, weights)
    t = weights.shape[0]
    out = np.zeros((t, y.shape[-1]), dtype=np.result_type(y, weights))
    np.add.at(out, d.token, y * weights[d.token, d.slot][:, None])
    c.add_flops(2 * y.size)
    c.writes(out)
    return out


def moe_oracle(x: np.ndarray, ids: np.ndarray, weights: np.ndarray, experts: list) -> np.ndarray:  # type: ignore[type-arg]
    """Token-by-token MoE: ``sum_j weights[t, j] * experts[ids[t, j]](x[t])`` (for tests)."""
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        for j in range(ids.shape[1]):
            out[t] += weights[t, j] * experts[ids[t, j]](x[t][None])[0]
    return out
