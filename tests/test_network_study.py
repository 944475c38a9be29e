"""Network co-design study: DeepSeek's decode bound (ISCA 2025, "Insights into DeepSeek-V3",
section 2.3.2), the topology cost sweep against Table 3, multi-plane effects, the bundled
``network-codesign`` study end to end, and bad network-study input.

The paper's bound: (1 + 2 bytes) x 32 tokens x 9 experts x "7K" hidden / bandwidth per layer
and micro-batch; 50 GB/s -> 120.96 us, 61 layers x 2 micro-batches -> 14.76 ms (67 tokens/s);
900 GB/s (GB200 NVL72) -> 6.72 us, 0.82 ms (~1,200 tokens/s). The "7K" is 7,000 in the
paper's arithmetic (120.96 us = 3 x 32 x 9 x 7,000 / 50e9 exactly).
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from codesign.cli.study import study_app
from codesign.errors import SpecError
from codesign.study import bundled_studies, load_study, run_study, spec_from_mapping
from codesign.study.runner import OUTPUT_FILES
from codesign.study.spec import NetworkStudySpec, StudySpec
from hwmodels.network.presets import pool_network
from hwmodels.network.study import (
    PAPER_HIDDEN,
    cost_sweep,
    ep_tpot,
    failed_plane_flow_check,
    multi_plane_effects,
    paper_tpot_check,
    per_gpu_bytes_per_s,
    pruned_ft3,
    system_variant,
    tpot_bound,
)

pytestmark = pytest.mark.component

# ------------------------------------------------------------------------------ TPOT
# per-GPU bytes/s, paper comm per layer (s), paper TPOT (s), paper tokens/s
PAPER = [
    ("400G IB", 50e9, 120.96e-6, 14.76e-3, 67),
    ("GB200 NVL72", 900e9, 6.72e-6, 0.82e-3, 1200),
]


@pytest.mark.parametrize(("name", "bw", "comm", "tpot", "tps"), PAPER, ids=[p[0] for p in PAPER])
def test_tpot_formula_reproduces_the_paper(name: str, bw: float, comm: float, tpot: float,
                                           tps: int) -> None:
    b = tpot_bound(bw, hidden=PAPER_HIDDEN)
    assert b.comm_per_layer_s == pytest.approx(comm, rel=0.01)
    assert b.tpot_s == pytest.approx(tpot, rel=0.01)
    assert b.layer_s == 2 * b.comm_per_layer_s and b.tpot_s == pytest.approx(61 * b.layer_s)
    assert b.tokens_per_s == pytest.approx(tps, rel=0.02)
    # DeepSeek-V3's real hidden size, 7,168, is 2.4% more bytes
    assert tpot_bound(bw).tpot_s == pytest.approx(tpot * 7168 / 7000, rel=0.01)


def test_paper_check_rows() -> None:
    rows = paper_tpot_check()
    assert [r["interconnect"] for r in rows] == ["400G InfiniBand", "GB200 NVL72"]
    for r in rows:
        assert abs(r["tpot_rel_error"]) < 0.01
        assert r["comm_per_layer_us"] == pytest.approx(r["paper_comm_per_layer_us"], rel=1e-9)
    # the printed tokens/s are 1/TPOT rounded down: 67.76 -> 67, 1,220 -> "1,200"
    assert math.floor(rows[0]["tokens_per_s"]) == 67
    assert round(rows[1]["tokens_per_s"], -2) == 1200


def test_tpot_bound_on_systems() -> None:
    mpft = pool_network("deepseek-h800-mpft")
    nvl = pool_network("gb200-nvl72")
    assert per_gpu_bytes_per_s(mpft) == 50e9  # 2,048 GPUs: scale-out
    assert per_gpu_bytes_per_s(mpft, ep=8) == 200e9  # one H800 node: NVLink 400 / 2
    assert per_gpu_bytes_per_s(nvl, ep=72) == 900e9
    assert tpot_bound(mpft, hidden=PAPER_HIDDEN).tpot_s == pytest.approx(14.76e-3, rel=0.01)
    assert tpot_bound(nvl, hidden=PAPER_HIDDEN).tpot_s == pytest.approx(0.82e-3, rel=0.01)
    failed = system_variant(mpft, failed_planes=1)
    assert per_gpu_bytes_per_s(failed) == pytest.approx(50e9 * 7 / 8)
    assert tpot_bound(failed).tpot_s == pytest.approx(tpot_bound(mpft).tpot_s * 8 / 7)
    with pytest.raises(SpecError, match="hidden"):
        tpot_bound(50e9, hidden=0)
    with pytest.raises(SpecError, match="bandwidth"):
        tpot_bound(0.0)


def test_codesign_model_against_the_formula() -> None:
    mpft = pool_network("deepseek-h800-mpft")
    nvl = pool_network("gb200-nvl72")
    formula_ib = tpot_bound(mpft).tpot_s
    ib = ep_tpot(mpft, 320)
    # the model adds FP8 scales, 92% achievable line rate and fixed latencies
    assert ib.bottleneck == "rdma" and ib.fixed_s > 0
    assert formula_ib < ib.tpot_s < 1.6 * formula_ib
    bandwidth_part = 61 * 2 * (ib.comm_per_layer_s - ib.fixed_s)
    assert bandwidth_part == pytest.approx(formula_ib / 0.92, rel=0.05)
    # one plane or eight: one NIC per GPU either way, same times while healthy
    assert ep_tpot(system_variant(mpft, planes=1), 320).tpot_s == pytest.approx(ib.tpot_s)
    worse = ep_tpot(system_variant(mpft, failed_planes=1), 320)
    assert ib.dispatch_s < worse.dispatch_s < ib.dispatch_s * 8 / 7
    dead = ep_tpot(system_variant(mpft, planes=1, failed_planes=1), 320)
    assert dead.tpot_s is None and dead.tokens_per_s == 0.0
    # inside the NVL72 the model's fixed all-to-all latency at 72 ranks dominates
    nv = ep_tpot(nvl, 72)
    assert nv.bottleneck == "nvlink" and nv.planes is None
    assert nv.tpot_s > 5 * tpot_bound(nvl, ep=72).tpot_s
    assert nv.fixed_s > 0.5 * nv.comm_per_layer_s
    assert nv.tpot_s < ib.tpot_s


# ------------------------------------------------------------------------------ cost sweep
# DeepSeek ISCA 2025 Table 3, radix 64: endpoints, switches, links, cost per endpoint (USD)
TABLE3 = {
    "ft2": (2_048, 96, 2_048, 4.39e3),
    "mpft": (16_384, 768, 16_384, 4.39e3),
    "ft3": (65_536, 5_120, 131_072, 7.5e3),
    "slimfly": (32_928, 1_568, 32_928, 4.4e3),
    "dragonfly": (261_632, 16_352, 384_272, 5.8e3),
}


@pytest.fixture(scope="module")
def sweep() -> Any:
    return cost_sweep()


def test_cost_sweep_reproduces_radix_64(sweep: Any) -> None:
    r64 = sweep[sweep["radix"] == 64].set_index("topology")
    for kind, (endpoints, switches, links, per_ep) in TABLE3.items():
        row = r64.loc[kind]
        assert (row["endpoints"], row["switches"], row["links"]) == (endpoints, switches, links)
        assert row["cost_per_endpoint_usd"] == pytest.approx(per_ep, rel=0.02)
        assert row["cost_usd"] == pytest.approx(row["cost_per_endpoint_usd"] * endpoints)


def test_cost_sweep_shape(sweep: Any) -> None:
    assert len(sweep) == 25 and sweep.attrs["skipped"] == []
    assert list(sweep.columns[:4]) == ["topology", "name", "radix", "planes"]
    assert (sweep[sweep["topology"] == "mpft"]["planes"] == 8).all()
    # fat trees get cheaper per endpoint with bigger switches; MPFT costs what FT2 costs
    for kind in ("ft2", "ft3", "mpft"):
        col = sweep[sweep["topology"] == kind].sort_values("radix")["cost_per_endpoint_usd"]
        assert col.is_monotonic_decreasing
    ft2 = sweep[sweep["topology"] == "ft2"].set_index("radix")["cost_per_endpoint_usd"]
    mpft = sweep[sweep["topology"] == "mpft"].set_index("radix")["cost_per_endpoint_usd"]
    pd.testing.assert_series_equal(ft2, mpft)


def test_cost_sweep_skips_what_builders_reject() -> None:
    df = cost_sweep((4, 64), planes=3, kinds=("mpft", "slimfly", "ft2"))
    skipped = {(s["topology"], s["radix"]): s["field"] for s in df.attrs["skipped"]}
    assert skipped == {("mpft", 4): "planes", ("mpft", 64): "planes", ("slimfly", 4): "radix"}
    assert sorted(zip(df["topology"], df["radix"], strict=True)) == [
        ("ft2", 4), ("ft2", 64), ("slimfly", 64)]


# ------------------------------------------------------------------------------ planes
def test_pruned_ft3_has_full_ft3_cost_per_endpoint() -> None:
    t = pruned_ft3(64, 16_384)
    assert (t.endpoints, t.switches, t.links) == (16_384, 1_280, 32_768)
    assert t.counts.switches_by_kind == {"leaf": 512, "spine": 512, "core": 256}
    assert t.cost_per_endpoint_usd == pytest.approx(7.5e3)
    with pytest.raises(SpecError):
        _ = t.graph
    with pytest.raises(SpecError, match="endpoints"):
        pruned_ft3(8, 10_000)


def test_multi_plane_effects() -> None:
    mp = multi_plane_effects()
    assert mp["endpoints"] == 16_384 and mp["ft2_radix_for_same_endpoints"] == 182
    rows = {r["topology"]: r for r in mp["fabrics"]}
    assert rows["mpft"]["cost_per_endpoint_usd"] == rows["ft2"]["cost_per_endpoint_usd"]
    assert rows["mpft"]["cost_per_endpoint_usd"] < 0.6 * rows["ft3"]["cost_per_endpoint_usd"]
    assert rows["mpft"]["switches"] == 768 and rows["ft3"]["switches"] == 1_280
    assert rows["mpft"]["bandwidth_left_one_failed_plane"] == pytest.approx(7 / 8)
    assert rows["ft3"]["bandwidth_left_one_failed_plane"] == 0.0
    assert rows["mpft"]["gpus_cut_off_by_one_leaf_failure"] == 0
    assert rows["ft2"]["gpus_cut_off_by_one_leaf_failure"] == 32
    ep = mp["ep"]
    assert ep["multi_plane_1_failed"]["dispatch_s"] > ep["multi_plane"]["dispatch_s"]
    assert ep["single_plane"]["tpot_s"] == pytest.approx(ep["multi_plane"]["tpot_s"])
    assert ep["single_plane_failed"]["tpot_s"] is None
    assert len(mp["findings"]) == 5
    json.dumps(mp)  # plain data


def test_failed_plane_flow_check() -> None:
    fc = failed_plane_flow_check()
    # one ECMP path per flow: the detour collides with a surviving plane's flow
    assert fc["slowdown"] == pytest.approx(2.0, rel=0.01)
    assert fc["ideal_slowdown"] == pytest.approx(8 / 7)
    assert fc["detour_hops"] > fc["direct_hops"]


# ------------------------------------------------------------------------------ study
@pytest.fixture(scope="module")
def study_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, float]:
    out = tmp_path_factory.mktemp("net") / "network-codesign"
    t0 = time.perf_counter()
    result = run_study(load_study("network-codesign"), out, progress=False)
    return result, time.perf_counter() - t0


def test_bundled_study_loads() -> None:
    assert "network-codesign" in bundled_studies()
    spec = load_study("network-codesign")
    assert isinstance(spec, NetworkStudySpec) and spec.kind == "network"
    assert spec.radices == (16, 32, 48, 64, 128) and spec.planes == 8
    assert spec.tpot.scale_out_ep == 320 and spec.tpot.scale_up_system == "gb200-nvl72"
    assert load_study("deepseek-v3-decode").kind == "model"


def test_study_writes_the_four_files(study_run: tuple[Any, float]) -> None:
    result, seconds = study_run
    out = result.out_dir
    assert seconds < 10
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 25 and set(df["topology"]) == set(TABLE3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["study"] == "network-codesign" and summary["kind"] == "network"
    assert summary["spec"] == result.spec.model_dump(mode="json")
    paper = {r["interconnect"]: r for r in summary["tpot"]["paper_check"]}
    assert paper["400G InfiniBand"]["tpot_ms"] == pytest.approx(14.76, rel=0.01)
    assert paper["GB200 NVL72"]["tpot_ms"] == pytest.approx(0.82, rel=0.01)
    assert len(summary["tpot"]["systems"]) == 5 and summary["tpot"]["explanation"]
    assert summary["multi_plane"]["findings"]
    assert load_study(out / "study.yaml") == result.spec  # the snapshot reloads
    page = result.report_path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert page.count("Plotly.newPlot") == 4
    # re-running refreshes its own output
    again = run_study(result.spec, out, progress=False)
    assert again.summary["points"] == 25


def test_cli_runs_the_network_study(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "o"
    res = runner.invoke(study_app, ["run", "network-codesign", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["kind"] == "network" and Path(data["report_html"]) == out / "report.html"
    res = runner.invoke(study_app, ["run", "network-codesign", "--out", str(out)])
    assert res.exit_code == 0 and "GB200 NVL72" in res.stdout
    res = runner.invoke(study_app, ["list", "--json"])
    assert res.exit_code == 0
    kinds = {s["name"]: s["kind"] for s in json.loads(res.stdout)}
    assert kinds["network-codesign"] == "network" and kinds["deepseek-v3-decode"] == "model"
    assert runner.invoke(study_app, ["list"]).exit_code == 0


# ------------------------------------------------------------------------------ bad input
NET: dict[str, Any] = {"name": "net", "kind": "network", "radices": [16, 64], "planes": 8}
BAD = [  # (patch, field named)
    ({"kind": "torus"}, "kind"),
    ({"kind": ["network"]}, "kind"),
    ({"planes": 0}, "planes"),
    ({"planes": 3}, "planes"),
    ({"planes": "eight"}, "planes"),
    ({"radices": [16, 63]}, "radices[1]"),
    ({"radices": [2]}, "radices[0]"),
    ({"radices": [0]}, "radices[0]"),
    ({"radices": []}, "radices"),
    ({"radices": [16, 16]}, "radices[1]"),
    ({"topologies": ["torus"]}, "topologies[0]"),
    ({"multi_plane_radix": 65}, "multi_plane_radix"),
    ({"tpot": {"hidden": 0}}, "tpot.hidden"),
    ({"tpot": {"scale_out_system": "nope"}}, "tpot.scale_out_system"),
    ({"tpot": {"scale_out_ep": 4096}}, "tpot.scale_out_ep"),
    ({"tpot": {"layer": 61}}, "tpot.layer"),
    ({"batch": [1]}, "batch"),
    ({"name": "Bad Name"}, "name"),
]


@pytest.mark.parametrize(("patch", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in
                                                      enumerate(BAD)])
def test_bad_network_study(tmp_path: Path, patch: dict[str, Any], field: str) -> None:
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump({**NET, **patch}, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_study(p)
    assert e.value.field == field, str(e.value)
    if field == "kind":
        assert e.value.allowed == ("model", "network")


def test_unknown_key_lists_network_fields() -> None:
    with pytest.raises(SpecError) as e:
        spec_from_mapping({**NET, "radix": 64}, "t")
    assert e.value.field == "radix" and "radices" in e.value.allowed
    with pytest.raises(SpecError) as e:
        spec_from_mapping({**NET, "tpot": {"hiden": 1}}, "t")
    assert e.value.field == "tpot.hiden" and "hidden" in e.value.allowed


def test_model_studies_keep_their_required_fields() -> None:
    base = {"name": "m", "model": "deepseek-v3", "context": 1024, "batch": [32],
            "hw": ["h100-sxm"]}
    assert isinstance(spec_from_mapping(base, "t"), StudySpec)
    assert spec_from_mapping({**base, "kind": "model"}, "t") == spec_from_mapping(base, "t")
    for missing in ("model", "context", "batch", "hw"):
        data = {k: v for k, v in {**base, "kind": "model"}.items() if k != missing}
        with pytest.raises(SpecError) as e:
            spec_from_mapping(data, "t")
        assert e.value.field == missing
    with pytest.raises(SpecError) as e:  # network fields are not model-study fields
        spec_from_mapping({**base, "planes": 8}, "t")
    assert e.value.field == "planes"
