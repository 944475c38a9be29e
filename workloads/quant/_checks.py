"""Argument checks shared by the quantization references; every failure is a SpecError."""

from __future__ import annotations

import numbers

import numpy as np

from codesign.errors import SpecError

#: Smallest normal float32, 2**-126: the floor of every float32 scale of a non-zero block, so
#: that a block whose ``amax / max`` would be a float32 subnormal (or 0) keeps
#: ``|x / scale| <= max`` and its error bound.
MIN_SCALE = float(np.finfo(np.float32).tiny)


def as_finite_float32(x: object, field: str) -> np.ndarray:
    """Return ``x`` rounded to float32 and held in a float64 array.

    Raises:
        SpecError: ``x`` is not a real numeric array, or holds NaN/inf or a value outside the
            float32 range.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise SpecError(field, f"must be a real numeric array, got dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        a32 = arr.astype(np.float32)
    if not np.all(np.isfinite(a32)):
        raise SpecError(field, "must be finite and within the float32 range (no NaN or inf)")
    return a32.astype(np.float64)


def check_int(field: str, value: object, lo: int, hi: int | None = None) -> int:
    """Return ``value`` as an int, checking ``lo <= value (<= hi)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpecError(field, f"must be an integer, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        bound = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
        allowed = range(lo, hi + 1) if hi is not None and hi - lo < 16 else None
        raise SpecError(field, f"must be {bound}, got {v}", allowed)
    return v


def as_codes(codes: object, field: str, hi: int) -> np.ndarray:
    """Return integer ``codes`` as int64, checking every code lies in ``0..hi``."""
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise SpecError(field, f"must be an integer array, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    if out.size and (out.min() < 0 or out.max() > hi):
        raise SpecError(field, f"codes must lie in 0..{hi}")
    return out


def check_ndim(field: str, arr: np.ndarray, ndim: int | None = None, min_ndim: int = 0) -> None:
    """Check the rank of ``arr``: exactly ``ndim`` when given, else at least ``min_ndim``."""
    if ndim is not None and arr.ndim != ndim:
        raise SpecError(field, f"must be a {ndim}-D array, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise SpecError(field, f"must have at least {min_ndim} dimension(s), got shape {arr.shape}")


def pad_last(a: np.ndarray, block: int) -> np.ndarray:
    """Zero-pad the last axis of ``a`` to a multiple of ``block`` and split it into blocks.

    Returns an array of shape ``a.shape[:-1] + (ceil(n / block), block)``.
    """
    n = a.shape[-1]
    nb = -(-n // block)
    if nb * block != n:
        pad = [(0, 0)] * (a.ndim - 1) + [(0, nb * block - n)]
        a = np.pad(a, pad)
    return a.reshape(*a.shape[:-1], nb, block)


def unblock_last(a: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pad_last`: merge the last two axes and drop the padding."""
    return a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])[..., :n]
