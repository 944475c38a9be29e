"""End-to-end LLaMA timing in plain PyTorch (random BF16 weights of the real shapes).

    python -m hwmodels.gpu.calibrate.llama_e2e --out DIR [--quick]

Decode steps run under CUDA graphs (one graph per batch and context); prefill passes run
eagerly. The layer structure mirrors codesign's graph of the model: fused QKV and gate/up
projections, HF-style RMSNorm, rotate-half RoPE, a static KV cache written in place, SDPA
(flash) attention with GQA, logits for each sequence's last token only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from hwmodels.gpu.calibrate import torch_kernels as K
from hwmodels.gpu.calibrate.timing import time_events

DEV = torch.device("cuda")
BF16 = torch.bfloat16


@dataclass(frozen=True)
class LlamaShape:
    hidden: int = 4096
    inter: int = 14336
    layers: int = 32
    heads: int = 32
    kv_heads: int = 8
    head_dim: int = 128
    vocab: int = 128256


class Llama:
    """Weights and a forward pass; no tokenizer, no sampling."""

    def __init__(self, c: LlamaShape) -> None:
        self.c = c
        std = 0.02
        d, H = c.head_dim, c.hidden

        def w(*shape: int) -> torch.Tensor:
            return (torch.randn(*shape, device=DEV, dtype=torch.float32) * std).to(BF16)

        self.embed = w(c.vocab, H)
        self.layers = [
            {
                "attn_norm": torch.ones(H, device=DEV, dtype=BF16),
                "qkv": w((c.heads + 2 * c.kv_heads) * d, H),
                "o": w(H, c.heads * d),
                "ffn_norm": torch.ones(H, device=DEV, dtype=BF16),
                "gate_up": w(2 * c.inter, H),
                "down": w(H, c.inter),
            }
            for _ in range(c.layers)
        ]
        self.final_norm = torch.ones(H, device=DEV, dtype=BF16)
        self.lm_head = w(c.vocab, H)
        self.cos, self.sin = K.rope_tables(65536, d, DEV)

    def alloc_cache(self, batch: int, max_len: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        c = self.c
        shape = (batch, c.kv_heads, max_len, c.head_dim)
        return [
            (torch.empty(shape, device=DEV, dtype=BF16), torch.empty(shape, device=DEV, dtype=BF16))
            for _ in range(c.layers)
        ]

    def forward(
        self, ids: torch.Tensor, cache: list[tuple[torch.Tensor, torch.Tensor]], start: int
    ) -> torch.Tensor:
        """ids [b, s] at positions start..start+s-1; returns last-token logits [b, vocab]."""
        c = self.c
        b, s = ids.shape
        hq, hkv, d = c.heads, c.kv_heads, c.head_dim
        cos, sin = self.cos[start : start + s], self.sin[start : start + s]
        x = F.embedding(ids.reshape(-1), self.embed)
        for lw, (kc, vc) in zip(self.layers, cache, strict=True):
            h = K.rmsnorm(x, lw["attn_norm"])
            qkv = F.linear(h, lw["qkv"])
            q, k, v = K.split_qkv_rope(qkv, b, s, hq, hkv, d, cos, sin)
            K.cache_write(kc, vc, k, v, start)
            L = start + s
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):  # as the microbenchmarks
                a = F.scaled_dot_product_attention(
                    q,
                    kc[:, :, :L],
                    vc[:, :, :L],
                    is_causal=s > 1 and start == 0,
                    enable_gqa=hq != hkv,
                )
            x = x + F.linear(a.transpose(1, 2).reshape(b * s, hq * d), lw["o"])
            h = K.rmsnorm(x, lw["ffn_norm"])
            x = x + F.linear(K.silu_mul(F.linear(h, lw["gate_up"])), lw["down"])
        last = x.view(b, s, -1)[:, -1]
        return F.linear(K.rmsnorm(last, self.final_norm), self.lm_head)


def time_decode(model: Llama, batch: int, context: int) -> dict:
    """One decode step (1 new token per sequence after ``context`` cached) under a CUDA graph."""
    cache = model.alloc_cache(batch, context + 1)
    ids = torch.randint(0, model.c.vocab, (batch, 1), device=DEV)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            model.forward(ids, cache, context)
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        model.forward(ids, cache, context)
    r = time_events(g.replay, reps=10, warmup=3)
    del g, cache
    return r


def time_prefill(model: Llama, batch: int, prompt: int) -> dict:
    """One eager prefill pass of ``prompt`` tokens per sequence into an empty cache."""
    cache = model.alloc_cache(batch, prompt)
    ids = torch.randint(0, model.c.vocab, (batch, prompt), device=DEV)
    return time_events(lambda: model.forward(ids, cache, 0), reps=5, warmup=2)


def profile_kernels(model: Llama, phase: str, batch: int, context: int) -> dict:
    """Per-kernel GPU time of one eager pass (torch profiler), aggregated by kernel name."""
    from torch.profiler import ProfilerActivity, profile

    if phase == "decode":
        cache = model.alloc_cache(batch, context + 1)
        ids = torch.randint(0, model.c.vocab, (batch, 1), device=DEV)
        start = context
    else:
        cache = model.alloc_cache(batch, context)
        ids = torch.randint(0, model.c.vocab, (batch, context), device=DEV)
        start = 0
    model.forward(ids, cache, start)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        model.forward(ids, cache, start)
        torch.cuda.synchronize()
    kernels: dict[str, list[float]] = {}
    for ev in prof.events():
        if getattr(ev.device_type, "name", "") != "CUDA":
            continue
        us: float | None = getattr(ev, "device_time_total", None)
        if us is None:
            us = getattr(ev, "cuda_time_total", 0.0)
        k = kernels.setdefault(ev.name[:120], [0, 0.0])
        k[0] += 1
        k[1] += float(us) * 1e-6
    return {"kernels": {n: {"count": c, "time_s": t} for n, (c, t) in kernels.items()}}


DECODE_POINTS = [
    (b, L)
    for b in (1, 4, 16, 32, 64, 128)
    for L in (1024, 2048, 4096)
    if b * L <= 128 * 1024 or b <= 32
]
PREFILL_POINTS = [(1, s) for s in (512, 1024, 2048, 4096, 8192)] + [(4, 2048)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--profile-only",
        default="",
        help="only profile these points: phase:batch:context,... (no timing)",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = Llama(LlamaShape())
    dec = DECODE_POINTS[:2] if args.quick else DECODE_POINTS
    pre = PREFILL_POINTS[:1] if args.quick else PREFILL_POINTS
    profiles = [("decode", 1, 1024), ("decode", 64, 2048), ("prefill", 1, 2048)]
    if args.profile_only:
        dec, pre = [], []
        profiles = [
            (p, int(b), int(c)) for p, b, c in (x.split(":") for x in args.profile_only.split(","))
        ]
    t0 = time.perf_counter()
    with open(out / "llama_e2e.jsonl", "a") as f:
        for kind, points, fn in (("decode", dec, time_decode), ("prefill", pre, time_prefill)):
            for b, L in points:
                rec = {"model": "llama-3.1-8b", "phase": kind, "batch": b, "context": L}
                try:
                    rec.update(fn(model, b, L))
                except Exception as e:
                    rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                f.write(json.dumps(rec) + "\n")
                f.flush()
                print(rec, flush=True)
                torch.cuda.empty_cache()
        for kind, b, L in profiles:
            if args.quick and kind == "decode" and b > 1:
                continue
            rec = {
                "model": "llama-3.1-8b",
                "phase": kind,
                "batch": b,
                "context": L,
                "profile": True,
            }
            try:
                rec.update(profile_kernels(model, kind, b, L))
            except Exception as e:
                rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            f.write(json.dumps(rec) + "\n")
    print(f"[llama_e2e] {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
