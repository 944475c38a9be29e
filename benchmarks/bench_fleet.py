"""DeepSeek's day-6 inference fleet, one hour, on the DES engine's serving simulation.

Run: ``python benchmarks/bench_fleet.py`` (writes ``benchmarks/results/fleet.json``;
``--minutes M`` simulates M minutes of arrivals instead of 60, for a quick look).

What is simulated (facts from deepseek-ai/open-infra-index, 202502OpenSourceWeek,
day_6_one_more_thing_deepseekV3R1_inference_system_overview.md, 2025-03-01):

* the fleet: 226.75 nodes of 8 H800 on average over the day, in prefill units of 4 nodes
  (routed experts EP32, MLA and shared expert DP32, 32 redundant experts) and decode units of
  18 nodes (EP144/DP144, 32 redundant experts). The split is not published; it follows from
  the published per-node rates (73.7k input tokens/s per prefill node, 14.8k output tokens/s
  per decode node) and the daily tokens: 608B / 86,400 s / 73.7k = 95.5 prefill nodes and
  168B / 86,400 s / 14.8k = 131.4 decode nodes (226.9 together), rounded to whole units:
  24 prefill units (96 nodes) and 7 decode units (126 nodes), 222 nodes, on
  ``deepseek-h800-mpft`` (256 nodes, 8-plane fat-tree, one 400 Gb/s NIC per GPU);
* the load: Poisson arrivals at the rate that gives the published 168B output tokens per day;
  prompt and output lengths lognormal (coefficient of variation 1, clipped at 16x the mean),
  their means solved so that the draws give the published 608B : 168B input to output tokens
  and the published average KV length per output token of 4,989
  (``E[prompt] + E[output (output + 1) / 2] / E[output]``, prompts and outputs
  independent): about 3,900 prompt and 1,080 output tokens; 56.3% of every prompt hits the
  on-disk KV cache (published: 342B of the 608B), read, not computed;
* measured over the steady part of the hour (from minute 10 to the last arrival), from the
  simulation's timeline: prompt tokens prefilled per prefill node per second and decode
  tokens per decode node per second, against the published per-node figures.

Not modelled, so the comparison is not like for like: multi-token prediction (DeepSeek's
decode emits about 1.85 tokens per step with its MTP module, V3 report 5.4.3), dual
micro-batch overlap of communication (the serving step is the analytical engine's
serial pass), the day's load curve (nodes released at night), the time to read cached
prefixes from disk. At the published load the simulated fleet is short of capacity, so its
queues grow over the hour: throughput per node is then the simulated fleet's capacity and
latencies are those of an overloaded system (reported, not compared).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from codesign.engines.des.serving import LengthDist, poisson_workload, simulate

OUT = Path(__file__).parent / "results" / "fleet.json"
SOURCE = ("deepseek-ai/open-infra-index, 202502OpenSourceWeek/day_6_one_more_thing_"
          "deepseekV3R1_inference_system_overview.md (2025-03-01)")
PUBLISHED = {
    "source": SOURCE,
    "nodes_average": 226.75,
    "gpus_per_node": 8,
    "input_tokens_per_day": 608e9,
    "cache_hit_tokens_per_day": 342e9,
    "cache_hit_fraction": 0.563,
    "output_tokens_per_day": 168e9,
    "avg_kv_len_per_output_token": 4_989,
    "user_output_tokens_per_s": [20, 22],
    "prefill_input_tokens_per_s_per_node": 73_700,
    "decode_output_tokens_per_s_per_node": 14_800,
    "prefill_unit": {"nodes": 4, "tp": 1, "dp": 32, "ep": 32, "redundant_experts": 32},
    "decode_unit": {"nodes": 18, "tp": 1, "dp": 144, "ep": 144, "redundant_experts": 32},
}
DAY_S = 86_400.0
CV = 1.0  # lengths' coefficient of variation (an assumption: no published distribution)
CLIP = 16  # lognormal draws clipped at this many times the mean
WARMUP_S = 600.0
SEED = 0


def units() -> tuple[int, int]:
    """Prefill and decode units from the published per-node rates (see module doc)."""
    pub = PUBLISHED
    pre_nodes = pub["input_tokens_per_day"] / DAY_S / pub["prefill_input_tokens_per_s_per_node"]
    dec_nodes = pub["output_tokens_per_day"] / DAY_S / pub["decode_output_tokens_per_s_per_node"]
    return (round(pre_nodes / pub["prefill_unit"]["nodes"]),
            round(dec_nodes / pub["decode_unit"]["nodes"]))


def length_mix(draws: int = 1_000_000) -> tuple[LengthDist, LengthDist, dict[str, float]]:
    """Lognormal prompt and output lengths whose draws give the published input : output
    ratio and average KV length per output token (fixed-point iteration on the means)."""
    pub = PUBLISHED
    ratio = pub["input_tokens_per_day"] / pub["output_tokens_per_day"]
    kv_target = pub["avg_kv_len_per_output_token"]
    mp, mo = 4000.0, 1100.0
    for _ in range(8):
        p = LengthDist.lognormal(mp, CV, high=int(CLIP * mp))
        o = LengthDist.lognormal(mo, CV, high=int(CLIP * mo))
        rng = np.random.default_rng(1)
        ps, os_ = p.sample(rng, draws).astype(float), o.sample(rng, draws).astype(float)
        kv = ps.mean() + (os_ * (os_ + 1) / 2).mean() / os_.mean()
        mp *= ratio / (ps.mean() / os_.mean())
        mp *= kv_target / kv
        mo *= kv_target / kv
    p = LengthDist.lognormal(mp, CV, high=int(CLIP * mp))
    o = LengthDist.lognormal(mo, CV, high=int(CLIP * mo))
    return p, o, {"prompt_mean_param": mp, "output_mean_param": mo}


def window_rate(timeline: dict[str, Any], role: str, key: str, t0: float, t1: float
                ) -> float:
    """Per second of ``[t0, t1]`` (sample times nearest inside) of a cumulative counter."""
    t = np.asarray(timeline["t_s"])
    col = np.asarray(timeline["roles"][role][key], dtype=float)
    i, j = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1, side="right")) - 1
    return float((col[j] - col[i]) / (t[j] - t[i]))


def run(minutes: float) -> dict[str, Any]:
    pub = PUBLISHED
    n_pre, n_dec = units()
    pre_nodes, dec_nodes = n_pre * pub["prefill_unit"]["nodes"], n_dec * pub["decode_unit"]["nodes"]
    prompt, output, params = length_mix()
    wl0 = poisson_workload(1.0, 200_000, prompt=prompt, output=output, seed=SEED)
    mean_out = float(wl0.output_tokens.mean())
    rate = pub["output_tokens_per_day"] / DAY_S / mean_out
    n = round(rate * minutes * 60)
    t0 = time.perf_counter()
    wl = poisson_workload(rate, n, prompt=prompt, output=output, seed=SEED).with_cache_hit(
        pub["cache_hit_fraction"])
    pu, du = pub["prefill_unit"], pub["decode_unit"]
    res = simulate(
        "deepseek-v3", "deepseek-h800-mpft", workload=wl, sample_s=60.0,
        prefill=f"tp={pu['tp']},dp={pu['dp']},ep={pu['ep']},"
                f"redundant_experts={pu['redundant_experts']},instances={n_pre}",
        decode=f"tp={du['tp']},dp={du['dp']},ep={du['ep']},"
               f"redundant_experts={du['redundant_experts']},instances={n_dec}")
    wall = time.perf_counter() - t0
    s = res.summary()
    tl = s["timeline"]
    last = float(wl.arrival_s[-1])
    a, b = min(WARMUP_S, last / 2), last
    pre_rate = window_rate(tl, "prefill", "prompt_tokens", a, b) / pre_nodes
    dec_rate = window_rate(tl, "decode", "decode_tokens", a, b) / dec_nodes
    offered_in = float(wl.prompt_tokens.sum()) / last
    offered_out = float(wl.output_tokens.sum()) / last
    t = np.asarray(tl["t_s"])
    k = int(np.searchsorted(t, last, side="right")) - 1
    inside = (t >= a) & (t <= b)
    decoding = float(np.mean(np.asarray(tl["roles"]["decode"]["running"])[inside]))
    user_speed = window_rate(tl, "decode", "decode_tokens", a, b) / decoding
    backlog = {role: {"waiting": tl["roles"][role]["waiting"][k],
                      "running": tl["roles"][role]["running"][k]} for role in tl["roles"]}
    hit = pub["cache_hit_fraction"]
    return {
        "machine": {"platform": platform.platform(), "processor": _cpu(),
                    "cores": os.cpu_count(), "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_fleet.py"
                   + ("" if minutes == 60 else f" --minutes {minutes:g}"),
        "wall_s": wall,
        "requests_simulated": n,
        "iterations": s["iterations"],
        "evaluations": s["evaluations"],
        "simulated_s": s["window_s"],
        "arrivals_s": last,
        "published": pub,
        "fleet": {"prefill_units": n_pre, "decode_units": n_dec, "prefill_nodes": pre_nodes,
                  "decode_nodes": dec_nodes, "nodes": pre_nodes + dec_nodes,
                  "gpus": s["gpus"], "system": s["system"]},
        "workload": {
            "arrival": "poisson", "rate_requests_per_s": rate, "seed": SEED,
            "prompt": {"dist": "lognormal", "cv": CV, "clip": f"{CLIP}x mean",
                       "mean_param": params["prompt_mean_param"],
                       "mean_drawn": float(wl.prompt_tokens.mean())},
            "output": {"dist": "lognormal", "cv": CV, "clip": f"{CLIP}x mean",
                       "mean_param": params["output_mean_param"],
                       "mean_drawn": float(wl.output_tokens.mean())},
            "cache_hit_share": hit,
            "cached_share_drawn": float(wl.cached_tokens.sum() / wl.prompt_tokens.sum()),
            "input_tokens_per_day_offered": offered_in * DAY_S,
            "output_tokens_per_day_offered": offered_out * DAY_S,
            "avg_kv_len_per_output_token_drawn": float(
                (wl.prompt_tokens * wl.output_tokens
                 + wl.output_tokens * (wl.output_tokens + 1) / 2).sum()
                / wl.output_tokens.sum()),
        },
        "steady_window_s": [a, b],
        "per_node": {
            "prefill_input_tokens_per_s": pre_rate,
            "prefill_ratio_to_published": pre_rate / pub["prefill_input_tokens_per_s_per_node"],
            "prefill_offered_input_tokens_per_s": offered_in / pre_nodes,
            "decode_output_tokens_per_s": dec_rate,
            "decode_ratio_to_published": dec_rate / pub["decode_output_tokens_per_s_per_node"],
            "decode_offered_output_tokens_per_s": offered_out / dec_nodes,
        },
        "backlog_at_last_arrival": backlog,
        "decode_running_mean": decoding,
        "decode_user_tokens_per_s": user_speed,
        "latency": {"note": "the queues grow over the hour (the simulated fleet is short of "
                            "capacity at the published load): TTFT includes the wait for "
                            "prefill, TPOT the wait for a decode slot after the KV transfer",
                    "ttft_s": s["ttft_s"], "tpot_s": s["tpot_s"]},
        "pools": s["pools"],
        "utilization": {k: v for k, v in s["utilization"].items()
                        if not k.startswith(("prefill[", "decode["))},
        "kv_cache_peak_fraction": {r: v["peak_fraction"] for r, v in s["kv_cache"].items()},
        "preemptions": s["preemptions"],
        "kv_transfer_s": {k: s["kv_transfer_s"][k] for k in ("count", "mean", "busy_s")},
        "energy": s["energy"], "joules_per_token": s["joules_per_token"],
        "cost": s["cost"], "usd_per_million_tokens": s["usd_per_million_tokens"],
        "memory": s["memory"],
        "not_modelled": [
            "multi-token prediction (DeepSeek decodes ~1.85 tokens per step, V3 report 5.4.3)",
            "dual micro-batch overlap of dispatch/combine with compute (steps are serial)",
            "the day's load curve (published figures are 24-hour averages)",
            "reading cached prefixes from disk (free here; attention to them not charged)",
        ],
    }


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0,
                    help="minutes of arrivals to simulate (default 60)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    result = run(args.minutes)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    pn = result["per_node"]
    print(f"{result['requests_simulated']:,} requests in {result['wall_s']:.0f} s wall; "
          f"per node: prefill {pn['prefill_input_tokens_per_s']:,.0f} input tokens/s "
          f"({pn['prefill_ratio_to_published']:.2f}x published), decode "
          f"{pn['decode_output_tokens_per_s']:,.0f} output tokens/s "
          f"({pn['decode_ratio_to_published']:.2f}x), "
          f"{result['decode_user_tokens_per_s']:.1f} tokens/s per decoding user")
    return result


if __name__ == "__main__":
    main()
