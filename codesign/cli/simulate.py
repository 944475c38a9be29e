"""``codesign simulate``: serve a stream of requests (Poisson, bursty or a trace) with a model
on a system; TTFT/TPOT/E2E percentiles, throughput, goodput, utilization per pool, memory,
energy and cost.

Thin: the command calls :func:`codesign.engines.des.serving.simulate`. Errors are
:class:`SpecError` naming the flag; the main CLI prints them as one line and exits with code 2.
:mod:`codesign.cli.app` registers the command with ``app.command("simulate")(simulate)``;
``simulate_app`` is the same command as a stand-alone Typer app.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codesign.cli.common import emit_json
from codesign.errors import SpecError

#: library parameter -> CLI flag, for error messages
FLAGS = {
    "model": "--model", "system": "--system", "arrival": "--arrival", "rate": "--rate",
    "requests": "--requests", "seed": "--seed", "cv": "--cv", "trace": "--trace-file",
    "trace_out": "--trace-out", "gpus": "--gpus", "tp": "--tp", "dp": "--dp", "ep": "--ep",
    "pp": "--pp", "redundant_experts": "--redundant-experts", "prefill": "--prefill-mapping",
    "decode": "--decode-mapping", "token_budget": "--token-budget",
    "chunk_size": "--chunk-size", "max_seqs": "--max-seqs",
    "memory_fraction": "--memory-fraction", "skew": "--skew", "ttft_slo_s": "--ttft-slo",
    "tpot_slo_s": "--tpot-slo", "prompt_tokens": "--prompt-tokens",
    "output_tokens": "--output-tokens", "weight_dtype": "--weight-dtype",
    "ignore_memory": "--ignore-memory", "cache_hit": "--cache-hit", "sample_s": "--sample-s",
}


def _flag(field: str) -> str:
    head, dot, rest = field.partition(".")
    if head in FLAGS:
        return FLAGS[head] + (dot + rest if dot else "")
    return field


def simulate(
    model: Annotated[str, typer.Option("--model", help="shipped model name or config file")],
    system: Annotated[str, typer.Option(
        "--system", help="system preset (hgx-h100, deepseek-h800-mpft, pd-h100-h200, ...), "
                         "a system or device file, or a device name (a cluster of 8-GPU nodes "
                         "of it); a system placing prefill and decode on different pools "
                         "serves disaggregated over them")],
    arrival: Annotated[str, typer.Option(
        "--arrival", help="poisson, gamma (bursty, --cv) or trace (--trace-file)")] = "poisson",
    rate: Annotated[float | None, typer.Option(
        "--rate", help="requests/s (poisson, gamma)")] = None,
    requests: Annotated[int | None, typer.Option(
        "--requests", help="requests to generate (default 1000; a trace: its first N)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of every random draw")] = 0,
    cv: Annotated[float, typer.Option(
        "--cv", help="coefficient of variation of gamma inter-arrival times")] = 2.0,
    trace_file: Annotated[str | None, typer.Option(
        "--trace-file", help="CSV/JSONL trace: arrival_s, prompt_tokens, output_tokens")] = None,
    prompt_tokens: Annotated[int, typer.Option(
        "--prompt-tokens", help="mean prompt length (generated requests)")] = 1024,
    output_tokens: Annotated[int, typer.Option(
        "--output-tokens", help="mean output length (generated requests)")] = 256,
    cache_hit: Annotated[float, typer.Option(
        "--cache-hit", help="share of each prompt read from a prefix cache, not computed "
                            "(0 <= x < 1; DeepSeek reports 0.563)")] = 0.0,
    length_cv: Annotated[float, typer.Option(
        "--length-cv", help="coefficient of variation of lengths (lognormal, clipped at 8x the "
                            "mean); 0: fixed")] = 0.5,
    gpus: Annotated[int | None, typer.Option(
        "--gpus", help="GPUs to use on a one-pool system (default: the preset's, 8 for a "
                       "device)")] = None,
    tp: Annotated[int | None, typer.Option("--tp", help="tensor parallel degree")] = None,
    dp: Annotated[int | None, typer.Option("--dp", help="data parallel degree")] = None,
    ep: Annotated[int | None, typer.Option("--ep", help="expert parallel degree")] = None,
    pp: Annotated[int | None, typer.Option("--pp", help="pipeline stages")] = None,
    redundant_experts: Annotated[int, typer.Option(
        "--redundant-experts", help="extra expert replicas (EPLB)")] = 0,
    prefill_mapping: Annotated[str | None, typer.Option(
        "--prefill-mapping", help="disaggregated prefill, e.g. 'tp=1,dp=32,ep=32,instances=1' "
                                  "(keys tp, dp, ep, pp, instances, redundant_experts)")
    ] = None,
    decode_mapping: Annotated[str | None, typer.Option(
        "--decode-mapping", help="disaggregated decode, e.g. "
                                 "'tp=1, dp=144, ep=144, redundant_experts=32' (DeepSeek-V3: "
                                 "ep must divide routed + redundant experts)")] = None,
    token_budget: Annotated[int, typer.Option(
        "--token-budget", help="tokens per iteration per attention-DP rank")] = 8192,
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", help="largest prefill chunk (default: the token budget)")] = None,
    max_seqs: Annotated[int, typer.Option(
        "--max-seqs", help="running requests per attention-DP rank")] = 256,
    memory_fraction: Annotated[float, typer.Option(
        "--memory-fraction", help="share of GPU memory for weights and KV cache")] = 0.9,
    ignore_memory: Annotated[bool, typer.Option(
        "--ignore-memory", help="simulate a deployment that does not fit its GPUs' memory "
                                "(such a pool's KV cache is taken as unlimited)")] = False,
    skew: Annotated[float, typer.Option(
        "--skew", help="MoE routing skew (>= 1): hottest expert rank load / mean")] = 1.0,
    ttft_slo: Annotated[float, typer.Option("--ttft-slo", help="TTFT SLO, seconds")] = 2.0,
    tpot_slo: Annotated[float, typer.Option("--tpot-slo", help="TPOT SLO, seconds")] = 0.1,
    weight_dtype: Annotated[str | None, typer.Option(
        "--weight-dtype", help="override the weight format (e.g. bf16)")] = None,
    trace_out: Annotated[str | None, typer.Option(
        "--trace-out", help="write a Chrome/Perfetto JSON timeline of the iterations")] = None,
    sample_s: Annotated[float | None, typer.Option(
        "--sample-s", help="sample cumulative tokens and queues per role every N simulated "
                           "seconds into the JSON's timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Simulate serving a model: continuous batching with chunked prefill, KV-cache limits and
    preemption, prefill/decode disaggregation (inside a pool, or over a system's pools and the
    link between them); latency percentiles, throughput, goodput, utilization per pool,
    memory, joules and dollars per token."""
    from codesign.engines.des.serving import LengthDist
    from codesign.engines.des.serving import simulate as run

    try:
        if length_cv < 0:
            raise SpecError("--length-cv", f"must be >= 0, got {length_cv}")
        lengths = []
        for name, mean in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
            if mean < 1:
                raise SpecError(name, f"must be >= 1, got {mean}")
            lengths.append(LengthDist.fixed(mean) if length_cv == 0 else
                           LengthDist.lognormal(mean, length_cv, high=8 * mean))
        result = run(
            model, system, arrival=arrival, rate=rate, requests=requests, seed=seed, cv=cv,
            trace=trace_file, prompt=lengths[0], output=lengths[1], cache_hit=cache_hit,
            gpus=gpus, tp=tp, dp=dp,
            ep=ep, pp=pp, redundant_experts=redundant_experts, prefill=prefill_mapping,
            decode=decode_mapping, token_budget=token_budget, chunk_size=chunk_size,
            max_seqs=max_seqs, memory_fraction=memory_fraction,
            ignore_memory=ignore_memory, skew=skew,
            ttft_slo_s=ttft_slo, tpot_slo_s=tpot_slo, weight_dtype=weight_dtype,
            trace_out=trace_out, sample_s=sample_s)
    except SpecError as e:
        raise SpecError(_flag(e.field), e.message, e.allowed) from None
    summary = result.summary()
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)


simulate_command = simulate

simulate_app = typer.Typer(pretty_exceptions_enable=False, add_completion=False,
                           help="Serving simulation.")
simulate_app.command()(simulate)


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if unit == "s" and x < 1 else (
        f"{x:.2f} s" if unit == "s" else f"{x:.4g}")


def _short(x: float) -> str:
    return f"{x * 1e3:.3g}ms" if x < 1 else f"{x:.3g}s"


def _pool(m: dict[str, Any]) -> str:
    """``instances x (tp=.., dp=.., ep=..)`` of a role, with pp and expert replicas if any,
    and its pool."""
    parts = [f"tp={m['tp']}", f"dp={m['dp']}", f"ep={m['ep']}"]
    if m["pp"] > 1:
        parts.append(f"pp={m['pp']}")
    if m["redundant_experts"]:
        parts.append(f"redundant_experts={m['redundant_experts']}")
    return f"{m['instances']} x ({', '.join(parts)}) on pool {m['pool']}"


def _print_summary(s: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    m = s["mapping"]
    if m["disaggregated"]:
        how = f"prefill {_pool(m['prefill'])}, decode {_pool(m['decode'])}"
    else:
        how = f"{m['label']} ({m['reason']})"
    con.print(f"[bold]{s['model']}[/bold] on {s['system']}, {s['gpus']} GPUs: {how}")
    lat = Table(title=f"{s['requests']} requests, {s['arrival']} arrivals")
    for col in ("latency", "p50", "p90", "p99", "mean"):
        lat.add_column(col, justify="left" if col == "latency" else "right")
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "end to end")):
        d = s[key]
        lat.add_row(label, *(_fmt(d[k], "s") for k in ("p50", "p90", "p99", "mean")))
    con.print(lat)
    pools = Table(title="pools: TTFT of the requests a pool prefilled, TPOT of those it "
                        "decoded, busy share of the window, GB per GPU needed/usable")
    for col in ("pool", "GPUs", "TTFT p50", "p99", "TPOT p50", "p99 ", "busy", "GB"):
        pools.add_column(col, justify="left" if col in ("pool", "GPUs") else "right",
                         no_wrap=True)
    for name, p in s["pools"].items():
        mem = s["memory"][name]
        cells = [_short(p[k][q]) if p[k] else "-" for k in ("ttft_s", "tpot_s")
                 for q in ("p50", "p99")]
        need = f"{mem['required_bytes'] / 1e9:.0f}/{mem['capacity_bytes'] / 1e9:.0f}"
        pools.add_row(name, f"{p['gpus']} {p['device']}", *cells,
                      f"{p['utilization']:.0%}", need + ("" if mem["fits"] else " !"))
    con.print(pools)
    t = Table(show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    c = s["cost"]
    rows = [
        ("output tokens/s", _fmt(s["throughput_tokens_per_s"])),
        ("total tokens/s", _fmt(s["total_tokens_per_s"])),
        ("goodput, requests/s (share meeting SLOs)",
         f"{s['goodput_requests_per_s']:.4g} ({s['goodput_fraction']:.0%})"),
        ("joules per output token", _fmt(s["joules_per_token"])),
        ("$ per million output tokens", _fmt(s["usd_per_million_tokens"])),
        ("$ per hour: devices, network, host",
         ", ".join(f"{c[k]:.4g}" for k in ("devices_usd_per_hour", "network_usd_per_hour",
                                           "host_usd_per_hour"))),
        ("preemptions", str(s["preemptions"])),
        ("utilization", ", ".join(f"{k} {v:.0%}" for k, v in
                                  list(s["utilization"].items())[:6])),
    ]
    for r in rows:
        t.add_row(*r)
    con.print(t)
    if s.get("trace_out"):
        typer.echo(f"trace written to {s['trace_out']}")
