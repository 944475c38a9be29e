"""The system contract: named pools of devices, the links inside and between them, a host.

A :class:`SystemSpec` is data (a frozen pydantic model, SI units, the unit in the field name)
that round-trips through YAML/JSON (``codesign system show NAME --yaml`` writes one that
``--system FILE`` reads back unchanged). It says nothing about how a device or a collective is
costed: devices come from the hardware families (``codesign.hw.families``), collectives on a
pool's scale-up and scale-out networks from the registered fabric model
(``codesign.hw.FABRICS``).

* A **pool** is ``nodes`` x ``devices_per_node`` devices of one kind (any family: GPU, FPGA,
  CPU, PIM). Devices of a node share a scale-up domain (NVLink + NVSwitch); nodes meet on the
  pool's scale-out network (a topology by name: ``ft2``, ``ft3``, ``mpft``, ...).
* A **link** joins two pools (for example the 400 Gb/s per GPU between a prefill and a
  decode pool); bandwidth is per device of the smaller side, one direction.
* The **host** is an optional pool (a CPU family device per node) on a host link (PCIe, CXL,
  NVLink-C2C) to every device.

Bandwidth conventions: ``scale_up.bytes_per_s`` is the datasheet figure (NVLink: both
directions per device, H100 "900 GB/s"); every other ``bytes_per_s`` is one direction.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from codesign.errors import SpecError

#: link kinds a host link or an inter-pool link may name (for reports; costs use the numbers)
LINK_KINDS: tuple[str, ...] = ("nvlink", "pcie", "cxl", "c2c", "infiniband", "ethernet")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkSpec(_Frozen):
    """One link class, as one device (endpoint) sees it.

    Attributes:
        kind: ``nvlink``, ``pcie``, ``cxl``, ``c2c``, ``infiniband`` or ``ethernet``.
        bytes_per_s: bandwidth per device, one direction, bytes/s.
        latency_s: one-way latency, seconds.
        energy_per_byte_j: energy to move one byte across it, joules (both ends).
        usd_per_device: capital cost of this link per device it serves (NIC, cable, port).
        power_w_per_device: power of this link's hardware per device, watts.
        source: where the numbers come from.
    """

    kind: Literal["nvlink", "pcie", "cxl", "c2c", "infiniband", "ethernet"]
    bytes_per_s: float = Field(gt=0)
    latency_s: float = Field(0.0, ge=0)
    energy_per_byte_j: float = Field(0.0, ge=0)
    usd_per_device: float = Field(0.0, ge=0)
    power_w_per_device: float = Field(0.0, ge=0)
    source: str = ""


class ScaleUpSpec(_Frozen):
    """A node's scale-up domain (NVLink through NVSwitch).

    Attributes:
        kind: ``nvlink``.
        bytes_per_s: per device, both directions together, as datasheets state it.
        energy_per_byte_j: energy per byte moved, joules.
        usd_per_node: NVSwitch baseboard share of a node's price (0: inside the devices').
        power_w_per_node: NVSwitch power per node, watts.
        source: where the numbers come from.
    """

    kind: Literal["nvlink"] = "nvlink"
    bytes_per_s: float = Field(gt=0)
    energy_per_byte_j: float = Field(0.0, ge=0)
    usd_per_node: float = Field(0.0, ge=0)
    power_w_per_node: float = Field(0.0, ge=0)
    source: str = ""


class ScaleOutSpec(_Frozen):
    """The scale-out network between a pool's nodes, as each device sees it.

    Attributes:
        topology: topology kind (``ft2``, ``ft3``, ``mpft``, ``mrft``, ``dragonfly``,
            ``slimfly``): sets hop count (latency) and switch/link counts (cost, power).
        radix: switch radix.
        planes: independent planes; a device's NIC ``i`` is in plane ``i`` (multi-plane).
        nic_bytes_per_s: one NIC's line rate, bytes/s per direction.
        nics_per_gpu: NICs per device.
        achievable: fraction of line rate a transfer reaches (headers, encoding, RDMA).
        latency_s: one-way NIC-to-NIC latency through a two-tier fabric (3 switch hops);
            other topologies add or remove ``switch_latency_s`` per hop.
        switch_latency_s: one switch's port-to-port latency, seconds.
        oversubscription: ratio of a leaf's downlink to uplink bandwidth (1: non-blocking);
            traffic leaving a leaf gets ``1 / oversubscription`` of the line rate.
        failed_planes: planes out of service (bandwidth drops; traffic reroutes).
        source: where the numbers come from.
    """

    topology: str
    radix: int = Field(gt=0)
    planes: int = Field(gt=0)
    nic_bytes_per_s: float = Field(gt=0)
    nics_per_gpu: int = Field(gt=0)
    achievable: float = Field(gt=0, le=1)
    latency_s: float = Field(ge=0)
    switch_latency_s: float = Field(0.6e-6, ge=0)
    oversubscription: float = Field(1.0, ge=1)
    failed_planes: int = Field(0, ge=0)
    source: str


class PoolSpec(_Frozen):
    """``nodes`` x ``devices_per_node`` identical devices.

    Attributes:
        device: a hardware preset name (``codesign hw list``), a device file path (resolved
            against the system file's folder), or an inline device document (a mapping with
            a ``family`` key, as ``codesign hw show NAME --yaml`` writes it).
        nodes: nodes in the pool.
        devices_per_node: devices per node (one scale-up domain each).
        scale_up: the node's scale-up domain, if its devices have one.
        scale_out: the network between the pool's nodes, if it has several.
        role: what the pool is for, in words (reports only).
    """

    device: str | dict[str, Any]
    nodes: int = Field(1, gt=0)
    devices_per_node: int = Field(1, gt=0)
    scale_up: ScaleUpSpec | None = None
    scale_out: ScaleOutSpec | None = None
    role: str = ""

    @property
    def devices(self) -> int:
        return self.nodes * self.devices_per_node

    @property
    def device_name(self) -> str:
        """The device's preset name or file path, or the inline document's ``name``."""
        if isinstance(self.device, str):
            return self.device
        return str(self.device.get("name", "inline"))


class PoolLinkSpec(_Frozen):
    """A link between two pools (KV transfer, activations, expert dispatch).

    Attributes:
        pools: the two pool names.
        link: bandwidth per device of the smaller pool, latency, energy and cost.
    """

    pools: tuple[str, str]
    link: LinkSpec


class HostSpec(_Frozen):
    """The host of a system: one CPU-family pool, and the host link to each device.

    Attributes:
        pool: name of the host pool in ``SystemSpec.pools``, or ``None`` for an unmodelled
            host (its price then comes from ``usd_per_hour_per_node``).
        link: host link per device (PCIe, CXL or NVLink-C2C).
        usd_per_hour_per_node: rental price of an unmodelled host, per node.
        power_w_per_node: power of an unmodelled host, per node.
    """

    pool: str | None = None
    link: LinkSpec
    usd_per_hour_per_node: float = Field(0.0, ge=0)
    power_w_per_node: float = Field(0.0, ge=0)


class CostSpec(_Frozen):
    """How capital becomes dollars per hour.

    Attributes:
        years: amortization period of network hardware, years.
        utilization: fraction of hours the hardware is paid for by traffic (1: always busy).
        usd_per_kwh: electricity price for the power of network hardware.
        source: where the numbers come from.
    """

    years: float = Field(4.0, gt=0)
    utilization: float = Field(1.0, gt=0, le=1)
    usd_per_kwh: float = Field(0.10, ge=0)
    source: str = ("estimate: 4-year straight-line amortization (common for datacenter "
                   "network gear), always busy, $0.10/kWh (US industrial average order)")

    def usd_per_hour(self, capital_usd: float, power_w: float) -> float:
        """Dollars per hour of ``capital_usd`` amortized plus ``power_w`` of electricity."""
        hours = self.years * 365.25 * 24 * self.utilization
        return capital_usd / hours + power_w / 1e3 * self.usd_per_kwh


class SystemSpec(_Frozen):
    """A system: named pools, the links between them, a host, and a default placement.

    Attributes:
        name: system name (lowercase, hyphenated).
        description: in words.
        pools: pool name -> pool (at least one).
        links: links between pools.
        host: the host, if modelled.
        cost: amortization of network and host hardware.
        placement: the default placement (a mapping as :class:`~codesign.hw.placement.
            PlacementSpec` reads it), or ``None`` for the trivial one on the first pool.
        source: where the numbers come from.
    """

    name: str
    description: str = ""
    pools: dict[str, PoolSpec]
    links: tuple[PoolLinkSpec, ...] = ()
    host: HostSpec | None = None
    cost: CostSpec = CostSpec()
    placement: dict[str, Any] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> SystemSpec:
        if not self.pools:
            raise SpecError("system.pools", "a system needs at least one pool")
        names = list(self.pools)
        for i, lk in enumerate(self.links):
            a, b = lk.pools
            for p in (a, b):
                if p not in self.pools:
                    raise SpecError(f"system.links[{i}].pools", f"unknown pool {p!r}", names)
            if a == b:
                raise SpecError(f"system.links[{i}].pools", f"a link joins two pools, got {a!r} "
                                "twice")
        if self.host is not None and self.host.pool is not None \
                and self.host.pool not in self.pools:
            raise SpecError("system.host.pool", f"unknown pool {self.host.pool!r}", names)
        return self

    @property
    def devices(self) -> int:
        """Devices in all pools but the host's."""
        host = self.host.pool if self.host else None
        return sum(p.devices for n, p in self.pools.items() if n != host)

    def link_between(self, a: str, b: str) -> LinkSpec | None:
        """The link joining pools ``a`` and ``b`` (either order), if any."""
        for lk in self.links:
            if set(lk.pools) == {a, b}:
                return lk.link
        return None
