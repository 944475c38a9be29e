"""The decode TPOT bound behind the ``network-codesign`` study (re-exported by
:mod:`hwmodels.network.study`).

* :func:`tpot_bound`: the decode time-per-output-token bound of DeepSeek ISCA 2025
  ("Insights into DeepSeek-V3", arXiv 2505.09343, section 2.3.2): per layer one dispatch
  (FP8, 1 byte a value) and one combine (BF16, 2 bytes) of ``tokens x experts x hidden``
  values over a GPU's bandwidth; with dual micro-batch overlap and computation hidden a layer
  takes twice that; TPOT is ``layers`` layers. The paper writes the hidden size as "7K" and
  computes with 7,000 (:data:`PAPER_HIDDEN`): that gives its 120.96 us and 14.76 ms exactly.
* :func:`ep_tpot`: the same bound from the codesign expert-parallel model
  (:func:`~hwmodels.network.ep.ep_estimate`): FP8 scales, achievable fraction of line rate,
  NVLink forwarding and fixed collective latency included.
* :func:`paper_tpot_check`, :func:`tpot_table` and :func:`tpot_explanation`: the paper's
  figures recomputed, the formula against the EP model per interconnect, and why they differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codesign.errors import SpecError

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
    from hwmodels.network.system import PoolNetwork

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
    return PoolNetwork(spec, system.gpu)


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
    from hwmodels.network.presets import pool_network

    base = pool_network(scale_out_system)
    variants = [
        (f"400G IB, {planes}-plane", system_variant(base, planes=planes), scale_out_ep),
        ("400G IB, 1 plane (FT2)", system_variant(base, planes=1), scale_out_ep),
        (f"400G IB, {planes}-plane, 1 failed", system_variant(base, planes=planes,
                                                               failed_planes=1), scale_out_ep),
        ("400G IB, 1 plane, failed", system_variant(base, planes=1, failed_planes=1),
         scale_out_ep),
        ("GB200 NVL72 domain", pool_network(scale_up_system), scale_up_ep),
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
