"""The ``codesign`` command line. Thin: each command calls one library function.

Errors a user can cause print one line, ``error: <field>: <what is wrong>``, on stderr and
exit with code 2; no traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from codesign.cli_optimize import optimize_app
from codesign.cli_optimize_search import deployment as optimize_deployment
from codesign.cli_optimize_search import hardware as optimize_hardware
from codesign.cli_simulate import simulate as simulate_command
from codesign.cli_study import study_app
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


hw_app = typer.Typer(no_args_is_help=True, help="Hardware presets.")
app.add_typer(hw_app, name="hw")
predict_app = typer.Typer(help="Predict the cost of single ops on a device.")
app.add_typer(predict_app, name="predict")
calibrate_app = typer.Typer(no_args_is_help=True, help="Calibrate hardware models.")
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(study_app, name="study")
app.command("simulate")(simulate_command)
optimize_app.command("deployment")(optimize_deployment)
optimize_app.command("hardware")(optimize_hardware)
app.add_typer(optimize_app, name="optimize")

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON output")]
HwOpt = Annotated[str, typer.Option("--hw", help="device name (codesign hw list) or file")]


@hw_app.command("list")
def hw_list(as_json: JsonFlag = False) -> None:
    """List the hardware presets."""
    from codesign.hw import HARDWARE, get_device

    rows = []
    for name in HARDWARE.names():
        d = get_device(name).describe()
        rows.append({"name": name, "kind": d["kind"], "description": d["description"],
                     "peak_bf16_flops": d["peak_flops"].get("bf16"),
                     "memory_bytes": d.get("hbm_bytes"),
                     "hbm_bytes_per_s": d.get("hbm_bytes_per_s"),
                     "calibration": d["efficiency"]["source"]})
    if as_json:
        _emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="codesign hardware")
    for col in ("name", "description", "bf16 TFLOP/s", "memory", "bandwidth"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["description"], f"{(r['peak_bf16_flops'] or 0) / 1e12:.0f}",
                      f"{(r['memory_bytes'] or 0) / 1e9:.0f} GB",
                      f"{(r['hbm_bytes_per_s'] or 0) / 1e12:.2f} TB/s")
    Console().print(table)


@hw_app.command("show")
def hw_show(name: Annotated[str, typer.Argument(help="device name or calibration file")],
            as_json: JsonFlag = False) -> None:
    """Show a device's parameters, their sources and its calibration."""
    from codesign.hw import resolve_device

    d = resolve_device(name).describe()
    if as_json:
        _emit_json(d)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{d['name']}: {d['description']}", show_header=False)
    for k in ("sm_count", "clock_hz", "hbm_bytes", "hbm_bytes_per_s", "l2_bytes",
              "nvlink_bytes_per_s"):
        table.add_row(k, f"{d[k]:,.4g}", d["sources"].get(k, "").split(";")[0][:90])
    for cls, peak in d["peak_flops"].items():
        table.add_row(f"peak {cls}", f"{peak / 1e12:,.1f} TFLOP/s", "")
    table.add_row("calibration", "", d["efficiency"]["source"][:90])
    Console().print(table)


def _emit_predictions(items: list[tuple[str, dict[str, Any], str]], as_json: bool) -> None:
    """Print op and network predictions: one JSON line each, or one readable line each."""
    from codesign.predict import predict_ops

    for rec in predict_ops(items):
        if as_json:
            typer.echo(json.dumps(rec))
        elif "system" in rec:  # a collective or an expert-parallel transfer
            bw = rec.get("bus_bandwidth_bytes_per_s") or rec.get("bottleneck_bytes_per_s", 0)
            typer.echo(f"{rec['op']} on {rec['system']}: {rec['latency_s'] * 1e6:.2f} us, "
                       f"{bw / 1e9:.1f} GB/s")
        else:
            typer.echo(f"{rec['op']} on {rec['hw']}: {rec['latency_s'] * 1e6:.2f} us, "
                       f"{rec['energy_j'] * 1e3:.3f} mJ, {rec['bound']}-bound "
                       f"({rec['achieved_flops_per_s'] / 1e12:.1f} TFLOP/s)")


@predict_app.callback(invoke_without_command=True)
def predict_main(
    ctx: typer.Context,
    batch_file: Annotated[str | None, typer.Option(
        "--batch", help="JSON-lines file, one op per line; prints one JSON line per op")] = None,
) -> None:
    """Predict op costs. With --batch, every line of the file is one op."""
    if ctx.invoked_subcommand is not None:
        if batch_file is not None:
            raise SpecError("--batch", "give a batch file or a subcommand, not both")
        return
    if batch_file is None:
        typer.echo(ctx.get_help())
        return
    _emit_predictions(_read_batch(batch_file), as_json=True)


def _read_batch(path: str) -> list[tuple[str, dict[str, Any], str]]:
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError("--batch", f"cannot read {path!r}: {getattr(e, 'strerror', e)}") from None
    items = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p.name} line {i}: "
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpecError(f"{p.name} line {i}", f"malformed JSON: {e.msg}") from None
        if not isinstance(fields, dict):
            raise SpecError(f"{p.name} line {i}", "must be a JSON object")
        kind = fields.get("op")
        if not isinstance(kind, str):
            from codesign.predict import ALL_KINDS

            raise SpecError(f"{where}op", "missing", ALL_KINDS)
        items.append((kind.replace("_", "-"), fields, where))
    if not items:
        raise SpecError("--batch", f"{path!r} holds no ops")
    return items


@predict_app.command("gemm")
def predict_gemm(m: Annotated[int, typer.Option(help="rows of A (tokens)")],
                 n: Annotated[int, typer.Option(help="columns of B (output features)")],
                 k: Annotated[int, typer.Option(help="inner dimension")],
                 hw: HwOpt, dtype: str = "bf16", count: int = 1,
                 as_json: JsonFlag = False) -> None:
    """One GEMM C[m,n] = A[m,k] @ B[k,n] (count > 1: a batched GEMM)."""
    _emit_predictions([("gemm", {"m": m, "n": n, "k": k, "hw": hw, "dtype": dtype,
                                 "count": count}, "--")], as_json)


@predict_app.command("grouped-gemm")
def predict_grouped(tokens_per_expert: Annotated[str, typer.Option(
                        help="comma-separated tokens of each expert, e.g. 16,16,48")],
                    n: Annotated[int, typer.Option()], k: Annotated[int, typer.Option()],
                    hw: HwOpt, dtype: str = "bf16", as_json: JsonFlag = False) -> None:
    """One grouped GEMM over experts with uneven token counts."""
    _emit_predictions([("grouped-gemm", {"tokens_per_expert": tokens_per_expert, "n": n,
                                         "k": k, "hw": hw, "dtype": dtype}, "--")], as_json)


@predict_app.command("attention")
def predict_attention(phase: Annotated[str, typer.Option(help="prefill or decode")],
                      batch: Annotated[int, typer.Option()],
                      q_heads: Annotated[int, typer.Option()],
                      kv_heads: Annotated[int, typer.Option()],
                      seq: Annotated[int, typer.Option(
                          help="prefill: prompt length; decode: cached context")],
                      head_dim: Annotated[int, typer.Option()], hw: HwOpt,
                      dtype: str = "bf16", as_json: JsonFlag = False) -> None:
    """Flash-attention prefill (causal) or split-KV decode attention (GQA/MHA/MQA)."""
    _emit_predictions([("attention", {"phase": phase, "batch": batch, "q_heads": q_heads,
                                      "kv_heads": kv_heads, "seq": seq, "head_dim": head_dim,
                                      "hw": hw, "dtype": dtype}, "--")], as_json)


@predict_app.command("mla-decode")
def predict_mla(batch: Annotated[int, typer.Option()], heads: Annotated[int, typer.Option()],
                context: Annotated[int, typer.Option(help="cached tokens")], hw: HwOpt,
                kv_lora_rank: int = 512, qk_rope_head_dim: int = 64,
                dtype: str = "bf16", as_json: JsonFlag = False) -> None:
    """Absorbed MLA decode attention (DeepSeek-V3 dimensions by default)."""
    _emit_predictions([("mla-decode", {"batch": batch, "heads": heads, "context": context,
                                       "kv_lora_rank": kv_lora_rank,
                                       "qk_rope_head_dim": qk_rope_head_dim, "hw": hw,
                                       "dtype": dtype}, "--")], as_json)


SystemOpt = Annotated[str, typer.Option("--system", help="system preset (codesign system list)")]


@predict_app.command("collective")
def predict_collective(
    op: Annotated[str, typer.Option("--op", help="all_reduce, all_gather, reduce_scatter, "
                                                  "all_to_all or send_recv")],
    nbytes: Annotated[int, typer.Option("--bytes", help="per-rank buffer, as nccl-tests")],
    world: Annotated[int, typer.Option(help="ranks (GPUs of the system)")],
    system: SystemOpt, as_json: JsonFlag = False,
) -> None:
    """One collective on a system (NCCL-calibrated inside a node, hierarchical across)."""
    _emit_predictions([("collective", {"collective": op, "bytes": nbytes, "world": world,
                                   "system": system}, "--")], as_json)


def _ep_command(kind: str, tokens: int, hidden: int, top_k: int, ep: int, system: str,
                max_nodes: int, dtype: str | None, skew: float, failed_planes: int,
                as_json: bool) -> None:
    fields: dict[str, Any] = {"tokens": tokens, "hidden": hidden, "top_k": top_k, "ep": ep,
                              "system": system, "max_nodes": max_nodes, "skew": skew,
                              "failed_planes": failed_planes}
    if dtype is not None:
        fields["dtype"] = dtype
    _emit_predictions([(kind, fields, "--")], as_json)


EpTokens = Annotated[int, typer.Option(help="tokens per GPU")]
EpHidden = Annotated[int, typer.Option(help="hidden size")]
EpTopK = Annotated[int, typer.Option("--top-k", help="experts per token")]
EpSize = Annotated[int, typer.Option("--ep", help="expert-parallel GPUs")]
EpMaxNodes = Annotated[int, typer.Option(help="node-limited routing (0: unlimited)")]
EpSkew = Annotated[float, typer.Option(help="most loaded GPU / mean (>= 1)")]
EpFailed = Annotated[int, typer.Option(help="scale-out planes out of service")]


@predict_app.command("ep-dispatch")
def predict_ep_dispatch(tokens: EpTokens, hidden: EpHidden, top_k: EpTopK, ep: EpSize,
                        system: SystemOpt, max_nodes: EpMaxNodes = 0,
                        dtype: Annotated[str | None, typer.Option(help="wire format")] = None,
                        skew: EpSkew = 1.0, failed_planes: EpFailed = 0,
                        as_json: JsonFlag = False) -> None:
    """Expert-parallel dispatch (FP8 by default) as DeepEP runs it."""
    _ep_command("ep-dispatch", tokens, hidden, top_k, ep, system, max_nodes, dtype, skew,
                failed_planes, as_json)


@predict_app.command("ep-combine")
def predict_ep_combine(tokens: EpTokens, hidden: EpHidden, top_k: EpTopK, ep: EpSize,
                       system: SystemOpt, max_nodes: EpMaxNodes = 0,
                       dtype: Annotated[str | None, typer.Option(help="wire format")] = None,
                       skew: EpSkew = 1.0, failed_planes: EpFailed = 0,
                       as_json: JsonFlag = False) -> None:
    """Expert-parallel combine (BF16 by default) as DeepEP runs it."""
    _ep_command("ep-combine", tokens, hidden, top_k, ep, system, max_nodes, dtype, skew,
                failed_planes, as_json)


topology_app = typer.Typer(no_args_is_help=True, help="Network topologies: counts and cost.")
app.add_typer(topology_app, name="topology")


@topology_app.command("build")
def topology_build(
    kind: Annotated[str, typer.Argument(help="ft2, ft3, mpft, mrft, dragonfly, slimfly, "
                                             "hgx-node, nvl72")],
    radix: Annotated[int | None, typer.Option(help="switch radix (ports)")] = None,
    planes: Annotated[int | None, typer.Option(help="planes (mpft)")] = None,
    figure: Annotated[str | None, typer.Option(help="write a plotly figure to this HTML file")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Build a topology: endpoints, switches, switch-to-switch links, cost and power."""
    from hwmodels.network.topology import build_topology

    if figure:
        _check_html_path(figure, "--figure")
    topo = build_topology(kind, radix, planes)
    info = topo.summary()
    if figure:
        from codesign.report.html import figures_to_html, write_atomic
        from hwmodels.network.topology.figure import plot_topology

        write_atomic(figure, figures_to_html([plot_topology(topo)], f"{info['name']}"))
    if as_json:
        _emit_json(info)
        return
    typer.echo(f"{info['name']}: {info['endpoints']:,} endpoints, {info['switches']:,} switches,"
               f" {info['links']:,} switch links, ${info['cost_usd'] / 1e6:,.1f}M "
               f"(${info['cost_per_endpoint_usd']:,.0f} per endpoint), "
               f"{info['power_w'] / 1e3:,.0f} kW")


def _check_html_path(path: str, flag: str) -> None:
    from pathlib import Path

    p = Path(path)
    if p.is_dir() or not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise SpecError(flag, f"cannot write {path!r}: not a file in an existing folder")


system_app = typer.Typer(no_args_is_help=True, help="System presets (GPUs and networks).")
app.add_typer(system_app, name="system")


@system_app.command("list")
def system_list(as_json: JsonFlag = False) -> None:
    """List the system presets."""
    from codesign.hw import SYSTEMS

    specs = [SYSTEMS.get(n) for n in SYSTEMS.names()]
    rows = [{"name": s.name, "description": s.description, "gpus": s.devices,
             "pools": list(s.pools)} for s in specs]
    if as_json:
        _emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:20s} {r['gpus']:6d} GPUs  {r['description']}")


@system_app.command("show")
def system_show(name: Annotated[str, typer.Argument(help="system preset")],
                as_json: JsonFlag = False) -> None:
    """Show a system: GPUs, NVLink, scale-out network and their sources."""
    from codesign.predict import _system

    d = _system(name, "--").describe()
    d.pop("gpu", None)
    if as_json:
        _emit_json(d)
        return
    for k, v in d.items():
        typer.echo(f"{k}: {v}")


@app.command("eval")
def eval_model(
    model: Annotated[str, typer.Option(help="model name or config file")],
    hw: HwOpt,
    phase: Annotated[str, typer.Option(help="prefill or decode")] = "decode",
    batch: Annotated[int, typer.Option(help="sequences in the pass (all ranks)")] = 1,
    context: Annotated[int, typer.Option(
        help="decode: cached tokens; prefill: prompt length")] = 1024,
    seq: Annotated[int, typer.Option(help="decode: new tokens per sequence")] = 1,
    tp: int = 1, dp: int = 1, ep: int = 1, redundant_experts: int = 0,
    mla_form: Annotated[str | None, typer.Option(help="absorbed or naive")] = None,
    weight_dtype: Annotated[str | None, typer.Option(help="override weight format")] = None,
    launch: Annotated[str | None, typer.Option(help="graph or eager")] = None,
    engine: Annotated[str, typer.Option(help="analytical or des")] = "analytical",
    schedule: Annotated[str, typer.Option(
        help="des engine: serial, dbo, nanoflow or tokenweave")] = "serial",
    micro_batches: Annotated[int, typer.Option(help="des engine: micro-batches")] = 2,
    trace_out: Annotated[str | None, typer.Option(
        help="des engine: write a Chrome/Perfetto trace JSON")] = None,
    ops: Annotated[bool, typer.Option("--ops", help="include per-op records")] = False,
    ignore_memory: Annotated[bool, typer.Option(
        "--ignore-memory", help="cost a point whose devices cannot hold it")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cost one prefill pass or decode step of a model on a device (tp*dp ranks)."""
    from codesign.evaluate import evaluate_model

    if launch not in (None, "graph", "eager"):
        raise SpecError("--launch", f"unknown {launch!r}", ["graph", "eager"])
    if mla_form not in (None, "absorbed", "naive"):
        raise SpecError("--mla-form", f"unknown {mla_form!r}", ["absorbed", "naive"])
    for flag, v in (("--batch", batch), ("--context", context), ("--seq", seq), ("--tp", tp),
                    ("--dp", dp), ("--ep", ep)):
        if v <= 0:
            raise SpecError(flag, f"must be > 0, got {v}")
    if phase not in ("prefill", "decode"):
        raise SpecError("--phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    if redundant_experts < 0:
        raise SpecError("--redundant-experts", f"must be >= 0, got {redundant_experts}")
    if trace_out:
        if engine != "des":
            raise SpecError("--trace-out", "timelines come from the des engine (--engine des)")
        _check_html_path(trace_out, "--trace-out")
    r = evaluate_model(model, phase, batch, context, hw, seq=seq, tp=tp, dp=dp, ep=ep,  # type: ignore[arg-type]
                       redundant_experts=redundant_experts, mla_form=mla_form,
                       weight_dtype=weight_dtype, launch=launch, engine=engine,  # type: ignore[arg-type]
                       schedule=schedule, micro_batches=micro_batches,
                       ignore_memory=ignore_memory)
    if trace_out:
        from codesign.engines.des.trace import write_chrome_trace

        write_chrome_trace(r, trace_out)
    out = r.summary()
    out.pop("trace", None)
    out["per_layer"] = r.per_layer()
    if ops:
        out["ops"] = [rec.__dict__ if hasattr(rec, "__dict__") else
                      {f: getattr(rec, f) for f in rec.__slots__} for rec in r.records]
    if as_json:
        _emit_json(out)
        return
    typer.echo(f"{out['model']} {phase} batch {batch} context {context} on {r.world} x "
               f"{r.device}: {r.latency_s * 1e3:.3f} ms, {out['tokens_per_s']:,.0f} tokens/s, "
               f"{out['joules_per_token']:.3f} J/token, ${out['usd_per_million_tokens']:.3f}"
               f"/M tokens, mostly {out['bound']}-bound")


@calibrate_app.command("gpu")
def calibrate_gpu(
    out: Annotated[str, typer.Option(help="folder for measurements and calibration.json")],
    datasheet: Annotated[str, typer.Option(help="datasheet of the card measured")] = "h100-sxm",
    quick: Annotated[bool, typer.Option(help="a few cases per suite (smoke test)")] = False,
) -> None:
    """Measure this machine's GPU (PyTorch, the gpu extra) and fit a calibration."""
    from codesign.calibration import calibrate_gpu as run

    path = run(out, datasheet, quick)
    typer.echo(f"calibration written to {path}; use it as --hw {path}")


@calibrate_app.command("fit")
def calibrate_fit(
    data: Annotated[str, typer.Option(help="folder of microbenchmark measurements")],
    out: Annotated[str, typer.Option(help="calibration JSON to write")],
    datasheet: Annotated[str, typer.Option(help="datasheet of the card measured")] = "h100-sxm",
) -> None:
    """Fit a calibration to measurements taken earlier (no GPU needed)."""
    from codesign.calibration import fit_calibration

    path = fit_calibration(data, out, datasheet)
    typer.echo(f"calibration written to {path}")


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
