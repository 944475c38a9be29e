"""Network topologies by kind, as the core sees them (``codesign topology build``).

A network family registers a builder per topology kind (``ft2``, ``mpft``, ``nvl72``...) in
:data:`TOPOLOGIES`, through the ``codesign.topologies`` entry-point group; the core builds
one with :func:`build_topology` and reads its counts, cost (USD) and power (W) as plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from codesign.hw.registry import Registry


class Topology(Protocol):
    """A built topology."""

    def summary(self) -> dict[str, Any]:
        """Plain data: ``kind``, ``name``, ``params``, counts (``endpoints``, ``switches``,
        ``links``...), ``cost_usd``, ``cost_per_endpoint_usd``, ``power_w``..."""
        ...

    def figure(self) -> object:
        """A plotly figure of the topology's graph.

        Raises:
            SpecError: the graph is too large to draw.
        """
        ...


#: ``builder(radix, planes)``: the switch radix (ports) and the planes (``None``: the kind's
#: default); a kind that takes neither raises a SpecError naming it
TopologyBuilder = Callable[[int | None, int | None], Topology]

#: topology builders by kind, filled by the ``codesign.topologies`` entry points
TOPOLOGIES: Registry[TopologyBuilder] = Registry("topology", "kind",
                                                 plugin_group="codesign.topologies")


def build_topology(kind: str, radix: int | None = None, planes: int | None = None
                   ) -> Topology:
    """The topology ``kind`` at switch radix ``radix`` with ``planes`` planes.

    Raises:
        SpecError: unknown kind (field ``kind``, listing the known ones), or a radix or
            plane count the kind does not take.
    """
    return TOPOLOGIES.get(kind)(radix, planes)
