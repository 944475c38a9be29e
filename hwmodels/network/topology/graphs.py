"""Graph construction shared by the builders: switches, fabric links, GPUs with NICs and NVLink.

Pure helpers over a ``networkx.Graph``; naming and attributes follow ``topology.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from hwmodels.network.topology.spec import LinkSpec, ScaleUpSpec, SwitchSpec

NO_PLANE = -1


def add_switches(
    g: nx.Graph, names: Iterable[str], kind: str, plane: int, switch: SwitchSpec, **attrs: int
) -> None:
    """Add switch nodes of one kind and plane (``attrs`` such as ``pod`` or ``group``)."""
    g.add_nodes_from(
        (n, {"kind": kind, "plane": plane, "latency_s": switch.latency_s, **attrs})
        for n in names
    )


def add_fabric(g: nx.Graph, pairs: Iterable[tuple[str, str]], link: LinkSpec, plane: int) -> None:
    """Add switch-to-switch links."""
    g.add_edges_from(
        (u, v, {"kind": "fabric", "bytes_per_s": link.bytes_per_s,
                "latency_s": link.latency_s, "plane": plane})
        for u, v in pairs
    )


def add_servers(
    g: nx.Graph, n_gpus: int, gpus_per_node: int, scale_up: ScaleUpSpec,
    plane_of: Callable[[int], int] = lambda i: 0,
) -> None:
    """Add GPUs ``gpu0..`` grouped in servers, each server's GPUs joined by NVSwitch nodes.

    With one GPU per server there is no NVSwitch. GPU ``i`` sends NVLink link ``l`` to
    NVSwitch ``l % nvswitches`` of its server; the edge bundles those links' bandwidth.
    """
    g.add_nodes_from(
        (f"gpu{i}", {"kind": "gpu", "plane": plane_of(i), "index": i,
                     "server": i // gpus_per_node, "latency_s": 0.0})
        for i in range(n_gpus)
    )
    if gpus_per_node == 1:
        return
    chips = scale_up.nvswitches
    bundle = [0] * chips
    for link in range(scale_up.nvlinks_per_gpu):
        bundle[link % chips] += 1
    servers = -(-n_gpus // gpus_per_node)
    g.add_nodes_from(
        (f"s{s}.nvs{c}", {"kind": "nvswitch", "plane": NO_PLANE, "server": s,
                          "latency_s": scale_up.nvswitch.latency_s})
        for s in range(servers) for c in range(chips)
    )
    nv = scale_up.nvlink
    g.add_edges_from(
        (f"gpu{i}", f"s{i // gpus_per_node}.nvs{c}",
         {"kind": "nvlink", "bytes_per_s": bundle[c] * nv.bytes_per_s,
          "latency_s": nv.latency_s, "plane": NO_PLANE})
        for i in range(n_gpus) for c in range(chips) if bundle[c]
    )


def add_nics(
    g: nx.Graph, n_gpus: int, gpus_per_node: int, scale_up: ScaleUpSpec, link: LinkSpec,
    attach: Callable[[int], tuple[str, int]],
) -> None:
    """Give GPU ``i`` NIC ``nic{i}`` (PCIe edge) linked to switch ``attach(i) = (node, plane)``."""
    pcie = scale_up.pcie
    nodes, edges = [], []
    for i in range(n_gpus):
        sw, plane = attach(i)
        nic = f"nic{i}"
        nodes.append((nic, {"kind": "nic", "plane": plane, "server": i // gpus_per_node,
                            "latency_s": 0.0}))
        edges.append((f"gpu{i}", nic, {"kind": "pcie", "bytes_per_s": pcie.bytes_per_s,
                                        "latency_s": pcie.latency_s, "plane": plane}))
        edges.append((nic, sw, {"kind": "endpoint", "bytes_per_s": link.bytes_per_s,
                                "latency_s": link.latency_s, "plane": plane}))
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
