"""``codesign optimize``: optimisation commands (``placement``: expert replication and placement).

Thin: each command calls one library function. Bad input raises
:class:`~codesign.errors.SpecError` naming the flag; the main CLI prints it as one line and
exits with code 2. The main app mounts this one with
``app.add_typer(optimize_app, name="optimize")``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

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


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


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
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
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
        _emit_json(result.to_dict())
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
