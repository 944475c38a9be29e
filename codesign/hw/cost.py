"""What a hardware model answers for one op."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Bound = Literal["compute", "memory", "launch", "network"]
BOUNDS: tuple[str, ...] = ("compute", "memory", "launch", "network")


@dataclass(frozen=True, slots=True)
class OpCost:
    """Cost of one op on one device.

    Attributes:
        latency_s: time from launch to completion, seconds (launch overhead included).
        energy_j: energy, joules (dynamic energy plus idle power over ``latency_s``).
        bound: what limits it: ``compute``, ``memory``, ``launch`` (fixed overheads dominate)
            or ``network``.
        flops: arithmetic the op performs (FLOPs).
        dram_bytes: bytes moved to/from device memory (model's estimate, not the minimum).
        kernels: kernels the op launches (engines add launch costs in eager mode).
        detail: model-specific numbers (tile, waves, achieved rates...) for reports.
    """

    latency_s: float
    energy_j: float
    bound: Bound
    flops: float = 0.0
    dram_bytes: float = 0.0
    kernels: int = 1
    detail: dict[str, float | int | str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"latency_s": self.latency_s, "energy_j": self.energy_j, "bound": self.bound,
                "flops": self.flops, "dram_bytes": self.dram_bytes, "kernels": self.kernels,
                **self.detail}
