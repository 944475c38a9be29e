"""Tensor descriptors: shape, dtype and role (weight, activation or KV cache)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from codesign.ir.dtypes import DType


class TensorRole(StrEnum):
    """What a tensor is, which decides where it lives and how it scales.

    * ``weight``: model parameters; read every pass, independent of batch.
    * ``activation``: produced and consumed within one pass.
    * ``kv_cache``: attention keys/values (or MLA latents) kept across decode steps.
    """

    WEIGHT = "weight"
    ACTIVATION = "activation"
    KV_CACHE = "kv_cache"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A tensor an op reads or writes.

    Attributes:
        name: name local to the op (``x``, ``w``, ``k_cache``...).
        shape: dimensions in elements.
        dtype: element format.
        role: weight, activation or KV cache.
    """

    name: str
    shape: tuple[int, ...]
    dtype: DType
    role: TensorRole = TensorRole.ACTIVATION

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Storage in bytes (rounded up to whole bytes), block scales of MX formats included."""
        return math.ceil(self.numel * self.dtype.bits / 8)


W = TensorRole.WEIGHT
A = TensorRole.ACTIVATION
KV = TensorRole.KV_CACHE
