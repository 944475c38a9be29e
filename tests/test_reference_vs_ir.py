"""The FLOPs and tensor sizes each IR op claims equal what its NumPy reference actually does."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.ir import (
    Attention,
    Combine,
    Dispatch,
    DType,
    Elementwise,
    Gemm,
    GroupedGemm,
    MlaAttention,
    Router,
)
from workloads.counting import OpCounter
from workloads.mla import reference as mla_ref
from workloads.moe import reference as moe_ref
from workloads.transformer import reference as ref

pytestmark = pytest.mark.unit


def _rand(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _numel_in(op) -> int:
    return sum(t.numel for t in op.inputs())


def _numel_out(op) -> int:
    return sum(t.numel for t in op.outputs())


def _assert_counts(op, c: OpCounter, stage: str = "core") -> None:
    assert c.flops[stage] == op.flops
    assert c.read[stage] == _numel_in(op)
    assert c.written[stage] == _numel_out(op)


@pytest.mark.parametrize("m,n,k,batch", [(1, 64, 96, 1), (17, 33, 40, 1), (5, 12, 8, 4)])
def test_gemm(m: int, n: int, k: int, batch: int) -> None:
    rng = np.random.default_rng(0)
    op = Gemm("g", m=m, n=n, k=k, batch=batch)
    lead = (batch,) if batch > 1 else ()
    a, b = _rand(rng, (*lead, m, k)), _rand(rng, (*lead, k, n))
    c = OpCounter()
    out = ref.gemm(a, b, c)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    _assert_counts(op, c)


@pytest.mark.parametrize("tpe", [(3, 0, 5, 1), (16, 16, 48), (0, 0, 1, 0, 0)])
def test_grouped_gemm_uneven(tpe: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    n, k = 24, 16
    op = GroupedGemm("gg", tokens_per_expert=tpe, n=n, k=k)
    x, w = _rand(rng, (sum(tpe), k)), _rand(rng, (len(tpe), k, n))
    c = OpCounter()
    y = moe_ref.grouped_gemm(x, np.array(tpe), w, c)
    start = 0
    for e, t in enumerate(tpe):
        np.testing.assert_allclose(y[start : start + t], x[start : start + t] @ w[e], rtol=1e-5)
        start += t
    _assert_counts(op, c)


@pytest.mark.parametrize(
    "phase,b,s,past,hq,hkv,d,dv",
    [
        ("prefill", 2, 7, 0, 4, 2, 8, 8),
        ("prefill", 1, 5, 6, 6, 1, 16, 8),
        ("decode", 3, 1, 20, 8, 2, 16, 16),
        ("decode", 2, 2, 9, 4, 4, 8, 8),
    ],
)
def test_attention(
    phase: str, b: int, s: int, past: int, hq: int, hkv: int, d: int, dv: int
) -> None:
    rng = np.random.default_rng(2)
    L = past + s
    op = Attention("a", phase, b, s, L, hq, hkv, d, dv)  # type: ignore[arg-type]
    q, k, v = _rand(rng, (b, s, hq, d)), _rand(rng, (b, L, hkv, d)), _rand(rng, (b, L, hkv, dv))
    c = OpCounter()
    out = ref.attention(q, k, v, causal=True, counter=c)
    _assert_counts(op, c)
    # per-head loop oracle with an explicit mask
    for h in range(hq):
        g = h // (hq // hkv)
        sc = np.einsum("bsd,bld->bsl", q[:, :, h], k[:, :, g]) / np.sqrt(d)
        mask = np.arange(L)[None, :] > (past + np.arange(s))[:, None]
        sc = np.where(mask, -np.inf, sc)
        p = np.exp(sc - sc.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        np.testing.assert_allclose(out[:, :, h], p @ v[:, :, g], rtol=1e-4, atol=1e-5)


def test_split_k_decode_equals_attention() -> None:
    rng = np.random.default_rng(3)
    q, k, v = _rand(rng, (2, 1, 8, 16)), _rand(rng, (2, 37, 2, 16)), _rand(rng, (2, 37, 2, 16))
    full = ref.attention(q, k, v, causal=False)
    for splits in (1, 3, 8, 37):
        np.testing.assert_allclose(
            ref.attention_decode_split_k(q, k, v, splits), full, rtol=1e-5, atol=1e-6
        )


def _mla_inputs(seed: int, b: int, s: int, L: int, h: int):
    rng = np.random.default_rng(seed)
    nope, rope, r, v = 16, 8, 32, 12
    return (
        (
            _rand(rng, (b, s, h, nope)),
            _rand(rng, (b, s, h, rope)),
            _rand(rng, (b, L, r)),
            _rand(rng, (b, L, rope)),
            _rand(rng, (r, h * (nope + v))) / np.float32(np.sqrt(r)),
        ),
        dict(kv_lora_rank=r, qk_nope_head_dim=nope, qk_rope_head_dim=rope, v_head_dim=v),
    )


@pytest.mark.parametrize("b,s,L,h", [(2, 1, 9, 4), (1, 6, 6, 3), (2, 3, 10, 2)])
def test_mla_naive_equals_absorbed_and_counts(b: int, s: int, L: int, h: int) -> None:
    args, dims = _mla_inputs(4, b, s, L, h)
    scale = 1 / np.sqrt(dims["qk_nope_head_dim"] + dims["qk_rope_head_dim"])
    cn, ca = OpCounter(), OpCounter()
    naive = mla_ref.mla_naive(*args, scale=scale, counter=cn)
    absorbed = mla_ref.mla_absorbed(*args, scale=scale, counter=ca)
    assert naive.dtype == np.float32 and absorbed.dtype == np.float32
    np.testing.assert_allclose(absorbed, naive, rtol=2e-4, atol=2e-5)
    phase = "decode" if s == 1 else "prefill"
    r, nope, v = dims["kv_lora_rank"], dims["qk_nope_head_dim"], dims["v_head_dim"]
    for form, c in (("naive", cn), ("absorbed", ca)):
        op = MlaAttention("m", phase, form, b, s, L, h, **dims)  # type: ignore[arg-type]
        _assert_counts(op, c)
    kvb = Gemm("kv_b", m=b * L, n=h * (nope + v), k=r)
    _assert_counts(kvb, cn, "kv_b_proj")
    _assert_counts(Gemm("q_absorb", m=b * s, n=r, k=nope, batch=h), ca, "q_absorb")
    _assert_counts(Gemm("v_absorb", m=b * s, n=v, k=r, batch=h), ca, "v_absorb")


def test_router_counts() -> None:
    rng = np.random.default_rng(5)
    t, E, k = 7, 32, 4
    logits = _rand(rng, (t, E))
    c = OpCounter()
    moe_ref.route_softmax_topk(logits, k, counter=c)
    _assert_counts(Router("r", t, E, k, "softmax"), c)
    c = OpCounter()
    moe_ref.route_deepseek_v3(logits, _rand(rng, (E,)), k, 8, 3, 2.5, counter=c)
    _assert_counts(Router("r", t, E, k, "sigmoid", 8, 3, True, True, 2.5), c)


def test_dispatch_combine_counts() -> None:
    rng = np.random.default_rng(6)
    t, E, k, H = 9, 8, 2, 16
    x = _rand(rng, (t, H))
    ids, w = moe_ref.route_softmax_topk(_rand(rng, (t, E)), k)
    c = OpCounter()
    d = moe_ref.dispatch(x, ids, E, counter=c)
    _assert_counts(Dispatch("d", t, k, H, recv_tokens=t * k), c)
    c = OpCounter()
    moe_ref.combine(d.x, d, w, counter=c)
    _assert_counts(Combine("c", t, k, H, sent_tokens=t * k), c)


@pytest.mark.parametrize("func", ["rmsnorm", "layernorm", "silu_mul"])
def test_elementwise_counts(func: str) -> None:
    rng = np.random.default_rng(7)
    t, w = 5, 24
    c = OpCounter()
    if func == "rmsnorm":
        ref.rmsnorm(_rand(rng, (t, w)), _rand(rng, (w,)), counter=c)
        op = Elementwise("n", func, t, (w,), w, weight_width=w)
    elif func == "layernorm":
        ref.layernorm(_rand(rng, (t, w)), _rand(rng, (w,)), _rand(rng, (w,)), counter=c)
        op = Elementwise("n", func, t, (w,), w, weight_width=2 * w)
    else:
        ref.silu_mul(_rand(rng, (t, 2 * w)), counter=c)
        op = Elementwise("n", func, t, (2 * w,), w)
    _assert_counts(op, c)


def test_ir_bytes_follow_dtypes() -> None:
    op = Gemm("g", m=4, n=8, k=16, a_dtype=DType.BF16, b_dtype=DType.FP8_E4M3)
    assert op.bytes_read == 4 * 16 * 2 + 16 * 8 * 1
    assert op.bytes_written == 4 * 8 * 2
    mx = Gemm("g", m=1, n=64, k=64, b_dtype=DType.MXFP4)
    assert mx.inputs()[1].nbytes == 64 * 64 * 4.25 / 8
