"""``codesign models``: the shipped model configurations, their parameters, KV cache and
the graph of one pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from codesign.cli.common import JsonFlag, check_output_file, emit_json
from codesign.errors import SpecError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from codesign.ir.spec import PhaseSpec

M = TypeVar("M", bound="BaseModel")

models_app = typer.Typer(no_args_is_help=True, help="Shipped model configurations and graphs.")


@models_app.command("list")
def models_list(
    as_json: JsonFlag = False,
) -> None:
    """List the shipped models."""
    from codesign.ir.models import count_params, load_model, model_names

    rows: list[dict[str, Any]] = []
    for name in model_names():
        cfg = load_model(name)
        p = count_params(cfg)
        rows.append(
            {
                "name": name,
                "model_type": cfg.model_type,
                "attention": cfg.attention_kind,
                "moe": cfg.moe is not None,
                "layers": cfg.num_layers,
                "params_total": p.total,
                "params_activated": p.activated,
            }
        )
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="codesign models")
    for col in ("name", "type", "attention", "layers", "params", "activated"):
        table.add_column(
            col, justify="right" if col in ("layers", "params", "activated") else "left"
        )
    for r in rows:
        table.add_row(
            r["name"],
            r["model_type"],
            r["attention"] + (" + moe" if r["moe"] else ""),
            str(r["layers"]),
            f"{r['params_total'] / 1e9:.2f}B",
            f"{r['params_activated'] / 1e9:.2f}B",
        )
    Console().print(table)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="model name or path to a config.json/YAML")],
    phase: Annotated[str, typer.Option(help="prefill or decode")] = "decode",
    batch: Annotated[int, typer.Option(help="sequences in the pass")] = 1,
    context: Annotated[
        int, typer.Option(help="decode: tokens already cached; prefill: prompt length")
    ] = 1024,
    seq: Annotated[int, typer.Option(help="decode: new tokens per sequence per step")] = 1,
    tp: Annotated[int, typer.Option(help="tensor parallel degree")] = 1,
    dp: Annotated[int, typer.Option(help="attention data parallel degree")] = 1,
    ep: Annotated[int, typer.Option(help="expert parallel degree")] = 1,
    mla_form: Annotated[str | None, typer.Option(help="absorbed or naive (MLA models)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    graph: Annotated[
        str | None, typer.Option(help="write the layer graph to this HTML file")
    ] = None,
) -> None:
    """Show a model's parameters, KV cache and the graph of one pass."""
    from codesign.hw.placement import ParallelSpec
    from codesign.ir.models import build_graph, load_model, workload_family
    from codesign.ir.spec import BuildOptions

    cfg = load_model(name)
    ph = _phase(phase, batch, context, seq)
    par = _spec(ParallelSpec, tp=tp, dp=dp, ep=ep)
    opts = _spec(BuildOptions, mla_form=mla_form)
    if graph:
        check_output_file("--graph", graph)
    info = workload_family().describe(cfg, ph, par, opts)
    if graph:
        from codesign.report.graph_figure import plot_layer_graph
        from codesign.report.html import figures_to_html, write_atomic

        fig = plot_layer_graph(build_graph(cfg, ph, par, opts))
        try:
            write_atomic(graph, figures_to_html([fig], f"{cfg.name} layer graph"))
        except SpecError as e:
            raise SpecError("--graph", e.message) from None
    if as_json:
        emit_json(info)
        return
    _print_model(info)
    if graph:
        typer.echo(f"layer graph written to {graph}")


def _phase(phase: str, batch: int, context: int, seq: int) -> PhaseSpec:
    from codesign.ir.spec import PhaseSpec

    if phase not in ("prefill", "decode"):
        raise SpecError("--phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    if phase == "prefill":
        return _spec(
            PhaseSpec,
            phase=phase,
            batch=batch,
            seq_len=context,
            context_len=0,
            _names={"seq_len": "--context"},
        )
    return _spec(
        PhaseSpec,
        phase=phase,
        batch=batch,
        seq_len=seq,
        context_len=context,
        _names={"context_len": "--context", "seq_len": "--seq"},
    )


def _spec(cls: type[M], _names: dict[str, str] | None = None, **kwargs: Any) -> M:
    """Build a pydantic spec; a validation error becomes a SpecError naming the flag."""
    from pydantic import ValidationError

    try:
        return cls(**kwargs)
    except ValidationError as e:
        err = e.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SpecError):  # raised by a model validator: it names its field
            raise SpecError(cause.field, cause.message, cause.allowed) from None
        loc = str(err["loc"][0]) if err["loc"] else ""
        flag = (_names or {}).get(loc, "--" + loc.replace("_", "-"))
        raise SpecError(flag or cls.__name__, err["msg"].lower()) from None


def _print_model(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    g = info["graph"]
    table = Table(
        title=f"{info['name']} ({info['model_type']}, {info['attention']})", show_header=False
    )
    rows = [
        ("layers", f"{info['layers']} ({info['moe_layers']} MoE)"),
        (
            "parameters",
            f"{info['params_total'] / 1e9:.2f}B total, "
            f"{info['params_activated'] / 1e9:.2f}B activated",
        ),
        ("weights", f"{info['weight_bytes'] / 1e9:.1f} GB ({info['weight_dtype']})"),
        ("KV cache", f"{info['kv_cache_bytes_per_token']:,} bytes/token (bf16)"),
        (
            "graph",
            f"{g['phase']['phase']} batch {g['phase']['batch']}, "
            f"{g['op_count']} ops, {g['flops_per_token'] / 1e9:.2f} GFLOP/token",
        ),
        (
            "bytes",
            f"read {g['bytes_read'] / 1e9:.2f} GB (weights {g['weight_bytes_read'] / 1e9:.2f}"
            f", KV {g['kv_bytes_read'] / 1e9:.2f}), written {g['bytes_written'] / 1e9:.2f} GB",
        ),
    ]
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)

