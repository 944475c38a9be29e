"""Speed of predictions (timings live here, never in tests).

Run: ``python benchmarks/bench_speed.py`` (writes ``benchmarks/results/speed.json``).

* ``codesign eval`` of the full DeepSeek-V3 decode step (61 layers) in-process: graph build,
  validation-free engine run; median of 30. Target <= 20 ms (GenZ: ~60 ms per design point).
* One op prediction (a GEMM of a new shape, so nothing is cached): median of 2,000.
  Target <= 50 us.
* ``codesign predict --batch`` of 5,000 mixed ops as a subprocess (CLI start included).
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codesign.evaluate import evaluate_model
from codesign.hw import get_device
from codesign.ir import Gemm


def main() -> dict:
    evaluate_model("deepseek-v3", "decode", 128, 4096, "h800-sxm", dp=32, ep=32)  # warm
    ts = []
    for _ in range(30):
        t0 = time.perf_counter()
        evaluate_model("deepseek-v3", "decode", 128, 4096, "h800-sxm", dp=32, ep=32)
        ts.append(time.perf_counter() - t0)
    dev = get_device("h100-sxm")
    rnd = random.Random(0)
    op_ts = []
    for _ in range(2000):
        op = Gemm("g", m=rnd.randint(1, 16384), n=rnd.randint(64, 65536),
                  k=rnd.randint(64, 32768))
        t0 = time.perf_counter()
        dev.op_cost(op)
        op_ts.append(time.perf_counter() - t0)
    lines = []
    for i in range(5000):
        if i % 3 == 0:
            lines.append({"op": "gemm", "m": rnd.randint(1, 8192), "n": 4096, "k": 7168,
                          "dtype": "bf16", "hw": "h100-sxm"})
        elif i % 3 == 1:
            lines.append({"op": "attention", "phase": "decode", "batch": rnd.randint(1, 64),
                          "q_heads": 32, "kv_heads": 8, "seq": rnd.randint(128, 8192),
                          "head_dim": 128, "hw": "h200-sxm"})
        else:
            lines.append({"op": "grouped-gemm", "tokens_per_expert": [rnd.randint(0, 64)
                                                                      for _ in range(8)],
                          "n": 4096, "k": 7168, "dtype": "bf16", "hw": "h100-sxm"})
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "ops.jsonl"
        f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "codesign.cli", "predict", "--batch",
                               str(f)], capture_output=True, text=True, check=True)
        batch_s = time.perf_counter() - t0
        assert len(proc.stdout.splitlines()) == len(lines)
    result = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "deepseek_v3_decode_eval_ms_median": statistics.median(ts) * 1e3,
        "op_prediction_us_median": statistics.median(op_ts) * 1e6,
        "batch_5000_ops_s": batch_s,
    }
    out = Path(__file__).parent / "results" / "speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result.items():
        print(f"{k:36s} {v if isinstance(v, str) else round(v, 3)}")
    return result


if __name__ == "__main__":
    main()
