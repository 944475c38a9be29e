"""Golden values of the shipped models and invariants of the graphs built from them."""

from __future__ import annotations

import pytest

from codesign.errors import SpecError
from codesign.ir import DType, GroupedGemm
from workloads.builder import build_model_graph
from workloads.moe.builder import expected_tokens_per_expert
from workloads.params import count_params, weight_bytes
from workloads.registry import load_model, model_names
from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec

pytestmark = pytest.mark.component

# name: (layers, kv bytes/token bf16, total params, activated params, rel. tolerance)
# KV: DeepSeek ISCA 2025 Table 1; totals: model cards (DeepSeek-V3 README_WEIGHTS 671B/36.7B).
GOLDEN = {
    "deepseek-v3": (61, 70_272, 671e9, 36.7e9, 0.01),
    "qwen2.5-72b": (80, 327_680, 72.7e9, None, 0.01),
    "llama-3.1-405b": (126, 516_096, 405.9e9, None, 0.01),
    "llama-3.1-8b": (32, 131_072, 8.03e9, None, 0.01),
    "llama-3.1-70b": (80, 327_680, 70.6e9, None, 0.01),
    "llama-2-7b": (32, 524_288, 6.74e9, None, 0.01),
    "mixtral-8x7b": (32, 131_072, 46.7e9, 12.9e9, 0.02),
    "deepseek-v2-lite": (27, 31_104, 15.7e9, 2.4e9, 0.03),
    "opt-6.7b": (32, 524_288, 6.66e9, None, 0.01),
}


def test_every_shipped_model_has_golden_values() -> None:
    assert sorted(GOLDEN) == model_names()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name: str) -> None:
    layers, kv, total, active, tol = GOLDEN[name]
    cfg = load_model(name)
    p = count_params(cfg)
    assert cfg.num_layers == layers
    assert cfg.kv_cache_bytes_per_token() == kv
    assert p.total == pytest.approx(total, rel=tol)
    if active is not None:
        assert p.activated == pytest.approx(active, rel=tol)
    assert cfg.source


def test_deepseek_v3_structure() -> None:
    cfg = load_model("deepseek-v3")
    assert [cfg.is_moe_layer(i) for i in range(5)] == [False, False, False, True, True]
    moe = cfg.moe
    assert moe is not None
    assert (moe.n_routed_experts, moe.n_shared_experts, moe.top_k) == (256, 1, 8)
    assert (moe.n_group, moe.topk_group, moe.route_scale) == (8, 4, 2.5)
    assert moe.score_func == "sigmoid" and moe.router_bias
    assert cfg.weight_dtype == DType.FP8_E4M3
    # FP8 linear layers: about 1 byte per parameter
    assert weight_bytes(cfg) == pytest.approx(count_params(cfg).total, rel=0.01)


def test_training_flops_per_token_matches_published() -> None:
    """DeepSeek ISCA 2025 Table 2: 250 GFLOPs per token for training at sequence 4096.

    Convention: training = 3 x forward (backward = 2 x forward); forward counts every matrix
    product of the 61 layers and the head over all 4096 positions, causal attention counted on
    the unmasked half, elementwise work included; the MTP module excluded."""
    cfg = load_model("deepseek-v3")
    g = build_model_graph(
        cfg,
        PhaseSpec(phase="prefill", batch=1, seq_len=4096, logits="all"),
        options=BuildOptions(mla_form="naive"),
    )
    per_token = 3 * g.totals().flops / 4096
    assert per_token == pytest.approx(250e9, rel=0.05)


PHASES = [
    PhaseSpec.decode(4, 300),
    PhaseSpec.prefill(2, 64, prefix_len=16),
    PhaseSpec.decode(8, 100, tokens=2),
]


@pytest.mark.parametrize("name", sorted(GOLDEN))
@pytest.mark.parametrize("phase", PHASES, ids=["decode", "prefill-prefix", "decode-mtp"])
def test_graphs_build_and_validate(name: str, phase: PhaseSpec) -> None:
    cfg = load_model(name)
    g = build_model_graph(cfg, phase)
    g.validate()
    tot = g.totals()
    assert tot.op_count == len(g) > cfg.num_layers * 8
    assert g.layers() == list(range(cfg.num_layers))
    # the KV cache read per step covers every layer's cache of kv_len tokens
    kv = cfg.kv_cache_bytes_per_token() * phase.kv_len * phase.batch
    assert tot.kv_bytes_read >= kv


@pytest.mark.parametrize("name", ["llama-3.1-8b", "qwen2.5-72b", "llama-2-7b", "opt-6.7b"])
def test_dense_prefill_reads_every_weight_once(name: str) -> None:
    cfg = load_model(name)
    g = build_model_graph(cfg, PhaseSpec.prefill(1, 32))
    p = count_params(cfg)
    # every weight once, except: the embedding tables are gathered (one row per token), biases
    # live in GEMM epilogues (not modelled as reads), a tied head reads the embedding table
    rows = 32 * cfg.hidden_size * (2 if cfg.learned_positions else 1)
    tied = cfg.vocab_size * cfg.hidden_size if cfg.tie_word_embeddings else 0
    expected = 2 * (p.total - p.embedding - _biases(cfg) + tied + rows)
    assert g.totals().weight_bytes_read == expected


def _biases(cfg) -> int:
    H, d = cfg.hidden_size, cfg.head_dim
    qkv = (cfg.num_heads + 2 * cfg.num_kv_heads) * d * cfg.qkv_bias + H * cfg.o_bias
    mlp = (cfg.intermediate_size + H) * cfg.mlp_bias
    return cfg.num_layers * (qkv + mlp)


def test_mla_forms_share_the_cache_but_not_the_flops() -> None:
    cfg = load_model("deepseek-v3")
    ph = PhaseSpec.decode(16, 4096)
    naive = build_model_graph(cfg, ph, options=BuildOptions(mla_form="naive")).totals()
    absorbed = build_model_graph(cfg, ph, options=BuildOptions(mla_form="absorbed")).totals()
    assert naive.kv_bytes_read == absorbed.kv_bytes_read
    # decompressing 4096 cached latents per step costs far more than absorbing
    assert naive.flops > 2 * absorbed.flops


def test_parallel_sharding_divides_the_work() -> None:
    cfg = load_model("llama-3.1-70b")
    ph = PhaseSpec.decode(8, 1000)
    one = build_model_graph(cfg, ph).totals()
    tp8 = build_model_graph(cfg, ph, ParallelSpec(tp=8)).totals()
    assert tp8.ops_by_kind["all_reduce"] == 2 * cfg.num_layers + 1
    assert tp8.flops == pytest.approx(one.flops / 8, rel=0.02)
    assert tp8.weight_bytes_read == pytest.approx(one.weight_bytes_read / 8, rel=0.01)


def test_expert_parallel_deepseek_decode_unit() -> None:
    """DeepSeek's decode unit: attention TP4 + SP with DP80, EP320, 64 redundant slots."""
    cfg = load_model("deepseek-v3")
    par = ParallelSpec(tp=4, dp=80, ep=320, redundant_experts=64)
    g = build_model_graph(cfg, PhaseSpec.decode(80 * 32, 4096), par)
    g.validate()
    gg = [op for _, op in g.ops() if isinstance(op, GroupedGemm)]
    assert all(len(op.tokens_per_expert) == 1 for op in gg)  # one expert slot per GPU
    kinds = g.totals().ops_by_kind
    assert kinds["dispatch"] == kinds["combine"] == 58
    # SP: all-gather before and reduce-scatter after each attention, one more for the embedding
    assert (kinds["all_gather"], kinds["reduce_scatter"]) == (61, 62)
    assert "all_reduce" not in kinds


@pytest.mark.parametrize(
    "par,field",
    [
        (ParallelSpec(tp=3), "parallel.tp"),
        (ParallelSpec(tp=1, dp=2, ep=2), "parallel.ep"),
        (ParallelSpec(tp=256), "parallel.tp"),
    ],
)
def test_bad_mapping(par: ParallelSpec, field: str) -> None:
    name = "deepseek-v3" if field != "parallel.ep" else "llama-3.1-8b"
    with pytest.raises(SpecError) as e:
        build_model_graph(load_model(name), PhaseSpec.decode(4, 10), par)
    assert e.value.field == field


def test_expected_tokens_per_expert() -> None:
    # one token, top-8 of 256 on one GPU: 8 experts with one row each
    tpe = expected_tokens_per_expert(8, 256, 1, 8, 256)
    assert sum(tpe) == 8 and max(tpe) == 1 and sum(t > 0 for t in tpe) == 8
    # many tokens: every expert active, rows conserved
    tpe = expected_tokens_per_expert(4096 * 8, 256, 4096, 8, 256)
    assert sum(tpe) == 4096 * 8 and min(tpe) > 0
    # uniform routing of 64 tokens over 256 experts leaves some experts idle
    tpe = expected_tokens_per_expert(64 * 8, 256, 64, 8, 256)
    assert 200 < sum(t > 0 for t in tpe) < 256
