"""Measurements of the microbenchmark harness as IR ops, with the held-out split.

The split is fixed by rule, so anyone can reproduce it:

* GEMM: whole layer shapes are held out (every third shape name in sorted order, and every
  ``odd.*`` shape): the fit never sees their (N, K) at any M. Batched GEMMs (``bmm.jsonl``,
  MLA's absorbed projections) are all held out.
* grouped GEMM: the ``mixtral.down`` and ``dsv3-ep1.gate_up`` cases are held out.
* attention: prefill with 8 query heads (GQA 8:1) and every prefill at 2048 tokens; decode with
  64 query heads and every decode at 16384 context.
* elementwise: token counts 24, 48, 96 and 1024 are held out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.ir.dtypes import DType
from codesign.ir.ops import (
    Attention,
    Elementwise,
    Embedding,
    Gemm,
    GroupedGemm,
    KvCacheWrite,
    Op,
)


@dataclass(frozen=True)
class Sample:
    """One measured kernel: its IR op, measured seconds and split (``train``/``test``)."""

    kind: str
    op: Op
    measured_s: float
    split: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _gemm_split(layer: str, names: list[str]) -> str:
    if layer.startswith("odd.") or names.index(layer) % 3 == 1:
        return "test"
    return "train"


def gemm_samples(data: Path) -> list[Sample]:
    rows = [r for r in read_jsonl(data / "gemm.jsonl") if "error" not in r]
    names = sorted({r["layer"] for r in rows})
    bmm = [r for r in read_jsonl(data / "bmm.jsonl") if "error" not in r]
    out = []
    for r in rows:
        fp8 = r["dtype"] == "fp8"
        dt = DType.FP8_E4M3 if fp8 else DType.BF16
        op = Gemm(
            "gemm",
            m=r["m"],
            n=r["n"],
            k=r["k"],
            batch=r.get("batch", 1),
            a_dtype=dt,
            b_dtype=dt,
            out_dtype=DType.BF16,
        )
        out.append(Sample("gemm_" + r["dtype"], op, r["time_s"], _gemm_split(r["layer"], names), r))
    for r in bmm:
        op = Gemm("bmm", m=r["m"], n=r["n"], k=r["k"], batch=r["batch"])
        out.append(Sample("gemm_bf16", op, r["time_s"], "test", r))
    return out


def grouped_samples(data: Path) -> list[Sample]:
    out = []
    for r in read_jsonl(data / "grouped.jsonl"):
        if "error" in r:
            continue
        op = GroupedGemm("grouped", tuple(r["tokens_per_expert"]), r["n"], r["k"])
        held = r["case"].startswith(("mixtral.down", "dsv3-ep1.gate_up"))
        out.append(Sample("grouped_gemm", op, r["time_s"], "test" if held else "train", r))
    return out


def attention_samples(data: Path) -> list[Sample]:
    out = []
    for r in read_jsonl(data / "attention.jsonl"):
        if "error" in r:
            continue
        pre = r["phase"] == "prefill"
        op = Attention(
            "attn",
            r["phase"],
            r["batch"],
            r["seq"] if pre else 1,
            r["seq"],
            r["q_heads"],
            r["kv_heads"],
            r["head_dim"],
            causal=pre,
        )
        if pre:
            held = r["q_heads"] == 8 or r["seq"] == 2048
        else:
            held = r["q_heads"] == 64 or r["seq"] == 16384
        out.append(
            Sample("attention_" + r["phase"], op, r["time_s"], "test" if held else "train", r)
        )
    return out


def elementwise_op(func: str, t: int, w: int) -> Op:
    """The IR op whose cost the elementwise microbenchmark ``func`` measures."""
    if func == "rmsnorm":
        return Elementwise("rmsnorm", "rmsnorm", t, (w,), w, weight_width=w)
    if func == "add":
        return Elementwise("add", "add", t, (w, w), w)
    if func == "silu_mul":
        return Elementwise("silu_mul", "silu_mul", t, (2 * w,), w)
    if func == "rope":
        return Elementwise("rope", "rope", t, (w,), w)
    if func == "cache_write":
        return KvCacheWrite("cache_write", t, (w, w))
    if func == "embedding":
        return Embedding("embedding", t, 128256, w)
    raise ValueError(func)


def elementwise_samples(data: Path) -> list[Sample]:
    out = []
    for r in read_jsonl(data / "elementwise.jsonl"):
        if "error" in r:
            continue
        op = elementwise_op(r["func"], r["tokens"], r["width"])
        held = r["tokens"] in (24, 48, 96, 1024)
        out.append(
            Sample("elementwise_" + r["func"], op, r["time_s"], "test" if held else "train", r)
        )
    return out


def all_samples(data: Path) -> list[Sample]:
    return (
        gemm_samples(data)
        + grouped_samples(data)
        + attention_samples(data)
        + elementwise_samples(data)
    )
