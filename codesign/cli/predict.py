"""``codesign predict``: the cost of single ops (GEMMs, attention, collectives, expert-parallel
transfers) on a device or system, one at a time or a JSON-lines batch."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from codesign.cli.common import HwOpt, JsonFlag
from codesign.errors import SpecError

predict_app = typer.Typer(help="Predict the cost of single ops on a device.")


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
