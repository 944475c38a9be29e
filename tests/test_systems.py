"""The system contract: systems and devices as files, placements over pools, both engines on
heterogeneous systems, memory checks, and the network's share of latency, energy and cost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from codesign.cli import app, main
from codesign.engines import AnalyticalEngine
from codesign.engines.des import DesEngine
from codesign.errors import SpecError
from codesign.evaluate import evaluate_model
from codesign.hw import (
    HARDWARE,
    SYSTEMS,
    PlacementSpec,
    StageSpec,
    SystemSpec,
    dump_device,
    resolve_device,
    resolve_system,
)
from codesign.hw.placement import parse_placement
from codesign.hw.resolve import parse_system
from codesign.ir.ops import Gemm

pytestmark = pytest.mark.component
RUNNER = CliRunner()


def _two_pools(link_bytes_per_s: float = 50e9) -> dict[str, Any]:
    nvlink = {"bytes_per_s": 900e9}
    return {"name": "two", "pools": {
        "a": {"device": "h100-sxm", "devices_per_node": 8, "scale_up": nvlink},
        "b": {"device": "h200-sxm", "devices_per_node": 8, "scale_up": nvlink}},
        "links": [{"pools": ["a", "b"], "link": {"kind": "infiniband",
                                                 "bytes_per_s": link_bytes_per_s,
                                                 "latency_s": 5e-6}}]}


def _pipeline(split: int = 16) -> dict[str, Any]:
    return {"decode": [{"pool": "a", "layers": [0, split]}, {"pool": "b", "layers": [split, 32]}]}


# ----------------------------------------------------------------------- files round-trip
@pytest.mark.parametrize("name", ["hgx-h100", "pd-h100-h200", "deepseek-h800-mpft",
                                  "gb200-nvl72"])
def test_system_yaml_reads_back_unchanged(name: str, tmp_path: Path) -> None:
    res = RUNNER.invoke(app, ["system", "show", name, "--yaml"])
    assert res.exit_code == 0, res.output
    path = tmp_path / "sys.yaml"
    path.write_text(res.stdout)
    assert resolve_system(str(path)).spec == SYSTEMS.get(name)
    again = RUNNER.invoke(app, ["system", "show", str(path), "--yaml"])
    assert again.stdout == res.stdout


@pytest.mark.parametrize("name", HARDWARE.names())
def test_device_yaml_and_json_read_back_unchanged(name: str, tmp_path: Path) -> None:
    want = HARDWARE.get(name).describe()
    for flag, suffix in (("--yaml", ".yaml"), ("--json", ".json")):
        res = RUNNER.invoke(app, ["hw", "show", name, flag])
        assert res.exit_code == 0, res.output
        path = tmp_path / f"dev{suffix}"
        path.write_text(res.stdout)
        assert resolve_device(str(path)).describe() == want, flag


def test_datasheet_only_chip_transfers_calibration_and_obeys_bandwidth(tmp_path: Path) -> None:
    base = dump_device(HARDWARE.get("h200-sxm"))
    assert base["family"] == "gpu"
    from hwmodels.gpu.datasheets import DATASHEETS

    ds = DATASHEETS["h200-sxm"]().model_dump(mode="json")
    ds.pop("sources")
    # half the bandwidth: the memory-bound time doubles (twice the bandwidth is capped by
    # the fitted per-SM pull rate, 42 GB/s x 132 SMs: see the GPU kernel-stack issue)
    ds.update(name="h200-half-bw", hbm_bytes_per_s=ds["hbm_bytes_per_s"] / 2)
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump({"family": "gpu", "datasheet": ds}))
    chip = resolve_device(str(path))
    assert chip.describe()["calibration"] == "transferred from h100-sxm"
    gemv = Gemm("w", m=1, n=28672, k=8192)  # a weight-streaming GEMV: HBM-bound
    ratio = chip.op_cost(gemv).latency_s / HARDWARE.get("h200-sxm").op_cost(gemv).latency_s
    assert 1.8 < ratio <= 2.0 + 1e-9


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("doc,field", [
    ({"name": "x", "pools": {}}, "system.pools"),
    ({"name": "x", "pools": {"a": {"device": "h100-sxm", "nodes": 0}}}, "system.pools.a.nodes"),
    ({"name": "x", "pools": {"a": {"device": "h100-sxm", "devices_per_node": 0}}},
     "system.pools.a.devices_per_node"),
    ({**_two_pools(), "links": [{"pools": ["a", "b"], "link": {"kind": "pcie",
                                                              "bytes_per_s": 0}}]},
     "system.links.0.link.bytes_per_s"),
    ({**_two_pools(), "links": [{"pools": ["a", "b"], "link": {"kind": "pcie",
                                                              "bytes_per_s": -5}}]},
     "system.links.0.link.bytes_per_s"),
    ({**_two_pools(), "links": [{"pools": ["a", "zz"], "link": {"kind": "pcie",
                                                               "bytes_per_s": 1e9}}]},
     "system.links[0].pools"),
    ({**_two_pools(), "colour": "red"}, "system.colour"),
    ({"name": "x", "pools": {"a": {"device": "h100-sxm", "gpus": 8}}}, "system.pools.a.gpus"),
])
def test_bad_system_documents_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_system(doc)
    assert e.value.field == field


@pytest.mark.parametrize("placement,field", [
    ({"decode": [{"pool": "nowhere"}]}, "placement.decode[0].pool"),
    ({"decode": []}, "placement.decode"),
    ({"decode": [{"pool": "a", "tp": 16}]}, "placement.decode[0].tp"),
    ({"decode": [{"pool": "a", "layers": [0, 10]}]}, "placement.decode"),
    ({"decode": [{"pool": "a", "layers": [0, 40]}]}, "placement.decode[0].layers"),
    ({"decode": [{"pool": "a"}, {"pool": "b"}]}, "placement.decode"),
    ({"decode": [{"pool": "a", "tpp": 2}]}, "placement.decode.0.tpp"),
])
def test_bad_placements_name_the_stage(placement: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        evaluate_model("llama-3.1-8b", "decode", 8, 1024, system=resolve_system(_two_pools()),
                       placement=placement)
    assert e.value.field == field


def _write(tmp_path: Path, name: str, doc: Any) -> str:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc))
    return str(p)


@pytest.mark.parametrize("doc,words", [
    ({"family": "quantum", "name": "q"}, ["family", "gpu"]),
    ({"name": "nofamily"}, ["family"]),
    ({"family": "gpu", "datasheet": "h100-sxm", "efficiency": {}}, ["energy"]),
    ({"family": "gpu", "datasheet": "h100-sxm", "colour": 1}, ["colour", "unknown key"]),
])
def test_bad_device_files_one_line_exit_2(doc: dict[str, Any], words: list[str],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "dev.yaml", doc)
    rc = main(["eval", "--model", "llama-3.1-8b", "--hw", path])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and all(w in err[0] for w in words), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.yaml"]  # nothing written


def test_duplicate_keys_in_a_system_file_are_rejected(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "dup.yaml"
    p.write_text("name: x\npools:\n  a: {device: h100-sxm}\n  a: {device: h200-sxm}\n")
    rc = main(["eval", "--model", "llama-3.1-8b", "--system", str(p)])
    assert rc == 2 and "duplicate key 'a'" in capsys.readouterr().err


# ----------------------------------------------------------------------- placements
def test_pipeline_over_two_pools_sums_stages_and_one_transfer() -> None:
    sysm = resolve_system(_two_pools())
    r = evaluate_model("llama-3.1-8b", "decode", 8, 1024, system=sysm, placement=_pipeline())
    on_a = evaluate_model("llama-3.1-8b", "decode", 8, 1024, "h100-sxm")
    on_b = evaluate_model("llama-3.1-8b", "decode", 8, 1024, "h200-sxm")
    transfers = [x for x in r.records if x.kind == "transfer"]
    assert len(transfers) == 1 and transfers[0].key == "L15.ffn.residual->L16.attn_norm"
    hidden_bytes = 8 * 4096 * 2  # 8 tokens of the residual stream in bf16
    assert transfers[0].dram_bytes == hidden_bytes
    assert math.isclose(transfers[0].latency_s, 5e-6 + hidden_bytes / 50e9)
    assert min(on_a.latency_s, on_b.latency_s) < r.latency_s < max(on_a.latency_s,
                                                                    on_b.latency_s) + 1e-4
    assert r.world == 2 and set(r.meta["pools"]) == {"a", "b"}
    assert r.meta["pools"]["b"]["device"] == "h200-sxm"


def test_transfer_time_halves_with_twice_the_link_bandwidth() -> None:
    big = 64
    t = []
    for bw in (25e9, 50e9):
        r = evaluate_model("llama-3.1-8b", "prefill", big, 1024,
                           system=resolve_system(_two_pools(bw)),
                           placement={"prefill": [{"pool": "a", "layers": [0, 16]},
                                                  {"pool": "b", "layers": [16, 32]}]})
        t.append(next(x.latency_s for x in r.records if x.kind == "transfer") - 5e-6)
    assert math.isclose(t[0] / t[1], 2.0, rel_tol=1e-9)


def test_attention_and_ffn_on_different_pools_transfer_twice_per_layer() -> None:
    pl = {"decode": [{"pool": "a", "ops": "attention"}, {"pool": "b", "ops": "ffn"}]}
    r = evaluate_model("llama-3.1-8b", "decode", 8, 1024, system=resolve_system(_two_pools()),
                       placement=pl)
    n = sum(1 for x in r.records if x.kind == "transfer")
    assert n == 2 * 32 - 1  # attn->ffn in each layer, ffn->the next layer's attention


def test_stages_with_different_tp_compose_one_graph() -> None:
    pl = {"decode": [{"pool": "a", "layers": [0, 16], "tp": 2},
                     {"pool": "b", "layers": [16, 32], "tp": 4}]}
    r = evaluate_model("llama-3.1-8b", "decode", 8, 1024, system=resolve_system(_two_pools()),
                       placement=pl)
    keys = {x.key for x in r.records}
    assert "L3.attn.all_reduce" in keys or any(k.startswith("L3.") and "reduce" in k
                                               for k in keys)
    assert r.world == 6 and r.meta["memory"]["a"]["fits"]


def test_des_equals_analytical_on_two_pools_and_pipelines_micro_batches() -> None:
    sysm = resolve_system(_two_pools())
    kw: dict[str, Any] = {"system": sysm, "placement": _pipeline()}
    a = evaluate_model("llama-3.1-8b", "decode", 8, 1024, **kw)
    d = evaluate_model("llama-3.1-8b", "decode", 8, 1024, engine="des", **kw)
    assert math.isclose(a.latency_s, d.latency_s, rel_tol=1e-12)
    assert math.isclose(a.energy_j, d.energy_j, rel_tol=1e-9)
    for launch in ("eager",):
        ae = evaluate_model("llama-3.1-8b", "decode", 8, 1024, launch=launch, **kw)
        de = evaluate_model("llama-3.1-8b", "decode", 8, 1024, launch=launch, engine="des",
                            **kw)
        assert math.isclose(ae.latency_s, de.latency_s, rel_tol=1e-12)
    p = evaluate_model("llama-3.1-8b", "prefill", 8, 1024, engine="des", schedule="pipeline",
                       micro_batches=4, **{**kw, "placement": {
                           "prefill": [{"pool": "a", "layers": [0, 16]},
                                       {"pool": "b", "layers": [16, 32]}]}})
    s = evaluate_model("llama-3.1-8b", "prefill", 8, 1024, engine="des", **{**kw, "placement": {
        "prefill": [{"pool": "a", "layers": [0, 16]}, {"pool": "b", "layers": [16, 32]}]}})
    util = p.meta["resources"]
    busiest = max(v["busy_s"] for k, v in util.items() if k.startswith("stage"))
    assert busiest <= p.latency_s < s.latency_s  # the stages overlap micro-batches
    assert p.meta["micro_batches"] == 4


def test_engines_accept_a_system_and_a_placement_directly() -> None:
    from codesign.ir.models import build_graph, load_model
    from codesign.ir.spec import PhaseSpec

    sysm = resolve_system(_two_pools())
    g = build_graph(load_model("llama-3.1-8b"), PhaseSpec.decode(8, 1024),
                    PlacementSpec.trivial("a").stages("decode")[0].parallel)
    pl = parse_placement(_pipeline())
    a = AnalyticalEngine().run(g, sysm, pl)
    d = DesEngine().run(g, sysm, pl)
    assert math.isclose(a.latency_s, d.latency_s, rel_tol=1e-12) and a.tokens == 8
    one = AnalyticalEngine().run(g, sysm)  # the trivial placement: everything on pool a
    assert one.meta["pools"] == {"a": {"devices": 1, "device": "h100-sxm"}}
    assert StageSpec(pool="a").parallel.world == 1


# ----------------------------------------------------------------------- presets and memory
def test_pd_preset_runs_each_phase_on_its_pool() -> None:
    pre = evaluate_model("llama-3.1-70b", "prefill", 1, 2048, system="pd-h100-h200", tp=8)
    dec = evaluate_model("llama-3.1-70b", "decode", 32, 2048, system="pd-h100-h200", tp=8)
    assert pre.meta["pools"] == {"prefill": {"devices": 8, "device": "h100-sxm"}}
    assert dec.meta["pools"] == {"decode": {"devices": 8, "device": "h200-sxm"}}


def test_memory_is_checked_per_pool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SpecError) as e:
        evaluate_model("deepseek-v3", "decode", 1, 1024, "h100-sxm")
    assert e.value.field == "memory" and "'gpus'" in str(e.value) and "80.00 GB" in str(e.value)
    r = evaluate_model("deepseek-v3", "decode", 1, 1024, "h100-sxm", ignore_memory=True)
    m = r.meta["memory"]["gpus"]
    assert not m["fits"] and m["required_bytes"] > 6e11 and m["capacity_bytes"] == 80e9

    rc = main(["eval", "--model", "deepseek-v3", "--hw", "h100-sxm"])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


# ----------------------------------------------------------------------- the network's share
def _dsv3(system: Any) -> Any:
    return evaluate_model("deepseek-v3", "decode", 1024, 4096, system=system, dp=32, ep=32)


def _variant(**scale_out: Any) -> SystemSpec:
    spec = SYSTEMS.get("deepseek-h800-mpft")
    pool = spec.pools["gpus"]
    assert pool.scale_out is not None
    so = pool.scale_out.model_copy(update=scale_out)
    return spec.model_copy(update={"pools": {"gpus": pool.model_copy(
        update={"scale_out": so})}})


def test_topology_tiers_and_failed_planes_reach_tpot() -> None:
    base = _dsv3(_variant())
    ft3 = _dsv3(_variant(topology="ft3"))
    failed = _dsv3(_variant(failed_planes=1))
    over = _dsv3(_variant(oversubscription=2.0))
    hop = 0.6e-6 * 2  # two more switches each way on a three-tier tree
    per_step = ft3.latency_s - base.latency_s
    n_ep_ops = sum(1 for x in base.records if x.kind in ("dispatch", "combine"))
    assert math.isclose(per_step, n_ep_ops * hop, rel_tol=1e-6)
    assert failed.latency_s > base.latency_s and over.latency_s > base.latency_s


def test_cost_and_energy_split_into_devices_network_host() -> None:
    one = evaluate_model("llama-3.1-8b", "decode", 8, 1024, "hgx-h100")
    assert one.meta["cost"]["network_usd_per_hour"] == 0.0
    assert one.meta["energy"]["network_j"] == 0.0
    many = _dsv3("deepseek-h800-mpft")
    c, e = many.meta["cost"], many.meta["energy"]
    assert c["network_usd_per_hour"] > 0 and c["devices_usd_per_hour"] == 32 * 2.0
    assert e["network_j"] > 0
    total = c["devices_usd_per_hour"] + c["network_usd_per_hour"] + c["host_usd_per_hour"]
    assert math.isclose(many.usd_per_million_tokens,
                        total / 3600 * many.latency_s / many.tokens * 1e6)
    assert math.isclose(many.energy_j, e["devices_j"] + e["network_j"] + e["links_j"])


def test_experts_on_another_pool_move_weights_and_cross_the_link() -> None:
    sysm = resolve_system({"name": "hybrid", "pools": {
        "gpu": {"device": "h100-sxm"}, "ex": {"device": "a100-sxm"}},
        "links": [{"pools": ["gpu", "ex"], "link": {"kind": "pcie", "bytes_per_s": 64e9,
                                                     "latency_s": 2e-6}}]})
    alone = {"decode": [{"pool": "gpu"}]}
    half = {**alone, "experts": {"ex": list(range(32))}}  # 32 of DeepSeek-V2-Lite's 64
    kw: dict[str, Any] = {"system": sysm}
    base = evaluate_model("deepseek-v2-lite", "decode", 16, 2048, placement=alone, **kw)
    a = evaluate_model("deepseek-v2-lite", "decode", 16, 2048, placement=half, **kw)
    d = evaluate_model("deepseek-v2-lite", "decode", 16, 2048, placement=half, engine="des",
                       **kw)
    moe_layers = sum(1 for x in base.records if x.kind == "dispatch")
    transfers = [x for x in a.records if x.kind == "transfer"]
    assert len(transfers) == 2 * moe_layers  # dispatch -> experts, experts -> combine
    mem, before = a.meta["memory"], base.meta["memory"]["gpu"]["weights_bytes"]
    moved = before - mem["gpu"]["weights_bytes"]
    assert math.isclose(moved, mem["ex"]["weights_bytes"], rel_tol=1e-9) and moved > 0
    assert d.latency_s < a.latency_s  # the expert pool works beside the GPU's own experts
    assert set(a.meta["pools"]) == {"gpu", "ex"}
    with pytest.raises(SpecError) as e:
        evaluate_model("llama-3.1-8b", "decode", 8, 1024, placement=half, **kw)
    assert e.value.field == "placement.experts"
