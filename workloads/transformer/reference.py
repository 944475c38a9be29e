"""NumPy reference kernels of dense transformer ops: the ground truth of function.

Shapes follow the IR ops: GEMM ``[.., m, k] @ [.., k, n]``; attention ``q [b, s, hq, d]``,
``k [b, L, hkv, d]``, ``v [b, L, hkv, dv]``; query ``i`` of ``s`` new ones sees keys
``0 .. L - s + i`` when causal. FLOPs follow ``codesign.ir.ops``' conventions and are counted
through an optional :class:`~workloads.counting.OpCounter`.
"""

from __future__ import annotations

import numpy as np

from codesign.ir.ops import ELEMENTWISE_FLOPS
from workloads.counting import OpCounter, counter_or_null


def gemm(a: np.ndarray, b: np.ndarray, counter: OpCounter | None = None) -> np.ndarray:
    """``C = A @ B`` over optional leading batch dims."""
    c = counter_or_null(counter)
    c.reads(a, b)
    out = c.matmul(a, b)
    c.writes(out)
    return out


def rmsnorm(
    x: np.ndarray, gamma: np.ndarray, eps: float = 1e-6, counter: OpCounter | None = None
) -> np.ndarray:
    """``x / sqrt(mean(x^2) + eps) * gamma`` over the last axis."""
    c = counter_or_null(counter)
    c.reads(x, gamma)
    out = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * gamma
    c.add_flops(out.size * ELEMENTWISE_FLOPS["rmsnorm"])
    c.writes(out)
    return out


def layernorm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float = 1e-5,
    counter: OpCounter | None = None,
) -> np.ndarray:
    """LayerNorm over the last axis (OPT)."""
    c = counter_or_null(counter)
    c.reads(x, gamma, beta)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    out = (x - mu) / np.sqrt(var + eps) * gamma + beta
    c.add_flops(out.size * ELEMENTWISE_FLOPS["layernorm"])
    c.writes(out)
    return out


def silu_mul(gate_up: np.ndarray, counter: OpCounter | None = None) -> np.ndarray:
    """SwiGLU activation of a fused ``[t, 2i]`` gate/up product: ``silu(gate) * up``."""
    c = counter_or_null(counter)
    c.reads(gate_up)
    gate, up = np.split(gate_up, 2, axis=-1)
    out = gate / (1.0 + np.exp(-gate)) * up
    c.add_flops(out.size * ELEMENTWISE_FLOPS["silu_mul"])
    c.writes(out)
    return out


def rope(
    x: np.ndarray, positions: np.ndarray, theta: float = 10000.0, counter: OpCounter | None = None
) -> np.ndarray:
    """Rotary embedding, rotate-half convention, over the last axis of ``x [b, s, h, d]``;
    ``positions [b, s]``."""
    c = counter_or_null(counter)
    d = x.shape[-1]
    inv = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = positions[..., None, None].astype(np.float64) * inv  # [b, s, 1, d/2]
    cos, sin = np.cos(ang), np.sin(ang)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    out = np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x.dtype)
    c.add_flops(out.size * ELEMENTWISE_FLOPS["rope"])
    return out


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    causal: bool = True,
    scale: float | None = None,
    counter: OpCounter | None = None,
) -> np.ndarray:
    """Grouped-query attention; prefill and decode alike (decode is ``s`` = 1).

    Causal attention scores only the unmasked pairs (each query against its visible keys),
    so the FLOPs counted equal ``Attention.flops``.
    """
    c = counter_or_null(counter)
    b, s, hq, d = q.shape
    L, hkv = k.shape[1], k.shape[2]
    if hq % hkv:
        raise ValueError("kv heads must divide q heads")
    group = hq // hkv
    scale = float(1.0 / np.sqrt(d) if scale is None else scale)
    c.reads(q, k, v)
    kh = np.repeat(k, group, axis=2).transpose(0, 2, 1, 3)  # [b, hq, L, d]
    vh = np.repeat(v, group, axis=2).transpose(0, 2, 1, 3)
    qh = q.transpose(0, 2, 1, 3)  # [b, hq, s, d]
    out = np.empty((b, hq, s, v.shape[-1]), dtype=np.result_type(q, v))
    past = L - s
    if causal:
        for i in range(s):
            n = past + i + 1
            out[:, :, i : i + 1] = _softmax_av(
                qh[:, :, i : i + 1], kh[:, :, :n], vh[:, :, :n], scale, c
            )
    else:
        out[:] = _softmax_av(qh, kh, vh, scale, c)
    o = out.transpose(0, 2, 1, 3)
    c.writes(o)
    return o


def _softmax_av(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, c: OpCounter
) -> np.ndarray:
    scores = c.matmul(q, np.swapaxes(k, -1, -2)) * scale
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    return c.matmul(p, v)


def attention_decode_split_k(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, splits: int, scale: float | None = None
) -> np.ndarray:
    """Decode attention in the split-K (flash-decoding) form: the cache is cut into
    ``splits`` chunks, each gives a partial output and its log-sum-exp, and the partials are
    merged. Equal to :func:`attention` with ``causal=False`` over the whole cache."""
    hq, d = q.shape[2], q.shape[3]
    hkv = k.shape[2]
    scale = float(1.0 / np.sqrt(d) if scale is None else scale)
    kh = np.repeat(k, hq // hkv, axis=2).transpose(0, 2, 1, 3)
    vh = np.repeat(v, hq // hkv, axis=2).transpose(0, 2, 1, 3)
    qh = q.transpose(0, 2, 1, 3)
    outs, lses = [], []
    for chunk in np.array_split(np.arange(k.shape[1]), splits):
        if chunk.size == 0:
            continue
        sc = qh @ np.swapaxes(kh[:, :, chunk], -1, -2) * scale
        m = sc.max(axis=-1, keepdims=True)
        p = np.exp(sc - m)
        den = p.sum(axis=-1, keepdims=True)
        outs.append((p @ vh[:, :, chunk]) / den)
        lses.append(m + np.log(den))
    lse = np.stack(lses)  # [splits, b, h, s, 1]
    w = np.exp(lse - lse.max(axis=0, keepdims=True))
    merged = (w * np.stack(outs)).sum(axis=0) / w.sum(axis=0)
    return merged.transpose(0, 2, 1, 3)
