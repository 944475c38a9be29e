"""Numeric formats of tensors, with their storage size.

Sizes are storage bits per element *including* mandatory per-block scales of the micro-scaled
formats, so ``numel * bits / 8`` is the bytes a tensor occupies in memory:

* ``mxfp4``: OCP Microscaling spec v1.0 -- E2M1 elements, one E8M0 scale per 32 elements
  (4 + 8/32 = 4.25 bits).
* ``nvfp4``: NVIDIA Blackwell NVFP4 -- E2M1 elements, one FP8 E4M3 scale per 16 elements
  (4 + 8/16 = 4.5 bits); the one FP32 per-tensor scale is ignored here (4 bytes per tensor).
* ``fp8_e4m3`` / ``fp8_e5m2``: 8 bits; per-block FP32 scales of block-scaled FP8 (e.g. 128x128
  weight blocks in DeepSeek-V3) add 32/16384 bits per element and are ignored.
* ``int4`` / ``int8``: integer codes; group-scale overhead belongs to the quantization scheme,
  not the dtype (see ``workloads.quant.reference``).
"""

from __future__ import annotations

from enum import StrEnum

from codesign.errors import SpecError


class DType(StrEnum):
    """Tensor element formats known to the IR."""

    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8_E4M3 = "fp8_e4m3"
    FP8_E5M2 = "fp8_e5m2"
    MXFP4 = "mxfp4"
    NVFP4 = "nvfp4"
    INT64 = "int64"
    INT32 = "int32"
    INT8 = "int8"
    INT4 = "int4"

    @property
    def bits(self) -> float:
        """Storage bits per element, block scales of MX/NV formats included."""
        return _BITS[self]

    @property
    def is_float(self) -> bool:
        return not self.value.startswith("int")

    @classmethod
    def parse(cls, text: str, field: str = "dtype") -> DType:
        """Parse a dtype name or a common alias (``fp8`` -> ``fp8_e4m3``, ``fp4`` -> ``nvfp4``).

        Raises:
            SpecError: naming ``field`` and listing the accepted names.
        """
        key = str(text).strip().lower()
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            allowed = [d.value for d in cls] + sorted(_ALIASES)
            raise SpecError(field, f"unknown dtype {text!r}", allowed) from None


_BITS: dict[DType, float] = {
    DType.FP32: 32,
    DType.TF32: 32,  # stored as fp32; tf32 is a tensor-core compute mode
    DType.FP16: 16,
    DType.BF16: 16,
    DType.FP8_E4M3: 8,
    DType.FP8_E5M2: 8,
    DType.MXFP4: 4 + 8 / 32,
    DType.NVFP4: 4 + 8 / 16,
    DType.INT64: 64,
    DType.INT32: 32,
    DType.INT8: 8,
    DType.INT4: 4,
}

_ALIASES: dict[str, str] = {
    "float32": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "fp8": "fp8_e4m3",
    "e4m3": "fp8_e4m3",
    "e5m2": "fp8_e5m2",
    "fp4": "nvfp4",
}
