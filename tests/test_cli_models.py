"""``codesign models list`` and ``codesign models show``: names, model facts, graph totals under
different passes and mappings, the HTML layer graph, and a user's own config file in place of a
shipped name. Most runs call :func:`codesign.cli.main` in-process; a few run the installed
``codesign`` executable to prove the entry point works end to end."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codesign.cli import main

pytestmark = pytest.mark.integration

MODEL_NAMES = (
    "deepseek-v3", "deepseek-v2-lite", "mixtral-8x7b", "qwen2.5-72b", "llama-3.1-8b",
    "llama-3.1-70b", "llama-3.1-405b", "llama-2-7b", "opt-6.7b",
)
SHOW_KEYS = (
    "params_total", "params_activated", "kv_cache_bytes_per_token", "layers", "op_count",
    "flops_per_token",
)
MODELS_DIR = Path(__file__).resolve().parents[1] / "workloads" / "models"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop anything printed before
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def show(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """``codesign models show ... --json``, checked to succeed quietly, parsed."""
    code, out, err = run_cli(capsys, "models", "show", *args, "--json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def codesign_exe() -> str:
    """The installed console script (next to this interpreter first, else on PATH)."""
    local = Path(sys.executable).parent / "codesign"
    exe = str(local) if local.is_file() else shutil.which("codesign")
    if exe is None:
        pytest.skip("the codesign console script is not installed")
    return exe


def kv_bytes_expected(d: dict[str, Any]) -> int:
    """KV bytes one rank reads in a pass: each of its sequences reads its whole cache once
    (context plus the new tokens); GQA/MHA heads are split over tp, an MLA latent is not."""
    ph, par = d["graph"]["phase"], d["graph"]["parallel"]
    seqs = math.ceil(ph["batch"] / par["dp"])
    split = 1 if d["attention"] == "mla" else par["tp"]
    return seqs * (ph["context_len"] + ph["seq_len"]) * d["kv_cache_bytes_per_token"] // split


# --------------------------------------------------------------------------- models list
def test_models_list_text_names_every_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich must not wrap or elide the names
    code, out, err = run_cli(capsys, "models", "list")
    assert (code, err) == (0, "")
    for name in MODEL_NAMES:
        assert name in out


def test_models_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "models", "list", "--json")
    assert (code, err) == (0, "")
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == set(MODEL_NAMES)
    for r in rows.values():
        assert 0 < r["params_activated"] <= r["params_total"]
        assert r["layers"] > 0
    assert {n for n, r in rows.items() if r["moe"]} == {
        "deepseek-v3", "deepseek-v2-lite", "mixtral-8x7b"}
    assert {n for n, r in rows.items() if r["attention"] == "mla"} == {
        "deepseek-v3", "deepseek-v2-lite"}


@pytest.mark.parametrize("args", [[], ["models"], ["models", "show", "--help"]],
                         ids=["bare", "models", "show-help"])
def test_help_printed_once(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run_cli(capsys, *args)
    assert (code, err) == (0, "")
    assert out.count("Usage:") == 1


# --------------------------------------------------------------------------- models show
# name, layers, attention, KV bytes/token (bf16, from the architecture), published total and
# activated parameter counts (activated checked for MoE models only, to 3%; totals to 1%).
MODEL_FACTS = [
    ("deepseek-v3", 61, "mla", (512 + 64) * 61 * 2, 671e9, 36.7e9),
    ("deepseek-v2-lite", 27, "mla", (512 + 64) * 27 * 2, 15.7e9, 2.4e9),
    ("mixtral-8x7b", 32, "gqa", 2 * 8 * 128 * 32 * 2, 46.7e9, 12.9e9),
    ("qwen2.5-72b", 80, "gqa", 2 * 8 * 128 * 80 * 2, 72.7e9, None),
    ("llama-3.1-8b", 32, "gqa", 2 * 8 * 128 * 32 * 2, 8.03e9, None),
    ("llama-3.1-70b", 80, "gqa", 2 * 8 * 128 * 80 * 2, 70.6e9, None),
    ("llama-3.1-405b", 126, "gqa", 2 * 8 * 128 * 126 * 2, 405.9e9, None),
    ("llama-2-7b", 32, "mha", 2 * 32 * 128 * 32 * 2, 6.74e9, None),
    ("opt-6.7b", 32, "mha", 2 * 32 * 128 * 32 * 2, 6.66e9, None),
]


@pytest.mark.parametrize(("name", "layers", "attention", "kv", "total", "activated"),
                         MODEL_FACTS, ids=[f[0] for f in MODEL_FACTS])
def test_models_show_facts(capsys: pytest.CaptureFixture[str], name: str, layers: int,
                           attention: str, kv: int, total: float, activated: float | None
                           ) -> None:
    d = show(capsys, name)
    assert set(SHOW_KEYS) <= set(d)
    assert d["name"] == name
    assert d["layers"] == layers
    assert d["attention"] == attention
    assert d["kv_cache_bytes_per_token"] == kv
    assert d["params_total"] == pytest.approx(total, rel=0.01)
    if activated is not None:
        assert d["params_activated"] == pytest.approx(activated, rel=0.03)
    assert 0 < d["params_activated"] <= d["params_total"]
    assert d["op_count"] == d["graph"]["op_count"] > layers
    assert d["flops_per_token"] > 0
    # one decode step: each token costs at least ~2 FLOPs per activated parameter
    assert d["flops_per_token"] > 1.5 * d["params_activated"]
    assert d["graph"]["kv_bytes_read"] == kv_bytes_expected(d)


def test_models_show_text(capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run_cli(capsys, "models", "show", "deepseek-v3")
    assert (code, err) == (0, "")
    assert "deepseek-v3" in out
    assert "70,272 bytes/token" in out
    assert "61 (58 MoE)" in out


# Each case: model, baseline flags, varied flags, and what must hold of (baseline, varied).
def _more_context(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert gb["kv_bytes_read"] > ga["kv_bytes_read"]
    assert gb["flops_per_token"] > ga["flops_per_token"]  # attention grows with context
    assert gb["weight_bytes_read"] == ga["weight_bytes_read"]
    assert gb["op_count"] == ga["op_count"]


def _bigger_batch(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    ratio = gb["phase"]["batch"] / ga["phase"]["batch"]
    assert gb["kv_bytes_read"] == ratio * ga["kv_bytes_read"]
    assert gb["rank_tokens"] == ratio * ga["rank_tokens"]
    assert gb["flops"] > ga["flops"]
    # per token, weight traffic is shared by the batch (more experts touched for MoE)
    assert gb["weight_bytes_read"] / gb["rank_tokens"] < ga["weight_bytes_read"]


def _prefill(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert ga["phase"]["phase"] == "decode"
    assert gb["phase"] | {"logits": "last"} == {
        "phase": "prefill", "batch": 2, "seq_len": 512, "context_len": 0, "logits": "last"}
    assert gb["rank_tokens"] == 2 * 512
    assert gb["kv_bytes_read"] > 0
    assert gb["flops"] > 100 * ga["flops"]


def _longer_prompt(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert gb["rank_tokens"] == 8 * ga["rank_tokens"]
    assert gb["flops_per_token"] > ga["flops_per_token"]  # causal attention is quadratic
    assert gb["kv_bytes_read"] > ga["kv_bytes_read"]


def _parallel(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert gb["parallel"] | {"redundant_experts": 0} == {
        "tp": 4, "dp": 8, "ep": 32, "redundant_experts": 0}
    assert gb["rank_tokens"] == 32 // 8
    # a rank holds 1/32 of the routed experts: far less weight traffic than one device
    assert gb["weight_bytes_read"] < ga["weight_bytes_read"]
    assert gb["comm_send_bytes"] > 0
    assert {"all_gather", "reduce_scatter", "dispatch", "combine"} <= set(gb["ops_by_kind"])
    # the deployment's FLOPs per token barely change when split over 32 ranks
    assert gb["flops_per_token"] == pytest.approx(ga["flops_per_token"], rel=0.15)


def _tp_dense(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert gb["parallel"]["tp"] == 8
    assert gb["weight_bytes_read"] == pytest.approx(ga["weight_bytes_read"] / 8, rel=0.02)
    assert gb["kv_bytes_read"] == ga["kv_bytes_read"] / 8
    assert gb["ops_by_kind"].get("all_reduce", 0) > 0
    assert "all_reduce" not in ga["ops_by_kind"]


def _mla_forms(a: dict[str, Any], b: dict[str, Any]) -> None:
    ga, gb = a["graph"], b["graph"]
    assert (ga["options"]["mla_form"], gb["options"]["mla_form"]) == ("absorbed", "naive")
    # naive decode re-expands the whole cached latent into K and V every step
    assert gb["flops_per_token"] > 5 * ga["flops_per_token"]
    assert gb["kv_bytes_read"] == ga["kv_bytes_read"]  # the same latent cache either way
    assert ga["op_count"] != gb["op_count"]


VARIANTS = [
    ("context", "llama-3.1-8b", ["--context", "1024"], ["--context", "8192"], _more_context),
    ("context-mla", "deepseek-v3", ["--context", "1024"], ["--context", "8192"], _more_context),
    ("context-moe", "mixtral-8x7b", ["--context", "512"], ["--context", "4096"], _more_context),
    ("batch", "llama-3.1-8b", ["--batch", "1"], ["--batch", "16"], _bigger_batch),
    ("batch-mla", "deepseek-v3", ["--batch", "2"], ["--batch", "8"], _bigger_batch),
    ("prefill", "llama-2-7b", ["--batch", "2"],
     ["--phase", "prefill", "--batch", "2", "--context", "512"], _prefill),
    ("prefill-mla", "deepseek-v2-lite", ["--batch", "2"],
     ["--phase", "prefill", "--batch", "2", "--context", "512"], _prefill),
    ("prompt-len", "opt-6.7b", ["--phase", "prefill", "--context", "256"],
     ["--phase", "prefill", "--context", "2048"], _longer_prompt),
    ("tp-dp-ep", "deepseek-v3", ["--batch", "32"],
     ["--tp", "4", "--dp", "8", "--ep", "32", "--batch", "32"], _parallel),
    ("tp-dense", "llama-3.1-70b", [], ["--tp", "8"], _tp_dense),
    ("mla-form", "deepseek-v3", ["--mla-form", "absorbed", "--context", "4096"],
     ["--mla-form", "naive", "--context", "4096"], _mla_forms),
]


@pytest.mark.parametrize(("name", "base", "varied", "check"), [v[1:] for v in VARIANTS],
                         ids=[v[0] for v in VARIANTS])
def test_models_show_variants(capsys: pytest.CaptureFixture[str], name: str, base: list[str],
                              varied: list[str], check: Any) -> None:
    a, b = show(capsys, name, *base), show(capsys, name, *varied)
    for d in (a, b):
        assert d["graph"]["kv_bytes_read"] == kv_bytes_expected(d) or (
            d["graph"]["phase"]["phase"] == "prefill")
    # model facts do not depend on the pass or the mapping
    for key in ("params_total", "params_activated", "kv_cache_bytes_per_token", "layers"):
        assert a[key] == b[key]
    check(a, b)


# --------------------------------------------------------------------------- --graph
@pytest.mark.parametrize(("name", "flags", "op_names"), [
    ("deepseek-v3", ["--json"], ["L0.attn.q_absorb", "L3.moe.router", "L3.moe.dispatch"]),
    ("llama-3.1-8b", [], ["L0.attn_norm", "L0.attn.qkv_proj", "L0.ffn.down_proj"]),
], ids=["deepseek-v3-json", "llama-3.1-8b-text"])
def test_models_show_graph_html(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
                                flags: list[str], op_names: list[str]) -> None:
    from codesign.report.graph_figure import layer_subgraph
    from workloads.builder import build_model_graph
    from workloads.registry import load_model
    from workloads.spec import PhaseSpec

    out_file = tmp_path / "graph.html"
    code, out, err = run_cli(capsys, "models", "show", name, "--graph", str(out_file), *flags)
    assert (code, err) == (0, "")
    if "--json" in flags:
        assert json.loads(out)["name"] == name  # stdout stays pure JSON
    else:
        assert f"layer graph written to {out_file}" in out
    html = out_file.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")
    assert "plotly.js v" in html  # the plotly.js bundle itself is inlined...
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)  # ...and nothing is fetched
    assert f"{name} layer graph" in html
    drawn = layer_subgraph(build_model_graph(load_model(name), PhaseSpec.decode(1, 1024)))
    assert len(drawn) > 10
    for op in [*op_names, *drawn.nodes]:
        assert op in html
    assert [p.name for p in tmp_path.iterdir()] == ["graph.html"]  # no temporary left behind


# --------------------------------------------------------------------------- user configs
def _write_config(path: Path, base: str, patch: dict[str, Any]) -> None:
    raw = json.loads((MODELS_DIR / f"{base}.json").read_text(encoding="utf-8"))
    raw.update(patch)
    if path.suffix == ".json":
        path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


# file name, shipped model it copies, changes, and the expected layers and KV ratio to base
USER_CONFIGS = [
    ("half-llama.json", "llama-3.1-8b", {"num_hidden_layers": 16}, 16, 0.5),
    ("mqa-llama.yaml", "llama-3.1-8b", {"num_key_value_heads": 1}, 32, 1 / 8),
    ("small-v3.yml", "deepseek-v3", {"num_hidden_layers": 8, "first_k_dense_replace": 1}, 8,
     8 / 61),
    ("mixtral-4e.yaml", "mixtral-8x7b", {"num_local_experts": 4}, 32, 1.0),
]


@pytest.mark.parametrize(("fname", "base", "patch", "layers", "kv_ratio"), USER_CONFIGS,
                         ids=[c[0] for c in USER_CONFIGS])
def test_user_config_path_in_place_of_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fname: str, base: str,
    patch: dict[str, Any], layers: int, kv_ratio: float,
) -> None:
    path = tmp_path / fname
    _write_config(path, base, patch)
    shipped = show(capsys, base)
    d = show(capsys, str(path), "--batch", "4", "--context", "2048")
    assert d["name"] == path.stem
    assert d["source"] == str(path)
    assert d["layers"] == layers
    assert d["kv_cache_bytes_per_token"] == pytest.approx(
        kv_ratio * shipped["kv_cache_bytes_per_token"])
    assert d["params_total"] < shipped["params_total"]
    assert d["graph"]["kv_bytes_read"] == kv_bytes_expected(d)
    # the path works for the graph too, and through the text output
    html = tmp_path / "g.html"
    code, out, err = run_cli(capsys, "models", "show", str(path), "--graph", str(html))
    assert (code, err) == (0, "")
    assert path.stem in out
    assert html.is_file()


def test_unmodified_copy_matches_shipped(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    _write_config(path, "deepseek-v3", {})
    a, b = show(capsys, "deepseek-v3"), show(capsys, str(path))
    for key in (*SHOW_KEYS, "graph"):
        assert a[key] == b[key]


# --------------------------------------------------------------------------- end to end
def test_installed_executable(tmp_path: Path) -> None:
    exe = codesign_exe()
    path = tmp_path / "mine.yaml"
    _write_config(path, "llama-3.1-8b", {"num_hidden_layers": 4})
    listed = subprocess.run([exe, "models", "list", "--json"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} == set(MODEL_NAMES)
    shown = subprocess.run([exe, "models", "show", str(path), "--json", "--phase", "prefill"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr
    assert json.loads(shown.stdout)["layers"] == 4
