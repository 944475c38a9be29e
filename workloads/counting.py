"""Counting what a NumPy reference kernel actually does: FLOPs and elements read/written.

Reference kernels take an optional :class:`OpCounter`; through it they do their matrix
products (:meth:`OpCounter.matmul` counts ``2*m*n*k`` from the operands' real shapes) and
declare the arrays they read and write. Tests compare these counts with what the IR op claims.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class OpCounter:
    """FLOPs and elements read/written, per stage (``"core"`` unless a stage is open)."""

    def __init__(self) -> None:
        self.flops: defaultdict[str, int] = defaultdict(int)
        self.read: defaultdict[str, int] = defaultdict(int)
        self.written: defaultdict[str, int] = defaultdict(int)
        self._stage = "core"

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        prev, self._stage = self._stage, name
        try:
            yield
        finally:
            self._stage = prev

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a @ b`` (batched over leading dims), counting ``2*m*n*k`` per product."""
        out = np.matmul(a, b)
        k = a.shape[-1]
        self.flops[self._stage] += 2 * int(out.size) * k
        return out

    def add_flops(self, n: int) -> None:
        self.flops[self._stage] += int(n)

    def reads(self, *arrays: np.ndarray) -> None:
        self.read[self._stage] += sum(int(a.size) for a in arrays)

    def writes(self, *arrays: np.ndarray) -> None:
        self.written[self._stage] += sum(int(a.size) for a in arrays)


class _NullCounter(OpCounter):
    """Counts nothing; used when the caller passes no counter."""

    def add_flops(self, n: int) -> None:
        pass

    def reads(self, *arrays: np.ndarray) -> None:
        pass

    def writes(self, *arrays: np.ndarray) -> None:
        pass

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.matmul(a, b)


def counter_or_null(counter: OpCounter | None) -> OpCounter:
    return counter if counter is not None else _NullCounter()
