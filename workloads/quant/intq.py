"""INT-n group quantization along the last axis (the scheme of GPTQ / AWQ weight formats).

Every run of ``group_size`` consecutive elements of the last axis shares one float32 scale
(and, when asymmetric, one integer zero point). Rounding is to nearest, ties to even
(``np.rint``). Inputs are rounded to float32 first; intermediate arithmetic is float64.

* symmetric: ``qmax = 2**(bits-1) - 1``, ``scale = float32(amax / qmax)``,
  ``q = clip(rint(x / scale), -qmax, qmax)``, ``x ~= q * scale`` (the code ``-2**(bits-1)``
  is unused, keeping the grid symmetric);
* asymmetric: ``qmax = 2**bits - 1``, range ``[lo, hi] = [min(x_min, 0), max(x_max, 0)]`` (so 0
  is exact), ``scale = (hi - lo) / qmax`` rounded *toward zero* to float32,
  ``zero = clip(floor(-lo / scale + 1/2), 0, qmax)``, ``q = clip(rint(x / scale + zero), 0,
  qmax)``, ``x ~= (q - zero) * scale``. Rounding the scale down and the zero point half-up
  guarantees that ``lo`` lands on code 0 and ``hi`` on code ``qmax``, so re-quantizing the
  dequantized tensor reproduces the same codes and zero points (the usual
  ``zero = rint(-lo / scale)``, ``q = rint(x / scale) + zero`` does not: for ``x = [-1, 1]``,
  2 bits, it never uses code 3).

An all-zero group gets scale 1 (and zero point 0); scales are floored at 2**-126 (the smallest
normal float32). Error: ``|x - dequant| <= scale / 2``; asymmetric groups may exceed that by at
most ``qmax * 2**-23 * scale``, from the float32 rounding of the scale. Values within half a
step of the float32 limit (~3.4e38) may dequantize to +-inf.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import SpecError
from workloads.quant._checks import MIN_SCALE, as_finite_float32, check_int, check_ndim

INT_BITS = range(2, 9)


def _int_dtype(bits: int, symmetric: bool) -> type[np.integer]:
    """int8 when every code fits in int8, else int16 (asymmetric 8-bit codes reach 255)."""
    return np.int8 if symmetric or bits < 8 else np.int16


def _float32_scale(num: np.ndarray, qmax: int, round_down: bool = False) -> np.ndarray:
    """float32 ``num / qmax`` (nearest, or toward zero), floored at MIN_SCALE; 1 where num == 0."""
    exact = num / qmax
    s = exact.astype(np.float32)
    if round_down:
        s = np.where(s > exact, np.nextafter(s, np.float32(0.0)), s)
    s = np.maximum(s, np.float32(MIN_SCALE))
    return np.where(num > 0, s, np.float32(1.0)).astype(np.float32)


def quantize_int(
    x: np.ndarray, bits: int, group_size: int, symmetric: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Group-wise INT-n quantization of ``x`` along its last axis (see the module docstring).

    Args:
        x: real array (>= 1-D) without NaN/inf (unitless).
        bits: code width, 2..8.
        group_size: elements per scale; must divide ``x.shape[-1]``.
        symmetric: symmetric (no zero point) or asymmetric (with zero point).

    Returns:
        ``(q, scales, zeros)``: integer codes shaped like ``x`` (int8, or int16 for asymmetric
        8-bit), float32 scales of shape ``x.shape[:-1] + (x.shape[-1] // group_size,)``, and
        zero points of that shape and ``q``'s dtype (None when symmetric).

    Raises:
        SpecError: naming ``bits``, ``group_size`` or ``x``.
    """
    b = check_int("bits", bits, INT_BITS.start, INT_BITS.stop - 1)
    gs = check_int("group_size", group_size, 1)
    xf = as_finite_float32(x, "x")
    check_ndim("x", xf, min_ndim=1)
    n = xf.shape[-1]
    if n % gs:
        raise SpecError("group_size", f"must divide the last axis ({n}), got {gs}")
    xg = xf.reshape(*xf.shape[:-1], n // gs, gs)
    dtype = _int_dtype(b, symmetric)
    if symmetric:
        qmax = (1 << (b - 1)) - 1
        scales = _float32_scale(np.abs(xg).max(axis=-1, initial=0.0), qmax)
        q = np.clip(np.rint(xg / scales[..., None].astype(np.float64)), -qmax, qmax)
        return q.reshape(xf.shape).astype(dtype), scales, None
    qmax = (1 << b) - 1
    lo = np.minimum(xg.min(axis=-1, initial=0.0), 0.0)
    hi = np.maximum(xg.max(axis=-1, initial=0.0), 0.0)
    scales = _float32_scale(hi - lo, qmax, round_down=True)
    s64 = scales.astype(np.float64)
    zeros = np.clip(np.floor(-lo / s64 + 0.5), 0, qmax)
    q = np.clip(np.rint(xg / s64[..., None] + zeros[..., None]), 0, qmax)
    return q.reshape(xf.shape).astype(dtype), scales, zeros.astype(dtype)


def dequantize_int(
    q: np.ndarray, scales: np.ndarray, zeros: np.ndarray | None = None
) -> np.ndarray:
    """Inverse of :func:`quantize_int`: float32 ``(q - zero) * scale`` (exact in float64, then
    rounded once). The group size is ``q.shape[-1] // scales.shape[-1]``."""
    qa = np.asarray(q)
    if qa.dtype.kind not in "iu":
        raise SpecError("q", f"must be an integer array, got dtype {qa.dtype}")
    check_ndim("q", qa, min_ndim=1)
    s = np.asarray(scales, dtype=np.float64)
    ng = s.shape[-1] if s.ndim else 0
    if s.shape[:-1] != qa.shape[:-1] or ng == 0 or qa.shape[-1] % ng:
        raise SpecError("scales", f"shape {s.shape} does not group codes of shape {qa.shape}")
    qg = qa.astype(np.float64).reshape(*qa.shape[:-1], ng, qa.shape[-1] // ng)
    if zeros is not None:
        z = np.asarray(zeros)
        if z.shape != s.shape or z.dtype.kind not in "iu":
            raise SpecError("zeros", f"must be an integer array of shape {s.shape}")
        qg = qg - z.astype(np.float64)[..., None]
    return (qg * s[..., None]).reshape(qa.shape).astype(np.float32)
