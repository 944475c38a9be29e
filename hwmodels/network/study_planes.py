"""What a multi-plane fat tree changes, behind the ``network-codesign`` study (re-exported by
:mod:`hwmodels.network.study`).

* :func:`multi_plane_effects`: what an 8-plane fat tree changes against single-plane FT2/FT3.
* :func:`pruned_ft3`: the FT3 it is compared with, built only as far as the endpoints need.
* :func:`failed_plane_flow_check`: the flow model on a small MPFT with one plane removed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from codesign.errors import SpecError
from hwmodels.network.study_tpot import ep_tpot, system_variant
from hwmodels.network.topology import build_topology
from hwmodels.network.topology.common import check_radix, make_counts
from hwmodels.network.topology.presets import hgx_scale_up
from hwmodels.network.topology.topology import Topology


def pruned_ft3(radix: int, endpoints: int) -> Topology:
    """An FT3 of radix ``radix`` built only as far as ``endpoints`` need: whole pods of
    ``(k/2)^2`` endpoints, their leaves and aggregation switches, and the cores their
    uplinks fill (``pods (k/2)^2 / k``); full bisection. Counts only (no graph)."""
    k = check_radix(radix)
    half = k // 2
    pods = -(-endpoints // (half * half))
    if pods > k:
        raise SpecError("endpoints", f"{endpoints} exceed an FT3 of radix {k}")
    cores = -(-pods * half * half // k)
    by_kind = {"leaf": pods * half, "spine": pods * half, "core": cores}
    full = build_topology("ft3", k)
    counts = make_counts(endpoints, pods * half * half, by_kind, 2 * pods * half * half, 8,
                         hgx_scale_up("h100"))

    def no_graph() -> Any:
        raise SpecError("graph", "a pruned FT3 has counts only")

    return replace(full, name=f"ft3-r{k}-pods{pods}", counts=counts, _cache={},
                   params={**full.params, "pods": pods, "world": endpoints},
                   _build_graph=no_graph)


def _fabric_row(t: Topology, tiers: int, plane_left: float, leaf_cut: int,
                note: str) -> dict[str, Any]:
    return {
        "topology": t.kind, "name": t.name, "endpoints": t.endpoints, "switches": t.switches,
        "links": t.links, "switch_tiers": tiers, "max_switch_hops": 2 * tiers - 1,
        "cost_per_endpoint_usd": t.cost_per_endpoint_usd,
        "power_per_endpoint_w": t.power_w / t.endpoints,
        "switches_per_1k_endpoints": 1000 * t.switches / t.endpoints,
        "bandwidth_left_one_failed_plane": plane_left,
        "gpus_cut_off_by_one_leaf_failure": leaf_cut, "note": note,
    }


def failed_plane_flow_check(planes: int = 8, radix: int = 4, nbytes: float = 64e6,
                            failed_plane: int = 0) -> dict[str, Any]:
    """Flow model on a small MPFT: the GPUs of server 0 each send ``nbytes`` to the GPU of
    the same index in server 1 (EP's cross-node hop, one plane each), healthy and with plane
    ``failed_plane`` removed (its NICs and switches). Makespans and their ratio, against the
    ``planes / (planes - 1)`` of a perfect spread over the surviving NICs."""
    from hwmodels.network.flows import Flow, simulate_flows

    healthy = build_topology("mpft", radix, planes=planes)
    g = healthy.graph.copy()
    dead = [n for n, d in g.nodes(data=True)
            if d["kind"] in ("nic", "leaf", "spine") and d["plane"] == failed_plane]
    g.remove_nodes_from(dead)
    failed = replace(healthy, name=f"{healthy.name}-fail{failed_plane}", _cache={},
                     _build_graph=lambda: g)
    gpn = healthy.gpus_per_node
    flows = [Flow(i, gpn + i, nbytes) for i in range(gpn)]
    a = simulate_flows(healthy, flows)
    b = simulate_flows(failed, flows)
    shared = max(b.link_peak_utilization.values())
    return {
        "topology": healthy.name, "flows": len(flows), "bytes_per_flow": nbytes,
        "healthy_makespan_s": a.makespan_s, "failed_makespan_s": b.makespan_s,
        "slowdown": b.makespan_s / a.makespan_s, "ideal_slowdown": planes / (planes - 1),
        "peak_link_utilization_failed": shared,
        "detour_hops": b.paths[failed_plane].hops, "direct_hops": a.paths[0].hops,
    }


def multi_plane_effects(radix: int = 64, planes: int = 8, *,
                        system: str = "deepseek-h800-mpft", ep: int = 320,
                        tokens_per_device: int = 32, layers: int = 61, hidden: int = 7168,
                        experts_per_token: int = 9) -> dict[str, Any]:
    """What ``planes`` planes of radix-``radix`` FT2 change against single-plane fabrics of
    the same radix: FT2 (as far as it reaches) and an FT3 pruned to the MPFT's endpoints.

    Returns plain data: ``endpoints``; ``fabrics`` (counts, cost and power per endpoint,
    switch tiers, bandwidth a GPU keeps when one plane fails, GPUs a leaf failure cuts off);
    ``ft2_radix_for_same_endpoints``; ``ep`` (:func:`ep_tpot` on ``system`` healthy and with
    one failed plane, and single-plane); ``flow_check`` (:func:`failed_plane_flow_check`);
    ``findings`` (sentences).
    """
    from hwmodels.network.presets import pool_network

    mp = build_topology("mpft", radix, planes=planes)
    e = mp.endpoints
    f2 = build_topology("ft2", radix)
    f3 = pruned_ft3(radix, e)
    half = radix // 2
    fabrics = [
        _fabric_row(mp, 2, (planes - 1) / planes, 0,
                    f"{planes} independent FT2 planes; NIC i of a server in plane i mod "
                    f"{planes}; a failed plane's traffic detours over NVLink"),
        _fabric_row(f2, 2, 0.0, half, f"one FT2: at most {f2.endpoints} endpoints at "
                    f"radix {radix}"),
        _fabric_row(f3, 3, 0.0, half, f"FT3 pruned to {e} endpoints ({f3.params['pods']} "
                    "pods)"),
    ]
    k_needed = math.ceil(math.sqrt(2 * e))
    k_needed += k_needed % 2
    base = pool_network(system)
    runs = {
        "multi_plane": ep_tpot(system_variant(base, planes=planes), ep, tokens_per_device,
                               layers, hidden, experts_per_token),
        "multi_plane_1_failed": ep_tpot(system_variant(base, planes=planes, failed_planes=1),
                                        ep, tokens_per_device, layers, hidden,
                                        experts_per_token),
        "single_plane": ep_tpot(system_variant(base, planes=1), ep, tokens_per_device,
                                layers, hidden, experts_per_token),
        "single_plane_failed": ep_tpot(system_variant(base, planes=1, failed_planes=1), ep,
                                       tokens_per_device, layers, hidden, experts_per_token),
    }
    flow = failed_plane_flow_check(planes=planes) if planes > 1 else None
    out = {"radix": radix, "planes": planes, "endpoints": e, "fabrics": fabrics,
           "ft2_radix_for_same_endpoints": k_needed,
           "ep": {k: v.as_dict() for k, v in runs.items()}, "flow_check": flow}
    out["findings"] = _findings(out, mp, f2, f3)
    return out


def _findings(out: dict[str, Any], mp: Topology, f2: Topology, f3: Topology) -> list[str]:
    p, k, e = out["planes"], out["radix"], out["endpoints"]
    ep = out["ep"]
    ok, bad = ep["multi_plane"], ep["multi_plane_1_failed"]
    save = 1 - mp.cost_per_endpoint_usd / f3.cost_per_endpoint_usd
    lines = [
        f"{p} planes of radix-{k} FT2 connect {e:,} GPUs in two switch tiers: {mp.switches:,} "
        f"switches, {mp.links:,} links, ${mp.cost_per_endpoint_usd:,.0f} per endpoint -- the "
        f"cost per endpoint of one FT2 (${f2.cost_per_endpoint_usd:,.0f}), and {save:.0%} "
        f"below an FT3 of the same endpoints (${f3.cost_per_endpoint_usd:,.0f}, "
        f"{f3.switches:,} switches, {f3.links:,} links, 5 switch hops instead of 3).",
        f"A single-plane FT2 of radix {k} stops at {f2.endpoints:,} endpoints; {e:,} would "
        f"need radix {out['ft2_radix_for_same_endpoints']} switches, or a third tier.",
        f"One failed plane leaves each GPU {(p - 1) / p:.1%} of its scale-out bandwidth "
        "(the failed plane's NICs are replaced by NVLink hops to a sibling GPU's NIC); in a "
        "single-plane fabric the plane is the whole network. One failed leaf cuts "
        f"{k // 2} GPUs off an FT2 or FT3 and none off the MPFT ({k // 2} NICs of "
        "different servers lose one plane each).",
    ]
    if ok["tpot_s"] and bad["tpot_s"]:
        lines.append(
            f"EP{ok['ep']} dispatch of the decode micro-batch (codesign model): "
            f"{ok['dispatch_s'] * 1e6:.1f} us healthy, {bad['dispatch_s'] * 1e6:.1f} us with "
            f"one failed plane (+{bad['dispatch_s'] / ok['dispatch_s'] - 1:.0%}); TPOT bound "
            f"{ok['tpot_s'] * 1e3:.2f} -> {bad['tpot_s'] * 1e3:.2f} ms. A healthy single "
            "plane gives the same times (one NIC per GPU either way): planes change cost, "
            "scale and failure isolation, not bandwidth.")
    fc = out["flow_check"]
    if fc:
        lines.append(
            f"Flow model ({fc['topology']}, {fc['flows']} same-index GPU pairs between two "
            f"servers, one plane removed): with one ECMP path per flow the detoured flow "
            f"({fc['detour_hops']} hops instead of {fc['direct_hops']}) shares a NIC link with "
            f"a surviving plane's flow, so the exchange takes {fc['slowdown']:.2f}x as long, "
            f"not the {fc['ideal_slowdown']:.2f}x of a perfect spread the analytical model "
            "assumes: keeping that needs traffic spread over the surviving planes (adaptive "
            "routing or packet spraying).")
    return lines
