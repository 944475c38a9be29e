"""What a pool model behind a network fabric offers beyond :class:`DeviceModel`.

The fabric registered in ``codesign.hw.FABRICS`` (the network family's) wraps a pool's device
model (``system.pool(name).model``); besides costing ops it times collectives over the pool's
devices, inside a scale-up domain (``intra``), across domains (``inter``) or placed on as few
domains as possible (``collective``), and expert-parallel dispatch and combine exchanges
(``ep_estimate``). Seconds, bytes, bytes/s throughout.
"""

from __future__ import annotations

from typing import Any, Protocol

from codesign.hw.device import DeviceModel
from codesign.ir.dtypes import DType

#: collective kinds a fabric times (the ring algorithm's, as NCCL runs them)
COLLECTIVES: tuple[str, ...] = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all",
                                "send_recv")


class CollectiveEstimate(Protocol):
    """One collective on one link class."""

    @property
    def time_s(self) -> float: ...


class CollectivePlan(Protocol):
    """How a collective over ``world`` ranks runs on a pool, and its time."""

    @property
    def time_s(self) -> float: ...

    @property
    def bus_bytes_per_s(self) -> float:
        """Per-rank bus bytes over the time (as nccl-tests reports ``busbw``)."""
        ...

    @property
    def nodes(self) -> int:
        """Scale-up domains the ranks occupy."""
        ...

    @property
    def per_node(self) -> int:
        """Ranks in each domain."""
        ...

    @property
    def levels(self) -> list[dict[str, Any]]:
        """One plain-data entry per step (link, ranks, seconds, protocol...)."""
        ...


class EpEstimate(Protocol):
    """One expert-parallel dispatch or combine on the most loaded device."""

    @property
    def time_s(self) -> float: ...

    def as_dict(self) -> dict[str, Any]:
        """Plain data: time, bottleneck, bytes per link, nodes and devices per token."""
        ...


class FabricModel(DeviceModel, Protocol):
    """A pool's device model behind its network (what ``FABRICS`` builds)."""

    def check_world(self, world: int, field: str = "--world") -> None:
        """Raise a SpecError naming ``field`` unless ``1 <= world <=`` the pool's devices."""
        ...

    def collective_sms(self) -> int:
        """SMs (compute units) a collective occupies while it runs."""
        ...

    def intra(self, kind: str, nbytes: float, n: int) -> CollectiveEstimate:
        """Collective ``kind`` of ``nbytes`` per rank over ``n`` ranks of one domain."""
        ...

    def inter(self, kind: str, nbytes: float, n: int) -> CollectiveEstimate:
        """The same over ``n`` domains on the scale-out network."""
        ...

    def collective(self, kind: str, nbytes: float, world: int) -> CollectivePlan:
        """Collective ``kind`` of ``nbytes`` per rank over ``world`` ranks placed on as few
        domains as possible (hierarchical across domains)."""
        ...

    def ep_estimate(self, phase: str, tokens: int, hidden: int, top_k: int, ep: int,
                    wire: DType, max_nodes: int = 0, skew: float = 1.0) -> EpEstimate:
        """Expert-parallel ``phase`` (``dispatch`` or ``combine``): ``tokens`` tokens per
        device of ``hidden`` values in format ``wire`` to ``top_k`` experts over ``ep``
        devices, at most ``max_nodes`` domains per token (0: no limit), the most loaded
        device receiving ``skew`` times the mean."""
        ...
