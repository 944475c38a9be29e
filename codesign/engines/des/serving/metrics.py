"""Serving metrics from a finished simulation: latency distributions, throughput, goodput,
utilization, energy and cost. Pure functions of the per-request times and lane statistics.

Definitions (seconds; tokens):

* TTFT: first token time - arrival. E2E: last token time - arrival.
* TPOT: a request's mean time between output tokens, ``(E2E - TTFT) / (output - 1)``;
  requests of one output token have none.
* window: first arrival to last completion; rates are per second of the window.
* throughput (``throughput_tokens_per_s``): output tokens/s; ``input_tokens_per_s`` and
  ``total_tokens_per_s`` count prompt tokens (each once, recomputation not counted) too.
* goodput: requests/s that met both SLOs (TTFT <= ``ttft_slo_s`` and TPOT <= ``tpot_slo_s``).
* energy: the step energies of the analytical engine plus idle power for every GPU-second of
  the window no step covered. ``joules_per_token`` and ``usd_per_million_tokens`` are per
  *output* token (the ``..._total_token`` variants per prompt plus output token).
* cost: the device's rental ``usd_per_hour`` x GPUs x window.
* utilization: per instance, the fraction of the window it spent running iterations (busy
  fraction, not FLOP efficiency), and for disaggregated serving the KV-transfer links' busy
  fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 99)


def distribution(x: np.ndarray) -> dict[str, float | None]:
    """``p50``, ``p90``, ``p99``, ``mean`` and ``max`` of ``x`` (``None`` when empty)."""
    if x.size == 0:
        return {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}
    q = np.percentile(x, PERCENTILES)
    out: dict[str, float | None] = {f"p{p}": float(v) for p, v in zip(PERCENTILES, q,
                                                                        strict=True)}
    out["mean"] = float(x.mean())
    out["max"] = float(x.max())
    return out


def request_table(states: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-request columns (arrays in request order)."""
    n = len(states)
    cols = {k: np.empty(n) for k in ("arrival_s", "first_token_s", "finish_s", "transfer_s")}
    ints = {k: np.empty(n, dtype=np.int64) for k in ("id", "prompt_tokens", "output_tokens",
                                                     "generated", "preemptions")}
    for i, s in enumerate(states):
        cols["arrival_s"][i] = s.req.arrival_s
        cols["first_token_s"][i] = s.first_token_s
        cols["finish_s"][i] = s.finish_s
        cols["transfer_s"][i] = s.transfer_s
        ints["id"][i] = s.req.id
        ints["prompt_tokens"][i] = s.prompt
        ints["output_tokens"][i] = s.output
        ints["generated"][i] = s.generated
        ints["preemptions"][i] = s.preemptions
    t: dict[str, np.ndarray] = {**ints, **cols}
    t["ttft_s"] = t["first_token_s"] - t["arrival_s"]
    t["e2e_s"] = t["finish_s"] - t["arrival_s"]
    multi = t["output_tokens"] > 1
    tpot = np.full(n, np.nan)
    tpot[multi] = (t["e2e_s"][multi] - t["ttft_s"][multi]) / (t["output_tokens"][multi] - 1)
    t["tpot_s"] = tpot
    return t


def summarize(table: dict[str, np.ndarray], *, gpus: int, idle_power_w: float,
              usd_per_gpu_hour: float, step_energy_j: float, step_gpu_s: float,
              ttft_slo_s: float, tpot_slo_s: float) -> dict[str, Any]:
    """The documented latency, throughput, goodput, energy and cost figures."""
    start = float(table["arrival_s"].min())
    end = float(table["finish_s"].max())
    window = max(end - start, 1e-12)
    out_tok = int(table["generated"].sum())
    in_tok = int(table["prompt_tokens"].sum())
    tpot = table["tpot_s"]
    tpot_ok = np.where(np.isnan(tpot), True, tpot <= tpot_slo_s)
    good = (table["ttft_s"] <= ttft_slo_s) & tpot_ok
    idle_gpu_s = max(0.0, gpus * window - step_gpu_s)
    energy = step_energy_j + idle_power_w * idle_gpu_s
    usd = usd_per_gpu_hour * gpus * window / 3600.0
    return {
        "ttft_s": distribution(table["ttft_s"]),
        "tpot_s": distribution(tpot[~np.isnan(tpot)]),
        "e2e_s": distribution(table["e2e_s"]),
        "window_s": window,
        "throughput_tokens_per_s": out_tok / window,
        "input_tokens_per_s": in_tok / window,
        "total_tokens_per_s": (in_tok + out_tok) / window,
        "requests_per_s": len(table["id"]) / window,
        "goodput_requests_per_s": float(good.sum()) / window,
        "goodput_fraction": float(good.mean()),
        "slo": {"ttft_s": ttft_slo_s, "tpot_s": tpot_slo_s},
        "output_tokens": out_tok,
        "input_tokens": in_tok,
        "energy_j": energy,
        "joules_per_token": energy / out_tok,
        "joules_per_total_token": energy / (in_tok + out_tok),
        "usd": usd,
        "usd_per_million_tokens": usd / out_tok * 1e6,
        "usd_per_million_total_tokens": usd / (in_tok + out_tok) * 1e6,
        "token_basis": "output tokens (the *_total_token* keys count prompt tokens too)",
    }
