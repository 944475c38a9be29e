"""``codesign study``: run a bundled or user design study, list the bundled ones.

Thin: each command calls one library function. Errors are :class:`SpecError`; the main CLI
prints them as one line and exits with code 2. :mod:`codesign.cli.app` mounts this one with
``app.add_typer(study_app, name="study")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codesign.cli.common import JsonFlag, emit_json
from codesign.errors import SpecError

study_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Design studies: sweeps of devices, batches and contexts (or of network topologies) "
    "with a report.",
)


@study_app.command("run")
def study_run(
    name_or_path: Annotated[
        str, typer.Argument(help="bundled study name, or a study.yaml (or its folder)")
    ],
    out: Annotated[
        str | None, typer.Option("--out", help="output folder (default: out/<study name>)")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace a previous run's output folder")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar or table")] = False,
) -> None:
    """Evaluate every point of a study; write results.parquet, summary.json, study.yaml and
    a self-contained report.html."""
    from codesign.study import load_study, run_study

    spec = load_study(name_or_path)
    out_dir = Path(out) if out else Path("out") / spec.name
    try:
        result = run_study(spec, out_dir, progress=not (quiet or as_json), overwrite=overwrite)
    except SpecError as e:
        if e.field == "out_dir":
            raise SpecError("--out", e.message + ("" if overwrite else " (or --overwrite)"),
                            e.allowed) from None
        raise
    if as_json:
        emit_json({**result.summary, "out_dir": str(out_dir),
                    "report_html": str(result.report_path)})
        return
    if not quiet:
        if result.summary.get("kind") == "network":
            _print_network(result.summary)
        else:
            _print_best(result.summary)
    typer.echo(f"report written to {result.report_path}")


def _print_network(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"study {summary['study']}: decode bound per interconnect "
                        f"({summary['runtime_s']:.1f} s)")
    for col in ("interconnect", "formula TPOT (ms)", "model TPOT (ms)", "model tokens/s"):
        table.add_column(col, justify="left" if col == "interconnect" else "right")
    for r in summary["tpot"]["systems"]:
        f, m = r["formula_tpot_ms"], r["model_tpot_ms"]
        table.add_row(r["interconnect"], "-" if f is None else f"{f:.3f}",
                      "-" if m is None else f"{m:.3f}", f"{r['model_tokens_per_s']:.0f}")
    console = Console()
    console.print(table)
    for line in summary["multi_plane"]["findings"][:3]:
        console.print(f"- {line}", highlight=False)


def _print_best(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from codesign.report.figures import METRICS

    table = Table(title=f"study {summary['study']}: best device per metric "
                        f"({summary['points']} points, {summary['runtime_s']:.1f} s)")
    for col in ("metric", "device", "value", "batch", "context"):
        table.add_column(col, justify="left" if col in ("metric", "device") else "right")
    for metric, b in summary["best"].items():
        label = METRICS.get(metric, (metric, True))[0]
        if b is None:
            table.add_row(label, "none fits memory", "", "", "")
        else:
            table.add_row(label, b["hw"], f"{b['value']:.4g}", str(b["batch"]),
                          str(b["context"]))
    Console().print(table)
    if summary["not_fitting_memory"]:
        n = len(summary["not_fitting_memory"])
        typer.echo(f"{n} point(s) exceed device memory and are left out of 'best' "
                   "(see summary.json)")


@study_app.command("list")
def study_list(
    as_json: JsonFlag = False,
) -> None:
    """List the bundled studies."""
    from codesign.study import bundled_studies, load_study
    from codesign.study.spec import NetworkStudySpec

    rows: list[dict[str, Any]] = []
    for name in bundled_studies():
        s = load_study(name)
        if isinstance(s, NetworkStudySpec):
            rows.append({"name": name, "kind": s.kind, "topologies": list(s.topologies),
                         "radices": list(s.radices), "planes": s.planes,
                         "description": s.description})
            continue
        rows.append({"name": name, "kind": s.kind, "model": s.model, "phase": s.phase,
                     "hw": list(s.hw), "batch": list(s.batch), "context": list(s.context),
                     "description": s.description})
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="codesign studies")
    for col in ("name", "model", "points", "description"):
        table.add_column(col, justify="right" if col == "points" else "left")
    for r in rows:
        first = r["description"].split(". ")[0].rstrip(".")
        if r["kind"] == "network":
            points = len(r["topologies"]) * len(r["radices"])
            table.add_row(r["name"], "network co-design", str(points), first)
            continue
        points = len(r["hw"]) * len(r["batch"]) * len(r["context"])
        table.add_row(r["name"], f"{r['model']} {r['phase']}", str(points), first)
    Console().print(table)
