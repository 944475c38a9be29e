"""The workload IR: op invariants, graph validation and totals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesign.errors import GraphError, SpecError
from codesign.ir import (
    Attention,
    DType,
    Elementwise,
    Gemm,
    GroupedGemm,
    KvCacheWrite,
    Router,
    TensorRole,
    WorkloadGraph,
    causal_pairs,
)

pytestmark = pytest.mark.unit


def _chain() -> WorkloadGraph:
    g = WorkloadGraph("t")
    g.add_op("norm", Elementwise("norm", "rmsnorm", 4, (64,), 64, weight_width=64))
    g.add_op("up", Gemm("up", m=4, n=128, k=64))
    g.add_op("act", Elementwise("act", "silu_mul", 4, (128,), 64))
    g.connect("norm", "up", "y", "a")
    g.connect("up", "act", "c", "x0")
    return g


def test_valid_chain_and_totals() -> None:
    g = _chain()
    g.validate()
    tot = g.totals()
    assert tot.op_count == 3
    assert tot.flops == 4 * 64 * 4 + 2 * 4 * 128 * 64 + 4 * 64 * 4
    assert tot.weight_bytes_read == 64 * 2 + 64 * 128 * 2
    assert tot.ops_by_kind == {"elementwise": 2, "gemm": 1}
    assert [k for k, _ in g.topological_ops()] == ["norm", "up", "act"]


def test_cycle_rejected() -> None:
    g = _chain()
    g.connect("act", "norm", "y", "x0")
    with pytest.raises(GraphError, match="cycle"):
        g.validate()


@pytest.mark.parametrize(
    "src_t,dst_t,op,match",
    [
        ("c", "a", Gemm("bad", m=4, n=8, k=100), "inconsistent shapes"),
        ("c", "a", Gemm("bad", m=4, n=8, k=128, a_dtype=DType.FP32), "dtype"),
        ("nope", "a", Gemm("bad", m=4, n=8, k=128), "no output"),
        ("c", "nope", Gemm("bad", m=4, n=8, k=128), "no input"),
    ],
)
def test_bad_edges_rejected(src_t: str, dst_t: str, op: Gemm, match: str) -> None:
    g = _chain()
    g.add_op("down", op)
    g.connect("up", "down", src_t, dst_t)
    with pytest.raises(GraphError, match=match):
        g.validate()


def test_edge_modes() -> None:
    g = WorkloadGraph("t")
    g.add_op("qkv", Gemm("qkv", m=2, n=3 * 64, k=64))
    g.add_op("cache", KvCacheWrite("cache", 2, (64, 64)))
    g.add_op("attn", Attention("attn", "decode", 2, 1, 50, 4, 4, 16))
    g.connect("qkv", "cache", "c", "x0", "slice")
    g.connect("qkv", "cache", "c", "x1", "slice")  # same pair: networkx keeps one edge
    g.connect("qkv", "attn", "c", "q", "slice")
    g.connect("cache", "attn", "c0", "k_cache", "append")
    g.validate()
    g.connect("qkv", "attn", "c", "q", "append")  # q is not a cache
    with pytest.raises(GraphError, match="append"):
        g.validate()


def test_duplicate_and_dangling_keys() -> None:
    g = _chain()
    with pytest.raises(GraphError, match="duplicate"):
        g.add_op("up", Gemm("up", m=1, n=1, k=1))
    with pytest.raises(GraphError, match="unknown op"):
        g.connect("up", "ghost", "c", "a")
    with pytest.raises(GraphError, match="not in the graph"):
        g.add_bulk([("x", Gemm("x", m=1, n=1, k=1), None)], [("x", "ghost", "c", "a", "same")])
    assert "ghost" not in g


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: Gemm("g", m=0, n=1, k=1), "g.m"),
        (lambda: Gemm("g", m=1, n=-4, k=1), "g.n"),
        (lambda: GroupedGemm("gg", (1, -1), 8, 8), "gg.tokens_per_expert"),
        (lambda: Attention("a", "decode", 1, 1, 8, 6, 4, 8), "a.kv_heads"),
        (lambda: Attention("a", "prefill", 1, 8, 4, 4, 4, 8), "a.kv_len"),
        (lambda: Router("r", 4, 8, 9), "r.top_k"),
        (lambda: Router("r", 4, 8, 2, groups=3), "r.groups"),
        (lambda: Elementwise("e", "nosuch", 1, (1,), 1), "e.func"),
    ],
)
def test_bad_op_fields(make, field: str) -> None:
    with pytest.raises(SpecError) as e:
        make()
    assert e.value.field == field


@given(q=st.integers(1, 300), past=st.integers(0, 300))
def test_causal_pairs(q: int, past: int) -> None:
    n = causal_pairs(q, past + q)
    assert n == sum(past + i + 1 for i in range(q))
    assert n <= q * (past + q)


@given(m=st.integers(1, 4096), n=st.integers(1, 4096), k=st.integers(1, 4096))
def test_gemm_counts(m: int, n: int, k: int) -> None:
    g = Gemm("g", m=m, n=n, k=k)
    assert g.flops == 2 * m * n * k
    assert g.bytes_read == 2 * (m * k + k * n)
    assert g.bytes_read_by_role()[TensorRole.WEIGHT] == 2 * k * n


def test_dtype_aliases_and_errors() -> None:
    assert DType.parse("fp8") is DType.FP8_E4M3
    assert DType.parse("BF16") is DType.BF16
    with pytest.raises(SpecError, match="allowed"):
        DType.parse("fp12")


def test_topological_order_is_networkx_order() -> None:
    """Engines iterate ``WorkloadGraph.topological()``; its order must stay networkx's (the
    eager-launch recurrence depends on the order of independent kernels)."""
    import random

    import networkx as nx

    from codesign.ir.graph import _kahn_generations

    rnd = random.Random(7)
    for _ in range(20):
        g = nx.DiGraph()
        names = [f"n{rnd.randrange(10**6)}_{i}" for i in range(60)]
        g.add_nodes_from(rnd.sample(names, len(names)))
        for _ in range(150):
            a, b = sorted(rnd.sample(range(60), 2))
            g.add_edge(names[a], names[b])
        assert _kahn_generations(g) == tuple(nx.topological_sort(g))
