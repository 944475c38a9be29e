"""Study specs, the study runner and its report: figures from a real run, the files a run
writes (and nothing on failure), every bad study input as a SpecError naming its field, the
``codesign study`` commands, and the bundled study against its expected summary."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from codesign.cli.study import study_app
from codesign.errors import SpecError
from codesign.evaluate import evaluate_model
from codesign.hw import get_device
from codesign.report.figures import (
    plot_layer_breakdown,
    plot_layer_energy,
    plot_roofline,
    plot_study,
)
from codesign.study import bundled_studies, load_study, run_study, spec_from_mapping
from codesign.study.runner import COLUMNS, OUTPUT_FILES

pytestmark = pytest.mark.component

#: a small study: DeepSeek-V3 decode on 32 GPUs, one of them without FP8
TINY: dict[str, Any] = {
    "name": "tiny", "description": "two devices, two batches", "model": "deepseek-v3",
    "phase": "decode", "context": 1024, "batch": [32, 64], "hw": ["h100-sxm", "a100-sxm"],
    "mapping": {"tp": 1, "dp": 32, "ep": 32}, "weight_dtype_fallback": "bf16",
    "metrics": ["tokens_per_s_per_device", "joules_per_token"],
}


def _yaml(tmp_path: Path, data: Any, name: str = "study.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# ------------------------------------------------------------------------------ figures
@pytest.fixture(scope="module")
def llama_run() -> Any:
    return evaluate_model("llama-3.1-8b", "decode", 8, 1024, "h100-sxm")


def test_layer_breakdown_stacks_every_kind(llama_run: Any) -> None:
    fig = plot_layer_breakdown(llama_run)
    kinds = {r.kind for r in llama_run.records}
    assert {t.name for t in fig.data} == kinds
    assert all(t.type == "bar" for t in fig.data) and fig.layout.barmode == "stack"
    assert list(fig.data[0].x) == [str(i) for i in range(32)] + ["other"]
    total_us = sum(sum(t.y) for t in fig.data)
    assert total_us == pytest.approx(sum(r.latency_s for r in llama_run.records) * 1e6)


def test_layer_energy_matches_per_layer(llama_run: Any) -> None:
    fig = plot_layer_energy(llama_run)
    per_layer = {str(d["layer"]) if d["layer"] is not None else "other": d["energy_j"]
                 for d in llama_run.per_layer()}
    for label, energy in per_layer.items():
        i = list(fig.data[0].x).index(label)
        assert sum(t.y[i] for t in fig.data) == pytest.approx(energy)


@pytest.mark.parametrize(("hw", "ceilings"), [("h100-sxm", {"bf16", "fp8"}),
                                              ("a100-sxm", {"bf16"})])
def test_roofline_markers_and_ceilings(llama_run: Any, hw: str, ceilings: set[str]) -> None:
    fig = plot_roofline(llama_run, get_device(hw))
    markers = [t for t in fig.data if t.mode == "markers"]
    lines = [t.name.split()[0] for t in fig.data if t.mode == "lines"]
    assert sorted(lines) == sorted({"HBM", *ceilings})
    plotted = {r.kind for r in llama_run.records if r.flops > 0 and r.dram_bytes > 0}
    assert {t.name for t in markers} == plotted
    # one marker per distinct op: the 32 layers' identical ops collapse
    n_ops = sum(len(t.x) for t in markers)
    assert 5 <= n_ops < len(llama_run.records) / 10
    for t in markers:
        assert all(x > 0 for x in t.x) and all(y > 0 for y in t.y)
        assert all(c[1] in ("compute", "memory", "launch", "network") for c in t.customdata)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_plot_study_one_trace_per_device() -> None:
    rows = [{"hw": hw, "batch": b, "context": 4096, "tokens_per_s_per_device": b * k,
             "joules_per_token": 1 / (b * k), "usd_per_million_tokens": 1.0,
             "bound": "memory", "weight_dtype": "bf16", "fits_memory": b < 64}
            for hw, k in (("h100-sxm", 1.0), ("b200", 2.0)) for b in (8, 64, 32)]
    figs = plot_study(pd.DataFrame(rows))
    assert len(figs) == 3
    for fig in figs:
        assert [t.name for t in fig.data] == ["h100-sxm", "b200"]
        assert list(fig.data[0].x) == [8, 32, 64]  # sorted by batch
        assert list(fig.data[0].marker.symbol) == ["circle", "circle", "circle-open"]
    assert len(plot_study(pd.DataFrame(rows), ["joules_per_token"])) == 1


# ------------------------------------------------------------------------------ runner
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    return run_study(spec_from_mapping(TINY, "tiny"), out, progress=False)


def test_run_writes_the_four_files(tiny_run: Any) -> None:
    out = tiny_run.out_dir
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert _siblings(out) == []  # no temporary folders left
    df = pd.read_parquet(out / "results.parquet")
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 4 and set(df["hw"]) == {"h100-sxm", "a100-sxm"}
    assert dict(zip(df["hw"], df["weight_dtype"], strict=True)) == {
        "h100-sxm": "fp8_e4m3", "a100-sxm": "bf16"}
    assert (df["world"] == 32).all() and (df["tokens_per_s"] > 0).all()
    got = df.set_index(["hw", "batch"])["tokens_per_s_per_device"]
    ref = tiny_run.table.set_index(["hw", "batch"])["tokens_per_s_per_device"]
    pd.testing.assert_series_equal(got, ref)
    row = df[(df["hw"] == "h100-sxm") & (df["batch"] == 64)].iloc[0]
    direct = evaluate_model("deepseek-v3", "decode", 64, 1024, "h100-sxm", dp=32, ep=32)
    assert row["latency_s"] == pytest.approx(direct.latency_s)
    assert row["tokens_per_s_per_device"] == pytest.approx(direct.tokens_per_s / 32)


def test_run_summary_and_snapshot(tiny_run: Any) -> None:
    import codesign

    out = tiny_run.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert summary["codesign_version"] == codesign.__version__
    assert summary["spec"] == tiny_run.spec.model_dump(mode="json")
    assert set(summary["best"]) == set(TINY["metrics"])
    df = tiny_run.table
    best = summary["best"]["tokens_per_s_per_device"]
    assert best["value"] == pytest.approx(df["tokens_per_s_per_device"].max())
    assert summary["best"]["joules_per_token"]["value"] == pytest.approx(
        df["joules_per_token"].min())
    assert summary["reference"] == {"hw": "h100-sxm", "batch": 64, "context": 1024}
    assert load_study(out / "study.yaml") == tiny_run.spec  # the snapshot reloads


def test_report_is_self_contained(tiny_run: Any) -> None:
    page = tiny_run.report_path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*['\"]?https?:", page)
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the bundle, inlined once
    assert page.count("Plotly.newPlot") == 2 + 3  # two metrics, three reference figures
    assert "Roofline" in page and "Latency per layer" in page


def test_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import codesign.report.study_page as page

    def boom(*a: Any, **k: Any) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(page, "study_page_html", boom)
    out = tmp_path / "deep" / "out"
    with pytest.raises(RuntimeError):
        run_study(spec_from_mapping(TINY, "tiny"), out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_fallback_fails_before_writing(tmp_path: Path) -> None:
    data = {k: v for k, v in TINY.items() if k != "weight_dtype_fallback"}
    out = tmp_path / "out"
    with pytest.raises(SpecError) as e:
        run_study(spec_from_mapping(data, "t"), out, progress=False)
    assert e.value.field == "weight_dtype_fallback" and "a100-sxm" in e.value.message
    assert list(tmp_path.iterdir()) == []


def test_out_dir_not_empty(tmp_path: Path, tiny_run: Any) -> None:
    spec = spec_from_mapping(TINY, "tiny")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.parquet").write_text("old")
    with pytest.raises(SpecError) as e:
        run_study(spec, out, progress=False)
    assert e.value.field == "out_dir"
    assert [p.name for p in out.iterdir()] == ["results.parquet"]
    assert (out / "results.parquet").read_text() == "old" and _siblings(out) == []
    run_study(spec, out, progress=False, overwrite=True)  # a previous run's files: replaced
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert _siblings(out) == []
    (out / "notes.txt").write_text("mine")  # a file no study wrote: never deleted
    with pytest.raises(SpecError, match=r"notes\.txt"):
        run_study(spec, out, progress=False, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(SpecError, match="is a file"):
        run_study(spec, out / "notes.txt", progress=False, overwrite=True)


# ------------------------------------------------------------------------------ bad input
DROP = object()
BAD_STUDIES = [  # (patch of TINY, field named)
    ({"hw": ["h100-sxm", "tpu-v9"]}, "hw[1]"),
    ({"hw": []}, "hw"),
    ({"hw": ["h100-sxm", "H100-SXM"]}, "hw[1]"),
    ({"hw": DROP}, "hw"),
    ({"batch": [32, -4]}, "batch[1]"),
    ({"batch": [32, "many"]}, "batch[1]"),
    ({"batch": [16]}, "batch[0]"),  # cannot fill dp=32
    ({"context": 0}, "context[0]"),
    ({"bogus": 1}, "bogus"),
    ({"mapping": {"tp": 1, "pp": 2}}, "mapping.pp"),
    ({"mapping": {"dp": 2, "ep": 4}, "batch": [32]}, "mapping.ep"),
    ({"metrics": ["speed"]}, "metrics[0]"),
    ({"weight_dtype_fallback": "fp7"}, "weight_dtype_fallback"),
    ({"model": "gpt-5"}, "model"),
    ({"phase": "train"}, "phase"),
    ({"name": "Has Spaces"}, "name"),
    ({"reference": {"hw": "tpu-v9"}}, "reference.hw"),
    ({"reference": {"batch": 0}}, "reference.batch"),
]


@pytest.mark.parametrize(("patch", "field"), BAD_STUDIES, ids=[f for _, f in BAD_STUDIES])
def test_bad_study_file(tmp_path: Path, patch: dict[str, Any], field: str) -> None:
    data = {**TINY, **patch}
    data = {k: v for k, v in data.items() if v is not DROP}
    path = _yaml(tmp_path, data)
    with pytest.raises(SpecError) as e:
        load_study(path)
    assert e.value.field == field, str(e.value)
    if field not in ("model", "weight_dtype_fallback", "hw[1]", "reference.hw"):
        assert str(path) in e.value.message  # names the file it came from


@pytest.mark.parametrize(("arg", "match"), [
    ("no-such-study", "unknown study"),
    ("missing/study.yaml", "no such file"),
    ("missing.yaml", "no such file"),
    ("", "unknown study"),
])
def test_unknown_study(arg: str, match: str) -> None:
    with pytest.raises(SpecError, match=match) as e:
        load_study(arg)
    assert e.value.field == "study"
    if match == "unknown study":
        assert "deepseek-v3-decode" in e.value.allowed


@pytest.mark.parametrize("text", ["- just\n- a list\n", "name: a\nname: b\n", "name: [\n"])
def test_malformed_study_text(tmp_path: Path, text: str) -> None:
    p = tmp_path / "study.yaml"
    p.write_text(text)
    with pytest.raises(SpecError):
        load_study(tmp_path)  # a folder holding study.yaml


def test_unknown_key_lists_allowed(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as e:
        load_study(_yaml(tmp_path, {**TINY, "batches": [1]}))
    assert e.value.field == "batches" and "batch" in e.value.allowed


# ------------------------------------------------------------------------------ CLI
def test_cli_run_json_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    path = _yaml(tmp_path, TINY)
    out = tmp_path / "o"
    res = runner.invoke(study_app, ["run", str(path), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["study"] == "tiny" and Path(data["report_html"]) == out / "report.html"
    assert (out / "report.html").is_file()
    # re-running the same study refreshes its own output
    res = runner.invoke(study_app, ["run", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 0 and res.stdout.strip() == f"report written to {out}/report.html"
    # another study's output is only replaced on request
    other = _yaml(tmp_path, {**TINY, "name": "tiny-other"}, "other.yaml")
    res = runner.invoke(study_app, ["run", str(other), "--out", str(out), "--quiet"])
    assert isinstance(res.exception, SpecError) and res.exception.field == "--out"
    res = runner.invoke(study_app, ["run", str(other), "--out", str(out), "--quiet",
                                    "--overwrite"])
    assert res.exit_code == 0 and res.stdout.strip() == f"report written to {out}/report.html"
    res = runner.invoke(study_app, ["list", "--json"])
    assert res.exit_code == 0
    assert "deepseek-v3-decode" in [s["name"] for s in json.loads(res.stdout)]
    res = runner.invoke(study_app, ["run", "no-such-study"])
    assert isinstance(res.exception, SpecError) and res.exception.field == "study"


# ------------------------------------------------------------------------------ bundled
def test_bundled_study_matches_expected_summary(tmp_path: Path) -> None:
    import studies

    assert "deepseek-v3-decode" in bundled_studies()
    spec = load_study("deepseek-v3-decode")
    assert len(spec.points()) == 25 and spec.mapping.ep == 32
    folder = Path(studies.__file__).parent / "deepseek-v3-decode"
    expected = json.loads((folder / "expected_summary.json").read_text())
    summary = run_study(spec, tmp_path / "out", progress=False).summary
    for metric, exp in expected["best"].items():
        got = summary["best"][metric]
        assert {k: got[k] for k in ("hw", "batch", "context")} == {
            k: exp[k] for k in ("hw", "batch", "context")}, metric
        assert math.isclose(got["value"], exp["value"], rel_tol=expected["rtol"]), metric
    assert [{k: d[k] for k in ("hw", "batch", "context")}
            for d in summary["not_fitting_memory"]] == expected["not_fitting_memory"]
