"""Input specs of the topology layer: links, switches, scale-up domains, unit prices. SI units.

Bandwidth convention: every ``bytes_per_s`` is **per direction** of a full-duplex link.
Datasheets quote NVLink as the sum of both directions (H100 "900 GB/s"), InfiniBand per
direction (NDR "400 Gb/s" = 50 GB/s each way); the presets convert (see ``presets.py``).

Bad values raise pydantic's ``ValidationError`` naming the field (the CLI turns it into a
``SpecError``); the builders raise :class:`codesign.errors.SpecError` for their own arguments.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkSpec(_Frozen):
    """One full-duplex link.

    Attributes:
        bytes_per_s: bandwidth of one direction, bytes/s.
        latency_s: one-way latency of the link itself (serdes and propagation), seconds;
            the latency of the switch it enters is the switch's ``latency_s``.
        source: where the numbers come from.
    """

    bytes_per_s: float = Field(gt=0)
    latency_s: float = Field(ge=0)
    source: str = Field(min_length=1)


class SwitchSpec(_Frozen):
    """A switch (or NVSwitch chip) as a forwarding element.

    The radix is the builders' argument (``ft2(radix=64)``), since every count follows from it;
    port bandwidth is the attached links' ``bytes_per_s``.

    Attributes:
        latency_s: port-to-port forwarding latency, seconds.
        source: where the number comes from.
    """

    latency_s: float = Field(ge=0)
    source: str = Field(min_length=1)


class ScaleUpSpec(_Frozen):
    """The NVLink fabric of one server (HGX board) or rack (NVL72).

    Each GPU has ``nvlinks_per_gpu`` NVLink links; link ``l`` of every GPU goes to NVSwitch
    node ``l % nvswitches``, so a GPU-to-NVSwitch edge in the graph carries the bandwidth of
    the links it bundles. An NVSwitch node is one chip (HGX) or one switch tray (NVL72: a
    tray's two chips drawn as one node).

    Attributes:
        nvswitches: NVSwitch nodes per scale-up domain.
        nvlinks_per_gpu: NVLink links per GPU.
        nvlink: one NVLink link (per direction).
        nvswitch: the NVSwitch as a forwarding element.
        pcie: the GPU-to-NIC path (PCIe switch on the board) of scale-out builders.
        source: where the numbers come from.
    """

    nvswitches: int = Field(ge=1)
    nvlinks_per_gpu: int = Field(ge=1)
    nvlink: LinkSpec
    nvswitch: SwitchSpec
    pcie: LinkSpec
    source: str = Field(min_length=1)

    @property
    def gpu_bytes_per_s(self) -> float:
        """NVLink bandwidth of one GPU, one direction, bytes/s."""
        return self.nvlinks_per_gpu * self.nvlink.bytes_per_s


class CostSpec(_Frozen):
    """Unit prices (US dollars) and powers (watts) of scale-out network parts.

    What is counted (see :class:`~hwmodels.network.topology.topology.Topology`):

    * each switch: ``switch_price_usd``, ``switch_power_w`` (chassis without optics);
    * each switch-to-switch link: two optical transceivers and one fiber;
    * each endpoint link (NIC to leaf): one ``endpoint_cable_price_usd`` (active optical
      cable class, both ends included) and ``endpoint_cable_power_w``;
    * each NIC: ``nic_price_usd``, ``nic_power_w`` -- reported apart from the fabric
      (``nic_cost_usd``), since DeepSeek's topology table compares fabrics.

    NVLink/NVSwitch parts are priced inside the server and are not counted here.
    """

    switch_price_usd: float = Field(ge=0)
    transceiver_price_usd: float = Field(ge=0)
    fiber_price_usd: float = Field(ge=0)
    endpoint_cable_price_usd: float = Field(ge=0)
    nic_price_usd: float = Field(ge=0)
    switch_power_w: float = Field(ge=0)
    transceiver_power_w: float = Field(ge=0)
    endpoint_cable_power_w: float = Field(ge=0)
    nic_power_w: float = Field(ge=0)
    source: str = Field(min_length=1)

    @property
    def fabric_link_price_usd(self) -> float:
        """One switch-to-switch link: two transceivers and a fiber, USD."""
        return 2 * self.transceiver_price_usd + self.fiber_price_usd

    @property
    def fabric_link_power_w(self) -> float:
        """One switch-to-switch link: two transceivers, W."""
        return 2 * self.transceiver_power_w
