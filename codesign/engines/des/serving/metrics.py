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
* energy (``energy: {devices_j, network_j, links_j}``): the devices' step energies (the
  analytical engine's) plus each pool's idle power for every GPU-second of the window no
  step covered; the network hardware's power (``System.network_power_w`` of the devices
  used) over the window; the energy of moving KV caches over NVLink and links between pools.
  ``joules_per_token`` and ``usd_per_million_tokens`` are per *output* token (the
  ``..._total_token`` variants per prompt plus output token).
* cost (``cost: {devices_usd_per_hour, network_usd_per_hour, host_usd_per_hour}``):
  ``System.usd_per_hour`` of the devices used (their rental price, the network's amortized
  hardware and power, the host) x window; ``usd`` and ``usd_per_million_tokens`` count all
  three.
* utilization: per instance, the fraction of the window it spent running iterations (busy
  fraction, not FLOP efficiency), and for disaggregated serving the KV-transfer ports' busy
  fraction; per pool, the mean over its instances.
"""

from __future__ import annotations

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


def request_table(wl: Any, res: Any) -> dict[str, np.ndarray]:
    """Per-request columns (arrays in request order) of a workload and its results."""
    t: dict[str, np.ndarray] = {
        "id": wl.id, "prompt_tokens": wl.prompt_tokens, "output_tokens": wl.output_tokens,
        "cached_tokens": wl.cached_tokens, "generated": res.generated,
        "preemptions": res.preemptions, "arrival_s": wl.arrival_s,
        "first_token_s": res.first_token_s, "finish_s": res.finish_s,
        "transfer_s": res.transfer_s}
    n = len(t["id"])
    t["ttft_s"] = t["first_token_s"] - t["arrival_s"]
    t["e2e_s"] = t["finish_s"] - t["arrival_s"]
    multi = t["output_tokens"] > 1
    tpot = np.full(n, np.nan)
    tpot[multi] = (t["e2e_s"][multi] - t["ttft_s"][multi]) / (t["output_tokens"][multi] - 1)
    t["tpot_s"] = tpot
    return t


def window_s(table: dict[str, np.ndarray]) -> float:
    """First arrival to last completion, seconds."""
    start = float(table["arrival_s"].min())
    end = float(table["finish_s"].max())
    return max(end - start, 1e-12)


def summarize(table: dict[str, np.ndarray], *, energy: dict[str, float],
              cost: dict[str, float], ttft_slo_s: float, tpot_slo_s: float
              ) -> dict[str, Any]:
    """The documented latency, throughput, goodput, energy and cost figures.

    Args:
        energy: ``devices_j``, ``network_j``, ``links_j`` over the window.
        cost: ``System.usd_per_hour`` of the devices used.
    """
    window = window_s(table)
    out_tok = int(table["generated"].sum())
    in_tok = int(table["prompt_tokens"].sum())
    tpot = table["tpot_s"]
    tpot_ok = np.where(np.isnan(tpot), True, tpot <= tpot_slo_s)
    good = (table["ttft_s"] <= ttft_slo_s) & tpot_ok
    total_j = energy["devices_j"] + energy["network_j"] + energy["links_j"]
    usd = sum(cost.values()) * window / 3600.0
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
        "cached_input_tokens": int(table["cached_tokens"].sum()),
        "energy_j": total_j,
        "energy": dict(energy),
        "joules_per_token": total_j / out_tok,
        "joules_per_total_token": total_j / (in_tok + out_tok),
        "cost": dict(cost),
        "usd": usd,
        "usd_per_million_tokens": usd / out_tok * 1e6,
        "usd_per_million_total_tokens": usd / (in_tok + out_tok) * 1e6,
        "token_basis": "output tokens (the *_total_token* keys count prompt tokens too)",
    }
