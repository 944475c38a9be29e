"""``codesign optimize deployment`` and ``codesign optimize hardware``: thin commands over
:func:`codesign.opt.deployment.search_deployment` and :func:`codesign.opt.sizing.size_hardware`.

Both are plain functions with typer annotations, registered on the ``optimize`` app by
``codesign.cli``. Durations and powers take units (``50ms``, ``2 s``, ``700W``) or plain SI
numbers. Bad input raises :class:`~codesign.errors.SpecError` naming the flag.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from codesign.errors import SpecError

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON output")]


def _quantity(text: str | None, kind: str, flag: str) -> float | None:
    """A plain number (SI) or a quantity with units (``codesign.units``); None stays None."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        from codesign.units import parse_quantity

        return parse_quantity(text, kind, flag)


def _rename(e: SpecError, names: dict[str, str]) -> SpecError:
    """The library's field names as the CLI's flags."""
    return SpecError(names.get(e.field, e.field), e.message, e.allowed)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def deployment(
    model: Annotated[str, typer.Option(help="model name or config file")],
    hw: Annotated[str, typer.Option("--hw", "--system",
                                    help="device (a cluster of 8-GPU nodes) or system preset")],
    gpus: Annotated[int, typer.Option(help="GPU budget")],
    prompt: Annotated[int, typer.Option(help="prompt tokens per request")] = 2048,
    output: Annotated[int, typer.Option(help="output tokens per request")] = 512,
    ttft_slo: Annotated[str, typer.Option(help="time to first token limit (e.g. 2s)")] = "2s",
    tpot_slo: Annotated[str, typer.Option(help="time per output token limit (e.g. 50ms)")] = (
        "50ms"),
    time_limit: Annotated[float, typer.Option(help="seconds per MILP solve")] = 30.0,
    as_json: JsonFlag = False,
) -> None:
    """Choose TP/PP/DP/EP, batch, instance counts and the prefill/decode split that serve
    the most output tokens per dollar within the SLOs and the GPU budget."""
    from codesign.opt.deployment import search_deployment

    ttft = _quantity(ttft_slo, "s", "--ttft-slo")
    tpot = _quantity(tpot_slo, "s", "--tpot-slo")
    names = {"ttft_slo_s": "--ttft-slo", "tpot_slo_s": "--tpot-slo", "gpus": "--gpus",
             "prompt_len": "--prompt", "output_len": "--output", "time_limit_s": "--time-limit",
             "model": "--model"}
    try:
        r = search_deployment(model, hw, gpus, prompt, output, ttft, tpot,  # type: ignore[arg-type]
                              time_limit_s=time_limit)
    except SpecError as e:
        raise _rename(e, names) from None
    if as_json:
        _emit(r.as_dict())
        return
    for name, c, n in (("prefill", r.prefill, r.prefill_instances),
                       ("decode", r.decode, r.decode_instances)):
        typer.echo(f"{name}: {n} x (tp={c.tp} pp={c.pp} dp={c.dp} ep={c.ep}, "
                   f"{c.batch_per_rank}/rank, {c.gpus} GPUs), "
                   f"{'TTFT' if name == 'prefill' else 'TPOT'} {c.latency_s * 1e3:.1f} ms")
    typer.echo(f"{r.gpus} of {r.gpus_budget} GPUs: {r.tokens_per_s:,.0f} output tokens/s, "
               f"${r.usd_per_hour:,.2f}/h, {r.tokens_per_usd:,.0f} tokens/$ "
               f"(${r.usd_per_million_tokens:.3f}/M tokens)")
    typer.echo(f"searched {r.candidates:,} configurations ({r.distinct_graphs} distinct "
               f"graphs, {r.deployments:,} deployments) in {r.search_s:.1f} s")


def hardware(
    workload_model: Annotated[str, typer.Option(help="model name or config file")] = (
        "llama-3.1-70b"),
    phase: Annotated[str, typer.Option(help="prefill or decode")] = "decode",
    batch: Annotated[int, typer.Option(help="sequences in the pass")] = 64,
    context: Annotated[int, typer.Option(
        help="decode: cached tokens; prefill: prompt length")] = 4096,
    objective: Annotated[str, typer.Option(
        help="tokens_per_dollar or joules_per_token")] = "tokens_per_dollar",
    area_mm2: Annotated[float | None, typer.Option(help="die area budget per GPU, mm^2")] = None,
    power_w: Annotated[str | None, typer.Option(help="GPU + NIC power budget (e.g. 700W)")] = (
        None),
    cost_usd: Annotated[float | None, typer.Option(help="price budget per GPU, USD")] = None,
    tp: Annotated[int | None, typer.Option(
        help="tensor parallel degree (default: smallest that fits)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Choose SMs, HBM stacks, L2 and NICs of a GPU design under area/power/cost budgets."""
    from codesign.opt.sizing import size_hardware

    power = _quantity(power_w, "W", "--power-w")
    names = {"area_mm2": "--area-mm2", "power_w": "--power-w", "cost_usd": "--cost-usd",
             "objective": "--objective", "workload_model": "--workload-model",
             "phase": "--phase", "batch": "--batch", "context": "--context", "tp": "--tp"}
    try:
        r = size_hardware(workload_model, phase, batch, context,
                          objective=objective,  # type: ignore[arg-type]
                          area_mm2=area_mm2, power_w=power, cost_usd=cost_usd, tp=tp)
    except SpecError as e:
        raise _rename(e, names) from None
    if as_json:
        _emit(r.as_dict())
        return
    for label, d in (("design", r.design), ("base", r.reference)):
        typer.echo(f"{label}: {d.sm_count} SMs, {d.hbm_stacks} HBM stacks "
                   f"({d.hbm_bytes / 1e9:.0f} GB, {d.hbm_bytes_per_s / 1e12:.2f} TB/s), "
                   f"{d.l2_mb} MB L2, {d.nics} NICs: {d.area_mm2:.0f} mm^2 in {d.dies} die(s), "
                   f"{d.power_w:.0f} W, ${d.price_usd:,.0f}; tp={d.tp}: "
                   f"{d.tokens_per_s:,.0f} tokens/s, {d.tokens_per_usd:,.0f} tokens/$, "
                   f"{d.joules_per_token:.3f} J/token")
    typer.echo(f"{r.objective} = {r.objective_value:,.4g}; {r.within_budget} of {r.designs} "
               f"designs within budget, {r.search_s:.1f} s")
