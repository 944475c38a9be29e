"""Serving simulation: arrivals, traces and their errors, conservation of tokens, latency
ordering, load, KV capacity and preemption, determinism, disaggregation's KV transfer, MoE
skew, the summary's documented keys, the ``simulate`` command and bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from codesign.cli.simulate import simulate_app
from codesign.engines.des.serving import (
    LengthDist,
    Request,
    ServingMapping,
    gamma_bursty,
    load_trace,
    parse_mapping,
    poisson,
    simulate,
)
from codesign.engines.des.serving.cost import _GRID, StepCostModel, _bracket
from codesign.errors import SpecError

pytestmark = pytest.mark.component

SMALL = "llama-3.1-8b"  # 16 GB of BF16 weights: one H100 per instance
FIX = {"prompt": LengthDist.fixed(512), "output": LengthDist.fixed(64)}


def run(**kw: Any) -> Any:
    args: dict[str, Any] = {"gpus": 1, "rate": 4.0, "requests": 120, "seed": 1, **FIX}
    args.update(kw)
    return simulate(SMALL, "h100-sxm", **args)


def tiny_kv(**kw: Any) -> Any:
    """One H100 whose KV cache holds about 11.7k tokens (0.22 of 80 GB minus 16 GB)."""
    return run(memory_fraction=0.22, **kw)


# --------------------------------------------------------------------------- arrivals
def test_poisson_rate_and_gamma_cv() -> None:
    reqs = poisson(10.0, 20_000, seed=3)
    gaps = np.diff([0.0] + [r.arrival_s for r in reqs])
    assert gaps.mean() == pytest.approx(0.1, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)
    bursty = gamma_bursty(10.0, 3.0, 20_000, seed=3)
    g = np.diff([0.0] + [r.arrival_s for r in bursty])
    assert g.mean() == pytest.approx(0.1, rel=0.1)
    assert g.std() / g.mean() == pytest.approx(3.0, rel=0.1)
    assert all(r.prompt_tokens >= 1 and r.output_tokens >= 1 for r in reqs)


@pytest.mark.parametrize("dist,mean,lo,hi", [
    (LengthDist.fixed(300), 300, 300, 300),
    (LengthDist.uniform(10, 20), 15, 10, 20),
    (LengthDist.lognormal(1000, 0.5, high=4000), 1000, 1, 4000),
])
def test_length_distributions(dist: LengthDist, mean: float, lo: int, hi: int) -> None:
    x = dist.sample(np.random.default_rng(0), 20_000)
    assert x.min() >= lo and x.max() <= hi
    assert x.mean() == pytest.approx(mean, rel=0.03)


# --------------------------------------------------------------------------- traces
def test_trace_csv_and_jsonl(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("arrival_s,prompt_tokens,output_tokens,user\n0.5,100,10,a\n0.1,200,20,b\n")
    reqs = load_trace(csv)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in reqs] == [
        (0.1, 200, 20), (0.5, 100, 10)]
    jl = tmp_path / "t.jsonl"
    jl.write_text('{"arrival_s": 0, "prompt_tokens": 5, "output_tokens": 3}\n\n'
                  '{"arrival_s": 1.5, "prompt_tokens": 7, "output_tokens": 2}\n')
    assert [r.prompt_tokens for r in load_trace(jl)] == [5, 7]
    assert len(load_trace(jl, limit=1)) == 1


@pytest.mark.parametrize("name,text,field", [
    ("empty.csv", "", "trace"),
    ("header.csv", "arrival_s,prompt_tokens,output_tokens\n", "trace"),
    ("blank.jsonl", "\n\n", "trace"),
    ("bad.jsonl", '{"arrival_s": 0, "prompt_tokens": 5, "output_tokens": 3}\n{oops\n',
     "bad.jsonl line 2"),
    ("list.jsonl", "[1, 2, 3]\n", "list.jsonl line 1"),
    ("neg.csv", "arrival_s,prompt_tokens,output_tokens\n0,5,3\n1,-4,3\n",
     "neg.csv line 3, column prompt_tokens"),
    ("frac.csv", "arrival_s,prompt_tokens,output_tokens\n0,5,2.5\n",
     "frac.csv line 2, column output_tokens"),
    ("time.csv", "arrival_s,prompt_tokens,output_tokens\nsoon,5,3\n",
     "time.csv line 2, column arrival_s"),
    ("negtime.jsonl", '{"arrival_s": -1, "prompt_tokens": 5, "output_tokens": 3}\n',
     "negtime.jsonl line 1, column arrival_s"),
    ("cols.csv", "arrival_s,prompt_tokens\n0,5\n", "cols.csv line 1, column output_tokens"),
    ("short.csv", "arrival_s,prompt_tokens,output_tokens\n0,5\n", "short.csv line 2"),
    ("miss.jsonl", '{"arrival_s": 0, "prompt_tokens": 5}\n',
     "miss.jsonl line 1, column output_tokens"),
])
def test_trace_errors_name_line_and_column(tmp_path: Path, name: str, text: str,
                                           field: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(SpecError) as e:
        load_trace(p)
    assert e.value.field == field


def test_trace_replay_runs(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("arrival_s,prompt_tokens,output_tokens\n" +
                 "".join(f"{i * 0.05},{100 + i},{5 + i % 7}\n" for i in range(40)))
    s = simulate(SMALL, "h100-sxm", gpus=1, arrival="trace", trace=p).summary()
    assert s["requests"] == 40 and s["output_tokens"] == sum(5 + i % 7 for i in range(40))
    with pytest.raises(SpecError) as e:
        simulate(SMALL, "h100-sxm", gpus=1, arrival="trace", trace=p, rate=3.0)
    assert e.value.field == "rate"


# --------------------------------------------------------------------------- behaviour
def test_conservation_and_latency_order() -> None:
    r = run(prompt=LengthDist.uniform(16, 2000), output=LengthDist.uniform(1, 200))
    t = r.table
    assert (t["generated"] == t["output_tokens"]).all()
    assert r.summary()["output_tokens"] == int(t["output_tokens"].sum())
    assert (t["first_token_s"] > t["arrival_s"]).all()
    assert (t["ttft_s"] <= t["e2e_s"] + 1e-12).all()
    one = t["output_tokens"] == 1
    assert np.allclose(t["ttft_s"][one], t["e2e_s"][one])
    assert np.isnan(t["tpot_s"][one]).all() and not np.isnan(t["tpot_s"][~one]).any()


def test_more_load_raises_p99_ttft() -> None:
    p99 = [run(rate=rate).summary()["ttft_s"]["p99"] for rate in (1.0, 8.0, 40.0)]
    assert p99[0] < p99[1] < p99[2]


def test_preemption_when_kv_is_small_and_everything_completes() -> None:
    wl = [Request(i, 0.01 * i, 1024, 512) for i in range(40)]
    r = tiny_kv(workload=wl)
    s = r.summary()
    assert s["preemptions"] > 0
    assert (r.table["generated"] == 512).all()
    assert s["kv_cache"]["instance"]["peak_fraction"] <= 1.0
    roomy = run(workload=wl).summary()
    assert roomy["preemptions"] == 0
    assert roomy["e2e_s"]["p50"] < s["e2e_s"]["p50"]


def test_request_larger_than_kv_cache() -> None:
    with pytest.raises(SpecError) as e:
        tiny_kv(workload=[Request(0, 0.0, 12_000, 100)])
    assert e.value.field == "kv_cache"
    assert "request 0" in e.value.message


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 2), st.integers(1, 3000), st.integers(1, 300)),
                min_size=1, max_size=25))
def test_every_request_finishes_with_its_tokens(rows: list[tuple[float, int, int]]) -> None:
    wl = [Request(i, a, p, o) for i, (a, p, o) in enumerate(rows)]
    r = tiny_kv(workload=wl, token_budget=1024, max_seqs=16)
    t = r.table
    order = sorted(range(len(wl)), key=lambda i: wl[i].arrival_s)
    assert list(t["output_tokens"]) == [wl[i].output_tokens for i in order]
    assert (t["generated"] == t["output_tokens"]).all()
    assert (t["finish_s"] >= t["first_token_s"]).all()


def test_seed_repeats_a_run_exactly() -> None:
    def go(seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        r = simulate(SMALL, "hgx-h100", rate=30.0, requests=300, seed=seed,
                     arrival="gamma", cv=2.5)
        s = r.summary()
        s.pop("sim_wall_s")
        s.pop("evaluations")
        return s, r.table

    a, ta = go(7)
    b, tb = go(7)
    c, _ = go(8)
    assert json.dumps(a) == json.dumps(b)
    assert all(np.array_equal(ta[k], tb[k], equal_nan=True) for k in ta)
    assert json.dumps(a) != json.dumps(c)


@pytest.mark.parametrize("tp,intra", [(1, True), (8, False)])
def test_disaggregation_adds_the_kv_transfer(tp: int, intra: bool) -> None:
    """One request: prefill and decode steps equal the colocated run's, so the end-to-end
    difference is the KV transfer (NVLink in one node, the scale-out network across)."""
    from hwmodels.network.presets import cluster_of

    wl = [Request(0, 0.0, 2000, 50)]
    m = ServingMapping(tp=tp)
    pd = simulate(SMALL, "h100-sxm", workload=wl, prefill=m, decode=m)
    co = simulate(SMALL, "h100-sxm", workload=wl, gpus=tp, tp=tp, dp=1)
    sysm = cluster_of("h100-sxm", 2 * tp)
    nbytes = 2000 * 131072 / min(tp, 8)
    expect = (sysm.collective("send_recv", nbytes, 2) if intra
              else sysm.inter("send_recv", nbytes, 2)).time_s
    s = pd.summary()
    assert pd.table["transfer_s"][0] == pytest.approx(expect)
    assert s["kv_transfer_s"]["count"] == 1
    assert s["ttft_s"]["p50"] == pytest.approx(co.summary()["ttft_s"]["p50"])
    gap = s["e2e_s"]["p50"] - co.summary()["e2e_s"]["p50"]
    assert gap == pytest.approx(expect, rel=0.02)
    assert set(s["utilization"]) == {"prefill[0]", "decode[0]", "kv_transfer_links"}


def test_moe_expert_parallel_default_and_skew() -> None:
    base = {"rate": 20.0, "requests": 150, "seed": 2, **FIX}
    a = simulate("deepseek-v2-lite", "hgx-h100", **base).summary()
    m = a["mapping"]
    assert (m["tp"], m["dp"], m["ep"], m["instances"]) == (1, 8, 8, 1)
    assert "expert" in m["reason"]
    b = simulate("deepseek-v2-lite", "hgx-h100", skew=2.0, **base).summary()
    assert b["tpot_s"]["p50"] > a["tpot_s"]["p50"]
    from hwmodels.network.presets import pool_network

    mp = ServingMapping(tp=1, dp=8, ep=8)
    c1, c2 = (StepCostModel("deepseek-v2-lite", pool_network("hgx-h100"), mp, skew=k)
              for k in (1.0, 2.0))
    one, two = c1.decode(256, 1024), c2.decode(256, 1024)
    assert two.time_s > one.time_s and two.energy_j > one.energy_j


def test_dense_default_mapping_and_pipeline() -> None:
    s = simulate("llama-3.1-70b", "h100-sxm", gpus=32, rate=2.0, requests=60, **FIX).summary()
    m = s["mapping"]
    assert (m["tp"], m["instances"], m["gpus"]) == (4, 8, 32)
    p = simulate("llama-3.1-70b", "h100-sxm", gpus=8, tp=4, pp=2, rate=2.0, requests=60,
                 **FIX).summary()
    assert p["mapping"]["pp"] == 2 and p["mapping"]["instances"] == 1
    assert (p["output_tokens"], p["requests"]) == (60 * 64, 60)


def test_step_cost_interpolates_between_grid_points() -> None:
    from hwmodels.network.presets import pool_network

    c = StepCostModel(SMALL, pool_network("hgx-h100"), ServingMapping(tp=1))
    lo, hi = c.decode(16, 1024).time_s, c.decode(24, 1024).time_s
    mid = c.decode(20, 1024).time_s
    assert lo < mid < hi and mid == pytest.approx((lo + hi) / 2)
    assert c.prefill(4096).time_s > c.prefill(1024).time_s > 0
    assert _bracket(_GRID, 5) == (4, 6, 0.5)


def test_summary_keys_and_trace(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    s = run(trace_out=out).summary()
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        assert {"p50", "p90", "p99"} <= set(s[key])
        assert s[key]["p50"] <= s[key]["p90"] <= s[key]["p99"]
    for key in ("throughput_tokens_per_s", "joules_per_token", "usd_per_million_tokens",
                "goodput_requests_per_s", "utilization", "mapping", "kv_cache"):
        assert key in s
    assert all(math.isfinite(s[k]) and s[k] > 0 for k in (
        "throughput_tokens_per_s", "joules_per_token", "usd_per_million_tokens"))
    doc = json.loads(out.read_text())
    steps = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(steps) == s["iterations"]
    assert {"batch", "tokens", "prefill_tokens", "decode_tokens"} <= set(steps[0]["args"])


# --------------------------------------------------------------------------- CLI
def test_cli_json(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    res = CliRunner().invoke(simulate_app, [
        "--model", SMALL, "--system", "hgx-h100", "--arrival", "poisson", "--rate", "10",
        "--requests", "100", "--seed", "3", "--trace-out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["requests"] == 100 and s["mapping"]["tp"] == 1
    assert {"p50", "p90", "p99"} <= set(s["tpot_s"])
    assert out.is_file()
    text = CliRunner().invoke(simulate_app, ["--model", SMALL, "--system", "hgx-h100",
                                             "--rate", "10", "--requests", "50", "--tp", "2"])
    assert text.exit_code == 0 and "TTFT" in text.output and "tp=2" in text.output


@pytest.mark.parametrize("args,field", [
    (["--rate", "-1"], "--rate"),
    (["--rate", "1", "--requests", "0"], "--requests"),
    (["--rate", "1", "--arrival", "uniform"], "--arrival"),
    (["--rate", "1", "--prefill-mapping", "tp=1"], "--decode-mapping"),
    (["--rate", "1", "--decode-mapping", "tp=one", "--prefill-mapping", "tp=1"],
     "--decode-mapping"),
    (["--rate", "1", "--skew", "0.5"], "--skew"),
    (["--rate", "1", "--trace-out", "/nonexistent/dir/run.json"], "--trace-out"),
])
def test_cli_errors_name_the_flag(args: list[str], field: str) -> None:
    res = CliRunner().invoke(simulate_app, ["--model", SMALL, "--system", "hgx-h100", *args])
    assert isinstance(res.exception, SpecError), res.output
    assert res.exception.field == field


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,field", [
    ({"rate": -2.0}, "rate"),
    ({"rate": 0.0}, "rate"),
    ({"rate": math.inf}, "rate"),
    ({"requests": 0}, "requests"),
    ({"workload": []}, "workload"),
    ({"arrival": "gamma", "cv": 0.0}, "cv"),
    ({"skew": 0.9}, "skew"),
    ({"memory_fraction": 1.5}, "memory_fraction"),
    ({"max_seqs": 10_000}, "max_seqs"),
    ({"prompt": LengthDist.lognormal(0.5, 1.0)}, "prompt_tokens"),
    ({"tp": 0}, "tp"),
    ({"ep": 4}, "ep"),
    ({"workload": [Request(0, 0.0, 0, 5)]}, "workload[0].prompt_tokens"),
    ({"workload": [Request(0, -1.0, 10, 5)]}, "workload[0].arrival_s"),
    ({"gpus": 4, "tp": 8}, "mapping"),
])
def test_bad_inputs_name_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        run(**kw)
    assert e.value.field == field


@pytest.mark.parametrize("model,system,kw,field", [
    ("llama-3.1-70b", "h100-sxm", {"gpus": 1}, "mapping"),
    ("deepseek-v3", "h100-sxm", {"gpus": 8}, "mapping"),
    ("llama-3.1-8b", "no-such-gpu", {}, "system"),
    ("llama-3.1-8b", "hgx-h100", {"gpus": 16}, "gpus"),
    # the device has no FP8 tensor cores for DeepSeek-V3's FP8 GEMMs: the graph's ops
    # cannot be mapped onto it
    ("deepseek-v3", "a100-sxm", {"gpus": 32}, "dtype"),
])
def test_unservable_setups(model: str, system: str, kw: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        simulate(model, system, rate=1.0, requests=5, **kw)
    assert e.value.field == field


def test_parse_mapping() -> None:
    assert parse_mapping("tp=4, dp=8,ep=32,instances=2", "prefill") == ServingMapping(
        tp=4, dp=8, ep=32, instances=2)
    for bad in ("tp", "tq=2", "tp=0", "tp=1,dp=2,ep=8"):
        with pytest.raises(SpecError) as e:
            parse_mapping(bad, "prefill")
        assert e.value.field.startswith("prefill")
