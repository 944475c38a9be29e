"""Network co-design in DeepSeek's style: pure functions behind the ``network-codesign`` study.

* :func:`cost_sweep`: fabric cost, power and counts per endpoint against endpoints for FT2,
  MPFT, FT3, slim fly and dragonfly over switch radices (closed-form counts; no graph is
  built, so a slim fly whose ``q`` is not a prime power still counts).
* :func:`tpot_bound`: the decode time-per-output-token bound of DeepSeek ISCA 2025
  ("Insights into DeepSeek-V3", arXiv 2505.09343, section 2.3.2): per layer one dispatch
  (FP8, 1 byte a value) and one combine (BF16, 2 bytes) of ``tokens x experts x hidden``
  values over a GPU's bandwidth; with dual micro-batch overlap and computation hidden a layer
  takes twice that; TPOT is ``layers`` layers. The paper writes the hidden size as "7K" and
  computes with 7,000 (:data:`PAPER_HIDDEN`): that gives its 120.96 us and 14.76 ms exactly.
* :func:`ep_tpot`: the same bound from the codesign expert-parallel model
  (:func:`~hwmodels.network.ep.ep_estimate`): FP8 scales, achievable fraction of line rate,
  NVLink forwarding and fixed collective latency included.
* :func:`multi_plane_effects`: what an 8-plane fat tree changes against single-plane FT2/FT3.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from codesign.errors import SpecError
from hwmodels.network.topology import build_topology
from hwmodels.network.topology.common import check_radix, make_counts
from hwmodels.network.topology.presets import hgx_scale_up
from hwmodels.network.topology.topology import Topology

TOPOLOGY_KINDS = ("ft2", "mpft", "ft3", "slimfly", "dragonfly")
#: the hidden size in the paper's arithmetic ("7K"); DeepSeek-V3's is 7,168
PAPER_HIDDEN = 7000
_PAPER = "DeepSeek ISCA 2025 'Insights into DeepSeek-V3' (arXiv 2505.09343), section 2.3.2"
#: the paper's bound: per-GPU bandwidth (bytes/s, one direction) -> its printed figures
PAPER_TPOT: dict[str, dict[str, float]] = {
    "400G InfiniBand": {"bytes_per_s": 50e9, "comm_per_layer_s": 120.96e-6,
                        "tpot_s": 14.76e-3, "tokens_per_s": 67.0},
    "GB200 NVL72": {"bytes_per_s": 900e9, "comm_per_layer_s": 6.72e-6, "tpot_s": 0.82e-3,
                    "tokens_per_s": 1200.0},
}


# ------------------------------------------------------------------------------ cost
def cost_sweep(radices: tuple[int, ...] = (16, 32, 48, 64, 128), planes: int = 8,
               kinds: tuple[str, ...] = TOPOLOGY_KINDS) -> Any:
    """Counts, cost and power of each topology at each radix (one row each), full size.

    Columns: ``topology, name, radix, planes, endpoints, switches, links, endpoint_links,
    cost_usd, cost_per_endpoint_usd, power_w, power_per_endpoint_w`` (fabric only: switches,
    switch-link optics and fibres, endpoint cables; NICs apart; default prices
    :func:`~hwmodels.network.topology.ndr_400g_prices`). A combination a builder rejects is
    left out and listed in ``df.attrs["skipped"]`` as ``{topology, radix, field, reason}``.
    """
    import pandas as pd

    rows, skipped = [], []
    for kind in kinds:
        for radix in radices:
            try:
                t = build_topology(kind, radix, planes=planes if kind == "mpft" else None)
            except SpecError as e:
                skipped.append({"topology": kind, "radix": radix, "field": e.field,
                                "reason": e.message})
                continue
            rows.append({
                "topology": kind, "name": t.name, "radix": radix,
                "planes": int(t.params.get("planes", 1)), "endpoints": t.endpoints,
                "switches": t.switches, "links": t.links, "endpoint_links": t.endpoint_links,
                "cost_usd": t.cost_usd, "cost_per_endpoint_usd": t.cost_per_endpoint_usd,
                "power_w": t.power_w, "power_per_endpoint_w": t.power_w / t.endpoints,
            })
    df = pd.DataFrame(rows)
    df.attrs["skipped"] = skipped
    return df


# ------------------------------------------------------------------------------ TPOT
@dataclass(frozen=True, slots=True)
class TpotBound:
    """The communication-bound decode step. Seconds, bytes/s.

    Attributes:
        bytes_per_s: per-GPU bandwidth, one direction.
        comm_per_layer_s: one dispatch plus one combine of one micro-batch.
        layer_s: ``2 x comm_per_layer_s`` (two micro-batches overlapped, compute hidden).
        tpot_s: ``layers x layer_s``; tokens_per_s: ``1 / tpot_s`` (one sequence).
    """

    bytes_per_s: float
    tokens_per_device: int
    layers: int
    hidden: int
    experts_per_token: int
    comm_per_layer_s: float
    layer_s: float
    tpot_s: float
    tokens_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def per_gpu_bytes_per_s(system: Any, ep: int | None = None) -> float:
    """A GPU's bandwidth to the other EP ranks, one direction, line rate: NVLink (half the
    both-direction figure) when ``ep`` fits one scale-up domain, else its NICs over the
    planes still alive. ``ep`` defaults to every GPU of the system."""
    spec = system.spec
    ep = spec.gpus if ep is None else ep
    if ep <= spec.gpus_per_node:
        return spec.nvlink_bytes_per_s / 2
    so = spec.scale_out
    if so is None:
        raise SpecError("ep", f"{ep} GPUs exceed one domain of {spec.name}, which has no "
                        "scale-out network")
    return so.nic_bytes_per_s * so.nics_per_gpu * (so.planes - so.failed_planes) / so.planes


def tpot_bound(system_or_bandwidth: Any, tokens_per_device: int = 32, layers: int = 61,
               hidden: int = 7168, experts_per_token: int = 9, *,
               dispatch_bytes_per_value: float = 1.0, combine_bytes_per_value: float = 2.0,
               ep: int | None = None) -> TpotBound:
    """DeepSeek's TPOT bound (see the module docstring) over a per-GPU bandwidth in bytes/s,
    or a system model's (:func:`per_gpu_bytes_per_s` with ``ep``).

    ``tpot_bound(50e9, hidden=PAPER_HIDDEN)`` gives the paper's 120.96 us and 14.76 ms;
    ``tpot_bound(900e9, hidden=PAPER_HIDDEN)`` 6.72 us and 0.82 ms.
    """
    for field, v in (("tokens_per_device", tokens_per_device), ("layers", layers),
                     ("hidden", hidden), ("experts_per_token", experts_per_token)):
        if not v > 0:
            raise SpecError(field, f"must be > 0, got {v}")
    if isinstance(system_or_bandwidth, int | float):
        bw = float(system_or_bandwidth)
    else:
        bw = per_gpu_bytes_per_s(system_or_bandwidth, ep)
    if not bw > 0:
        raise SpecError("bandwidth", f"must be > 0 bytes/s, got {bw}")
    values = tokens_per_device * experts_per_token * hidden
    comm = (dispatch_bytes_per_value + combine_bytes_per_value) * values / bw
    tpot = layers * 2 * comm
    return TpotBound(bw, tokens_per_device, layers, hidden, experts_per_token, comm,
                     2 * comm, tpot, 1 / tpot)


def system_variant(system: Any, *, planes: int | None = None, failed_planes: int = 0) -> Any:
    """``system`` with its scale-out network redrawn: ``planes`` planes (1: a plain FT2),
    ``failed_planes`` of them out of service. Same NICs per GPU."""
    from hwmodels.network.system import SystemModel

    so = system.spec.scale_out
    if so is None:
        raise SpecError("system", f"{system.name} has no scale-out network")
    p = so.planes if planes is None else planes
    upd: dict[str, Any] = {"planes": p, "failed_planes": failed_planes}
    if planes is not None:
        upd["topology"] = "mpft" if p > 1 else "ft2"
    name = f"{system.name}-p{p}" + (f"-fail{failed_planes}" if failed_planes else "")
    spec = system.spec.model_copy(update={
        "name": name, "scale_out": so.model_copy(update=upd)})
    return SystemModel(spec, system.gpu)


@dataclass(frozen=True, slots=True)
class EpTpot:
    """TPOT from the codesign EP model. Seconds; ``None`` times: no scale-out left.

    Attributes:
        dispatch_s, combine_s: one micro-batch's dispatch and combine.
        fixed_s: the part of ``dispatch_s + combine_s`` that does not grow with tokens
            (collective launch and step latencies, fabric latency).
        bottleneck: dispatch's bottleneck (``rdma`` or ``nvlink``).
        planes, failed_planes: of the scale-out network (None when ``ep`` fits one domain).
    """

    system: str
    ep: int
    planes: int | None
    failed_planes: int | None
    dispatch_s: float | None
    combine_s: float | None
    fixed_s: float | None
    comm_per_layer_s: float | None
    tpot_s: float | None
    tokens_per_s: float
    bottleneck: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ep_tpot(system: Any, ep: int, tokens_per_device: int = 32, layers: int = 61,
            hidden: int = 7168, experts_per_token: int = 9, max_nodes: int = 0) -> EpTpot:
    """The TPOT bound with :func:`~hwmodels.network.ep.ep_estimate` dispatch (FP8) and combine
    (BF16) times: ``layers x 2 x (dispatch + combine)``. ``max_nodes`` 0: a token may reach
    ``experts_per_token`` nodes (the paper's bound sends every copy over the network)."""
    from codesign.ir.dtypes import DType
    from hwmodels.network.ep import ep_estimate

    spec = system.spec
    so = spec.scale_out
    inside = ep <= spec.gpus_per_node
    planes, failed = (so.planes, so.failed_planes) if so and not inside else (None, None)
    if so is not None and not inside and so.failed_planes >= so.planes:
        return EpTpot(spec.name, ep, planes, failed, None, None, None, None, None, 0.0,
                      "no scale-out left")

    def comm(tokens: int) -> tuple[float, float, str]:
        d = ep_estimate(system, "dispatch", tokens, hidden, experts_per_token, ep,
                        DType.FP8_E4M3, max_nodes)
        c = ep_estimate(system, "combine", tokens, hidden, experts_per_token, ep, DType.BF16,
                        max_nodes)
        return d.time_s, c.time_s, d.bottleneck

    d, c, bottleneck = comm(tokens_per_device)
    d2, c2, _ = comm(2 * tokens_per_device)
    per_layer = d + c
    fixed = 2 * per_layer - (d2 + c2)  # the model is affine in tokens
    tpot = layers * 2 * per_layer
    return EpTpot(spec.name, ep, planes, failed, d, c, fixed, per_layer, tpot, 1 / tpot,
                  bottleneck)


def paper_tpot_check(tokens_per_device: int = 32, layers: int = 61,
                     experts_per_token: int = 9) -> list[dict[str, Any]]:
    """The paper's two bounds recomputed with its "7K" hidden size, next to its figures."""
    rows = []
    for name, ref in PAPER_TPOT.items():
        b = tpot_bound(ref["bytes_per_s"], tokens_per_device, layers, PAPER_HIDDEN,
                       experts_per_token)
        rows.append({
            "interconnect": name, "bytes_per_s": b.bytes_per_s,
            "comm_per_layer_us": b.comm_per_layer_s * 1e6,
            "paper_comm_per_layer_us": ref["comm_per_layer_s"] * 1e6,
            "tpot_ms": b.tpot_s * 1e3, "paper_tpot_ms": ref["tpot_s"] * 1e3,
            "tokens_per_s": b.tokens_per_s, "paper_tokens_per_s": ref["tokens_per_s"],
            "tpot_rel_error": b.tpot_s / ref["tpot_s"] - 1, "source": _PAPER,
        })
    return rows


def tpot_table(scale_out_system: str = "deepseek-h800-mpft", scale_out_ep: int = 320,
               scale_up_system: str = "gb200-nvl72", scale_up_ep: int = 72, planes: int = 8,
               tokens_per_device: int = 32, layers: int = 61, hidden: int = 7168,
               experts_per_token: int = 9, max_nodes: int = 0) -> list[dict[str, Any]]:
    """Per interconnect variant: the paper's formula on the system's line rate (``hidden``)
    and the codesign EP model. Variants: the scale-out system with ``planes`` planes, one
    plane, ``planes`` with one failed, one plane failed; the scale-up domain."""
    from codesign.hw import SYSTEMS

    base = SYSTEMS.get(scale_out_system)
    variants = [
        (f"400G IB, {planes}-plane", system_variant(base, planes=planes), scale_out_ep),
        ("400G IB, 1 plane (FT2)", system_variant(base, planes=1), scale_out_ep),
        (f"400G IB, {planes}-plane, 1 failed", system_variant(base, planes=planes,
                                                               failed_planes=1), scale_out_ep),
        ("400G IB, 1 plane, failed", system_variant(base, planes=1, failed_planes=1),
         scale_out_ep),
        ("GB200 NVL72 domain", SYSTEMS.get(scale_up_system), scale_up_ep),
    ]
    rows = []
    for label, system, ep in variants:
        bw = per_gpu_bytes_per_s(system, ep)
        f = tpot_bound(bw, tokens_per_device, layers, hidden, experts_per_token) if bw else None
        m = ep_tpot(system, ep, tokens_per_device, layers, hidden, experts_per_token,
                    max_nodes)
        rows.append({
            "interconnect": label, "system": system.name, "ep": ep,
            "planes": m.planes, "failed_planes": m.failed_planes, "bytes_per_s": bw,
            "formula_comm_per_layer_us": f.comm_per_layer_s * 1e6 if f else None,
            "formula_tpot_ms": f.tpot_s * 1e3 if f else None,
            "formula_tokens_per_s": f.tokens_per_s if f else 0.0,
            "model_dispatch_us": _us(m.dispatch_s), "model_combine_us": _us(m.combine_s),
            "model_fixed_us": _us(m.fixed_s),
            "model_tpot_ms": None if m.tpot_s is None else m.tpot_s * 1e3,
            "model_bandwidth_tpot_ms": None if m.comm_per_layer_s is None or m.fixed_s is None
            else layers * 2 * (m.comm_per_layer_s - m.fixed_s) * 1e3,
            "model_tokens_per_s": m.tokens_per_s, "model_bottleneck": m.bottleneck,
        })
    return rows


def tpot_explanation(paper: list[dict[str, Any]], table: list[dict[str, Any]],
                     hidden: int = 7168) -> list[str]:
    """Sentences on why the paper's formula and the codesign model differ, from the rows of
    :func:`paper_tpot_check` and :func:`tpot_table` (first row: the multi-plane scale-out
    system, last row: the scale-up domain)."""
    ib, nvl = paper[0], paper[-1]
    so, su = table[0], table[-1]
    lines = [
        f"The paper's formula reproduces {ib['comm_per_layer_us']:.2f} us and "
        f"{ib['tpot_ms']:.2f} ms over 400G InfiniBand and {nvl['comm_per_layer_us']:.2f} us "
        f"and {nvl['tpot_ms']:.2f} ms in a GB200 NVL72 with hidden = {PAPER_HIDDEN:,} (the "
        f"paper's '7K'); its {ib['paper_tokens_per_s']:.0f} and "
        f"~{nvl['paper_tokens_per_s']:,.0f} tokens/s are 1/TPOT rounded down "
        f"({ib['tokens_per_s']:.1f}, {nvl['tokens_per_s']:,.0f}). With DeepSeek-V3's "
        f"hidden size {hidden:,} the same formula gives {so['formula_tpot_ms']:.2f} ms and "
        f"{su['formula_tpot_ms']:.2f} ms (+{hidden / PAPER_HIDDEN - 1:.1%}).",
    ]
    if so["model_tpot_ms"]:
        lines.append(
            f"Over 400G IB (EP{so['ep']}, {so['interconnect']}) the codesign EP model gives "
            f"{so['model_tpot_ms']:.2f} ms ({so['model_tokens_per_s']:.0f} tokens/s), "
            f"{so['model_tpot_ms'] / so['formula_tpot_ms']:.2f}x the formula: dispatch "
            "carries one FP32 scale per 128 FP8 values (+3% of its bytes), copies bound for "
            "the token's own server stay on NVLink, transfers reach 92% of the line rate, "
            "and each dispatch+combine pays a fixed "
            f"{so['model_fixed_us']:.0f} us (NVLink all-to-all launch and steps at 8 ranks, "
            f"fabric latency); its bandwidth part alone is {so['model_bandwidth_tpot_ms']:.2f}"
            " ms.")
    lines.append(
        f"Inside the NVL72 (EP{su['ep']}) the model gives {su['model_tpot_ms']:.2f} ms "
        f"({su['model_tokens_per_s']:.0f} tokens/s), "
        f"{su['model_tpot_ms'] / su['formula_tpot_ms']:.0f}x the formula. Its bandwidth part "
        f"is {su['model_bandwidth_tpot_ms']:.2f} ms (NVLink all-to-all calibrated on H200 "
        "NCCL and scaled, below the 900 GB/s line rate); the rest is the fixed "
        f"{su['model_fixed_us']:.0f} us per dispatch+combine of an NCCL-style all-to-all "
        f"at {su['ep']} ranks ({su['ep'] - 1} sequential steps, extrapolated from NCCL "
        "measured on 2-4 GPUs). The paper's bound counts bandwidth only; reaching it needs "
        "kernels whose latency does not grow with the rank count (DeepEP's low-latency mode), "
        "which the calibrated model does not describe.")
    return lines


def _us(t: float | None) -> float | None:
    return None if t is None else t * 1e6


# ------------------------------------------------------------------------------ planes
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
    from codesign.hw import SYSTEMS

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
    base = SYSTEMS.get(system)
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


__all__ = ["PAPER_HIDDEN", "PAPER_TPOT", "TOPOLOGY_KINDS", "EpTpot", "TpotBound",
           "cost_sweep", "ep_tpot", "failed_plane_flow_check", "multi_plane_effects",
           "paper_tpot_check", "per_gpu_bytes_per_s", "pruned_ft3", "system_variant",
           "tpot_bound", "tpot_explanation", "tpot_table"]
