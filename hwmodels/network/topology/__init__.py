"""Network topologies as networkx graphs, with counts, cost and power from the switch radix.

``build_topology("mpft", 64, planes=8)`` or a builder (``ft2``, ``ft3``, ``mpft``, ``mrft``,
``dragonfly``, ``slimfly``, ``hgx_node``, ``nvl72``) gives a :class:`Topology`;
:func:`find_flow_path` routes a flow on it; ``figure.plot_topology`` draws a small one (plotly
is imported there only).
"""

from hwmodels.network.topology.build import (
    BUILDERS,
    build_topology,
    dragonfly,
    ft2,
    ft3,
    hgx_node,
    mpft,
    mrft,
    nvl72,
    slimfly,
)
from hwmodels.network.topology.presets import (
    hgx_scale_up,
    ib_ndr_link,
    ib_ndr_switch,
    ndr_400g_prices,
    nvl72_scale_up,
    pcie_gen5_x16,
)
from hwmodels.network.topology.route import FlowPath, find_flow_path
from hwmodels.network.topology.spec import CostSpec, LinkSpec, ScaleUpSpec, SwitchSpec
from hwmodels.network.topology.topology import Topology, TopologyCounts, count_graph

__all__ = [
    "BUILDERS", "CostSpec", "FlowPath", "LinkSpec", "ScaleUpSpec", "SwitchSpec", "Topology",
    "TopologyCounts", "build_topology", "count_graph", "dragonfly", "find_flow_path", "ft2",
    "ft3", "hgx_node", "hgx_scale_up", "ib_ndr_link", "ib_ndr_switch", "mpft", "mrft",
    "ndr_400g_prices", "nvl72", "nvl72_scale_up", "pcie_gen5_x16", "slimfly",
]
