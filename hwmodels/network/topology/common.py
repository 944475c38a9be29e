"""Argument checks and count assembly shared by the topology builders."""

from __future__ import annotations

from dataclasses import dataclass

from codesign.errors import SpecError
from hwmodels.network.topology.presets import (
    hgx_scale_up,
    ib_ndr_link,
    ib_ndr_switch,
    ndr_400g_prices,
)
from hwmodels.network.topology.spec import CostSpec, LinkSpec, ScaleUpSpec, SwitchSpec
from hwmodels.network.topology.topology import SWITCH_KINDS, TopologyCounts


def check_int(field: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else a SpecError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, f"must be an integer, got {value!r}")
    if value < minimum:
        raise SpecError(field, f"must be >= {minimum}, got {value}")
    return value


def check_radix(radix: object) -> int:
    """Switch radix: an even integer >= 4."""
    k = check_int("radix", radix, 4)
    if k % 2:
        raise SpecError("radix", f"must be even (half the ports face down, half up), got {k}")
    return k


def resolve_world(world: object, capacity: int) -> int:
    """GPUs to attach: all ``capacity`` endpoints by default, else 1..capacity."""
    if world is None:
        return capacity
    w = check_int("world", world, 1)
    if w > capacity:
        raise SpecError("world", f"{w} GPUs exceed the {capacity} endpoints of this topology")
    return w


@dataclass(frozen=True, slots=True)
class Parts:
    """The specs a builder uses, defaults filled in."""

    scale_up: ScaleUpSpec
    link: LinkSpec
    switch: SwitchSpec
    cost: CostSpec


def resolve_parts(
    scale_up: ScaleUpSpec | None, link: LinkSpec | None, switch: SwitchSpec | None,
    cost: CostSpec | None,
) -> Parts:
    """Defaults: HGX H100 servers, 400G NDR links and switches, :func:`ndr_400g_prices`."""
    return Parts(
        scale_up=scale_up or hgx_scale_up("h100"),
        link=link or ib_ndr_link(),
        switch=switch or ib_ndr_switch(),
        cost=cost or ndr_400g_prices(),
    )


def make_counts(
    endpoints: int, capacity: int, by_kind: dict[str, int], links: int, gpus_per_node: int,
    scale_up: ScaleUpSpec, nics: bool = True,
) -> TopologyCounts:
    """Counts of ``endpoints`` GPUs in servers of ``gpus_per_node`` on a fabric of
    ``by_kind`` switches and ``links`` switch-to-switch links."""
    servers = -(-endpoints // gpus_per_node)
    nvswitches = servers * scale_up.nvswitches if gpus_per_node > 1 else 0
    per_gpu = min(scale_up.nvswitches, scale_up.nvlinks_per_gpu)
    return TopologyCounts(
        endpoints=endpoints, capacity=capacity, switches=sum(by_kind.values()), links=links,
        nics=endpoints if nics else 0, endpoint_links=endpoints if nics else 0,
        nvswitches=nvswitches, nvlink_links=endpoints * per_gpu if gpus_per_node > 1 else 0,
        servers=servers, switches_by_kind={k: by_kind.get(k, 0) for k in SWITCH_KINDS},
    )


def label(base: str, world: int, capacity: int) -> str:
    """``base``, with ``-w<world>`` when only part of the endpoints is used."""
    return base if world == capacity else f"{base}-w{world}"
