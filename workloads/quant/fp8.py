"""FP8 E4M3 / E5M2 per OCP 8-bit Floating Point Specification (OFP8) Revision 1.0.

* E4M3: bias 7, subnormals, max normal 448 (``S.1111.110``), no infinities, NaN ``S.1111.111``.
* E5M2: bias 15, subnormals, max normal 57344 (``S.11110.11``), IEEE-like infinities
  (``S.11111.00``) and NaNs (``S.11111.{01,10,11}``).

Encoding is round-to-nearest-even. By default it uses the OFP8 *saturating* conversion mode
(the mode of NVIDIA's ``__NV_SATFINITE`` and of FP8 GEMM outputs in practice): finite values
beyond the maximum and infinities become ``+-max``. With ``saturate=False`` overflow gives
``+-inf`` for E5M2 and NaN for E4M3, as in the spec's non-saturating mode. NaN encodes to the
canonical code ``0x7F`` in both formats.

Block-scaled FP8 follows DeepSeek-V3 (arXiv:2412.19437, sec. 3.3): one FP32 scale per
``1 x 128`` activation tile or ``128 x 128`` weight block, ``scale = amax / fmt_max``.
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
)
from workloads.quant.minifloat import E4M3, E5M2, MiniFloat, decode, decode_table, encode

FP8_E4M3_MAX = 448.0
FP8_E5M2_MAX = 57344.0

_FORMATS: dict[str, MiniFloat] = {
    "e4m3": E4M3,
    "fp8_e4m3": E4M3,
    "e5m2": E5M2,
    "fp8_e5m2": E5M2,
}


def fp8_format(fmt: str, field: str = "fmt") -> MiniFloat:
    """Look up an FP8 format by name (``e4m3``, ``e5m2``, ``fp8_e4m3``, ``fp8_e5m2``).

    Raises:
        SpecError: naming ``field`` for an unknown name.
    """
    key = str(fmt).strip().lower()
    if key not in _FORMATS:
        raise SpecError(field, f"unknown FP8 format {fmt!r}", sorted(_FORMATS))
    return _FORMATS[key]


def fp8_decode_table(fmt: str) -> np.ndarray:
    """Read-only float32 array of the values of all 256 codes of an OFP8 v1.0 format."""
    return decode_table(fp8_format(fmt))


def encode_fp8(x: np.ndarray, fmt: str, saturate: bool = True) -> np.ndarray:
    """Encode real values (unitless) to OFP8 v1.0 codes, round-to-nearest-even.

    Args:
        x: array of any real dtype; NaN and +-inf are allowed.
        fmt: ``"e4m3"`` or ``"e5m2"`` (``fp8_`` prefixes accepted).
        saturate: OFP8 saturating mode (default): ``|x| > max`` and ``+-inf`` give ``+-max``
            (448 for E4M3, 57344 for E5M2). If False, overflow gives ``+-inf`` (E5M2) or NaN
            (E4M3).

    Returns:
        uint8 codes of the shape of ``x``; NaN gives ``0x7F``; ``-0.0`` gives ``0x80``.
    """
    spec = fp8_format(fmt)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise SpecError("x", f"must be a real numeric array, got dtype {arr.dtype}")
    return encode(arr.astype(np.float64), spec, saturate=saturate)


def decode_fp8(codes: np.ndarray, fmt: str) -> np.ndarray:
    """Decode OFP8 v1.0 codes (integers 0..255) to float32 values (exact, unitless)."""
    spec = fp8_format(fmt)
    return decode(as_codes(codes, "codes", 255), spec)


def _check_block(block: object) -> tuple[int, int]:
    if not isinstance(block, tuple | list) or len(block) != 2:
        raise SpecError("block", f"must be a pair (rows, cols), got {block!r}")
    return check_int("block", block[0], 1), check_int("block", block[1], 1)


def _expand(scales: np.ndarray, block: tuple[int, int], shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast per-block scales to every element of a ``shape`` tensor (ragged edges cut)."""
    full = np.repeat(np.repeat(scales, block[0], axis=0), block[1], axis=1)
    return full[: shape[0], : shape[1]]


def quantize_fp8_blockwise(
    x: np.ndarray, fmt: str = "e4m3", block: tuple[int, int] = (1, 128)
) -> tuple[np.ndarray, np.ndarray]:
    """Block-scaled FP8 quantization of a 2-D tensor (DeepSeek-V3 style, OFP8 v1.0 codes).

    Each ``block[0] x block[1]`` tile (edge tiles may be smaller when the shape is not a
    multiple of the block) gets one float32 scale ``s = float32(amax / fmt_max)``, floored at
    2**-126 (the smallest normal float32), or 1 for an all-zero tile; elements are encoded as
    ``encode_fp8(x / s)`` (saturating RNE). ``x`` is first rounded to float32; the division is
    done in float64, which for float32 operands never changes a rounding decision.

    Args:
        x: 2-D real array without NaN/inf (unitless).
        fmt: ``"e4m3"`` (default) or ``"e5m2"``.
        block: tile shape; ``(1, 128)`` is DeepSeek-V3's activation tiling, ``(128, 128)`` its
            weight tiling.

    Returns:
        ``(codes, scales)``: uint8 codes shaped like ``x`` and float32 scales of shape
        ``(ceil(rows / block[0]), ceil(cols / block[1]))``; ``x ~= decode(codes) * scale``.
    """
    spec = fp8_format(fmt)
    br, bc = _check_block(block)
    xf = as_finite_float32(x, "x")
    check_ndim("x", xf, ndim=2)
    rows, cols = xf.shape
    nr, nc = -(-rows // br), -(-cols // bc)
    padded = np.zeros((nr * br, nc * bc))
    padded[:rows, :cols] = np.abs(xf)
    amax = padded.reshape(nr, br, nc, bc).max(axis=(1, 3))
    scales = (amax / spec.max_value).astype(np.float32)
    scales = np.where(amax > 0, np.maximum(scales, np.float32(MIN_SCALE)), np.float32(1.0))
    scales = scales.astype(np.float32)
    codes = encode(xf / _expand(scales.astype(np.float64), (br, bc), xf.shape), spec)
    return codes, scales


def dequantize_fp8_blockwise(
    codes: np.ndarray, scales: np.ndarray, fmt: str = "e4m3", block: tuple[int, int] = (1, 128)
) -> np.ndarray:
    """Inverse of :func:`quantize_fp8_blockwise`: ``float32(decode(code) * scale)`` per element.

    The product is formed exactly in float64 and rounded once to float32.
    """
    spec = fp8_format(fmt)
    br, bc = _check_block(block)
    c = as_codes(codes, "codes", 255)
    check_ndim("codes", c, ndim=2)
    s = np.asarray(scales, dtype=np.float64)
    want = (-(-c.shape[0] // br), -(-c.shape[1] // bc))
    if s.shape != want:
        raise SpecError("scales", f"must have shape {want} for codes {c.shape}, got {s.shape}")
    vals = decode(c, spec).astype(np.float64)
    return (vals * _expand(s, (br, bc), c.shape)).astype(np.float32)
