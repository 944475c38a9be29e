"""Expert-parallel dispatch and combine as DeepSeek runs them (DeepEP normal kernels).

Per GPU, ``tokens`` tokens each choose ``top_k`` experts spread over the ``ep`` GPUs of the
expert-parallel group (``gpus_per_node`` per scale-up domain, ``nodes = ep / gpus_per_node``).

* Intranode (one domain): each token is sent once to every other GPU holding one of its
  experts (``g * (1 - (1 - 1/g)^k)`` distinct GPUs expected under uniform routing), over
  NVLink.
* Internode, node-limited routing: a token reaches at most ``max_nodes`` nodes (DeepSeek: 4);
  it crosses the scale-out network once per chosen node, to the GPU of the same index there
  (same plane in a multi-plane fat-tree), and NVLink forwards it to the GPUs of that node that
  hold its experts. Scale-out and NVLink transfers overlap; the slower is the bottleneck.
  DeepEP's internode kernels send to every chosen node through the RDMA path, its own node
  included (``local_via_rdma=True``, the default); with ``False`` the own node's share goes
  over NVLink instead. The default is an inference from DeepEP's table: its EP16 row
  (two nodes) is RDMA-bound at the same bandwidth as EP32/EP64, which only holds if the own
  node's tokens also take the RDMA path; with ``False`` the model finds NVLink forwarding
  the bottleneck at EP16 and under-predicts that row by a third.
* Dispatch sends FP8 (hidden bytes plus one FP32 scale per 128 values), combine BF16.
* Routing skew ``skew`` (most-loaded GPU / mean) stretches the receive side.
* A failed plane takes its NICs out of service: the node's remaining NICs carry all its
  traffic (forwarded over NVLink), so scale-out bandwidth per GPU drops by ``alive/planes``.

NVLink bandwidth for expert traffic is the NCCL all-to-all bandwidth at ``g`` ranks
(calibrated), scaled by the system's NVLink; scale-out bandwidth is the NIC line rate times its
achievable fraction. Approximate: expected (not sampled) routing, no queueing inside the
fabric (the flow model adds contention), DeepEP's SM partitioning not modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from codesign.errors import SpecError
from codesign.ir.dtypes import DType
from codesign.ir.ops import Combine, Dispatch
from hwmodels.network.hops import fabric_latency_s

if TYPE_CHECKING:
    from hwmodels.network.system import PoolNetwork

FP8_SCALE_BLOCK = 128


@dataclass(frozen=True, slots=True)
class EpEstimate:
    """One dispatch or combine on the most loaded GPU. Seconds, bytes, bytes/s."""

    phase: str
    time_s: float
    bottleneck: str
    nvlink_bytes: float
    rdma_bytes: float
    nodes_per_token: float
    gpus_per_token: float

    @property
    def bottleneck_bytes_per_s(self) -> float:
        """DeepEP's "bottleneck bandwidth": bytes on the bottleneck link over the time."""
        b = self.rdma_bytes if self.bottleneck == "rdma" else self.nvlink_bytes
        return b / self.time_s if self.time_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bottleneck_bytes_per_s": self.bottleneck_bytes_per_s}


def token_bytes(hidden: int, wire: DType) -> float:
    """Bytes of one token's hidden state on the wire (FP8 carries per-128 FP32 scales)."""
    if wire.bits <= 8:
        return hidden * wire.bits / 8 + -(-hidden // FP8_SCALE_BLOCK) * 4
    return hidden * wire.bits / 8


def _distinct(slots: int, picks: float) -> float:
    """Expected distinct slots hit by ``picks`` uniform picks."""
    if slots <= 0:
        return 0.0
    return slots * (1.0 - (1.0 - 1.0 / slots) ** picks)


def ep_estimate(system: PoolNetwork, phase: str, tokens: int, hidden: int, top_k: int,
                ep: int, wire: DType, max_nodes: int = 0, skew: float = 1.0,
                local_via_rdma: bool = True) -> EpEstimate:
    """Dispatch (``phase="dispatch"``) or combine time on ``system`` (see module docstring)."""
    for field, v in (("tokens", tokens), ("hidden", hidden), ("top_k", top_k), ("ep", ep)):
        if v <= 0:
            raise SpecError(field, f"must be > 0, got {v}")
    if skew < 1.0:
        raise SpecError("skew", f"must be >= 1 (most loaded / mean), got {skew}")
    system.check_world(ep, "ep")
    spec = system.spec
    g = min(ep, spec.gpus_per_node)
    nodes = -(-ep // g)
    tb = token_bytes(hidden, wire)
    lat = _small_a2a_time(system, g)
    if nodes == 1:
        gpus = _distinct(g, top_k)
        nv = tokens * gpus * (g - 1) / g * tb
        bw = _nvlink_a2a_bw(system, g)
        t = lat + skew * nv / bw
        return EpEstimate(phase, t, "nvlink", nv, 0.0, 1.0, gpus)
    so = spec.scale_out
    assert so is not None
    m = min(max_nodes or nodes, nodes, top_k)
    remote = m if local_via_rdma else m * (nodes - 1) / nodes
    per_node = top_k / m
    gpus_in_node = _distinct(g, per_node)
    rdma = tokens * remote * tb
    # NVLink: forwarding from the receiving GPU to the others holding experts, plus the
    # local node's share sent directly; a failed plane's NIC traffic detours over NVLink
    alive = (so.planes - so.failed_planes) / so.planes
    if alive <= 0:
        raise SpecError("failed_planes", f"all {so.planes} planes have failed: no scale-out")
    local = 0.0 if local_via_rdma else tokens * m / nodes * tb
    nv = tokens * m * gpus_in_node * (g - 1) / g * tb + local + rdma * (1 - alive)
    rdma_bw = (so.nic_bytes_per_s * so.nics_per_gpu * so.achievable * alive
               / so.oversubscription)
    nv_bw = _nvlink_a2a_bw(system, g)
    t_rdma, t_nv = rdma / rdma_bw, nv / nv_bw
    bottleneck = "rdma" if t_rdma >= t_nv else "nvlink"
    t = lat + fabric_latency_s(so) + skew * max(t_rdma, t_nv)
    return EpEstimate(phase, t, bottleneck, nv, rdma, m, m * gpus_in_node)


def _small_a2a_time(system: PoolNetwork, g: int) -> float:
    """Latency of a tiny all-to-all at ``g`` ranks on NVLink (the fixed part of an EP step)."""
    return system.intra("all_to_all", 1024, max(g, 2)).time_s


def _nvlink_a2a_bw(system: PoolNetwork, g: int) -> float:
    """Per-GPU all-to-all bus bandwidth on NVLink at ``g`` ranks (calibrated, scaled)."""
    e = system.intra("all_to_all", 1 << 30, max(g, 2))
    return e.bus_bytes / (e.time_s - _small_a2a_time(system, g))


def ep_traffic(system: PoolNetwork, op: Dispatch | Combine) -> EpEstimate:
    """The estimate for an IR dispatch or combine op."""
    if isinstance(op, Dispatch):
        return ep_estimate(system, "dispatch", op.tokens, op.hidden, op.top_k, op.ep, op.wire,
                           op.max_nodes)
    return ep_estimate(system, "combine", op.tokens, op.hidden, op.top_k, op.ep, op.dtype,
                       op.max_nodes)
