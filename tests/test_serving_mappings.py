"""Serving mappings the step-cost model must take: TP with sequence parallelism and fewer
tokens than TP ranks (padded, not rejected), DeepSeek's disaggregated layouts from the
``--decode-mapping`` help, and ``redundant_experts`` given in a mapping (reaching the graph's
``ParallelSpec`` and the memory budget, or rejected with one line naming the field)."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest

from codesign.cli import main
from codesign.engines.des.serving import LengthDist, ServingMapping, simulate
from codesign.engines.des.serving.cost import StepCostModel, clear_cache
from codesign.errors import SpecError
from workloads.registry import load_model, model_names

pytestmark = pytest.mark.component

SHORT = {"rate": 2.0, "requests": 12, "seed": 0, "prompt": LengthDist.fixed(256),
         "output": LengthDist.fixed(8)}
DS = ("deepseek-v3", "deepseek-h800-mpft")
PRE = "tp=1,dp=32,ep=32"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, field: str) -> str:
    """The CLI's contract for bad input: exit 2, one ``error: <field>: ...`` line."""
    assert "Traceback" not in err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {field}: "), lines[0]
    return lines[0]


# --------------------------------------------------------------------------- (a) TP + SP
def test_sp_pads_a_decode_step_of_fewer_tokens_than_tp() -> None:
    """One decode sequence on TP8 with EP (sequence parallel): the residual stream is
    padded to 8 rows, one per rank, instead of the pass being rejected."""
    from workloads.builder import build_model_graph
    from workloads.spec import ParallelSpec, PhaseSpec

    cfg = load_model("mixtral-8x7b")
    par = ParallelSpec(tp=8, ep=8)
    one = build_model_graph(cfg, PhaseSpec.decode(1, 1024), par)
    one.validate()
    assert one.meta["rank_tokens"] == 1 and one.meta["residual_tokens"] == 1
    rs = [op for _, op in one.ops() if op.kind == "reduce_scatter"]
    assert rs and all(op.numel == 8 * cfg.hidden_size for op in rs)  # padded to tp rows
    full = build_model_graph(cfg, PhaseSpec.decode(8, 1024), par)
    pads = [d["mode"] for _, _, d in one.nx.edges(data=True) if d["mode"] == "pad"]
    assert pads and all(d["mode"] != "pad" for _, _, d in full.nx.edges(data=True))
    # attention (and the embedding lookup) see the real sequence only; the MoE on each rank
    # is the 8-sequence pass's
    a, b = one.totals(), full.totals()
    assert a.kv_bytes_read * 8 == b.kv_bytes_read
    assert a.flops_by_kind["grouped_gemm"] == b.flops_by_kind["grouped_gemm"]
    assert a.weight_bytes_read == pytest.approx(b.weight_bytes_read, rel=1e-4)


def test_sp_odd_prefill_tokens_build() -> None:
    from workloads.builder import build_model_graph
    from workloads.spec import ParallelSpec, PhaseSpec

    g = build_model_graph(load_model("deepseek-v2-lite"), PhaseSpec.prefill(4, 7),
                          ParallelSpec(tp=2, dp=4, ep=8))
    g.validate()
    assert g.meta["residual_tokens"] == 4  # ceil(7 / 2)


def test_step_cost_prices_decode_batch_one_on_tp8() -> None:
    from codesign.hw import SYSTEMS

    c = StepCostModel("mixtral-8x7b", SYSTEMS.get("hgx-h100"), ServingMapping(tp=8, ep=8))
    one, eight = c.decode(1, 1024), c.decode(8, 1024)
    assert 0 < one.time_s <= eight.time_s
    assert one.time_s == pytest.approx(eight.time_s, rel=0.05)  # padding: about the same pass
    assert 0 < c.prefill(1).time_s < c.prefill(4096).time_s


def test_cli_mixtral_tp8(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--model", "mixtral-8x7b", "--system", "hgx-h100", "--tp",
                         "8", "--rate", "2", "--requests", "10")
    assert code == 0, err
    assert "tp=8,dp=1,ep=8" in out and "TTFT" in out


def test_models_show_sp_indivisible_batch(capsys: pytest.CaptureFixture[str]) -> None:
    """2 tokens per rank on TP4 + EP32: built with padding (was rejected)."""
    capsys.readouterr()
    code = main(["models", "show", "deepseek-v3", "--tp", "4", "--dp", "8", "--ep", "32",
                 "--batch", "16", "--json"])
    assert code == 0, capsys.readouterr().err


#: weights that leave no KV room on one 8 x 80 GB node at that TP (the rest must run)
NO_ROOM = {("deepseek-v3", 1), ("deepseek-v3", 2), ("deepseek-v3", 8),
           ("llama-3.1-405b", 1), ("llama-3.1-405b", 2), ("llama-3.1-405b", 8),
           ("llama-3.1-70b", 1), ("qwen2.5-72b", 1), ("qwen2.5-72b", 2)}


@pytest.mark.parametrize("model", model_names())
@pytest.mark.parametrize("tp", [1, 2, 8])
def test_every_shipped_model_simulates_at_tp(model: str, tp: int) -> None:
    if (model, tp) in NO_ROOM:
        with pytest.raises(SpecError) as e:
            simulate(model, "hgx-h100", tp=tp, **SHORT)
        assert e.value.field == "mapping" and "does not fit" in e.value.message
        return
    s = simulate(model, "hgx-h100", tp=tp, **SHORT).summary()
    assert s["mapping"]["tp"] == tp and s["output_tokens"] == 12 * 8
    assert s["tpot_s"]["p50"] > 0


# --------------------------------------------------------------------------- (b) help example
def _help(param: str) -> str:
    from codesign.cli import simulate as cli_simulate

    hints = typing.get_type_hints(cli_simulate.simulate, include_extras=True)
    return str(hints[param].__metadata__[0].help)


def _example(param: str) -> str:
    m = re.search(r"e\.g\. '([^']+)'", _help(param))
    assert m, _help(param)
    return m.group(1)


def test_help_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    pre, dec = _example("prefill_mapping"), _example("decode_mapping")
    code, out, err = cli(capsys, "--model", DS[0], "--system", DS[1], "--prefill-mapping", pre,
                         "--decode-mapping", dec, "--rate", "2", "--requests", "10", "--json")
    assert code == 0, err
    assert '"ep": 144' in out and '"redundant_experts": 32' in out


def test_ep144_without_replicas_explains_the_constraint(
        capsys: pytest.CaptureFixture[str]) -> None:
    """256 routed experts do not split over 144 ranks; the message says why and how."""
    with pytest.raises(SpecError) as e:
        simulate(*DS, prefill=PRE, decode="tp=1,dp=144,ep=144", **SHORT)
    assert e.value.field == "decode.ep"
    assert "256" in e.value.message and "redundant_experts=32" in e.value.message
    code, _, err = cli(capsys, "--model", DS[0], "--system", DS[1], "--prefill-mapping", PRE,
                       "--decode-mapping", "tp=1,dp=144,ep=144", "--rate", "1")
    line = one_line_error(code, err, "--decode-mapping.ep")
    assert "while costing" not in line  # caught with the mapping, not in the step cost


# --------------------------------------------------------------------------- (c) replicas
def test_redundant_experts_reach_the_graph_and_the_memory_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import workloads.builder as builder

    seen: set[tuple[int, int]] = set()
    real = builder.rank_shape

    def spy(cfg: Any, phase: Any, par: Any, opts: Any) -> Any:  # every graph build's mapping
        seen.add((par.ep, par.redundant_experts))
        return real(cfg, phase, par, opts)

    monkeypatch.setattr(builder, "rank_shape", spy)
    clear_cache()
    runs = {r: simulate(*DS, prefill=f"{PRE},redundant_experts={r}",
                        decode=f"tp=1,dp=32,ep=32,redundant-experts={r}", **SHORT).summary()
            for r in (0, 32)}
    clear_cache()
    assert {(32, 0), (32, 32)} <= seen
    kv0, kv32 = (runs[r]["kv_cache"]["decode"] for r in (0, 32))
    assert runs[32]["mapping"]["decode"]["redundant_experts"] == 32
    assert kv32["weight_bytes_per_gpu"] > kv0["weight_bytes_per_gpu"]  # 9 experts, not 8
    assert kv32["rank_tokens"] < kv0["rank_tokens"]


def test_redundant_experts_in_the_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--model", DS[0], "--system", DS[1], "--prefill-mapping", PRE,
                         "--decode-mapping", "tp=1,dp=32,ep=32,redundant_experts=32",
                         "--rate", "2", "--requests", "10")
    assert code == 0, err
    assert "redundant_experts=32" in " ".join(out.split())


@pytest.mark.parametrize("model,kw,field", [
    ("llama-3.1-8b", {"prefill": "tp=1", "decode": "tp=1,redundant_experts=8"},
     "decode.redundant_experts"),
    ("mixtral-8x7b", {"prefill": "tp=4", "decode": "tp=4,redundant_experts=8"},  # ep=1
     "decode.redundant_experts"),
    ("deepseek-v3", {"prefill": PRE, "decode": "tp=1,dp=32,ep=32,redundant_experts=5"},
     "decode.redundant_experts"),
    ("deepseek-v3", {"prefill": "tp=1,dp=24,ep=24", "decode": PRE}, "prefill.ep"),
    ("llama-3.1-8b", {"prefill": "tp=1", "decode": "tp=1,dp=2,ep=2"}, "decode.ep"),
    ("deepseek-v3", {"prefill": PRE, "decode": PRE, "redundant_experts": 32},
     "redundant_experts"),
    ("llama-3.1-8b", {"redundant_experts": 8}, "redundant_experts"),
    ("mixtral-8x7b", {"tp": 8, "ep": 1, "redundant_experts": 8}, "redundant_experts"),
    ("deepseek-v2-lite", {"dp": 6, "ep": 6}, "ep"),
])
def test_expert_mappings_the_model_cannot_take(model: str, kw: dict[str, Any],
                                               field: str) -> None:
    system = DS[1] if model == "deepseek-v3" else "hgx-h100"
    with pytest.raises(SpecError) as e:
        simulate(model, system, **SHORT, **kw)
    assert e.value.field == field
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("args,flag", [
    (["--model", "llama-3.1-8b", "--system", "hgx-h100", "--prefill-mapping", "tp=1",
      "--decode-mapping", "tp=1,redundant_experts=8"], "--decode-mapping.redundant_experts"),
    (["--model", "mixtral-8x7b", "--system", "hgx-h100", "--tp", "8", "--ep", "1",
      "--redundant-experts", "8"], "--redundant-experts"),
    (["--model", DS[0], "--system", DS[1], "--prefill-mapping", PRE, "--decode-mapping",
      "tp=1,dp=32,ep=32,redundant_experts=5"], "--decode-mapping.redundant_experts"),
])
def test_cli_rejects_unusable_replicas(capsys: pytest.CaptureFixture[str], args: list[str],
                                       flag: str) -> None:
    one_line_error(*cli(capsys, *args, "--rate", "1")[::2], flag)


def test_step_cost_model_rejects_replicas_without_ep() -> None:
    from codesign.hw import SYSTEMS

    with pytest.raises(SpecError) as e:
        StepCostModel("mixtral-8x7b", SYSTEMS.get("hgx-h100"),
                      ServingMapping(tp=8, redundant_experts=8))
    assert e.value.field == "redundant_experts"
