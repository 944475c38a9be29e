"""``Topology``: counts from closed-form formulas, cost and power, and a lazily built graph.

Graph conventions (what :func:`count_graph` and the flow model rely on):

* node attribute ``kind``: ``gpu``, ``nic``, ``leaf``, ``spine``, ``core`` (scale-out
  switches; a direct topology's routers -- dragonfly, slim fly -- are ``leaf``: they hold
  endpoints), ``nvswitch``; ``plane``: the scale-out plane (0 for single-plane fabrics; a GPU
  takes its NIC's plane; ``-1`` for NVSwitches, which belong to no plane); ``latency_s``:
  forwarding latency of switches (0 for GPUs and NICs); GPUs also carry ``index`` and
  ``server``.
* edge attributes ``kind``: ``nvlink`` (GPU-NVSwitch), ``pcie`` (GPU-NIC), ``endpoint``
  (NIC-switch), ``fabric`` (switch-switch); ``bytes_per_s`` (per direction), ``latency_s``,
  ``plane``.
* GPU ``i`` is node ``gpu{i}``, its NIC ``nic{i}``; GPUs ``s*G .. s*G+G-1`` form server ``s``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx

from hwmodels.network.topology.spec import CostSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

SWITCH_KINDS = ("leaf", "spine", "core")
NODE_KINDS = ("gpu", "nic", "leaf", "spine", "core", "nvswitch")
EDGE_KINDS = ("nvlink", "pcie", "endpoint", "fabric")


@dataclass(frozen=True, slots=True)
class TopologyCounts:
    """Counts of one topology (formulas; the graph agrees, see :func:`count_graph`).

    Attributes:
        endpoints: GPUs attached (``world``; by default every endpoint port is used).
        capacity: the most endpoints the fabric can hold at this radix.
        switches: scale-out switches (leaf, spine, core); NVSwitches are not counted here.
        links: switch-to-switch links (DeepSeek's "links").
        nics: NICs (one per GPU in scale-out fabrics).
        endpoint_links: NIC-to-switch links.
        nvswitches: NVSwitch nodes (chips or trays).
        nvlink_links: GPU-to-NVSwitch edges (each bundles one or more NVLink links).
        servers: scale-up domains with at least one GPU.
        switches_by_kind: ``{"leaf": .., "spine": .., "core": ..}``.
    """

    endpoints: int
    capacity: int
    switches: int
    links: int
    nics: int
    endpoint_links: int
    nvswitches: int
    nvlink_links: int
    servers: int
    switches_by_kind: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoints": self.endpoints, "capacity": self.capacity, "switches": self.switches,
            "links": self.links, "nics": self.nics, "endpoint_links": self.endpoint_links,
            "nvswitches": self.nvswitches, "nvlink_links": self.nvlink_links,
            "servers": self.servers, "switches_by_kind": dict(self.switches_by_kind),
        }


def count_graph(graph: nx.Graph) -> TopologyCounts:
    """Count a topology graph the way the formulas count (``capacity`` = ``endpoints``)."""
    nodes: dict[str, int] = dict.fromkeys(NODE_KINDS, 0)
    for _, kind in graph.nodes(data="kind"):
        nodes[kind] += 1
    edges: dict[str, int] = dict.fromkeys(EDGE_KINDS, 0)
    for _, _, kind in graph.edges(data="kind"):
        edges[kind] += 1
    servers = {s for _, s in graph.nodes(data="server") if s is not None}
    return TopologyCounts(
        endpoints=nodes["gpu"], capacity=nodes["gpu"],
        switches=sum(nodes[k] for k in SWITCH_KINDS), links=edges["fabric"],
        nics=nodes["nic"], endpoint_links=edges["endpoint"], nvswitches=nodes["nvswitch"],
        nvlink_links=edges["nvlink"], servers=len(servers),
        switches_by_kind={k: nodes[k] for k in SWITCH_KINDS},
    )


@dataclass(frozen=True, eq=False)
class Topology:
    """A built topology: counts, cost and power at once; the networkx graph on first use.

    Attributes:
        kind: builder name (``ft2``, ``mpft``...).
        name: a short label (``mpft-r64-p8``).
        params: the builder's resolved parameters (radix, planes, q, groups...).
        counts: closed-form counts.
        cost: the unit prices used.
        gpus_per_node: GPUs per scale-up domain.
        source: what the structure follows.
    """

    kind: str
    name: str
    params: dict[str, Any]
    counts: TopologyCounts
    cost: CostSpec
    gpus_per_node: int
    source: str
    _build_graph: Callable[[], nx.Graph] = field(repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def graph(self) -> nx.Graph:
        """The networkx graph (built on first access; see the module docstring)."""
        return self._build_graph()

    # ---------------------------------------------------------------- counts
    @property
    def endpoints(self) -> int:
        return self.counts.endpoints

    @property
    def switches(self) -> int:
        return self.counts.switches

    @property
    def links(self) -> int:
        return self.counts.links

    @property
    def nics(self) -> int:
        return self.counts.nics

    @property
    def endpoint_links(self) -> int:
        return self.counts.endpoint_links

    # ---------------------------------------------------------------- cost and power
    def cost_breakdown_usd(self) -> dict[str, float]:
        """Fabric cost by part (``switches``, ``transceivers``, ``cables``) and ``nics``, USD."""
        c, n = self.cost, self.counts
        return {
            "switches": n.switches * c.switch_price_usd,
            "transceivers": n.links * 2 * c.transceiver_price_usd,
            "cables": n.links * c.fiber_price_usd + n.endpoint_links * c.endpoint_cable_price_usd,
            "nics": n.nics * c.nic_price_usd,
        }

    @property
    def cost_usd(self) -> float:
        """Fabric cost: switches, switch-to-switch optics and fibers, endpoint cables (no NICs)."""
        b = self.cost_breakdown_usd()
        return b["switches"] + b["transceivers"] + b["cables"]

    @property
    def nic_cost_usd(self) -> float:
        return self.counts.nics * self.cost.nic_price_usd

    @property
    def total_cost_usd(self) -> float:
        """Fabric plus NICs, USD."""
        return self.cost_usd + self.nic_cost_usd

    @property
    def cost_per_endpoint_usd(self) -> float:
        """Fabric cost per attached GPU, USD (0 for a scale-up domain alone)."""
        return self.cost_usd / self.counts.endpoints

    @property
    def power_w(self) -> float:
        """Fabric power: switches, switch-link transceivers, endpoint cables (no NICs), W."""
        c, n = self.cost, self.counts
        return (n.switches * c.switch_power_w + n.links * c.fabric_link_power_w
                + n.endpoint_links * c.endpoint_cable_power_w)

    @property
    def nic_power_w(self) -> float:
        return self.counts.nics * self.cost.nic_power_w

    @property
    def total_power_w(self) -> float:
        return self.power_w + self.nic_power_w

    # ---------------------------------------------------------------- helpers
    def gpu(self, index: int) -> str:
        """Node id of GPU ``index`` (0-based)."""
        return f"gpu{index}"

    def figure(self, max_nodes: int = 600) -> go.Figure:
        """A plotly figure of the graph (:func:`~hwmodels.network.topology.figure.plot_topology`;
        plotly is imported there only)."""
        from hwmodels.network.topology.figure import plot_topology

        return plot_topology(self, max_nodes)

    def summary(self) -> dict[str, Any]:
        """Plain data for ``--json``: params, counts, cost and power (no graph is built)."""
        return {
            "kind": self.kind, "name": self.name, "params": dict(self.params),
            **self.counts.as_dict(),
            "cost_usd": self.cost_usd, "cost_per_endpoint_usd": self.cost_per_endpoint_usd,
            "nic_cost_usd": self.nic_cost_usd, "total_cost_usd": self.total_cost_usd,
            "cost_breakdown_usd": self.cost_breakdown_usd(),
            "power_w": self.power_w, "nic_power_w": self.nic_power_w,
            "total_power_w": self.total_power_w, "source": self.source,
            "cost_source": self.cost.source,
        }
