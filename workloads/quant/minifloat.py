"""Bit-exact encode/decode of small binary floating-point formats (FP8 E4M3/E5M2, FP4 E2M1).

A format is ``1`` sign bit, ``ebits`` exponent bits with bias ``bias`` and ``mbits`` mantissa
bits, with IEEE-style subnormals (exponent field 0). What the all-ones exponent field means is
format specific (``special``):

* ``"ieee"`` -- infinities and NaNs as in IEEE 754 (OFP8 E5M2);
* ``"nan_only"`` -- only ``S.1..1.1..1`` is NaN, the rest of the top binade is finite
  (OFP8 E4M3);
* ``"none"`` -- every code is finite (OCP MX E2M1).

Encoding rounds to nearest, ties to even, in exact arithmetic: the magnitude is scaled by a
power of two (exact in float64) and rounded with ``np.rint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class MiniFloat:
    """A small binary floating-point format.

    Attributes:
        name: short name (``"e4m3"``).
        ebits: exponent bits.
        mbits: mantissa (fraction) bits.
        bias: exponent bias.
        max_value: largest finite magnitude (unitless).
        special: ``"ieee"``, ``"nan_only"`` or ``"none"`` (see the module docstring).
        nan_code: canonical positive NaN code, or None for a format without NaN.
    """

    name: str
    ebits: int
    mbits: int
    bias: int
    max_value: float
    special: str
    nan_code: int | None

    @property
    def nbits(self) -> int:
        return 1 + self.ebits + self.mbits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal binade (also the subnormals' exponent)."""
        return 1 - self.bias

    @property
    def sign_bit(self) -> int:
        return 1 << (self.nbits - 1)

    @property
    def max_code(self) -> int:
        """Code of ``+max_value``."""
        return int(np.flatnonzero(decode_table(self) == self.max_value)[0])

    @property
    def inf_code(self) -> int | None:
        """Code of ``+inf``, or None for a format without infinities."""
        if self.special != "ieee":
            return None
        return ((1 << self.ebits) - 1) << self.mbits


#: OFP8 v1.0 E4M3: bias 7, max 448, no infinities, NaN = S.1111.111.
E4M3 = MiniFloat("e4m3", 4, 3, 7, 448.0, "nan_only", 0x7F)
#: OFP8 v1.0 E5M2: bias 15, max 57344, IEEE-like infinities (S.11111.00) and NaNs.
E5M2 = MiniFloat("e5m2", 5, 2, 15, 57344.0, "ieee", 0x7F)
#: OCP MX v1.0 FP4 E2M1: bias 1, values +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no inf/NaN.
E2M1 = MiniFloat("e2m1", 2, 1, 1, 6.0, "none", None)


@cache
def _table(fmt: MiniFloat) -> np.ndarray:
    codes = np.arange(1 << fmt.nbits, dtype=np.int64)
    sign = (codes >> (fmt.nbits - 1)) & 1
    e = (codes >> fmt.mbits) & ((1 << fmt.ebits) - 1)
    m = codes & ((1 << fmt.mbits) - 1)
    sig = np.where(e == 0, m, m + (1 << fmt.mbits)).astype(np.float64)
    val = np.ldexp(sig, np.maximum(e, 1) - fmt.bias - fmt.mbits)
    e_top = e == (1 << fmt.ebits) - 1
    if fmt.special == "ieee":
        val = np.where(e_top, np.where(m == 0, np.inf, np.nan), val)
    elif fmt.special == "nan_only":
        val = np.where(e_top & (m == (1 << fmt.mbits) - 1), np.nan, val)
    val = np.where(sign == 1, -val, val).astype(np.float32)
    val.setflags(write=False)
    return val


def decode_table(fmt: MiniFloat) -> np.ndarray:
    """Read-only float32 array of the value of every code ``0 .. 2**nbits - 1`` of ``fmt``."""
    return _table(fmt)


def encode(x: np.ndarray, fmt: MiniFloat, saturate: bool = True) -> np.ndarray:
    """Round ``x`` to the nearest value of ``fmt`` (ties to even) and return its codes (uint8).

    ``saturate=True``: finite magnitudes beyond ``max_value`` and infinities become
    ``+-max_value``. ``saturate=False``: they become ``+-inf`` where the format has infinities,
    else NaN. NaN inputs give the canonical NaN code (the caller must exclude NaN for formats
    without NaN). The sign of zero is kept (``-0.0`` and tiny negatives give ``S=1`` zero).
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    sign = np.where(np.signbit(np.asarray(x, dtype=np.float64)), fmt.sign_bit, 0)
    finite = np.isfinite(a)
    af = np.where(finite, a, 0.0)
    _, k = np.frexp(af)  # af = f * 2**k with f in [0.5, 1): floor(log2(af)) = k - 1
    e = np.maximum(k.astype(np.int64) - 1, fmt.emin)
    n = np.rint(np.ldexp(af, fmt.mbits - e)).astype(np.int64)  # exact scaling, RNE
    carry = n >= (2 << fmt.mbits)  # rounded up into the next binade
    n = np.where(carry, n >> 1, n)
    e = e + carry
    normal = n >= (1 << fmt.mbits)
    efield = np.where(normal, e + fmt.bias, 0)
    mfield = np.where(normal, n - (1 << fmt.mbits), n)
    code = (efield << fmt.mbits) | mfield
    overflow = ~finite | (np.ldexp(n.astype(np.float64), e - fmt.mbits) > fmt.max_value)
    if saturate:
        big = fmt.max_code
    elif fmt.inf_code is not None:
        big = fmt.inf_code
    else:
        big = fmt.nan_code if fmt.nan_code is not None else fmt.max_code
    code = np.where(overflow, big, code) | sign
    if fmt.nan_code is not None:  # NaN results use the canonical (positive) NaN code
        code = np.where(np.isnan(a) | (overflow & (big == fmt.nan_code)), fmt.nan_code, code)
    return code.astype(np.uint8)


def decode(codes: np.ndarray, fmt: MiniFloat) -> np.ndarray:
    """Float32 values of integer ``codes`` (assumed in range) of ``fmt``."""
    return _table(fmt)[np.asarray(codes, dtype=np.int64)]
