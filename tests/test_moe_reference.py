"""Routing semantics and the dispatch/combine permutation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.moe import reference as moe_ref

pytestmark = pytest.mark.unit


def test_deepseek_v3_router_is_group_limited() -> None:
    rng = np.random.default_rng(0)
    t, E, k, groups, keep = 64, 256, 8, 8, 4
    logits = rng.standard_normal((t, E)).astype(np.float32)
    bias = rng.standard_normal(E).astype(np.float32) * 0.1
    ids, w = moe_ref.route_deepseek_v3(logits, bias, k, groups, keep, 2.5)
    assert ids.shape == (t, k) and w.shape == (t, k)
    for row in ids:
        assert len(set(row)) == k
        assert len({e // (E // groups) for e in row}) <= keep
    np.testing.assert_allclose(w.sum(axis=1), 2.5, rtol=1e-5)
    # weights are the unbiased sigmoid scores, renormalised
    scores = 1 / (1 + np.exp(-logits))
    chosen = np.take_along_axis(scores, ids, axis=1)
    np.testing.assert_allclose(w, chosen / chosen.sum(1, keepdims=True) * 2.5, rtol=1e-5)


def test_deepseek_v3_bias_steers_selection_only() -> None:
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((16, 64)).astype(np.float32)
    bias = np.zeros(64, dtype=np.float32)
    bias[5] = 100.0  # expert 5 always selected; its weight still from its own score
    ids, w = moe_ref.route_deepseek_v3(logits, bias, 4, 4, 2, 1.0)
    assert (ids == 5).any(axis=1).all()
    s = 1 / (1 + np.exp(-logits))
    chosen = np.take_along_axis(s, ids, axis=1)
    np.testing.assert_allclose(w, chosen / chosen.sum(1, keepdims=True), rtol=1e-5)


def test_softmax_router_matches_definition() -> None:
    logits = np.array([[1.0, 3.0, 2.0, 0.0]], dtype=np.float32)
    ids, w = moe_ref.route_softmax_topk(logits, 2)
    assert ids.tolist() == [[1, 2]]
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    np.testing.assert_allclose(w[0], p[[1, 2]] / p[[1, 2]].sum(), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    t=st.integers(1, 20),
    e=st.sampled_from([4, 8, 16]),
    k=st.integers(1, 4),
    ep=st.sampled_from([1, 2, 4]),
    seed=st.integers(0, 2**16),
)
def test_dispatch_delivers_every_pair_once(t: int, e: int, k: int, ep: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = min(k, e)
    ids = np.stack([rng.permutation(e)[:k] for _ in range(t)]).astype(np.int32)
    x = rng.standard_normal((t, 8)).astype(np.float32)
    d = moe_ref.dispatch(x, ids, e, ep)
    pairs = sorted(zip(d.token.tolist(), d.slot.tolist(), strict=True))
    assert pairs == [(i, j) for i in range(t) for j in range(k)]
    assert d.tokens_per_expert.sum() == t * k
    np.testing.assert_array_equal(d.x, x[d.token])
    experts_in_order = ids[d.token, d.slot]
    assert (np.diff(experts_in_order) >= 0).all()  # grouped by expert
    np.testing.assert_array_equal(d.rank_of_row, experts_in_order // (e // ep))
    # combine with unit weights of one-hot choice returns k copies of each token
    y = moe_ref.combine(d.x, d, np.ones((t, k), dtype=np.float32))
    np.testing.assert_allclose(y, k * x, rtol=1e-6)


def test_moe_layer_through_dispatch_equals_token_loop() -> None:
    rng = np.random.default_rng(3)
    t, E, k, H, inter = 11, 8, 2, 16, 12
    x = rng.standard_normal((t, H)).astype(np.float32)
    w1 = rng.standard_normal((E, H, inter)).astype(np.float32)
    w2 = rng.standard_normal((E, inter, H)).astype(np.float32)
    ids, wts = moe_ref.route_softmax_topk(rng.standard_normal((t, E)).astype(np.float32), k)
    d = moe_ref.dispatch(x, ids, E)
    h = np.maximum(moe_ref.grouped_gemm(d.x, d.tokens_per_expert, w1), 0)
    y = moe_ref.combine(moe_ref.grouped_gemm(h, d.tokens_per_expert, w2), d, wts)
    experts = [lambda v, e=e: np.maximum(v @ w1[e], 0) @ w2[e] for e in range(E)]
    np.testing.assert_allclose(y, moe_ref.moe_oracle(x, ids, wts, experts), rtol=1e-4, atol=1e-4)
