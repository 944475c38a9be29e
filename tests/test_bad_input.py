"""Bad input to the ``codesign`` command line: every case must exit with code 2 and print exactly
one line, ``error: ...``, that names the offending field or flag, with no traceback, and must
leave no file behind. Cases run in-process through :func:`codesign.cli.main`; a few also run the
installed executable."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from codesign.cli import main

pytestmark = pytest.mark.integration

MODELS_DIR = Path(__file__).resolve().parents[1] / "workloads" / "models"
MODEL_NAMES = (
    "deepseek-v3", "deepseek-v2-lite", "mixtral-8x7b", "qwen2.5-72b", "llama-3.1-8b",
    "llama-3.1-70b", "llama-3.1-405b", "llama-2-7b", "opt-6.7b",
)
DROP = object()  # a patch value that deletes the key


class Cfg(NamedTuple):
    """A config file for a case: a shipped model's JSON with ``patch`` applied, written as
    JSON or YAML by the file's suffix; or, with ``base`` None, ``raw`` text/bytes as is."""

    fname: str
    base: str | None = None
    patch: dict[str, Any] = {}  # noqa: RUF012 - never mutated
    raw: str | bytes = ""


class Case(NamedTuple):
    id: str
    args: list[str]  # "{cfg}" is replaced by the config file's path, "{tmp}" by tmp_path
    expect: list[str]  # regexes that must all match the error line; the first names the field
    cfg: Cfg | None = None


def F(field: str) -> str:
    """The error line's field: ``error: <field>: ...`` (``field`` is a regex)."""
    return rf"^error: ({field}): "


def _field(name: str) -> str:
    """A mapping field as the library (``parallel.tp``) or the CLI (``--tp``) names it."""
    return F(rf"--{name}|parallel\.{name}")


SHOW = ["models", "show"]
CASES = [
    # --------------------------------------------------------------- names and flags
    Case("unknown-model", [*SHOW, "gpt-5"],
         [F("model"), "unknown model 'gpt-5'", *(re.escape(n) for n in MODEL_NAMES)]),
    Case("empty-model-name", [*SHOW, ""], [F("model"), "deepseek-v3"]),
    Case("missing-model-name", SHOW, [r"(?i)'name'", "(?i)missing"]),
    Case("batch-zero", [*SHOW, "llama-3.1-8b", "--batch", "0"], [F("--batch"), "greater than 0"]),
    Case("batch-negative", [*SHOW, "llama-3.1-8b", "--batch", "-3"], [F("--batch")]),
    Case("batch-not-integer", [*SHOW, "llama-3.1-8b", "--batch", "x"], ["'--batch'", "integer"]),
    Case("batch-float", [*SHOW, "llama-3.1-8b", "--batch", "2.5"], ["--batch"]),
    Case("context-negative", [*SHOW, "llama-3.1-8b", "--context", "-1"], [F("--context")]),
    Case("prefill-context-zero", [*SHOW, "llama-3.1-8b", "--phase", "prefill", "--context", "0"],
         [F("--context")]),
    Case("seq-zero", [*SHOW, "llama-3.1-8b", "--seq", "0"], [F("--seq")]),
    Case("unknown-phase", [*SHOW, "llama-3.1-8b", "--phase", "train"],
         [F("--phase"), "'train'", "prefill", "decode"]),
    Case("unknown-mla-form", [*SHOW, "deepseek-v3", "--mla-form", "compressed"],
         [F("--mla-form"), "absorbed", "naive"]),
    Case("tp-zero", [*SHOW, "llama-3.1-8b", "--tp", "0"], [_field("tp")]),
    Case("tp-3-deepseek-v3", [*SHOW, "deepseek-v3", "--tp", "3"], [_field("tp"), r"\b3\b"]),
    Case("tp-64-llama", [*SHOW, "llama-3.1-8b", "--tp", "64"], [_field("tp"), "64"]),
    Case("ep-7-beyond-world", [*SHOW, "deepseek-v3", "--ep", "7"], [_field("ep"), r"\b7\b"]),
    Case("ep-7-not-dividing", [*SHOW, "deepseek-v3", "--ep", "7", "--dp", "8", "--batch", "8"],
         [_field("ep"), r"\b7\b", "256"]),
    Case("ep-2-dense-beyond-world", [*SHOW, "llama-3.1-8b", "--ep", "2"], [_field("ep")]),
    Case("ep-2-dense", [*SHOW, "llama-3.1-8b", "--ep", "2", "--dp", "2", "--batch", "2"],
         [_field("ep"), "no experts"]),
    Case("ep-3-mixtral", [*SHOW, "mixtral-8x7b", "--ep", "3", "--dp", "3", "--batch", "3"],
         [_field("ep"), r"\b8\b"]),
    Case("batch-below-dp", [*SHOW, "llama-3.1-8b", "--dp", "4", "--batch", "2"],
         [F("batch|--batch"), "dp=4"]),
    Case("unknown-option", [*SHOW, "llama-3.1-8b", "--bogus"], ["--bogus"]),
    Case("unknown-command", ["models", "frobnicate"], ["frobnicate"]),
    Case("option-missing-value", [*SHOW, "llama-3.1-8b", "--batch"], ["--batch"]),
    # --------------------------------------------------------------- --graph
    Case("graph-folder-missing", [*SHOW, "llama-3.1-8b", "--graph", "{tmp}/nowhere/g.html"],
         [F("--graph"), "does not exist", "nowhere"]),
    Case("graph-is-a-folder", [*SHOW, "llama-3.1-8b", "--graph", "{tmp}"],
         [F("--graph"), "folder"]),
    # --------------------------------------------------------------- config files
    Case("nonexistent-json", [*SHOW, "{tmp}/missing.json"], [F("model"), "no such file"]),
    Case("nonexistent-yaml", [*SHOW, "{tmp}/missing.yaml"], [F("model"), "no such file"]),
    Case("malformed-json", [*SHOW, "{cfg}"],
         [F(r".*/bad\.json"), "malformed JSON", "line 2"],
         Cfg("bad.json", raw='{"model_type": "llama",\n  "hidden_size": 4096,,\n}')),
    Case("malformed-yaml", [*SHOW, "{cfg}"],
         [F(r".*/bad\.yaml"), "malformed YAML", "line 2"],
         Cfg("bad.yaml", raw="model_type: llama\nhidden_size: 4096: 3\nvocab_size: 3\n")),
    Case("unclosed-yaml-list", [*SHOW, "{cfg}"], [F(r".*/list\.yml"), "malformed YAML"],
         Cfg("list.yml", raw="model_type: llama\nhidden_size: [4096\nvocab_size: 3\n")),
    Case("empty-json", [*SHOW, "{cfg}"], [F(r".*/empty\.json"), "malformed JSON"],
         Cfg("empty.json", raw="")),
    Case("duplicate-key-json", [*SHOW, "{cfg}"],
         [F(r".*/dup\.json"), "duplicate key 'hidden_size'"],
         Cfg("dup.json", raw='{"model_type": "llama", "hidden_size": 8, "hidden_size": 16}')),
    Case("duplicate-key-yaml", [*SHOW, "{cfg}"],
         [F(r".*/dup\.yaml"), "duplicate key 'hidden_size'"],
         Cfg("dup.yaml", raw="model_type: llama\nhidden_size: 8\nhidden_size: 16\n")),
    Case("duplicate-nested-key-yaml", [*SHOW, "{cfg}"],
         [F(r".*/dup\.yml"), "duplicate key 'fmt'"],
         Cfg("dup.yml", raw="model_type: deepseek_v3\nquantization_config:\n"
             "  fmt: e4m3\n  fmt: e5m2\n")),
    Case("not-utf8", [*SHOW, "{cfg}"], [F(r".*/latin\.json"), "UTF-8"],
         Cfg("latin.json", raw=b'{"model_type": "llama", "_source": "caf\xe9"}')),
    Case("list-not-mapping", [*SHOW, "{cfg}"], [F("config"), "mapping", "list"],
         Cfg("list.json", raw="[1, 2, 3]")),
    Case("empty-yaml", [*SHOW, "{cfg}"], [F("config"), "mapping"],
         Cfg("empty.yaml", raw="")),
    Case("missing-hidden-size", [*SHOW, "{cfg}"], [F(r"config\.hidden_size"), "missing"],
         Cfg("nohidden.json", "llama-3.1-8b", {"hidden_size": DROP})),
    Case("missing-kv-lora-rank", [*SHOW, "{cfg}"], [F(r"config\.kv_lora_rank"), "missing"],
         Cfg("nolora.yaml", "deepseek-v3", {"kv_lora_rank": DROP})),
    Case("zero-layers", [*SHOW, "{cfg}"], [F(r"config\.num_hidden_layers"), r"\b0\b"],
         Cfg("zero.json", "llama-3.1-8b", {"num_hidden_layers": 0})),
    Case("negative-hidden-yaml", [*SHOW, "{cfg}"], [F(r"config\.hidden_size"), "-8"],
         Cfg("neg.yaml", "llama-3.1-8b", {"hidden_size": -8})),
    Case("string-dimension", [*SHOW, "{cfg}"], [F(r"config\.intermediate_size"), "integer"],
         Cfg("str.json", "llama-3.1-8b", {"intermediate_size": "14336"})),
    Case("float-dimension", [*SHOW, "{cfg}"], [F(r"config\.vocab_size"), "integer"],
         Cfg("float.yaml", "qwen2.5-72b", {"vocab_size": 152064.5})),
    Case("heads-not-dividing-hidden", [*SHOW, "{cfg}"],
         [F(r"config\.num_attention_heads"), r"\b7\b", "4096"],
         Cfg("heads7.json", "llama-3.1-8b", {"num_attention_heads": 7, "head_dim": DROP})),
    Case("heads-not-dividing-hidden-opt", [*SHOW, "{cfg}"], [F(r"config\.num_attention_heads")],
         Cfg("opt7.yaml", "opt-6.7b", {"num_attention_heads": 7})),
    Case("kv-heads-not-dividing-heads", [*SHOW, "{cfg}"],
         [F(r"config\.num_key_value_heads"), r"\b3\b", r"\b32\b"],
         Cfg("kv3.json", "llama-3.1-8b", {"num_key_value_heads": 3})),
    Case("kv-heads-above-heads", [*SHOW, "{cfg}"], [F(r"config\.num_key_value_heads")],
         Cfg("kv64.yaml", "llama-3.1-70b", {"num_key_value_heads": 128})),
    Case("top-k-above-experts", [*SHOW, "{cfg}"],
         [F(r"config\.num_experts_per_tok"), "300", "256"],
         Cfg("topk.json", "deepseek-v3", {"num_experts_per_tok": 300})),
    Case("one-expert-mixtral", [*SHOW, "{cfg}"],
         [F(r"config\.num_experts_per_tok"), "num_local_experts"],
         Cfg("mixtral1.yaml", "mixtral-8x7b", {"num_local_experts": 1})),
    Case("n-group-not-dividing", [*SHOW, "{cfg}"], [F(r"config\.n_group")],
         Cfg("group.json", "deepseek-v3", {"n_group": 7})),
    Case("unsupported-model-type", [*SHOW, "{cfg}"],
         [F(r"config\.model_type"), "'gpt2'", "llama", "deepseek_v3"],
         Cfg("gpt2.json", "llama-3.1-8b", {"model_type": "gpt2"})),
    Case("missing-model-type", [*SHOW, "{cfg}"], [F(r"config\.model_type")],
         Cfg("notype.yaml", "llama-3.1-8b", {"model_type": DROP})),
    Case("unsupported-activation", [*SHOW, "{cfg}"], [F(r"config\.hidden_act"), "silu"],
         Cfg("act.json", "llama-3.1-8b", {"hidden_act": "relu2"})),
    Case("unknown-fp8-format", [*SHOW, "{cfg}"], [F(r"config\.quantization_config\.fmt")],
         Cfg("fp8.yaml", "deepseek-v3",
             {"quantization_config": {"quant_method": "fp8", "fmt": "e9m9"}})),
    # a valid file, but a mapping that does not fit it
    Case("user-config-tp", [*SHOW, "{cfg}", "--tp", "3"], [_field("tp")],
         Cfg("ok.json", "llama-3.1-8b", {"num_hidden_layers": 2})),
    Case("user-config-graph-folder-missing",
         [*SHOW, "{cfg}", "--graph", "{tmp}/nowhere/g.html"], [F("--graph")],
         Cfg("ok.yaml", "llama-3.1-8b", {"num_hidden_layers": 2})),
]

# cases also run through the installed executable
SUBPROCESS_CASES = ("unknown-model", "batch-not-integer", "ep-7-beyond-world", "not-utf8",
                    "duplicate-key-yaml", "graph-folder-missing", "top-k-above-experts")


def _write(tmp_path: Path, cfg: Cfg) -> Path:
    path = tmp_path / cfg.fname
    if cfg.base is None:
        if isinstance(cfg.raw, bytes):
            path.write_bytes(cfg.raw)
        else:
            path.write_text(cfg.raw, encoding="utf-8")
        return path
    raw = json.loads((MODELS_DIR / f"{cfg.base}.json").read_text(encoding="utf-8"))
    for key, value in cfg.patch.items():
        if value is DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    if path.suffix == ".json":
        path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _prepare(tmp_path: Path, case: Case) -> list[str]:
    cfg = str(_write(tmp_path, case.cfg)) if case.cfg else ""
    return [a.replace("{cfg}", cfg).replace("{tmp}", str(tmp_path)) for a in case.args]


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


def _check_error(code: int, stderr: str, case: Case) -> None:
    assert "Traceback" not in stderr
    assert code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: ") and line.strip() != "error:", line
    for pattern in case.expect:
        assert re.search(pattern, line), f"{pattern!r} not in {line!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = _prepare(tmp_path, case)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    _check_error(code, err, case)
    assert "error" not in out.lower()  # the message goes to stderr only
    assert _snapshot(tmp_path) == before  # nothing written, not even a temporary


def test_case_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert set(SUBPROCESS_CASES) <= set(ids)


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_CASES],
                         ids=lambda c: c.id)
def test_bad_input_installed_executable(case: Case, tmp_path: Path) -> None:
    local = Path(sys.executable).parent / "codesign"
    exe = str(local) if local.is_file() else shutil.which("codesign")
    if exe is None:
        pytest.skip("the codesign console script is not installed")
    args = _prepare(tmp_path, case)
    before = _snapshot(tmp_path)
    proc = subprocess.run([exe, *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120, check=False)
    _check_error(proc.returncode, proc.stderr, case)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, EOFError])
def test_interrupted_run_exits_130_without_traceback(
    interrupt: type[BaseException], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workloads.registry

    def stop(*_: object, **__: object) -> None:
        raise interrupt

    monkeypatch.setattr(workloads.registry, "load_model", stop)
    capsys.readouterr()
    code = main(["models", "show", "llama-3.1-8b"])
    err = capsys.readouterr().err
    assert code == 130
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.strip()] in ([], ["error: aborted"])
