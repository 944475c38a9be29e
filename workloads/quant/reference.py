"""Reference (ground-truth) NumPy implementations of low-precision LLM number formats.

Follows:

* OCP 8-bit Floating Point Specification (OFP8) Revision 1.0 -- FP8 E4M3 / E5M2
  (:mod:`workloads.quant.fp8`), plus DeepSeek-V3 style block scaling;
* OCP Microscaling Formats (MX) Specification v1.0 -- MXFP4 (:mod:`workloads.quant.mx`);
* NVIDIA NVFP4 as documented for Blackwell -- E2M1 with E4M3 block scales and an FP32 tensor
  scale (:mod:`workloads.quant.mx`);
* INT-n group quantization with float scales and optional zero points
  (:mod:`workloads.quant.intq`).

All functions are vectorized, bit-exact and deterministic; bad arguments raise
:class:`codesign.errors.SpecError` naming the argument. :func:`quantized_nbytes` gives the bytes
a quantized tensor occupies, scales included, consistent with :attr:`codesign.ir.dtypes.DType.bits`.
"""

from __future__ import annotations

from codesign.errors import SpecError
from workloads.quant._checks import check_int
from workloads.quant.fp8 import (
    FP8_E4M3_MAX,
    FP8_E5M2_MAX,
    decode_fp8,
    dequantize_fp8_blockwise,
    encode_fp8,
    fp8_decode_table,
    quantize_fp8_blockwise,
)
from workloads.quant.intq import dequantize_int, quantize_int
from workloads.quant.mx import (
    E2M1_VALUES,
    MX_BLOCK,
    NV_BLOCK,
    decode_e2m1,
    dequantize_mxfp4,
    dequantize_nvfp4,
    encode_e2m1,
    quantize_mxfp4,
    quantize_nvfp4,
)
from workloads.quant.packing import pack_bits, unpack_bits

__all__ = [
    "E2M1_VALUES",
    "FP8_E4M3_MAX",
    "FP8_E5M2_MAX",
    "MX_BLOCK",
    "NV_BLOCK",
    "decode_e2m1",
    "decode_fp8",
    "dequantize_fp8_blockwise",
    "dequantize_int",
    "dequantize_mxfp4",
    "dequantize_nvfp4",
    "encode_e2m1",
    "encode_fp8",
    "fp8_decode_table",
    "pack_bits",
    "quantize_fp8_blockwise",
    "quantize_int",
    "quantize_mxfp4",
    "quantize_nvfp4",
    "quantized_nbytes",
    "unpack_bits",
]

_FP8_NAMES = ("fp8", "fp8_e4m3", "fp8_e5m2", "e4m3", "e5m2")
_INT_NAMES = tuple(f"int{b}" for b in range(2, 9))
_FORMAT_NAMES = (*_FP8_NAMES, "mxfp4", "nvfp4", *_INT_NAMES)


def quantized_nbytes(
    numel: int,
    fmt: str,
    group_size: int | None = None,
    scale_bits: int = 16,
    symmetric: bool = True,
) -> float:
    """Bytes a tensor of ``numel`` elements occupies in ``fmt``, scales included.

    * FP8 (``fp8``, ``fp8_e4m3``, ``fp8_e5m2``, ``e4m3``, ``e5m2``): ``numel`` (a per-tensor
      scale is ignored, as in ``DType.bits``); with ``group_size``, block-scaled FP8 adds
      ``numel / group_size * scale_bits / 8`` (DeepSeek-V3: 128 or 128*128 with
      ``scale_bits=32``).
    * ``mxfp4``: ``numel * 4.25 / 8`` -- 4-bit E2M1 plus one 8-bit E8M0 scale per 32 elements.
    * ``nvfp4``: ``numel * 4.5 / 8 + 4`` -- 4-bit E2M1, one 8-bit E4M3 scale per 16 elements, one
      FP32 tensor scale.
      For both FP4 formats ``group_size`` overrides the block size; ``scale_bits`` is ignored
      (the formats fix 8-bit scales).
    * ``int2`` .. ``int8``: ``numel * bits / 8 + numel / group_size * scale_bits / 8``, plus
      ``numel / group_size * bits / 8`` of zero points (stored at the code width, as GPTQ
      packs them) when ``symmetric`` is False. ``group_size`` is required.

    Exact for tensors whose blocks are all whole; returns a float (fractional bytes when not).

    Raises:
        SpecError: naming ``fmt``, ``numel``, ``group_size`` or ``scale_bits``.
    """
    n = check_int("numel", numel, 0)
    key = str(fmt).strip().lower()
    if key not in _FORMAT_NAMES:
        raise SpecError("fmt", f"unknown quantized format {fmt!r}", _FORMAT_NAMES)
    gs = None if group_size is None else check_int("group_size", group_size, 1)
    sb = check_int("scale_bits", scale_bits, 1)
    if key in _FP8_NAMES:
        return float(n) + (n / gs * sb / 8 if gs is not None else 0.0)
    if key == "mxfp4":
        return n * 4 / 8 + n / (gs or MX_BLOCK) * 8 / 8
    if key == "nvfp4":
        return n * 4 / 8 + n / (gs or NV_BLOCK) * 8 / 8 + 4.0
    bits = int(key[3:])
    if gs is None:
        raise SpecError("group_size", f"is required for {key}")
    zero_bytes = 0.0 if symmetric else n / gs * bits / 8
    return n * bits / 8 + n / gs * sb / 8 + zero_bytes
