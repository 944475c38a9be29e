"""``SystemSpec`` and ``SystemModel``: GPUs in scale-up domains joined by a scale-out network.

A system is ``nodes`` scale-up domains (an 8-GPU NVSwitch board, or a 72-GPU NVL72 rack) of
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
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codesign.errors import SpecError
from codesign.hw.cost import OpCost
from codesign.ir.dtypes import DType
from codesign.ir.ops import AllGather, AllReduce, Combine, Dispatch, Op, ReduceScatter
from hwmodels.network.collectives import (
    CollectiveEstimate,
    CollectiveParams,
    LinkClassParams,
    ProtocolParams,
    collective_time,
)

#: NVLink bandwidth (both directions, per GPU) of the calibration machine: H200, NVLink 4
CALIBRATION_NVLINK_BYTES_PER_S = 900e9


class ScaleOutSpec(BaseModel):
    """The scale-out network as each GPU sees it.

    Attributes:
        topology: topology kind (``ft2``, ``mpft``, ...), for counts and cost.
        radix: switch radix.
        planes: independent planes; each GPU has one NIC (``nic_bytes_per_s``) per plane
            when ``nics_per_gpu`` equals planes, else NICs are shared through the scale-up
            domain (multi-plane: one NIC per GPU, plane = GPU index in its node).
        nic_bytes_per_s: one NIC's line rate, bytes/s per direction.
        nics_per_gpu: NICs per GPU.
        achievable: fraction of line rate a transfer reaches (headers, encoding, RDMA).
        latency_s: one-way latency through the fabric (NIC to NIC).
        failed_planes: planes out of service (bandwidth drops; traffic reroutes via NVLink).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topology: str
    radix: int = Field(gt=0)
    planes: int = Field(gt=0)
    nic_bytes_per_s: float = Field(gt=0)
    nics_per_gpu: int = Field(gt=0)
    achievable: float = Field(gt=0, le=1)
    latency_s: float = Field(ge=0)
    failed_planes: int = Field(0, ge=0)
    source: str


class SystemSpec(BaseModel):
    """A named system. Bandwidths per GPU, bytes/s; ``nvlink_bytes_per_s`` both directions."""

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
    """Collective parameters of the scale-out network: line rate x achievable, per-step
    latency = fabric latency plus a NIC/proxy overhead (estimates; see module docstring)."""
    bw = so.nic_bytes_per_s * so.nics_per_gpu * so.achievable
    protos = {"LL": ProtocolParams(step_latency_s=so.latency_s + 2e-6, efficiency=0.5),
              "LL128": ProtocolParams(step_latency_s=so.latency_s + 3e-6, efficiency=0.9),
              "Simple": ProtocolParams(step_latency_s=so.latency_s + 5e-6, efficiency=1.0)}
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


class SystemModel:
    """A system of identical GPUs: compute by the GPU model, communication by the network."""

    def __init__(self, spec: SystemSpec, device: Any | None = None) -> None:
        from codesign.hw import get_device

        self.spec = spec
        self.name = spec.name
        self.gpu = device or get_device(spec.device)
        self._nvlink = nvlink_params()
        self._nvlink_scale = spec.nvlink_bytes_per_s / CALIBRATION_NVLINK_BYTES_PER_S
        self._ib = scale_out_params(spec.scale_out) if spec.scale_out else None

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
