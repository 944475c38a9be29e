"""Pin today's numeric results of ``codesign eval`` and ``codesign simulate``.

Runs the table ``CASES`` through the CLI in-process (``codesign.cli.app`` under typer's
``CliRunner``, each argv ending in ``--json``), keeps the headline figures of each case and
writes them, with the git commit and date they were computed at, to
``pinned_figures.json`` next to this file. ``tests/test_pinned_figures.py`` replays the
argvs and checks the figures to 1e-9 relative: a refactor that must not change results
proves it by keeping that test green.

A case that fails today is not pinned; it is listed under ``"skipped"`` with its error.

Regenerate (only when a change of results is intended, and say so in the commit):

    python tests/data/make_pinned.py
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from codesign.cli import app

OUT = Path(__file__).with_name("pinned_figures.json")

EVAL_FIGURES = ("latency_s", "energy_j", "tokens_per_s", "usd_per_million_tokens",
                "joules_per_token")
SIMULATE_FIGURES = (
    *(f"{k}.{q}" for k in ("ttft_s", "tpot_s") for q in ("p50", "p90", "p99", "mean", "max")),
    *(f"e2e_s.{q}" for q in ("p50", "p90", "p99", "mean")),
    "throughput_tokens_per_s", "total_tokens_per_s", "requests_per_s",
    "goodput_requests_per_s", "goodput_fraction", "energy_j", "joules_per_token", "usd",
    "usd_per_million_tokens", "output_tokens", "input_tokens", "preemptions", "iterations",
)
MAX_CASE_S = 2.0  # each case must run in under this (the test replays all of them)

L8, L70, MIX, DSV3 = "llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "deepseek-v3"
MPFT = "deepseek-h800-mpft"


def _eval(model: str, hw: str, phase: str, batch: int, context: int, *extra: str) -> list[str]:
    return ["eval", "--model", model, "--hw", hw, "--phase", phase, "--batch", str(batch),
            "--context", str(context), *extra, "--json"]


def _sim(model: str, system: str, *extra: str) -> list[str]:
    return ["simulate", "--model", model, "--system", system, *extra, "--json"]


# (id, argv). ids name the parametrized tests; keep them unique and stable.
CASES: list[tuple[str, list[str]]] = [
    # llama-3.1-8b, one GPU: decode and prefill over devices, batches and contexts
    ("8b-h100-decode-b1-c512", _eval(L8, "h100-sxm", "decode", 1, 512)),
    ("8b-h100-decode-b8-c2048", _eval(L8, "h100-sxm", "decode", 8, 2048)),
    ("8b-h100-decode-b64-c8192", _eval(L8, "h100-sxm", "decode", 64, 8192)),
    ("8b-h100-prefill-b1-c512", _eval(L8, "h100-sxm", "prefill", 1, 512)),
    ("8b-h100-prefill-b8-c4096", _eval(L8, "h100-sxm", "prefill", 8, 4096)),
    ("8b-h200-decode-b64-c4096", _eval(L8, "h200-sxm", "decode", 64, 4096)),
    ("8b-h200-prefill-b1-c8192", _eval(L8, "h200-sxm", "prefill", 1, 8192)),
    ("8b-b200-decode-b8-c8192", _eval(L8, "b200", "decode", 8, 8192)),
    ("8b-b200-decode-b64-c2048", _eval(L8, "b200", "decode", 64, 2048)),
    ("8b-b200-prefill-b8-c1024", _eval(L8, "b200", "prefill", 8, 1024)),
    ("8b-a100-decode-b1-c8192", _eval(L8, "a100-sxm", "decode", 1, 8192)),
    ("8b-a100-prefill-b1-c2048", _eval(L8, "a100-sxm", "prefill", 1, 2048)),
    # llama-3.1-8b, tensor parallel
    ("8b-h100-decode-b8-c2048-tp2", _eval(L8, "h100-sxm", "decode", 8, 2048, "--tp", "2")),
    ("8b-h100-decode-b64-c4096-tp4", _eval(L8, "h100-sxm", "decode", 64, 4096, "--tp", "4")),
    ("8b-h100-prefill-b8-c2048-tp8", _eval(L8, "h100-sxm", "prefill", 8, 2048, "--tp", "8")),
    # llama-3.1-70b on an HGX H100 node
    ("70b-hgx-h100-decode-b8-c4096-tp8",
     _eval(L70, "hgx-h100", "decode", 8, 4096, "--tp", "8")),
    ("70b-hgx-h100-prefill-b1-c4096-tp8",
     _eval(L70, "hgx-h100", "prefill", 1, 4096, "--tp", "8")),
    # mixtral-8x7b: TP, and EP x TP
    ("mixtral-h100-decode-b8-c2048-tp2", _eval(MIX, "h100-sxm", "decode", 8, 2048, "--tp", "2")),
    ("mixtral-h100-decode-b8-c2048-ep2-tp2",
     _eval(MIX, "h100-sxm", "decode", 8, 2048, "--ep", "2", "--tp", "2")),
    ("mixtral-hgx-h100-prefill-b4-c2048-ep2-tp2",
     _eval(MIX, "hgx-h100", "prefill", 4, 2048, "--ep", "2", "--tp", "2")),
    # deepseek-v3 on DeepSeek's H800 cluster: 32, 144 and 320 ranks
    ("dsv3-decode-b1024-c4096-dp32-ep32",
     _eval(DSV3, MPFT, "decode", 1024, 4096, "--dp", "32", "--ep", "32")),
    ("dsv3-decode-b4608-c4096-dp144-ep144-r32",
     _eval(DSV3, MPFT, "decode", 4608, 4096, "--dp", "144", "--ep", "144",
           "--redundant-experts", "32")),
    ("dsv3-decode-b10240-c4096-dp320-ep320-r64",
     _eval(DSV3, MPFT, "decode", 10240, 4096, "--dp", "320", "--ep", "320",
           "--redundant-experts", "64")),
    ("dsv3-prefill-b32-c4096-dp32-ep32",
     _eval(DSV3, MPFT, "prefill", 32, 4096, "--dp", "32", "--ep", "32")),
    # discrete-event engine: serial and dual-batch overlap
    ("8b-h100-decode-b64-c2048-des-serial",
     _eval(L8, "h100-sxm", "decode", 64, 2048, "--engine", "des", "--schedule", "serial")),
    ("8b-h100-decode-b64-c2048-des-dbo",
     _eval(L8, "h100-sxm", "decode", 64, 2048, "--engine", "des", "--schedule", "dbo")),
    ("70b-hgx-h100-decode-b64-c2048-tp8-des-dbo",
     _eval(L70, "hgx-h100", "decode", 64, 2048, "--tp", "8", "--engine", "des",
           "--schedule", "dbo")),
    ("dsv3-decode-b1024-c4096-dp32-ep32-des-dbo",
     _eval(DSV3, MPFT, "decode", 1024, 4096, "--dp", "32", "--ep", "32", "--engine", "des",
           "--schedule", "dbo")),
    # eager launch (no CUDA graphs)
    ("8b-h100-decode-b1-c1024-eager", _eval(L8, "h100-sxm", "decode", 1, 1024,
                                            "--launch", "eager")),
    # serving simulations: small request counts, fixed seeds
    ("sim-8b-hgx-h100-poisson",
     _sim(L8, "hgx-h100", "--rate", "10", "--requests", "50", "--seed", "3")),
    ("sim-8b-hgx-h100-gamma-fixed-lengths",
     _sim(L8, "hgx-h100", "--arrival", "gamma", "--cv", "3", "--rate", "20", "--requests",
          "60", "--seed", "5", "--length-cv", "0")),
    ("sim-70b-hgx-h100-tp8",
     _sim(L70, "hgx-h100", "--rate", "2", "--requests", "30", "--seed", "1", "--tp", "8",
          "--prompt-tokens", "512", "--output-tokens", "64")),
    ("sim-mixtral-hgx-h100",
     _sim(MIX, "hgx-h100", "--rate", "4", "--requests", "40", "--seed", "2",
          "--prompt-tokens", "512", "--output-tokens", "128")),
    ("sim-mixtral-hgx-h100-ep2-tp2",
     _sim(MIX, "hgx-h100", "--rate", "4", "--requests", "40", "--seed", "2",
          "--prompt-tokens", "512", "--output-tokens", "128", "--ep", "2", "--tp", "2")),
    ("sim-8b-hgx-h100-pd",
     _sim(L8, "hgx-h100", "--rate", "8", "--requests", "40", "--seed", "6",
          "--prefill-mapping", "tp=1,dp=1,instances=2",
          "--decode-mapping", "tp=2,dp=1,instances=3")),
    ("sim-dsv3-mpft-pd-32-144",
     _sim(DSV3, MPFT, "--rate", "20", "--requests", "60", "--seed", "4",
          "--prefill-mapping", "tp=1,dp=32,ep=32,instances=1",
          "--decode-mapping", "tp=1,dp=144,ep=144,redundant_experts=32")),
]


def figure(out: dict[str, Any], key: str) -> float:
    """``out[key]``, where a dotted key reads a nested value (``ttft_s.p50``)."""
    v: Any = out
    for part in key.split("."):
        v = v[part]
    return v


def figures_of(command: str) -> tuple[str, ...]:
    return EVAL_FIGURES if command == "eval" else SIMULATE_FIGURES


def run_case(runner: CliRunner, argv: list[str]) -> dict[str, Any]:
    """The parsed ``--json`` stdout of ``codesign <argv>``; raises if the command failed."""
    res = runner.invoke(app, argv)
    if res.exit_code != 0:
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        raise RuntimeError(f"exit code {res.exit_code}: {res.output.strip()[-500:]}")
    return json.loads(res.stdout)


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, check=True,
                          capture_output=True, text=True).stdout.strip()


def main() -> int:
    ids = [i for i, _ in CASES]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    runner = CliRunner()
    cases: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for case_id, argv in CASES:
        t0 = time.perf_counter()
        try:
            out = run_case(runner, argv)
        except Exception as e:
            skipped.append({"id": case_id, "argv": argv, "error": f"{type(e).__name__}: {e}"})
            print(f"SKIP {case_id}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        wall = time.perf_counter() - t0
        if wall > MAX_CASE_S:
            skipped.append({"id": case_id, "argv": argv,
                            "error": f"too slow to pin: {wall:.2f} s > {MAX_CASE_S} s"})
            print(f"SKIP {case_id}: {wall:.2f} s", file=sys.stderr)
            continue
        figs = {k: figure(out, k) for k in figures_of(argv[0])}
        cases.append({"id": case_id, "argv": argv, "figures": figs})
        head = figs.get("latency_s", figs.get("ttft_s.p50"))
        print(f"ok   {case_id} ({wall:.2f} s): {head!r}", file=sys.stderr)
    doc = {
        "commit": _git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "generated_by": "tests/data/make_pinned.py",
        "python": sys.version.split()[0],
        "rel_tol": 1e-9,
        "cases": cases,
        "skipped": skipped,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(cases)} cases pinned, {len(skipped)} skipped -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
