"""The ``codesign`` command line. Thin: each command calls one library function.

Errors a user can cause print one line, ``error: <field>: <what is wrong>``, on stderr and
exit with code 2; no traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from codesign.errors import CodesignError, SpecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Hardware/accelerator co-design of LLM systems.",
)
models_app = typer.Typer(no_args_is_help=True, help="Shipped model configurations and graphs.")
app.add_typer(models_app, name="models")


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """List the shipped models."""
    from workloads.params import count_params
    from workloads.registry import load_model, model_names

    rows = []
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
        _emit_json(rows)
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
    from workloads.builder import build_model_graph
    from workloads.registry import load_model
    from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec
    from workloads.summary import describe_model

    cfg = load_model(name)
    ph = _phase(PhaseSpec, phase, batch, context, seq)
    par = _spec(ParallelSpec, tp=tp, dp=dp, ep=ep)
    opts = _spec(BuildOptions, mla_form=mla_form)
    if graph:
        _check_output_file("--graph", graph)
    info = describe_model(cfg, ph, par, opts)
    if graph:
        from codesign.report.graph_figure import plot_layer_graph
        from codesign.report.html import figures_to_html, write_atomic

        fig = plot_layer_graph(build_model_graph(cfg, ph, par, opts))
        try:
            write_atomic(graph, figures_to_html([fig], f"{cfg.name} layer graph"))
        except SpecError as e:
            raise SpecError("--graph", e.message) from None
    if as_json:
        _emit_json(info)
        return
    _print_model(info)
    if graph:
        typer.echo(f"layer graph written to {graph}")


def _phase(cls: Any, phase: str, batch: int, context: int, seq: int) -> Any:
    if phase not in ("prefill", "decode"):
        raise SpecError("--phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    if phase == "prefill":
        return _spec(
            cls,
            phase=phase,
            batch=batch,
            seq_len=context,
            context_len=0,
            _names={"seq_len": "--context"},
        )
    return _spec(
        cls,
        phase=phase,
        batch=batch,
        seq_len=seq,
        context_len=context,
        _names={"context_len": "--context", "seq_len": "--seq"},
    )


def _check_output_file(flag: str, path: str) -> None:
    """Fail early, naming ``flag``, when ``path`` cannot be a new or replaced file."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise SpecError(flag, f"{path!r} is a folder, not a file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(flag, f"folder {str(folder)!r} does not exist")


def _spec(cls: Any, _names: dict[str, str] | None = None, **kwargs: Any) -> Any:
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


def _click_exceptions() -> Any:
    """The click exception classes typer raises (recent typer vendors click as ``typer._click``)."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer that depends on click itself
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    cx = _click_exceptions()
    command = typer.main.get_command(app)
    try:
        rv = command.main(
            args=argv if argv is not None else sys.argv[1:],
            prog_name="codesign",
            standalone_mode=False,
        )
    except CodesignError as e:
        typer.echo(f"error: {e}", err=True)
        return 2
    except cx.NoArgsIsHelpError as e:  # its message is the help; rich has printed it already
        if e.format_message().strip():
            typer.echo(e.format_message())
        return 0
    except cx.UsageError as e:
        typer.echo(f"error: {' '.join(e.format_message().split())}", err=True)
        return 2
    except typer.Abort:  # not cx.Abort: a vendored typer._click lacks Abort/Exit
        typer.echo("error: aborted", err=True)
        return 130
    except typer.Exit as e:
        return int(e.exit_code or 0)
    return rv if isinstance(rv, int) else 0  # Ctrl-C comes back as 130 here


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
