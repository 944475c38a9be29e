"""The hardware contract every device family implements (GPU, FPGA, PIM, CPU)."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from codesign.hw.cost import OpCost
from codesign.ir.dtypes import DType
from codesign.ir.ops import Op

LaunchMode = Literal["graph", "eager"]


@runtime_checkable
class DeviceModel(Protocol):
    """A compute device that can cost the IR's ops.

    ``op_cost`` must be a pure function of the op (engines cache it per op object), return
    the device time in seconds of the op's kernels issued back to back (as from a CUDA graph),
    and raise :class:`~codesign.errors.SpecError` for an op or dtype the device cannot run.
    Engines add host launch costs (``launch_overhead_s`` per kernel) in eager mode.
    """

    name: str

    def op_cost(self, op: Op) -> OpCost: ...

    @property
    def launch_overhead_s(self) -> float: ...

    def supports_dtype(self, dtype: DType) -> bool: ...

    @property
    def memory_bytes(self) -> float: ...

    @property
    def idle_power_w(self) -> float: ...

    @property
    def usd_per_hour(self) -> float: ...

    @property
    def price_usd(self) -> float: ...

    def describe(self) -> dict[str, Any]: ...
