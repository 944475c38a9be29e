"""GPU microbenchmarks for calibrating the GPU model (PyTorch only; run on the GPU machine).

    python -m hwmodels.gpu.calibrate.microbench --out DIR [--quick] [--suites gemm,copy,...]

Writes one JSON-lines file per suite into ``DIR`` plus ``env.json``. Each record holds the
shape, the measured median seconds per kernel (CUDA-graph replay, rotating inputs: see
``timing``), min/max over replays, and for energy runs NVML joules. Failures of one case are
recorded (``error``) and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hwmodels.gpu.calibrate import shapes as S
from hwmodels.gpu.calibrate import torch_kernels as K
from hwmodels.gpu.calibrate.nvml import Nvml
from hwmodels.gpu.calibrate.timing import rotation_count, time_eager, time_graph

DEV = torch.device("cuda")
BF16 = torch.bfloat16
FP8 = torch.float8_e4m3fn


class Recorder:
    """Appends records to ``DIR/<suite>.jsonl`` as they come (partial runs keep their data)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def run(self, suite: str, cases: Iterator[tuple[dict[str, Any], Callable[[], dict]]]) -> None:
        t0 = time.perf_counter()
        n = err = 0
        with open(self.out / f"{suite}.jsonl", "a") as f:
            for meta, measure in cases:
                rec = dict(meta)
                try:
                    rec.update(measure())
                except Exception as e:  # one case failing must not stop the run
                    rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                    err += 1
                f.write(json.dumps(rec) + "\n")
                f.flush()
                n += 1
                torch.cuda.empty_cache()
        print(f"[{suite}] {n} cases, {err} errors, {time.perf_counter() - t0:.1f} s", flush=True)


def _randn(*shape: int, dtype: torch.dtype = BF16) -> torch.Tensor:
    return torch.randn(*shape, device=DEV, dtype=torch.float32).to(dtype)


def l2_bytes() -> int:
    return int(getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 50 * 2**20))


# ------------------------------------------------------------------------------ suites
def gemm_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    shapes = list(S.LINEAR_SHAPES.items())
    ms = S.M_VALUES
    if quick:
        shapes, ms = shapes[:3], (1, 64, 4096)
    for dtype in ("bf16", "fp8"):
        for name, (n, k) in shapes:
            for m in ms:
                if 2 * m * n * k > S.MAX_GEMM_FLOPS:
                    continue
                meta = {"op": "gemm", "dtype": dtype, "layer": name, "m": m, "n": n, "k": k}
                yield meta, (lambda m=m, n=n, k=k, dtype=dtype: _gemm(m, n, k, dtype))


def bmm_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    for b, m, n, k in S.BMM_CASES[:2] if quick else S.BMM_CASES:
        meta = {
            "op": "gemm",
            "dtype": "bf16",
            "batch": b,
            "m": m,
            "n": n,
            "k": k,
            "layer": "mla.absorb",
        }
        yield meta, (lambda b=b, m=m, n=n, k=k: _bmm(b, m, n, k))


def _bmm(b: int, m: int, n: int, k: int) -> dict:
    nb = rotation_count(b * (m * k + k * n) * 2, l2_bytes())
    xs = [_randn(b, m, k) for _ in range(nb)]
    ws = [_randn(b, k, n) for _ in range(nb)]
    return {
        **time_graph([lambda x=x, w=w: torch.bmm(x, w) for x, w in zip(xs, ws, strict=True)]),
        "rotation": nb,
    }


def _gemm(m: int, n: int, k: int, dtype: str) -> dict:
    el = 1 if dtype == "fp8" else 2
    per_set = (m * k + n * k) * el
    nb = rotation_count(per_set, l2_bytes())
    if dtype == "bf16":
        xs = [_randn(m, k) for _ in range(nb)]
        ws = [_randn(n, k) for _ in range(nb)]
        fns = [lambda x=x, w=w: F.linear(x, w) for x, w in zip(xs, ws, strict=True)]
    else:
        xs = [_randn(m, k, dtype=FP8) for _ in range(nb)]
        ws = [_randn(n, k, dtype=FP8) for _ in range(nb)]
        one = torch.ones((), device=DEV, dtype=torch.float32)
        fns = [
            lambda x=x, w=w: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=BF16)
            for x, w in zip(xs, ws, strict=True)
        ]
    r = time_graph(fns)
    r["rotation"] = nb
    return r


def grouped_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    cases = S.GROUPED_CASES[:4] if quick else S.GROUPED_CASES
    for name, e, n, k, rows, skew in cases:
        tpe = _tokens_per_expert(rows, e, skew, seed=hash(name) % 2**16)
        meta = {
            "op": "grouped_gemm",
            "dtype": "bf16",
            "case": name,
            "n": n,
            "k": k,
            "tokens_per_expert": tpe,
        }
        yield meta, (lambda tpe=tpe, n=n, k=k: _grouped(tpe, n, k))


def _tokens_per_expert(rows: int, experts: int, skew: float, seed: int) -> list[int]:
    """Zipf-like skewed (skew > 0) or uniform-random multinomial split of ``rows``."""
    rnd = random.Random(seed)
    w = [1.0 / (i + 1) ** skew for i in range(experts)]
    rnd.shuffle(w)
    tot = sum(w)
    counts = [0] * experts
    for _ in range(rows):
        x = rnd.random() * tot
        acc = 0.0
        for i, wi in enumerate(w):
            acc += wi
            if x <= acc:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
    return counts


def _grouped(tpe: list[int], n: int, k: int) -> dict:
    rows = sum(tpe)
    e = len(tpe)
    offs = torch.tensor([sum(tpe[: i + 1]) for i in range(e)], device=DEV, dtype=torch.int32)
    per_set = (rows * k + e * n * k) * 2
    nb = rotation_count(per_set, l2_bytes(), cap=4)
    xs = [_randn(rows, k) for _ in range(nb)]
    ws = [_randn(e, n, k).transpose(-2, -1) for _ in range(nb)]  # [E, K, N], column-major
    impl = "torch._grouped_mm"
    if hasattr(torch, "_grouped_mm"):
        fns = [
            lambda x=x, w=w: torch._grouped_mm(x, w, offs=offs, out_dtype=BF16)
            for x, w in zip(xs, ws, strict=True)
        ]
        try:
            fns[0]()
        except Exception:
            fns = []
    else:
        fns = []
    if not fns:
        impl = "loop of torch.mm"
        bounds = [0, *[sum(tpe[: i + 1]) for i in range(e)]]

        def loop(x: torch.Tensor, w: torch.Tensor) -> None:
            for i in range(e):
                if tpe[i]:
                    torch.mm(x[bounds[i] : bounds[i + 1]], w[i])

        fns = [lambda x=x, w=w: loop(x, w) for x, w in zip(xs, ws, strict=True)]
    r = time_graph(fns)
    r.update({"impl": impl, "rotation": nb})
    return r


def attention_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    pre = S.PREFILL_CASES[:3] if quick else S.PREFILL_CASES
    dec = S.DECODE_CASES[:3] if quick else S.DECODE_CASES
    for b, hq, hkv, s, d in pre:
        meta = {
            "op": "attention",
            "phase": "prefill",
            "batch": b,
            "q_heads": hq,
            "kv_heads": hkv,
            "seq": s,
            "head_dim": d,
        }
        yield meta, (lambda b=b, hq=hq, hkv=hkv, s=s, d=d: _attn(b, hq, hkv, s, s, d, True))
    for b, hq, hkv, L, d in dec:
        meta = {
            "op": "attention",
            "phase": "decode",
            "batch": b,
            "q_heads": hq,
            "kv_heads": hkv,
            "seq": L,
            "head_dim": d,
        }
        yield meta, (lambda b=b, hq=hq, hkv=hkv, L=L, d=d: _attn(b, hq, hkv, 1, L, d, False))


def _attn(b: int, hq: int, hkv: int, sq: int, skv: int, d: int, causal: bool) -> dict:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    per_set = (b * hq * sq * d + 2 * b * hkv * skv * d) * 2
    nb = rotation_count(per_set, l2_bytes(), cap=8)
    qs = [_randn(b, hq, sq, d) for _ in range(nb)]
    ks = [_randn(b, hkv, skv, d) for _ in range(nb)]
    vs = [_randn(b, hkv, skv, d) for _ in range(nb)]
    backend = SDPBackend.FLASH_ATTENTION

    def run(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel([backend]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=hkv != hq)

    fns = [lambda q=q, k=k, v=v: run(q, k, v) for q, k, v in zip(qs, ks, vs, strict=True)]
    r = time_graph(fns)
    r.update({"backend": "flash", "rotation": nb})
    return r


def mla_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    for b, h, L in S.MLA_CASES[:2] if quick else S.MLA_CASES:
        meta = {"op": "mla_decode_torch", "batch": b, "heads": h, "seq": L}
        yield meta, (lambda b=b, h=h, L=L: _mla(b, h, L))


def _mla(b: int, h: int, L: int, r: int = 512, rope: int = 64) -> dict:
    """Absorbed MLA decode as plain PyTorch bmm + softmax + bmm (no fused kernel)."""
    per_set = b * L * (r + rope) * 2
    nb = rotation_count(per_set, l2_bytes(), cap=8)
    qs = [_randn(b, h, r + rope) for _ in range(nb)]
    caches = [_randn(b, L, r + rope) for _ in range(nb)]
    scale = (128 + rope) ** -0.5

    def run(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s = torch.bmm(q, c.transpose(1, 2)) * scale
        p = torch.softmax(s.float(), dim=-1).to(BF16)
        return torch.bmm(p, c[:, :, :r])

    fns = [lambda q=q, c=c: run(q, c) for q, c in zip(qs, caches, strict=True)]
    return {**time_graph(fns), "rotation": nb}


def elementwise_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    cases = S.ELEMENTWISE_CASES[::7] if quick else S.ELEMENTWISE_CASES
    for func, t, w in cases:
        meta = {"op": "elementwise", "func": func, "tokens": t, "width": w}
        yield meta, (lambda func=func, t=t, w=w: _elementwise(func, t, w))


def _elementwise(func: str, t: int, w: int) -> dict:
    nb = rotation_count(t * w * 2 * 2, l2_bytes(), cap=16)
    if func == "rmsnorm":
        xs, g = [_randn(t, w) for _ in range(nb)], _randn(w)
        fns = [lambda x=x: K.rmsnorm(x, g) for x in xs]
    elif func == "add":
        xs, ys = [_randn(t, w) for _ in range(nb)], [_randn(t, w) for _ in range(nb)]
        fns = [lambda x=x, y=y: x + y for x, y in zip(xs, ys, strict=True)]
    elif func == "silu_mul":
        xs = [_randn(t, 2 * w) for _ in range(nb)]
        fns = [lambda x=x: K.silu_mul(x) for x in xs]
    elif func == "rope":
        hkv = 8
        hq = w // 128 - 2 * hkv
        cos, sin = K.rope_tables(t + 1, 128, DEV)
        xs = [_randn(t, w) for _ in range(nb)]
        if t <= S.DECODE_LAYOUT_MAX_TOKENS:  # t sequences, one new token each
            c1, s1 = cos[t : t + 1], sin[t : t + 1]
            fns = [lambda x=x: K.split_qkv_rope(x, t, 1, hq, hkv, 128, c1, s1) for x in xs]
        else:
            fns = [
                lambda x=x: K.split_qkv_rope(x, 1, t, hq, hkv, 128, cos[:t], sin[:t]) for x in xs
            ]
    elif func == "embedding":
        table = _randn(128256, w)
        ids = [torch.randint(0, 128256, (t,), device=DEV) for _ in range(nb)]
        fns = [lambda i=i: F.embedding(i, table) for i in ids]
    elif func == "cache_write":
        b, s = (t, 1) if t <= S.DECODE_LAYOUT_MAX_TOKENS else (1, t)
        kc, vc = _randn(b, 8, s + 1024, 128), _randn(b, 8, s + 1024, 128)
        ks = [_randn(b, 8, s, 128) for _ in range(nb)]
        vs = [_randn(b, 8, s, 128) for _ in range(nb)]
        fns = [
            lambda k=k, v=v: K.cache_write(kc, vc, k, v, 1000) for k, v in zip(ks, vs, strict=True)
        ]
    else:
        raise ValueError(func)
    return {**time_graph(fns), "rotation": nb}


def copy_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    sizes = S.COPY_BYTES[::4] if quick else S.COPY_BYTES
    for nbytes in sizes:
        for resident in (False, True):
            meta = {"op": "copy", "bytes": nbytes, "l2_resident": resident}
            yield meta, (lambda nbytes=nbytes, resident=resident: _copy(nbytes, resident))


def _copy(nbytes: int, resident: bool) -> dict:
    n = nbytes // 2
    nb = 1 if resident else rotation_count(2 * nbytes, l2_bytes(), cap=16)
    src = [_randn(n) for _ in range(nb)]
    dst = [torch.empty_like(s) for s in src]
    fns = [lambda s=s, d=d: d.copy_(s) for s, d in zip(src, dst, strict=True)]
    return {**time_graph(fns), "rotation": nb}


def launch_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    x = _randn(1024)
    yield (
        {"op": "launch", "what": "eager add of 1024 elements"},
        lambda: {"eager_s": time_eager(lambda: x.add_(1.0)), **time_graph([lambda: x.add_(1.0)])},
    )


def energy_cases(quick: bool) -> Iterator[tuple[dict, Callable[[], dict]]]:
    nv = Nvml()
    dur = 1.0 if quick else 3.0
    yield {"op": "idle"}, lambda: _idle_energy(nv, dur)
    big = (8192, 8192, 8192)
    yield (
        {"op": "gemm", "dtype": "bf16", "m": big[0], "n": big[1], "k": big[2]},
        lambda: _energy(nv, *_gemm_fns(*big, "bf16"), dur),
    )
    yield (
        {"op": "gemm", "dtype": "fp8", "m": big[0], "n": big[1], "k": big[2]},
        lambda: _energy(nv, *_gemm_fns(*big, "fp8"), dur),
    )
    yield (
        {"op": "gemm", "dtype": "bf16", "m": 4096, "n": 28672, "k": 4096},
        lambda: _energy(nv, *_gemm_fns(4096, 28672, 4096, "bf16"), dur),
    )
    yield (
        {"op": "gemm", "dtype": "fp8", "m": 1, "n": 28672, "k": 4096},
        lambda: _energy(nv, *_gemm_fns(1, 28672, 4096, "fp8"), dur),
    )
    for n, k in ((28672, 4096), (8192, 8192)):
        yield (
            {"op": "gemm", "dtype": "bf16", "m": 1, "n": n, "k": k},
            lambda n=n, k=k: _energy(nv, *_gemm_fns(1, n, k, "bf16"), dur),
        )
    yield ({"op": "copy", "bytes": 2**30}, lambda: _energy(nv, *_copy_fns(2**30), dur))


def _gemm_fns(m: int, n: int, k: int, dtype: str) -> tuple[list[Callable[[], object]], float]:
    nb = rotation_count((m * k + n * k) * 2, l2_bytes(), cap=8)
    xs = [_randn(m, k) for _ in range(nb)]
    ws = [_randn(n, k) for _ in range(nb)]
    if dtype == "fp8":
        xs, ws = [x.to(FP8) for x in xs], [w.to(FP8) for w in ws]
        one = torch.ones((), device=DEV)
        return [
            lambda x=x, w=w: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=BF16)
            for x, w in zip(xs, ws, strict=True)
        ], 2.0 * m * n * k
    return [lambda x=x, w=w: F.linear(x, w) for x, w in zip(xs, ws, strict=True)], 2.0 * m * n * k


def _copy_fns(nbytes: int) -> tuple[list[Callable[[], object]], float]:
    src = [_randn(nbytes // 2) for _ in range(2)]
    dst = [torch.empty_like(s) for s in src]
    return [lambda s=s, d=d: d.copy_(s) for s, d in zip(src, dst, strict=True)], 0.0


def _idle_energy(nv: Nvml, dur: float) -> dict:
    torch.cuda.synchronize()
    time.sleep(1.0)
    e0, t0 = nv.energy_mj(), time.perf_counter()
    time.sleep(dur)
    e1, t1 = nv.energy_mj(), time.perf_counter()
    if e0 is None or e1 is None:
        return {"error": "NVML energy counter unavailable"}
    return {
        "energy_j": (e1 - e0) / 1e3,
        "seconds": t1 - t0,
        "power_w": (e1 - e0) / 1e3 / (t1 - t0),
        "sm_clock_mhz": nv.clock_mhz("sm"),
    }


def _energy(nv: Nvml, fns: list[Callable[[], object]], flops: float, dur: float) -> dict:
    """Run ``fns`` back to back for ``dur`` seconds; NVML energy over the run and per call."""
    for f in fns:
        f()
    torch.cuda.synchronize()
    t_one = time.perf_counter()
    for f in fns:
        f()
    torch.cuda.synchronize()
    per = (time.perf_counter() - t_one) / len(fns)
    reps = max(len(fns), int(dur / max(per, 1e-6)))
    clocks = []
    e0, t0 = nv.energy_mj(), time.perf_counter()
    for i in range(reps):
        fns[i % len(fns)]()
        if i % max(1, reps // 5) == 0:
            clocks.append(nv.clock_mhz("sm"))
    torch.cuda.synchronize()
    e1, t1 = nv.energy_mj(), time.perf_counter()
    if e0 is None or e1 is None:
        return {"error": "NVML energy counter unavailable"}
    joules = (e1 - e0) / 1e3
    return {
        "energy_j": joules,
        "calls": reps,
        "seconds": t1 - t0,
        "j_per_call": joules / reps,
        "s_per_call": (t1 - t0) / reps,
        "flops_per_call": flops,
        "power_w": joules / (t1 - t0),
        "sm_clock_mhz": clocks,
    }


SUITES: dict[str, Callable[[bool], Iterator[tuple[dict, Callable[[], dict]]]]] = {
    "launch": launch_cases,
    "copy": copy_cases,
    "gemm": gemm_cases,
    "bmm": bmm_cases,
    "grouped": grouped_cases,
    "attention": attention_cases,
    "mla": mla_cases,
    "elementwise": elementwise_cases,
    "energy": energy_cases,
}


def environment() -> dict[str, Any]:
    p = torch.cuda.get_device_properties(0)
    nv = Nvml()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu": torch.cuda.get_device_name(0),
        "sm_count": p.multi_processor_count,
        "l2_bytes": l2_bytes(),
        "memory_bytes": p.total_memory,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "python": platform.python_version(),
        "host": platform.node(),
        "sm_clock_mhz_idle": nv.clock_mhz("sm"),
        "mem_clock_mhz": nv.clock_mhz("mem"),
        "power_limit_w": (nv.power_limit_mw() or 0) / 1e3,
        "nvml": nv.ok,
        "has_grouped_mm": hasattr(torch, "_grouped_mm"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="a few cases per suite (smoke test)")
    ap.add_argument("--suites", default=",".join(SUITES))
    args = ap.parse_args(argv)
    out = Path(args.out)
    rec = Recorder(out)
    env = environment()
    (out / "env.json").write_text(json.dumps(env, indent=2))
    print(json.dumps(env), flush=True)
    torch.manual_seed(0)
    for name in args.suites.split(","):
        try:
            rec.run(name, SUITES[name](args.quick))
        except Exception:
            traceback.print_exc()


if __name__ == "__main__":
    main()
