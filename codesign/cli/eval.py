"""``codesign eval``: the cost of one prefill pass or decode step of a model on a device.

A plain function with typer annotations; :mod:`codesign.cli.app` registers it with
``app.command("eval")(eval_model)``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from codesign.cli.common import JsonFlag, SystemOpt, check_html_path, emit_json
from codesign.errors import SpecError


def eval_model(
    model: Annotated[str, typer.Option(help="model name or config file")],
    hw: Annotated[str | None, typer.Option(
        "--hw", help="device name (codesign hw list) or device file: a cluster of it")] = None,
    system: SystemOpt = None,
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
    """Cost one prefill pass or decode step of a model on a system (or tp*dp devices).

    The phase runs on the system's default placement (its first pool unless the system says
    otherwise) with --tp/--dp/--ep; a point whose weights, KV cache and activations do not fit
    a pool's devices is an error unless --ignore-memory.
    """
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
        check_html_path(trace_out, "--trace-out")
    if hw is None and system is None:
        raise SpecError("--system", "give a system (--system) or a device (--hw)")
    r = evaluate_model(model, phase, batch, context, hw, system=system, seq=seq,  # type: ignore[arg-type]
                       tp=tp, dp=dp, ep=ep, redundant_experts=redundant_experts,
                       mla_form=mla_form, weight_dtype=weight_dtype, launch=launch,  # type: ignore[arg-type]
                       engine=engine, schedule=schedule, micro_batches=micro_batches,
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
        emit_json(out)
        return
    typer.echo(f"{out['model']} {phase} batch {batch} context {context} on {r.world} x "
               f"{r.device}: {r.latency_s * 1e3:.3f} ms, {out['tokens_per_s']:,.0f} tokens/s, "
               f"{out['joules_per_token']:.3f} J/token, ${out['usd_per_million_tokens']:.3f}"
               f"/M tokens, mostly {out['bound']}-bound")
    for pool, m in out["memory"].items():
        if not m["fits"]:
            typer.echo(f"warning: pool {pool!r} needs {m['required_bytes'] / 1e9:.1f} GB per "
                       f"device of {m['capacity_bytes'] / 1e9:.1f} GB (costed anyway)", err=True)
