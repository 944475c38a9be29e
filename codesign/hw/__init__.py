"""The hardware contract: devices (``DeviceModel``, ``OpCost``), systems of pools and links
(``SystemSpec``, ``System``), pools behind their network (``FabricModel``), placements
(``PlacementSpec``), topologies (``Topology``) and the registries that the hardware families
fill through entry points (the core imports no family)."""

from codesign.hw.cost import BOUNDS, Bound, OpCost
from codesign.hw.device import DeviceModel, LaunchMode
from codesign.hw.fabric import COLLECTIVES, FabricModel
from codesign.hw.registry import Registry
from codesign.hw.system import SystemSpec

#: devices by name (``h100-sxm``...), filled by the ``codesign.hardware`` entry points
HARDWARE: Registry[DeviceModel] = Registry("hardware", "--hw", plugin_group="codesign.hardware")
#: systems by name (``hgx-h100``...) as ``SystemSpec`` data, from ``codesign.systems``
SYSTEMS: Registry[SystemSpec] = Registry("system", "--system", plugin_group="codesign.systems")

from codesign.hw.families import FAMILIES, dump_device, resolve_device  # noqa: E402
from codesign.hw.placement import ParallelSpec, PlacementSpec, StageSpec  # noqa: E402
from codesign.hw.resolve import CLUSTERS, FABRICS, Pool, System, resolve_system  # noqa: E402
from codesign.hw.topology import TOPOLOGIES, Topology, build_topology  # noqa: E402


def get_device(name: str) -> DeviceModel:
    """The named device model; unknown names raise a SpecError listing the known ones."""
    return HARDWARE.get(name)


__all__ = ["BOUNDS", "CLUSTERS", "COLLECTIVES", "FABRICS", "FAMILIES", "HARDWARE", "SYSTEMS",
           "TOPOLOGIES", "Bound", "DeviceModel", "FabricModel", "LaunchMode", "OpCost",
           "ParallelSpec", "PlacementSpec", "Pool", "Registry", "StageSpec", "System",
           "SystemSpec", "Topology", "build_topology", "dump_device", "get_device",
           "resolve_device", "resolve_system"]
