"""Micro-scaled FP4: MXFP4 (OCP Microscaling Formats (MX) Specification v1.0) and NVFP4.

Both store FP4 E2M1 elements (OCP MX v1.0 sec. 5.3.3: bias 1, no inf/NaN, values
``+-{0, 0.5, 1, 1.5, 2, 3, 4, 6}``), one 4-bit code per element: ``S.EE.M`` in the low nibble
of a uint8. Elements are rounded to nearest, ties to even, and clamped to ``+-6``.

* MXFP4: blocks of 32 consecutive elements along the last axis share one E8M0 scale ``2**X``
  with ``X = floor(log2(amax)) - 2`` (2 = emax of E2M1; MX v1.0 sec. 6.3), clamped to E8M0's
  range ``-127..127``. An all-zero block gets ``X = 0``.
* NVFP4 (NVIDIA Blackwell; see the PTX ISA ``e2m1`` block-scaled MMA and the NVIDIA blog
  "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference"): blocks of 16 share an
  FP8 E4M3 scale, on top of one FP32 per-tensor scale ``g = amax_tensor / (448 * 6)``; the
  block scale is ``e4m3(amax_block / (6 * g))`` and ``x ~= e2m1 * e4m3_scale * g``.

Blocks run along the last axis; a last axis that is not a multiple of the block leaves a
smaller final block (zero-padded for the amax). Inputs are rounded to float32 first; all
intermediate arithmetic is float64, exact enough that every rounding decision is that of
infinitely precise arithmetic.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import SpecError
from workloads.quant._checks import (
    MIN_SCALE,
    as_codes,
    as_finite_float32,
    check_int,
    check_ndim,
    pad_last,
    unblock_last,
)
from workloads.quant.minifloat import E2M1, E4M3, decode, decode_table, encode

MX_BLOCK = 32
NV_BLOCK = 16
E2M1_MAX = 6.0
E2M1_EMAX = 2
E8M0_EMIN, E8M0_EMAX = -127, 127
#: The 8 non-negative E2M1 values, indexed by code 0..7 (codes 8..15 are their negatives).
E2M1_VALUES = np.asarray(decode_table(E2M1)[:8], dtype=np.float32)


def encode_e2m1(x: np.ndarray) -> np.ndarray:
    """Encode finite values (unitless) to FP4 E2M1 codes 0..15 (uint8), RNE, clamped to +-6."""
    return encode(as_finite_float32(x, "x"), E2M1)


def decode_e2m1(codes: np.ndarray) -> np.ndarray:
    """Float32 values of FP4 E2M1 codes 0..15."""
    return decode(as_codes(codes, "codes", 15), E2M1)


def _blocked_input(x: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated float32 ``x`` (as float64), split into zero-padded blocks; and its block amax."""
    xf = as_finite_float32(x, "x")
    check_ndim("x", xf, min_ndim=1)
    blocks = pad_last(xf, block_size)
    return blocks, np.abs(blocks).max(axis=-1), xf.shape[-1]


def _check_scales_shape(field: str, scales: np.ndarray, codes: np.ndarray, block: int) -> None:
    want = (*codes.shape[:-1], -(-codes.shape[-1] // block))
    if scales.shape != want:
        raise SpecError(
            field, f"must have shape {want} for codes {codes.shape}, got {scales.shape}"
        )


def quantize_mxfp4(x: np.ndarray, block_size: int = MX_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Quantize to MXFP4 per OCP MX v1.0 (E2M1 elements, one E8M0 scale per 32 elements).

    Args:
        x: real array (>= 1-D) without NaN/inf; blocks run along the last axis.
        block_size: elements per shared scale; the spec fixes 32, other sizes are for
            design-space exploration.

    Returns:
        ``(codes, scale_exponents)``: uint8 E2M1 codes 0..15 shaped like ``x``, and int16
        unbiased E8M0 exponents ``X`` in -127..127 of shape ``x.shape[:-1] + (n_blocks,)``
        (the stored E8M0 byte is ``X + 127``); ``x ~= e2m1(code) * 2**X``.
    """
    bs = check_int("block_size", block_size, 1)
    blocks, amax, n = _blocked_input(x, bs)
    _, k = np.frexp(amax)  # floor(log2(amax)) = k - 1, exactly
    exps = np.where(amax > 0, k.astype(np.int64) - 1 - E2M1_EMAX, 0)
    exps = np.clip(exps, E8M0_EMIN, E8M0_EMAX)
    codes = encode(np.ldexp(blocks, -exps[..., None]), E2M1)
    return unblock_last(codes, n), exps.astype(np.int16)


def dequantize_mxfp4(
    codes: np.ndarray, scale_exponents: np.ndarray, block_size: int = MX_BLOCK
) -> np.ndarray:
    """Inverse of :func:`quantize_mxfp4`: float32 ``e2m1(code) * 2**X`` (exact in float32
    unless it over- or underflows float32)."""
    bs = check_int("block_size", block_size, 1)
    c = as_codes(codes, "codes", 15)
    check_ndim("codes", c, min_ndim=1)
    e = np.asarray(scale_exponents)
    if e.dtype.kind not in "iu":
        raise SpecError("scale_exponents", f"must be an integer array, got dtype {e.dtype}")
    if e.size and (e.min() < E8M0_EMIN or e.max() > E8M0_EMAX):
        raise SpecError("scale_exponents", f"must lie in {E8M0_EMIN}..{E8M0_EMAX} (E8M0)")
    _check_scales_shape("scale_exponents", e, c, bs)
    vals = pad_last(decode(c, E2M1).astype(np.float64), bs)
    out = np.ldexp(vals, e.astype(np.int64)[..., None])
    with np.errstate(over="ignore"):
        return unblock_last(out, c.shape[-1]).astype(np.float32)


def quantize_nvfp4(
    x: np.ndarray, block_size: int = NV_BLOCK
) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """Quantize to NVFP4 (NVIDIA Blackwell): E2M1 elements, E4M3 block scales, FP32 tensor scale.

    ``g = float32(amax_tensor / (448 * 6))``, floored at 2**-126, or 1 for an all-zero tensor;
    per block of 16 ``s = e4m3(amax_block / (6 * g))`` (RNE, saturating, as
    :func:`encode_fp8`); elements ``e2m1(x / (s * g))``. A block whose scale underflows E4M3 to 0
    dequantizes to (signed) zeros.

    Args:
        x: real array (>= 1-D) without NaN/inf; blocks run along the last axis.
        block_size: elements per E4M3 scale; NVFP4 fixes 16.

    Returns:
        ``(codes, block_scale_codes, global_scale)``: uint8 E2M1 codes shaped like ``x``, uint8
        E4M3 codes of shape ``x.shape[:-1] + (n_blocks,)``, and the float32 per-tensor scale
        ``g``; ``x ~= e2m1(code) * e4m3(block_scale_code) * g``.
    """
    bs = check_int("block_size", block_size, 1)
    blocks, amax, n = _blocked_input(x, bs)
    amax_t = float(amax.max()) if amax.size else 0.0
    g = float(np.float32(amax_t / (E4M3.max_value * E2M1_MAX)))
    if amax_t == 0.0:
        g = 1.0
    g = max(g, MIN_SCALE)  # tiny tensors: keep g a normal float32
    scale_codes = encode(amax / (E2M1_MAX * g), E4M3)
    denom = decode(scale_codes, E4M3).astype(np.float64) * g  # exact: 4 x 24 bits
    safe = np.where(denom > 0, denom, 1.0)
    scaled = np.where(denom[..., None] > 0, blocks / safe[..., None], np.copysign(0.0, blocks))
    codes = encode(scaled, E2M1)
    return unblock_last(codes, n), scale_codes, np.float32(g)


def dequantize_nvfp4(
    codes: np.ndarray,
    block_scale_codes: np.ndarray,
    global_scale: float,
    block_size: int = NV_BLOCK,
) -> np.ndarray:
    """Inverse of :func:`quantize_nvfp4`: ``float32(e2m1(code) * e4m3(scale_code) * g)``,
    formed exactly in float64 and rounded once."""
    bs = check_int("block_size", block_size, 1)
    c = as_codes(codes, "codes", 15)
    check_ndim("codes", c, min_ndim=1)
    sc = as_codes(block_scale_codes, "block_scale_codes", 255)
    if np.any((sc & 0x7F) == E4M3.nan_code):
        raise SpecError("block_scale_codes", "must not hold the E4M3 NaN code")
    _check_scales_shape("block_scale_codes", sc, c, bs)
    try:
        with np.errstate(over="ignore"):
            g = float(np.float32(global_scale))
    except (TypeError, ValueError):
        g = float("nan")
    if not (np.isfinite(g) and g > 0):
        raise SpecError("global_scale", f"must be a finite float32 > 0, got {global_scale!r}")
    s = decode(sc, E4M3).astype(np.float64) * g
    vals = pad_last(decode(c, E2M1).astype(np.float64), bs) * s[..., None]
    return unblock_last(vals, c.shape[-1]).astype(np.float32)
