"""NumPy reference of DeepSeek Multi-head Latent Attention, naive and weight-absorbed.

Inputs (one layer, after the projections): ``q_nope [b, s, h, nope]``, ``q_pe [b, s, h, rope]``
(rope already applied), the cache ``c_kv [b, L, r]`` (normalised latent) and
``k_pe [b, L, rope]`` (shared roped key), and ``w_kvb [r, h * (nope + v)]``, the up-projection
laid out per head as ``[k_nope | v]`` (DeepSeek's ``wkv_b``).

* naive: ``[k_nope | v] = c_kv @ w_kvb`` for every cached token, then multi-head attention
  with keys ``[k_nope | k_pe]`` (stages ``kv_b_proj`` and ``core``).
* absorbed: ``q_latent = q_nope @ W_UK`` per head (``q_absorb``), scores and the value sum on
  the latent directly (``core``), then ``o = o_latent @ W_UV`` per head (``v_absorb``).

Both compute the same function; tests check equality within float32 rounding and that each
stage's FLOPs equal those the IR claims.
"""

from __future__ import annotations

import numpy as np

from workloads.counting import OpCounter, counter_or_null


def split_kv_b(w_kvb: np.ndarray, heads: int, nope: int) -> tuple[np.ndarray, np.ndarray]:
    """``W_UK [h, nope, r]`` and ``W_UV [h, r, v]`` from ``w_kvb [r, h * (nope + v)]``."""
    r = w_kvb.shape[0]
    w = w_kvb.reshape(r, heads, -1)
    return w[:, :, :nope].transpose(1, 2, 0), w[:, :, nope:].transpose(1, 0, 2)


def _causal_rows(s: int, L: int, causal: bool) -> list[tuple[slice, int]]:
    """(query rows, visible keys) blocks: one row at a time when causal, all at once if not."""
    if not causal:
        return [(slice(0, s), L)]
    return [(slice(i, i + 1), L - s + i + 1) for i in range(s)]


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def mla_naive(
    q_nope: np.ndarray,
    q_pe: np.ndarray,
    c_kv: np.ndarray,
    k_pe: np.ndarray,
    w_kvb: np.ndarray,
    scale: float,
    causal: bool = True,
    counter: OpCounter | None = None,
) -> np.ndarray:
    """MLA by decompressing the cache into per-head keys and values. Returns ``[b, s, h, v]``."""
    c = counter_or_null(counter)
    b, s, h, nope = q_nope.shape
    L, r = c_kv.shape[1], c_kv.shape[2]
    scale = float(scale)  # a Python float keeps float32 inputs in float32
    with c.stage("kv_b_proj"):
        c.reads(c_kv, w_kvb)
        kv = c.matmul(c_kv.reshape(b * L, r), w_kvb).reshape(b, L, h, -1)
        c.writes(kv)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q = np.concatenate([q_nope, q_pe], axis=-1).transpose(0, 2, 1, 3)  # [b, h, s, nope+rope]
    k = np.concatenate(
        [k_nope, np.broadcast_to(k_pe[:, :, None, :], (*k_nope.shape[:3], k_pe.shape[-1]))], axis=-1
    ).transpose(0, 2, 1, 3)  # [b, h, L, nope+rope]
    vh = v.transpose(0, 2, 1, 3)
    out = np.empty((b, h, s, v.shape[-1]), dtype=np.result_type(q, v))
    c.reads(q, k_nope, k_pe, v)
    for rows, n in _causal_rows(s, L, causal):
        p = _softmax(c.matmul(q[:, :, rows], np.swapaxes(k[:, :, :n], -1, -2)) * scale)
        out[:, :, rows] = c.matmul(p, vh[:, :, :n])
    o = out.transpose(0, 2, 1, 3)
    c.writes(o)
    return o


def mla_absorbed(
    q_nope: np.ndarray,
    q_pe: np.ndarray,
    c_kv: np.ndarray,
    k_pe: np.ndarray,
    w_kvb: np.ndarray,
    scale: float,
    causal: bool = True,
    counter: OpCounter | None = None,
) -> np.ndarray:
    """MLA with ``W_UK`` folded into the query and ``W_UV`` applied after. ``[b, s, h, v]``."""
    c = counter_or_null(counter)
    b, s, h, nope = q_nope.shape
    L, r = c_kv.shape[1], c_kv.shape[2]
    scale = float(scale)  # a Python float keeps float32 inputs in float32
    w_uk, w_uv = split_kv_b(w_kvb, h, nope)
    with c.stage("q_absorb"):
        qn = q_nope.transpose(2, 0, 1, 3).reshape(h, b * s, nope)
        c.reads(qn, w_uk)
        q_lat = c.matmul(qn, w_uk)  # [h, b*s, r]
        c.writes(q_lat)
    q_cat = np.concatenate(
        [q_lat.reshape(h, b, s, r).transpose(1, 0, 2, 3), q_pe.transpose(0, 2, 1, 3)], axis=-1
    )  # [b, h, s, r+rope]
    latent = np.concatenate([c_kv, k_pe], axis=-1)[:, None]  # [b, 1, L, r+rope]
    o_lat = np.empty((b, h, s, r), dtype=np.result_type(q_cat, c_kv))
    c.reads(q_lat, q_pe, latent)
    for rows, n in _causal_rows(s, L, causal):
        p = _softmax(c.matmul(q_cat[:, :, rows], np.swapaxes(latent[:, :, :n], -1, -2)) * scale)
        o_lat[:, :, rows] = c.matmul(p, latent[:, :, :n, :r])
    c.writes(o_lat)
    with c.stage("v_absorb"):
        ol = o_lat.transpose(1, 0, 2, 3).reshape(h, b * s, r)
        c.reads(ol, w_uv)
        o = c.matmul(ol, w_uv)  # [h, b*s, v]
        c.writes(o)
    return o.reshape(h, b, s, -1).transpose(1, 2, 0, 3)
