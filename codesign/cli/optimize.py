"""``codesign optimize``: optimisation commands. ``placement``: expert replication and
placement (:func:`codesign.opt.placement.place_experts`); ``deployment``: parallelism, batch
and prefill/decode split (:func:`codesign.opt.deployment.search_deployment`); ``hardware``:
the sizing of a GPU design (:func:`codesign.opt.sizing.size_hardware`).

Thin: each command calls one library function. Durations and powers take units (``50ms``,
``2 s``, ``700W``) or plain SI numbers. Bad input raises :class:`~codesign.errors.SpecError`
naming the flag; the main CLI prints it as one line and exits with code 2.
:mod:`codesign.cli.app` mounts this app with ``app.add_typer(optimize_app, name="optimize")``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codesign.cli.common import JsonFlag, emit_json
from codesign.errors import SpecError

optimize_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Optimisation problems solved with Pyomo + HiGHS.",
)


@optimize_app.callback()
def _optimize() -> None:
    """Optimisation problems solved with Pyomo + HiGHS."""  # a group even with one command


#: The library's argument names as this command's flags.
PLACEMENT_FLAGS = {
    "loads": "--loads", "num_replicas": "--replicas", "num_groups": "--groups",
    "num_nodes": "--nodes", "num_gpus": "--gpus", "method": "--method",
    "time_limit_s": "--time-limit", "mip_gap": "--mip-gap", "threads": "--threads",
    "solver": "--solver", "cross_node_weight": "--cross-node-weight",
    "max_gpu_load": "--max-load",
}


def read_loads(path: str) -> list[list[float]]:
    """Read ``LOADS.json`` (or ``.yaml``): a list of per-layer lists of expert loads, strictly
    (numbers >= 0, every layer the same length). Errors name ``--loads``."""
    from codesign.config import load_mapping
    from codesign.opt.placement import check_loads

    try:
        raw = load_mapping(path)
    except SpecError as e:
        raise SpecError("--loads", e.message, e.allowed) from None
    return check_loads(raw, "--loads", allow_flat=False).tolist()


@optimize_app.command("placement")
def placement(
    loads: Annotated[str, typer.Option(
        "--loads", help="JSON/YAML file: list of per-layer lists of expert loads (tokens)")],
    replicas: Annotated[int, typer.Option(
        "--replicas", help="physical expert slots in all (EPLB's num_replicas)")],
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs (expert-parallel size)")],
    groups: Annotated[int, typer.Option("--groups", help="expert groups")] = 1,
    nodes: Annotated[int, typer.Option("--nodes", help="server nodes")] = 1,
    method: Annotated[str, typer.Option("--method", help="eplb or milp")] = "milp",
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="seconds per layer (milp)")] = 30.0,
    mip_gap: Annotated[float, typer.Option("--mip-gap", help="relative gap to stop at")] = 0.01,
    threads: Annotated[int, typer.Option("--threads", help="solver threads")] = 2,
    solver: Annotated[str, typer.Option("--solver", help="highs or another installed MILP "
                                                         "solver")] = "highs",
    cross_node_weight: Annotated[float, typer.Option(
        "--cross-node-weight", help="weight of load served outside its group's home node")] = 0.0,
    max_load: Annotated[float | None, typer.Option(
        "--max-load", help="target max GPU load; error if it cannot be met")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replicate experts and place them on GPUs to minimise the most loaded GPU (per layer);
    EPLB's greedy or the MILP (never worse than EPLB, with a proven gap)."""
    from codesign.opt.placement import place_experts

    data = read_loads(loads)
    try:
        result = place_experts(
            data, replicas, groups, nodes, gpus, method=method, time_limit_s=time_limit,
            mip_gap=mip_gap, threads=threads, solver=solver,
            cross_node_weight=cross_node_weight, max_gpu_load=max_load)
    except SpecError as e:
        raise SpecError(PLACEMENT_FLAGS.get(e.field, e.field), e.message, e.allowed) from None
    if as_json:
        emit_json(result.to_dict())
        return
    _print_table(result)


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"expert placement ({result.method}): {result.num_replicas} slots on "
                        f"{result.num_gpus} GPUs, {result.num_nodes} node(s), "
                        f"{result.num_groups} group(s)")
    for col in ("layer", "max GPU load", "mean", "balance", "EPLB max", "vs EPLB", "gap",
                "status", "time s"):
        table.add_column(col, justify="right")
    for i, x in enumerate(result.layers):
        better = 1 - x.max_gpu_load / x.eplb_max_gpu_load if x.eplb_max_gpu_load > 0 else 0.0
        table.add_row(str(i), f"{x.max_gpu_load:.6g}", f"{x.mean_gpu_load:.6g}",
                      f"{x.balance:.4f}", f"{x.eplb_max_gpu_load:.6g}", f"{-better:+.2%}",
                      f"{x.gap:.2%}", x.status, f"{x.solve_time_s:.2f}")
    Console().print(table)


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
        emit_json(r.as_dict())
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
        emit_json(r.as_dict())
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


optimize_app.command("deployment")(deployment)
optimize_app.command("hardware")(hardware)
