"""The hardware contract (``DeviceModel``, ``OpCost``) and the hardware registry."""

from typing import Any

from codesign.hw.cost import BOUNDS, Bound, OpCost
from codesign.hw.device import DeviceModel, LaunchMode
from codesign.hw.registry import Registry

#: devices by name (``h100-sxm``...), filled by the ``codesign.hardware`` entry points
HARDWARE: Registry[DeviceModel] = Registry("hardware", "--hw", plugin_group="codesign.hardware")
#: systems by name (``hgx-h100``...), filled by the ``codesign.systems`` entry points
SYSTEMS: Registry[Any] = Registry("system", "--system",
                                          plugin_group="codesign.systems")


def get_device(name: str) -> DeviceModel:
    """The named device model; unknown names raise a SpecError listing the known ones."""
    return HARDWARE.get(name)


__all__ = ["BOUNDS", "HARDWARE", "SYSTEMS", "Bound", "DeviceModel", "LaunchMode", "OpCost",
           "Registry", "get_device"]
