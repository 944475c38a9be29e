"""Dense bit packing of sub-byte codes, as FP4/INT-n tensors are stored in memory.

Element ``i`` of the flattened (C-order) array occupies bits ``[i*bits, (i+1)*bits)`` of a
little-endian bit stream, so for 4-bit codes element ``2j`` is the low nibble of byte ``j``
(the layout of PyTorch ``float4_e2m1fn_x2`` and CUTLASS packed FP4). The last byte is
zero-padded.
"""

from __future__ import annotations

import numpy as np

from workloads.quant._checks import check_int


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack the low ``bits`` bits of each integer (two's complement for negatives).

    Returns:
        1-D uint8 array of ``ceil(values.size * bits / 8)`` bytes.
    """
    b = check_int("bits", bits, 1, 8)
    v = np.asarray(values).astype(np.int64).ravel() & ((1 << b) - 1)
    bitmat = ((v[:, None] >> np.arange(b)) & 1).astype(np.uint8)
    return np.packbits(bitmat.ravel(), bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, count: int, signed: bool = False) -> np.ndarray:
    """Inverse of :func:`pack_bits`: the first ``count`` ``bits``-bit fields, as int64.

    ``signed=True`` sign-extends each field (two's complement).
    """
    b = check_int("bits", bits, 1, 8)
    n = check_int("count", count, 0)
    stream = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little", count=n * b)
    v = stream.reshape(n, b).astype(np.int64) @ (np.int64(1) << np.arange(b, dtype=np.int64))
    if signed:
        v = np.where(v >= (1 << (b - 1)), v - (1 << b), v)
    return v
