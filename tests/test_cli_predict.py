"""``codesign predict``, ``eval`` and ``hw``: JSON keys, consistency, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main

pytestmark = pytest.mark.integration

KEYS = {"latency_s", "energy_j", "bound", "flops", "dram_bytes", "kernels", "hw", "op"}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


GOOD = [
    ["predict", "gemm", "--m", "64", "--n", "4096", "--k", "7168", "--dtype", "bf16",
     "--hw", "h100-sxm", "--json"],
    ["predict", "gemm", "--m", "1", "--n", "4096", "--k", "7168", "--dtype", "fp8",
     "--hw", "h200-sxm", "--json"],
    ["predict", "grouped-gemm", "--tokens-per-expert", "16,16,48", "--n", "4096", "--k", "7168",
     "--dtype", "bf16", "--hw", "h100-sxm", "--json"],
    ["predict", "attention", "--phase", "prefill", "--batch", "2", "--q-heads", "32",
     "--kv-heads", "8", "--seq", "2048", "--head-dim", "128", "--hw", "h100-sxm", "--json"],
    ["predict", "attention", "--phase", "decode", "--batch", "16", "--q-heads", "32",
     "--kv-heads", "8", "--seq", "4096", "--head-dim", "128", "--hw", "b200", "--json"],
    ["predict", "mla-decode", "--batch", "64", "--heads", "128", "--context", "4096",
     "--hw", "h800-sxm", "--json"],
]


@pytest.mark.parametrize("args", GOOD, ids=lambda a: "-".join(a[1:3]))
def test_predict_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(args, capsys)
    assert rc == 0 and not err
    rec = json.loads(out)
    assert set(rec) >= KEYS
    assert rec["latency_s"] > 0 and rec["energy_j"] > 0
    assert rec["bound"] in ("compute", "memory", "launch")


def test_batch_equals_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {"op": "gemm", "m": 64, "n": 4096, "k": 7168, "dtype": "bf16", "hw": "h100-sxm"},
        {"op": "grouped-gemm", "tokens_per_expert": [16, 16, 48], "n": 4096, "k": 7168,
         "dtype": "bf16", "hw": "h100-sxm"},
        {"op": "attention", "phase": "decode", "batch": 16, "q_heads": 32, "kv_heads": 8,
         "seq": 4096, "head_dim": 128, "hw": "b200"},
    ]
    f = tmp_path / "ops.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rc, out, _ = _run(["predict", "--batch", str(f)], capsys)
    assert rc == 0
    recs = [json.loads(x) for x in out.splitlines()]
    assert [r["op"] for r in recs] == ["gemm", "grouped-gemm", "attention"]
    for args, rec in zip((GOOD[0], GOOD[2], GOOD[4]), recs, strict=True):
        rc, single, _ = _run(args, capsys)
        assert json.loads(single)["latency_s"] == pytest.approx(rec["latency_s"])


def test_eval_json_keys_and_consistency(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["eval", "--model", "deepseek-v3", "--phase", "decode", "--batch", "256",
                       "--context", "4096", "--dp", "32", "--ep", "32", "--hw", "h800-sxm",
                       "--json"], capsys)
    assert rc == 0
    r = json.loads(out)
    for key in ("latency_s", "energy_j", "bound", "tokens_per_s", "joules_per_token",
                "usd_per_million_tokens", "per_layer", "time_by_kind_s"):
        assert key in r
    assert r["world"] == 32 and r["tokens"] == 256
    assert r["tokens_per_s"] == pytest.approx(256 / r["latency_s"])
    assert sum(x["latency_s"] for x in r["per_layer"]) == pytest.approx(r["latency_s"])
    assert len([x for x in r["per_layer"] if x["layer"] is not None]) == 61


def test_eager_prefill_is_never_faster_than_graph(capsys: pytest.CaptureFixture[str]) -> None:
    res = {}
    for mode in ("graph", "eager"):
        _rc, out, _ = _run(["eval", "--model", "llama-3.1-8b", "--phase", "prefill", "--batch",
                           "1", "--context", "256", "--hw", "h100-sxm", "--launch", mode,
                           "--json"], capsys)
        res[mode] = json.loads(out)["latency_s"]
    assert res["eager"] >= res["graph"]


def test_hw_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["hw", "list", "--json"], capsys)
    assert rc == 0
    names = [r["name"] for r in json.loads(out)]
    assert names == ["a100-sxm", "b200", "h100-sxm", "h200-sxm", "h800-sxm", "jetson-agx-orin",
                     "rtx-4090", "v100s"]
    rc, out, _ = _run(["hw", "show", "h100-sxm", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    assert d["sm_count"] == 132 and "H100" in d["efficiency"]["source"]


BAD = [
    (["predict", "gemm", "--m", "1", "--n", "8", "--k", "8", "--hw", "nope"], r"--hw",
     "h100-sxm"),
    (["predict", "gemm", "--m", "1", "--n", "8", "--k", "8", "--dtype", "fp8", "--hw",
      "a100-sxm"], r"--dtype", "bf16"),
    (["predict", "gemm", "--m", "1", "--n", "8", "--k", "8", "--dtype", "fp12", "--hw",
      "h100-sxm"], r"--dtype", "allowed"),
    (["predict", "gemm", "--m", "0", "--n", "8", "--k", "8", "--hw", "h100-sxm"], r"--m", "> 0"),
    (["predict", "gemm", "--m", "4", "--n", "-8", "--k", "8", "--hw", "h100-sxm"], r"--n", ""),
    (["predict", "grouped-gemm", "--tokens-per-expert", "1,x", "--n", "8", "--k", "8", "--hw",
      "h100-sxm"], r"--tokens-per-expert", ""),
    (["predict", "grouped-gemm", "--tokens-per-expert", "0,0", "--n", "8", "--k", "8", "--hw",
      "h100-sxm"], r"--tokens-per-expert", ""),
    (["predict", "attention", "--phase", "middle", "--batch", "1", "--q-heads", "8",
      "--kv-heads", "8", "--seq", "8", "--head-dim", "8", "--hw", "h100-sxm"], r"--phase",
     "prefill"),
    (["predict", "attention", "--phase", "decode", "--batch", "1", "--q-heads", "8",
      "--kv-heads", "3", "--seq", "8", "--head-dim", "8", "--hw", "h100-sxm"], r"--kv-heads",
     ""),
    (["predict", "mla-decode", "--batch", "-1", "--heads", "8", "--context", "8", "--hw",
      "h100-sxm"], r"--batch", ""),
    (["eval", "--model", "nope", "--hw", "h100-sxm"], r"model", "deepseek-v3"),
    (["eval", "--model", "llama-3.1-8b", "--hw", "tpu"], r"--hw", "h100-sxm"),
    (["eval", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--batch", "0"], r"--batch", ""),
    (["eval", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--launch", "warp"], r"--launch",
     "eager"),
    (["eval", "--model", "deepseek-v3", "--hw", "a100-sxm"], r"dtype", "bf16"),
    (["eval", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--phase", "train"], r"--phase",
     ""),
    (["hw", "show", "h1000"], r"--hw", "h100-sxm"),
    (["eval", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--engine", "des", "--schedule",
      "bogus"], r"schedule", "dbo"),
]


@pytest.mark.parametrize("args,field,hint", BAD, ids=lambda x: str(x)[:40])
def test_bad_input_one_line_exit_2(args: list[str], field: str, hint: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(args, capsys)
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 2 and len(lines) == 1 and not out, (rc, err, out)
    assert lines[0].startswith("error: ") and "Traceback" not in err
    assert field.strip("\\") in lines[0] and hint in lines[0]


BAD_BATCH = [
    ('{"op": "gemm", "m": 1, "n": 8, "k": 8, "hw": "h100-sxm"}\n{"op": "gemm", "m": 1\n',
     "line 2", "malformed JSON"),
    ('{"op": "gemm", "m": 1, "n": 8, "k": 8}\n', "line 1: hw", "missing"),
    ('{"op": "conv", "hw": "h100-sxm"}\n', "line 1: op", "gemm"),
    ('{"m": 1}\n', "line 1: op", "missing"),
    ('[1, 2]\n', "line 1", "object"),
    ('{"op": "gemm", "m": 1, "n": 8, "k": 8, "hw": "h100-sxm", "colour": 3}\n',
     "line 1: colour", "not a field"),
    ('{"op": "gemm", "m": 1.5, "n": 8, "k": 8, "hw": "h100-sxm"}\n', "line 1: m", "integer"),
    ("\n\n", "--batch", "no ops"),
]


@pytest.mark.parametrize("text,field,hint", BAD_BATCH, ids=lambda x: str(x)[:30])
def test_bad_batch_files(text: str, field: str, hint: str, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ops.jsonl"
    f.write_text(text)
    rc, out, err = _run(["predict", "--batch", str(f)], capsys)
    assert rc == 2 and not out  # validated before anything is printed
    line = err.strip()
    assert "\n" not in line and field in line and hint in line, line


def test_missing_batch_file(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["predict", "--batch", "/nonexistent/ops.jsonl"], capsys)
    assert rc == 2 and err.startswith("error: --batch")


def test_installed_command_has_no_traceback() -> None:
    p = subprocess.run([sys.executable, "-m", "codesign.cli", "predict", "gemm", "--m", "1",
                        "--n", "8", "--k", "8", "--hw", "nope"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
