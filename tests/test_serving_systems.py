"""Serving over a system's pools: prefill and decode on the pools of the system's placement
(``pd-h100-h200``), KV transfers timed and queued on the link between them, per-pool TTFT,
TPOT and utilization, the cost and energy split of the system, the memory report and
``--ignore-memory``, prefix-cache hits, the timeline, and bad input to the new fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codesign.cli import main
from codesign.engines.des.serving import (
    LengthDist,
    Request,
    Workload,
    poisson_workload,
    simulate,
)
from codesign.errors import SpecError
from codesign.hw import resolve_system

pytestmark = pytest.mark.component

PD = "pd-h100-h200"
L70 = "llama-3.1-70b"
FIX = {"prompt": LengthDist.fixed(512), "output": LengthDist.fixed(32)}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- two pools
def test_pd_system_runs_each_phase_on_its_pool(capsys: pytest.CaptureFixture[str]) -> None:
    """The brief's command: prefill on the H100 pool, decode on the H200 pool, both shown."""
    code, out, err = cli(capsys, "--model", L70, "--system", PD, "--tp", "8", "--rate", "2",
                         "--requests", "100")
    assert code == 0, err
    assert "pool prefill" in " ".join(out.split()) and "h200-sxm" in out
    code, out, err = cli(capsys, "--model", L70, "--system", PD, "--tp", "8", "--rate", "2",
                         "--requests", "100", "--json")
    assert code == 0, err
    s = json.loads(out)
    m = s["mapping"]
    assert m["disaggregated"] and (m["prefill"]["pool"], m["decode"]["pool"]) == (
        "prefill", "decode")
    assert m["prefill"]["tp"] == m["decode"]["tp"] == 8
    pre, dec = s["pools"]["prefill"], s["pools"]["decode"]
    assert (pre["device"], dec["device"]) == ("h100-sxm", "h200-sxm")
    assert pre["roles"] == ["prefill"] and dec["roles"] == ["decode"]
    assert pre["ttft_s"] == s["ttft_s"] and pre["tpot_s"] is None
    assert dec["tpot_s"] == s["tpot_s"] and dec["ttft_s"] is None
    assert 0 < pre["utilization"] < 1 and 0 < dec["utilization"] <= 1
    assert s["kv_transfer_s"]["count"] == 100
    assert "link prefill->decode" in s["kv_transfer_s"]["resources"]
    assert set(s["memory"]) == {"prefill", "decode"}
    assert all(v["fits"] for v in s["memory"].values())
    # the H200 pool has the larger memory, so more KV room
    assert s["kv_cache"]["decode"]["rank_tokens"] > s["kv_cache"]["prefill"]["rank_tokens"]


def test_kv_transfer_is_timed_and_queued_on_the_link() -> None:
    """Four prompts prefilled in one iteration: their KV leaves at once over a link of one
    slot (TP8, KV split over 8 GPUs), so the k-th waits for k - 1 transfers."""
    sysm = resolve_system(PD)
    nbytes = 2000 * 327_680 / 8  # llama-3.1-70b: 327,680 KV bytes per token over 8 GPUs
    one, _ = sysm.transfer("prefill", "decode", nbytes)
    solo = simulate(L70, PD, tp=8, workload=[Request(0, 0.0, 2000, 20)]).summary()
    assert solo["kv_transfer_s"]["mean"] == pytest.approx(one, rel=1e-9)
    wl = [Request(i, 0.0, 2000, 20) for i in range(4)]
    r = simulate(L70, PD, tp=8, workload=wl)
    waits = np.sort(r.table["transfer_s"])
    assert waits == pytest.approx([one, 2 * one, 3 * one, 4 * one], rel=1e-9)
    link = r.summary()["kv_transfer_s"]["resources"]["link prefill->decode"]
    assert link["slots"] == 1 and link["busy_s"] == pytest.approx(4 * one, rel=1e-9)


def test_more_link_bandwidth_shortens_the_transfer(tmp_path: Path) -> None:
    spec = resolve_system(PD).spec
    lk = spec.links[0]
    fast = spec.model_copy(update={"name": "pd-fast", "links": (lk.model_copy(update={
        "link": lk.link.model_copy(update={"bytes_per_s": 4 * lk.link.bytes_per_s})}),)})
    wl = [Request(i, 0.0, 2000, 20) for i in range(4)]
    slow_s = simulate(L70, PD, tp=8, workload=wl).summary()
    fast_s = simulate(L70, fast, tp=8, workload=wl).summary()
    assert fast_s["kv_transfer_s"]["mean"] < slow_s["kv_transfer_s"]["mean"]
    assert fast_s["e2e_s"]["mean"] < slow_s["e2e_s"]["mean"]
    assert fast_s["ttft_s"] == slow_s["ttft_s"]  # the first token comes from prefill


def test_a_system_file_with_two_pools(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["system", "show", PD, "--yaml"]) == 0
    f = tmp_path / "pd.yaml"
    f.write_text(capsys.readouterr().out)
    code, out, err = cli(capsys, "--model", "llama-3.1-8b", "--system", str(f), "--rate", "4",
                         "--requests", "20", "--json")
    assert code == 0, err
    assert set(json.loads(out)["pools"]) == {"prefill", "decode"}


# --------------------------------------------------------------------------- cost, energy
def test_cost_and_energy_come_from_the_system() -> None:
    s = simulate("deepseek-v3", "deepseek-h800-mpft", rate=2.0, requests=10, seed=1,
                 prefill="tp=1,dp=32,ep=32", decode="tp=1,dp=32,ep=32", **FIX).summary()
    sysm = resolve_system("deepseek-h800-mpft")
    used = {"gpus": 64}
    assert s["cost"] == sysm.usd_per_hour(used)
    assert s["cost"]["network_usd_per_hour"] > 0  # 8 nodes on the fat-tree
    usd = sum(s["cost"].values()) * s["window_s"] / 3600
    assert s["usd"] == pytest.approx(usd, rel=1e-12)
    assert s["usd_per_million_tokens"] == pytest.approx(usd / s["output_tokens"] * 1e6)
    e = s["energy"]
    assert e["network_j"] == pytest.approx(sysm.network_power_w(used) * s["window_s"])
    assert s["energy_j"] == pytest.approx(e["devices_j"] + e["network_j"] + e["links_j"])
    assert s["joules_per_token"] == pytest.approx(s["energy_j"] / s["output_tokens"])


# --------------------------------------------------------------------------- memory
def test_memory_report_and_ignore_memory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SpecError) as e:
        simulate(L70, "h100-sxm", gpus=1, rate=1.0, requests=5)
    assert e.value.field == "mapping"
    assert "pool 'gpus'" in e.value.message and "GB" in e.value.message
    s = simulate(L70, "h100-sxm", gpus=1, rate=1.0, requests=5, ignore_memory=True,
                 **FIX).summary()
    mem = s["memory"]["gpus"]
    assert not mem["fits"] and mem["required_bytes"] > mem["capacity_bytes"]
    assert s["kv_cache"]["instance"]["unlimited"] and s["output_tokens"] == 5 * 32
    ok = simulate("llama-3.1-8b", "h100-sxm", gpus=1, rate=1.0, requests=5, **FIX).summary()
    assert ok["memory"]["gpus"]["fits"]
    assert ok["memory"]["gpus"]["required_bytes"] < ok["memory"]["gpus"]["capacity_bytes"]
    code, _, err = cli(capsys, "--model", L70, "--system", "h100-sxm", "--gpus", "1",
                       "--rate", "1")
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: mapping: ") and "--ignore-memory" in err


def test_ignore_memory_keeps_a_fitting_run_as_it_is() -> None:
    kw: dict[str, Any] = {"gpus": 1, "rate": 8.0, "requests": 60, "seed": 2,
                          "memory_fraction": 0.22, **FIX}
    a = simulate("llama-3.1-8b", "h100-sxm", **kw)
    b = simulate("llama-3.1-8b", "h100-sxm", ignore_memory=True, **kw)
    assert np.array_equal(a.table["finish_s"], b.table["finish_s"])


# --------------------------------------------------------------------------- workloads
def test_cache_hits_cut_prefill_work_not_input_tokens() -> None:
    kw: dict[str, Any] = {"gpus": 1, "rate": 4.0, "requests": 60, "seed": 3,
                          "prompt": LengthDist.fixed(4000), "output": LengthDist.fixed(8)}
    cold = simulate("llama-3.1-8b", "h100-sxm", **kw).summary()
    warm = simulate("llama-3.1-8b", "h100-sxm", cache_hit=0.75, **kw).summary()
    assert warm["input_tokens"] == cold["input_tokens"]
    assert warm["cached_input_tokens"] == 60 * 3000
    assert warm["ttft_s"]["p50"] < cold["ttft_s"]["p50"]
    assert warm["energy_j"] < cold["energy_j"]


def test_workload_columns_equal_request_lists() -> None:
    wl = poisson_workload(5.0, 40, seed=4, **FIX)
    a = simulate("llama-3.1-8b", "h100-sxm", gpus=1, workload=wl)
    b = simulate("llama-3.1-8b", "h100-sxm", gpus=1, workload=wl.requests())
    assert np.array_equal(a.table["finish_s"], b.table["finish_s"])


def test_timeline_counts_every_token() -> None:
    s = simulate("llama-3.1-8b", "hgx-h100", rate=10.0, requests=40, seed=5, sample_s=0.5,
                 prefill="tp=1,instances=2", decode="tp=1,instances=2", **FIX).summary()
    tl = s["timeline"]
    assert tl["t_s"] == sorted(tl["t_s"]) and tl["t_s"][-1] >= s["window_s"]
    pre, dec = tl["roles"]["prefill"], tl["roles"]["decode"]
    assert pre["prompt_tokens"][-1] == s["input_tokens"]
    assert dec["decode_tokens"][-1] == s["output_tokens"] - 40  # first tokens: prefill's
    assert pre["running"][-1] == dec["waiting"][-1] == 0


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,field", [
    ({"cache_hit": 1.0}, "cache_hit"),
    ({"cache_hit": -0.1}, "cache_hit"),
    ({"cache_hit": "half"}, "cache_hit"),
    ({"ignore_memory": "yes"}, "ignore_memory"),
    ({"sample_s": 0.0}, "sample_s"),
    ({"workload": [Request(0, 0.0, 10, 5, 10)]}, "workload[0].cached_tokens"),
    ({"workload": Workload(np.arange(2), np.zeros(2), np.array([5, 0]), np.ones(2, int),
                           np.zeros(2, int))}, "workload.prompt_tokens[1]"),
    ({"workload": [Request(0, 0.0, 10, 5, 3)], "cache_hit": 0.5}, "cache_hit"),
])
def test_bad_new_inputs_name_the_field(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"gpus": 1, "rate": 1.0, "requests": 3} if "workload" not in kw \
        else {"gpus": 1}
    args.update(kw)
    with pytest.raises(SpecError) as e:
        simulate("llama-3.1-8b", "h100-sxm", **args)
    assert e.value.field == field
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("args,flag", [
    (["--system", PD, "--gpus", "8"], "--gpus"),
    (["--system", PD, "--prefill-mapping", "tp=1,instances=9", "--decode-mapping", "tp=1"],
     "--prefill-mapping"),
    (["--system", "hgx-h100", "--cache-hit", "2"], "--cache-hit"),
    (["--system", "hgx-h100", "--sample-s", "-1"], "--sample-s"),
])
def test_cli_rejects_bad_system_input(capsys: pytest.CaptureFixture[str], args: list[str],
                                      flag: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    code, _, err = cli(capsys, "--model", "llama-3.1-8b", "--rate", "1", "--trace-out",
                       str(out), *args)
    assert code == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {flag}: "), err
    assert not out.exists()  # nothing half-written


def test_trace_file_cached_tokens(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("arrival_s,prompt_tokens,output_tokens,cached_tokens\n0,100,5,40\n"
                 "0.1,100,5,\n")
    s = simulate("llama-3.1-8b", "h100-sxm", gpus=1, arrival="trace", trace=p).summary()
    assert s["cached_input_tokens"] == 40
    p.write_text("arrival_s,prompt_tokens,output_tokens,cached_tokens\n0,100,5,100\n")
    with pytest.raises(SpecError) as e:
        simulate("llama-3.1-8b", "h100-sxm", gpus=1, arrival="trace", trace=p)
    assert e.value.field == "t.csv line 2, column cached_tokens"


def test_placement_of_a_phase_over_two_stages_is_rejected() -> None:
    spec = resolve_system(PD).spec
    two = spec.model_copy(update={"placement": {
        "prefill": [{"pool": "prefill"}],
        "decode": [{"pool": "prefill", "layers": [0, 40]},
                   {"pool": "decode", "layers": [40, 80]}]}})
    with pytest.raises(SpecError) as e:
        simulate(L70, two, tp=8, rate=1.0, requests=3)
    assert e.value.field == "system.placement"


def test_pools_without_a_link_are_rejected_before_the_run() -> None:
    spec = resolve_system(PD).spec.model_copy(update={"links": ()})
    with pytest.raises(SpecError) as e:
        simulate("llama-3.1-8b", spec, rate=1.0, requests=3)
    assert e.value.field == "system.links" and "'prefill' and 'decode'" in e.value.message
