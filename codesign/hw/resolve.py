"""A system at run time: each pool's device model behind its fabric, links, and prices.

:func:`resolve_system` turns a system preset name, a system or device file, a device preset
name (a cluster of it), a spec or a device model into a :class:`System`. Engines cost an op
with ``system.pool(name).model.op_cost(op)``: the pool model is the device model wrapped by
the registered fabric (``FABRICS``, the network family's NCCL-calibrated collectives and
expert-parallel traffic), so compute ops reach the device and communication ops the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from codesign.config import load_mapping
from codesign.errors import SpecError
from codesign.hw.device import DeviceModel
from codesign.hw.fabric import FabricModel
from codesign.hw.families import is_file_name, load_device_document, resolve_device
from codesign.hw.placement import spec_error_from
from codesign.hw.registry import Registry
from codesign.hw.system import LinkSpec, PoolSpec, SystemSpec

#: a fabric wraps a pool's device model so it also costs communication ops:
#: ``factory()(pool_name, pool_spec, device) -> FabricModel`` (network family registers it)
FabricBuilder = Callable[[str, PoolSpec, DeviceModel], FabricModel]
FABRICS: Registry[FabricBuilder] = Registry("fabric", "fabric", plugin_group="codesign.fabrics")
#: the system a bare device name stands for: ``factory()(device, devices) -> SystemSpec``
ClusterTemplate = Callable[[DeviceModel, int], SystemSpec]
CLUSTERS: Registry[ClusterTemplate] = Registry("cluster template", "cluster",
                                               plugin_group="codesign.fabrics")


@dataclass(frozen=True)
class Pool:
    """A pool at run time.

    Attributes:
        name: the pool's name in the system.
        spec: its spec.
        device: the bare device model.
        model: the device behind the pool's fabric: what engines call ``op_cost`` on.
    """

    name: str
    spec: PoolSpec
    device: DeviceModel
    model: DeviceModel

    def nodes_for(self, devices: int) -> int:
        """Nodes that ``devices`` devices of this pool occupy."""
        return max(1, math.ceil(devices / self.spec.devices_per_node))

    def network_capex_and_power(self, devices: int) -> tuple[float, float]:
        """Capital cost (USD) and power (W) of the network ``devices`` of the pool use
        (NICs, their share of switches and links, NVSwitch), from the fabric; zeros without
        a fabric. Scale-up hardware priced per node is added here."""
        f = getattr(self.model, "network_capex_and_power", None)
        capex, power = f(devices) if callable(f) else (0.0, 0.0)
        su = self.spec.scale_up
        if su is not None:
            nodes = self.nodes_for(devices)
            capex += su.usd_per_node * nodes
            power += su.power_w_per_node * nodes
        return capex, power


@dataclass(frozen=True)
class Charges:
    """What the devices a result uses cost per hour (USD) and what their network draws (W)."""

    devices_usd_per_hour: float
    network_usd_per_hour: float
    host_usd_per_hour: float
    network_power_w: float


class System:
    """Pools, links and a host (see :mod:`codesign.hw.system`)."""

    def __init__(self, spec: SystemSpec, devices: Mapping[str, DeviceModel] | None = None,
                 base: Path | None = None, models: Mapping[str, DeviceModel] | None = None
                 ) -> None:
        """Args:
            spec: the system.
            devices: pool -> bare device model to use instead of resolving ``device``.
            base: folder that relative device file paths are resolved against.
            models: pool -> pool model already behind its fabric (used as it is).
        """
        self.spec = spec
        self.name = spec.name
        devices = dict(devices or {})
        models = dict(models or {})
        self.pools: dict[str, Pool] = {}
        self._charges: dict[tuple[tuple[str, int], ...], Charges] = {}
        for name, ps in spec.pools.items():
            dev = devices.get(name) or resolve_device(ps.device, base=base,
                                                      field=f"system.pools.{name}.device")
            label = spec.name if len(spec.pools) == 1 else f"{spec.name}.{name}"
            model = models.get(name) or _wrap(label, ps, dev)
            self.pools[name] = Pool(name, ps, dev, model)

    def __repr__(self) -> str:
        return f"System({self.name!r}, pools={list(self.pools)})"

    @property
    def first_pool(self) -> str:
        host = self.spec.host.pool if self.spec.host else None
        return next(n for n in self.pools if n != host)

    @property
    def main(self) -> Pool:
        """The first pool (the only one of a homogeneous system)."""
        return self.pools[self.first_pool]

    def with_failed_planes(self, failed: int, field: str = "failed_planes") -> System:
        """This system with ``failed`` scale-out planes of every pool out of service.

        Raises:
            SpecError: a pool without a scale-out network, or no plane left.
        """
        if not failed:
            return self
        pools = {}
        for name, ps in self.spec.pools.items():
            so = ps.scale_out
            if so is None or failed >= so.planes:
                planes = so.planes if so else 0
                raise SpecError(field, f"{failed} of {planes} planes cannot fail (one must "
                                "remain)")
            pools[name] = ps.model_copy(update={"scale_out": so.model_copy(
                update={"failed_planes": failed})})
        spec = self.spec.model_copy(update={"pools": pools})
        return System(spec, devices={n: p.device for n, p in self.pools.items()})

    def pool(self, name: str) -> Pool:
        if name not in self.pools:
            raise SpecError("pool", f"unknown pool {name!r}", list(self.pools))
        return self.pools[name]

    def link(self, a: str, b: str) -> LinkSpec | None:
        """The link between two pools (the host link when one of them is the host pool)."""
        lk = self.spec.link_between(a, b)
        if lk is None and self.spec.host is not None and self.spec.host.pool in (a, b):
            return self.spec.host.link
        return lk

    def transfer(self, a: str, b: str, nbytes: float, field: str = "system.links"
                 ) -> tuple[float, float]:
        """(seconds, joules) to move ``nbytes`` from one device of pool ``a`` to one of ``b``.

        Raises:
            SpecError: the pools have no link between them.
        """
        if a == b or nbytes <= 0:
            return 0.0, 0.0
        lk = self.link(a, b)
        if lk is None:
            raise SpecError(field, f"no link between pools {a!r} and {b!r} in system "
                            f"{self.name!r}")
        return lk.latency_s + nbytes / lk.bytes_per_s, nbytes * lk.energy_per_byte_j

    # ----------------------------------------------------------------- cost and power
    def usd_per_hour(self, used: Mapping[str, int]) -> dict[str, float]:
        """Rental and amortized cost per hour of the devices ``used`` (pool -> devices):
        ``devices_usd_per_hour``, ``network_usd_per_hour`` (each used pool's share of its
        network, links between used pools) and ``host_usd_per_hour``."""
        c = self.charges(used)
        return {"devices_usd_per_hour": c.devices_usd_per_hour,
                "network_usd_per_hour": c.network_usd_per_hour,
                "host_usd_per_hour": c.host_usd_per_hour}

    def network_power_w(self, used: Mapping[str, int]) -> float:
        """Power of the network hardware the ``used`` devices hold (their share), watts."""
        return self.charges(used).network_power_w

    def charges(self, used: Mapping[str, int]) -> Charges:
        """Cost per hour and network power of the devices ``used`` (pool -> devices), in one
        pass over the pools, links and host; remembered per distinct ``used``."""
        key = tuple(sorted(used.items()))
        hit = self._charges.get(key)
        if hit is None:
            hit = self._charges[key] = self._compute_charges(dict(key))
        return hit

    def _compute_charges(self, used: Mapping[str, int]) -> Charges:
        cost = self.spec.cost
        dev = net = host = watts = 0.0
        for name, n in used.items():
            p = self.pool(name)
            dev += p.device.usd_per_hour * n
            capex, power = p.network_capex_and_power(n)
            net += cost.usd_per_hour(capex, power)
            watts += power
        for lk in self.spec.links:
            a, b = lk.pools
            if a in used and b in used:
                n = min(used[a], used[b])
                net += cost.usd_per_hour(lk.link.usd_per_device * n,
                                         lk.link.power_w_per_device * n)
                watts += lk.link.power_w_per_device * n
        hs = self.spec.host
        if hs is not None:
            for name, n in used.items():
                if name == hs.pool:
                    continue
                nodes = self.pool(name).nodes_for(n)
                if hs.pool is not None:
                    host += self.pool(hs.pool).device.usd_per_hour * nodes
                else:
                    host += hs.usd_per_hour_per_node * nodes
                host += cost.usd_per_hour(hs.link.usd_per_device * n,
                                          hs.link.power_w_per_device * n)
            if hs.pool is None:
                watts += sum(hs.power_w_per_node * self.pool(n).nodes_for(k)
                             for n, k in used.items())
        return Charges(dev, net, host, watts)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "system", **self.spec.model_dump(mode="json"),
                "pool_devices": {n: p.device.name for n, p in self.pools.items()}}


def _wrap(name: str, ps: PoolSpec, dev: DeviceModel) -> DeviceModel:
    if ps.scale_up is None and ps.scale_out is None:
        return dev
    if "default" not in FABRICS:
        return dev
    return FABRICS.get("default")(name, ps, dev)


def parse_system(doc: Any, origin: str = "system") -> SystemSpec:
    """A :class:`SystemSpec` from a mapping; unknown keys and bad values name the field.

    Raises:
        SpecError: naming the first wrong field.
    """
    if isinstance(doc, SystemSpec):
        return doc
    if not isinstance(doc, Mapping):
        raise SpecError(origin, f"a system document is a mapping, got {type(doc).__name__}")
    try:
        return SystemSpec.model_validate(dict(doc))
    except ValidationError as e:
        raise spec_error_from(e, origin) from None


def cluster_of(device: DeviceModel, devices: int = 8) -> System:
    """The system a bare device stands for: the registered cluster template (network family:
    8-device NVLink nodes, one 400 Gb/s NIC per device, FT2), or one pool without a network."""
    if "default" in CLUSTERS:
        spec = CLUSTERS.get("default")(device, devices)
    else:
        spec = SystemSpec(name=device.name, pools={"main": PoolSpec(device=device.name,
                                                                    devices_per_node=devices)})
    return System(spec, devices={n: device for n in spec.pools})


def resolve_system(system: Any, devices: int = 8, field: str = "--system") -> System:
    """A :class:`System` from a preset name, a file (system or device document), a device
    preset name (a cluster of ``devices`` of it), a spec, a mapping or a device model.

    Raises:
        SpecError: unknown name (listing systems and devices), bad file or field.
    """
    from codesign.hw import HARDWARE, SYSTEMS

    if isinstance(system, System):
        return system
    if isinstance(system, SystemSpec):
        return System(system)
    if isinstance(system, Mapping):
        if "family" in system:
            return cluster_of(load_device_document(system, field), devices)
        return System(parse_system(system, field))
    if not isinstance(system, str):  # a device model, or a pool model behind its fabric
        pool = getattr(system, "pool_spec", None)
        if isinstance(pool, PoolSpec):
            spec = SystemSpec(name=system.name, pools={"main": pool})
            return System(spec, devices={"main": system.device}, models={"main": system})
        return cluster_of(system, devices)
    key = system.strip()
    if is_file_name(key):
        path = Path(key)
        if not path.is_file():
            raise SpecError(field, f"no such file {key!r}")
        doc = load_mapping(path)
        if isinstance(doc, Mapping) and "family" in doc:
            return cluster_of(load_device_document(doc, key), devices)
        return System(parse_system(doc, key), base=path.parent)
    low = key.lower()
    if low in SYSTEMS:
        return System(SYSTEMS.get(low))
    if low in HARDWARE:
        return cluster_of(HARDWARE.get(low), devices)
    raise SpecError(field, f"unknown system or device {system!r}",
                    SYSTEMS.names() + HARDWARE.names())
