"""``PoolNetwork``: one pool of a system, its GPUs in scale-up domains joined by a scale-out
network; the fabric the core wraps around a pool's device model (``codesign.hw.FABRICS``).

A pool is ``nodes`` scale-up domains (an 8-GPU NVSwitch board, or a 72-GPU NVL72 rack) of
``gpus_per_node`` GPUs; each GPU has ``planes`` NICs' worth of scale-out bandwidth (one NIC
per plane in DeepSeek's multi-plane fat-tree). ``SystemModel`` implements the hardware
contract: compute ops go to the GPU model, communication ops to the collective and
expert-parallel models, placing a group of ``g`` ranks inside one domain when ``g`` fits and
across domains (hierarchically) when it does not.

Link classes: ``nvlink`` collectives are calibrated on NCCL measurements of H200s on NVLink 4
(``calibrated/nvlink-h200.json``) and scaled by each system's NVLink bandwidth. The scale-out
class has no measurement here (no multi-node machine is lent): its parameters are the NIC
line rate times an achievable fraction, with latencies from public NCCL-over-InfiniBand
figures, and are labelled as estimates.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from codesign.errors import SpecError
from codesign.hw.cost import OpCost
from codesign.hw.system import PoolSpec, ScaleOutSpec, ScaleUpSpec
from codesign.ir.dtypes import DType
from codesign.ir.ops import AllGather, AllReduce, Combine, Dispatch, Op, ReduceScatter
from hwmodels.network.collectives import (
    CollectiveEstimate,
    CollectiveParams,
    LinkClassParams,
    ProtocolParams,
    collective_time,
)
from hwmodels.network.hops import fabric_latency_s

if TYPE_CHECKING:
    from hwmodels.network.ep import EpEstimate

#: NVLink bandwidth (both directions, per GPU) of the calibration machine: H200, NVLink 4
CALIBRATION_NVLINK_BYTES_PER_S = 900e9


class PoolNetworkSpec(BaseModel):
    """One pool's devices and networks, flattened for the collective models. Bandwidths per
    GPU, bytes/s; ``nvlink_bytes_per_s`` both directions (built from a core ``PoolSpec`` by
    :meth:`PoolNetwork.from_pool`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    device: str
    nodes: int = Field(gt=0)
    gpus_per_node: int = Field(gt=0)
    nvlink_bytes_per_s: float = Field(ge=0)
    scale_out: ScaleOutSpec | None = None
    source: str

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node


@lru_cache(maxsize=4)
def nvlink_params() -> LinkClassParams:
    """The NCCL-calibrated NVLink collective parameters (shipped JSON)."""
    text = resources.files("hwmodels.network").joinpath("calibrated/nvlink-h200.json").read_text()
    doc = json.loads(text)
    return LinkClassParams(collectives=doc["collectives"], sms=doc["sms"], source=doc["source"])


def scale_out_params(so: ScaleOutSpec) -> LinkClassParams:
    """Collective parameters of the scale-out network: line rate x achievable (divided by
    the oversubscription of leaf uplinks), per-step latency = the topology's fabric latency
    plus a NIC/proxy overhead (estimates; see module docstring)."""
    bw = so.nic_bytes_per_s * so.nics_per_gpu * so.achievable / so.oversubscription
    lat = fabric_latency_s(so)
    protos = {"LL": ProtocolParams(step_latency_s=lat + 2e-6, efficiency=0.5),
              "LL128": ProtocolParams(step_latency_s=lat + 3e-6, efficiency=0.9),
              "Simple": ProtocolParams(step_latency_s=lat + 5e-6, efficiency=1.0)}
    one = CollectiveParams(base_latency_s=10e-6, bus_bytes_per_s=bw, peer_half=0.0,
                           protocols=protos)
    return LinkClassParams(
        collectives={k: one for k in ("all_reduce", "all_gather", "reduce_scatter",
                                       "all_to_all", "send_recv")},
        sms=16,
        source=("estimate: NIC line rate x achievable fraction; step latency = fabric latency "
                "+ 2-5 us NIC/proxy overhead; base 10 us (no multi-node machine to measure)"),
    )


class CollectivePlan(BaseModel):
    """How a collective over ``world`` ranks runs on a system, and its time."""

    model_config = ConfigDict(frozen=True)

    kind: str
    nbytes: float
    world: int
    nodes: int
    per_node: int
    time_s: float
    levels: list[dict[str, Any]]

    @property
    def bus_bytes_per_s(self) -> float:
        from hwmodels.network.collectives import steps_and_bus

        return steps_and_bus(self.kind, self.nbytes, self.world)[1] / max(self.time_s, 1e-30)


class PoolNetwork:
    """A pool of identical GPUs: compute by the GPU model, communication by the network."""

    family = "gpu"

    def __init__(self, spec: PoolNetworkSpec, device: Any | None = None) -> None:
        from codesign.hw import get_device

        self.spec = spec
        self.name = spec.name
        self.gpu = device or get_device(spec.device)
        self.device = self.gpu
        #: the core pool this network was built from (``from_pool``), else its equivalent
        self.pool_spec = PoolSpec(
            device=spec.device, nodes=spec.nodes, devices_per_node=spec.gpus_per_node,
            scale_up=(ScaleUpSpec(bytes_per_s=spec.nvlink_bytes_per_s)
                      if spec.nvlink_bytes_per_s > 0 else None),
            scale_out=spec.scale_out)
        self._nvlink = nvlink_params()
        self._nvlink_scale = spec.nvlink_bytes_per_s / CALIBRATION_NVLINK_BYTES_PER_S
        self._ib = scale_out_params(spec.scale_out) if spec.scale_out else None

    @classmethod
    def from_pool(cls, name: str, pool: PoolSpec, device: Any) -> PoolNetwork:
        """The fabric of a core pool around its device model (registered as the default
        fabric in ``codesign.hw.FABRICS``)."""
        su = pool.scale_up
        spec = PoolNetworkSpec(
            name=name, description=pool.role or f"pool {name}", device=device.name,
            nodes=pool.nodes, gpus_per_node=pool.devices_per_node,
            nvlink_bytes_per_s=su.bytes_per_s if su is not None else 0.0,
            scale_out=pool.scale_out, source=(su.source if su is not None else ""))
        net = cls(spec, device)
        net.pool_spec = pool
        return net

    def network_capex_and_power(self, devices: int) -> tuple[float, float]:
        """Capital cost (USD) and power (W) of the scale-out network that ``devices`` of the
        pool use: nothing while they fit in one node (NVSwitch is priced in the devices),
        else their NICs plus their share of the topology's switches, optics and cables (per
        endpoint, from the topology's closed-form counts and unit prices, ``ndr_400g_prices``).
        """
        so = self.spec.scale_out
        if so is None or devices <= self.spec.gpus_per_node:
            return 0.0, 0.0
        from hwmodels.network.topology import build_topology

        planes = so.planes if so.topology == "mpft" else None
        topo = build_topology(so.topology, so.radix, planes)
        nics = devices * so.nics_per_gpu
        capex = devices * topo.cost_per_endpoint_usd + nics * topo.cost.nic_price_usd
        power = devices * topo.power_w / topo.endpoints + nics * topo.cost.nic_power_w
        return capex, power

    # ------------------------------------------------------------------ contract
    @property
    def memory_bytes(self) -> float:
        return self.gpu.memory_bytes

    @property
    def idle_power_w(self) -> float:
        return self.gpu.idle_power_w

    @property
    def usd_per_hour(self) -> float:
        return self.gpu.usd_per_hour

    @property
    def price_usd(self) -> float:
        return self.gpu.price_usd

    @property
    def launch_overhead_s(self) -> float:
        return self.gpu.launch_overhead_s

    def supports_dtype(self, dtype: DType) -> bool:
        return self.gpu.supports_dtype(dtype)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "system", **self.spec.model_dump(mode="json"),
                "gpu": self.gpu.describe(), "nvlink_collectives": self._nvlink.source,
                "scale_out_collectives": self._ib.source if self._ib else None}

    def op_cost(self, op: Op) -> OpCost:
        if isinstance(op, AllReduce | AllGather | ReduceScatter):
            kind = op.kind
            tensor = op.outputs()[0] if isinstance(op, AllGather) else op.inputs()[0]
            plan = self.collective(kind, tensor.nbytes, op.group_size)
            return self._comm_cost(op, plan.time_s, plan.levels)
        if isinstance(op, Dispatch | Combine) and op.ep > 1:
            from hwmodels.network.ep import ep_traffic

            est = ep_traffic(self, op)
            return self._comm_cost(op, est.time_s, [est.as_dict()])
        return self.gpu.op_cost(op)

    def _comm_cost(self, op: Op, t: float, levels: list[dict[str, Any]]) -> OpCost:
        energy = self.idle_power_w * t
        return OpCost(t, energy, "network", float(op.flops), 0.0, 1,
                      {"levels": json.dumps(levels)})

    # ------------------------------------------------------------------ collectives
    def collective_sms(self) -> int:
        """SMs a collective occupies while it runs (NCCL channels, one CTA each; estimate)."""
        return self._nvlink.sms

    def ep_estimate(self, phase: str, tokens: int, hidden: int, top_k: int, ep: int,
                    wire: DType, max_nodes: int = 0, skew: float = 1.0) -> EpEstimate:
        """Expert-parallel dispatch or combine on this pool
        (:func:`hwmodels.network.ep.ep_estimate`)."""
        from hwmodels.network.ep import ep_estimate

        return ep_estimate(self, phase, tokens, hidden, top_k, ep, wire, max_nodes, skew)

    def check_world(self, world: int, field: str = "--world") -> None:
        if world < 1:
            raise SpecError(field, f"must be >= 1, got {world}")
        if world > self.spec.gpus:
            raise SpecError(field, f"{world} exceeds the {self.spec.gpus} GPUs of {self.name}")

    def intra(self, kind: str, nbytes: float, n: int) -> CollectiveEstimate:
        return collective_time(self._nvlink, kind, nbytes, n, self._nvlink_scale)

    def inter(self, kind: str, nbytes: float, n: int) -> CollectiveEstimate:
        if self._ib is None:
            raise SpecError("--world", f"{self.name} has no scale-out network")
        so = self.spec.scale_out
        assert so is not None
        alive = (so.planes - so.failed_planes) / so.planes
        if alive <= 0:
            raise SpecError("failed_planes", "every plane has failed")
        return collective_time(self._ib, kind, nbytes, n, alive)

    def collective(self, kind: str, nbytes: float, world: int) -> CollectivePlan:
        """Time of ``kind`` over ``world`` GPUs placed on as few domains as possible:
        one ring inside a domain, or hierarchically across domains (reduce-scatter inside,
        the cross-domain collective on each rank's shard, all-gather inside)."""
        self.check_world(world)
        g = min(world, self.spec.gpus_per_node)
        nodes = -(-world // g)
        if nodes == 1:
            e = self.intra(kind, nbytes, world)
            return CollectivePlan(kind=kind, nbytes=nbytes, world=world, nodes=1, per_node=g,
                                  time_s=e.time_s, levels=[_level("nvlink", e, world)])
        levels = []
        if kind == "all_reduce":
            parts = [("nvlink", "reduce_scatter", nbytes, g), ("net", "all_reduce", nbytes / g,
                                                                  nodes),
                     ("nvlink", "all_gather", nbytes, g)]
        elif kind == "all_gather":
            parts = [("net", "all_gather", nbytes / g, nodes), ("nvlink", "all_gather", nbytes, g)]
        elif kind == "reduce_scatter":
            parts = [("nvlink", "reduce_scatter", nbytes, g), ("net", "reduce_scatter",
                                                               nbytes / g, nodes)]
        elif kind == "all_to_all":
            # each rank's buffer: (g-1)/world of it over NVLink, (world-g)/world over the
            # network, concurrently
            a = self.intra("all_to_all", nbytes * g / world, g)
            b = self.inter("all_to_all", nbytes * (world - g) / world * nodes / (nodes - 1),
                           nodes)
            t = max(a.time_s, b.time_s)
            return CollectivePlan(kind=kind, nbytes=nbytes, world=world, nodes=nodes,
                                  per_node=g, time_s=t, levels=[_level("nvlink", a, g),
                                                                _level("net", b, nodes)])
        else:  # send_recv across domains
            e = self.inter("send_recv", nbytes, 2)
            return CollectivePlan(kind=kind, nbytes=nbytes, world=world, nodes=nodes,
                                  per_node=g, time_s=e.time_s, levels=[_level("net", e, 2)])
        t = 0.0
        for link, k, size, n in parts:
            e = self.intra(k, size, n) if link == "nvlink" else self.inter(k, size, n)
            t += e.time_s
            levels.append(_level(link, e, n))
        return CollectivePlan(kind=kind, nbytes=nbytes, world=world, nodes=nodes, per_node=g,
                              time_s=t, levels=levels)


def _level(link: str, e: CollectiveEstimate, n: int) -> dict[str, Any]:
    return {"link": link, "ranks": n, "time_s": e.time_s, "protocol": e.protocol,
            "steps": e.steps, "bus_bytes": e.bus_bytes}
