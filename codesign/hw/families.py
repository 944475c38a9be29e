"""Device families (GPU, FPGA, CPU, PIM) and reading and writing devices as files.

A family registers itself in :data:`FAMILIES` (through the ``codesign.families`` entry-point
group, so the core imports none): it turns a device document (a mapping with a ``family`` key)
into a :class:`~codesign.hw.device.DeviceModel` and a model back into a document that reads
back unchanged. ``codesign hw show NAME --yaml`` writes such a document; ``--hw FILE`` and a
pool's ``device: FILE`` read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from codesign.config import load_mapping
from codesign.errors import SpecError
from codesign.hw.device import DeviceModel
from codesign.hw.registry import Registry

DEVICE_FILE_SUFFIXES = (".json", ".yaml", ".yml")


class DeviceFamily(Protocol):
    """What a hardware family offers the core."""

    name: str

    def load(self, doc: Mapping[str, Any], origin: str) -> DeviceModel:
        """A device model from a document (``family`` key already removed).

        Raises:
            SpecError: an unknown or missing key, naming it with ``origin`` as prefix.
        """
        ...

    def dump(self, device: DeviceModel) -> dict[str, Any]:
        """The document (``family`` key included) that :meth:`load` reads back unchanged."""
        ...


#: families by name, filled by the ``codesign.families`` entry points
FAMILIES: Registry[DeviceFamily] = Registry("device family", "family",
                                            plugin_group="codesign.families")


def family_of(device: DeviceModel) -> str:
    """A device's family name (``gpu`` for models that predate the attribute)."""
    return str(getattr(device, "family", "gpu"))


def load_device_document(doc: Any, origin: str) -> DeviceModel:
    """A device from a document with a ``family`` key (``gpu``, ``fpga``, ``cpu``, ``pim``).

    Raises:
        SpecError: not a mapping, a missing or unknown family, or the family's own errors.
    """
    if not isinstance(doc, Mapping):
        raise SpecError(origin, f"a device document is a mapping, got {type(doc).__name__}")
    family = doc.get("family")
    if family is None:
        raise SpecError(f"{origin}: family", "missing", FAMILIES.names())
    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError(f"{origin}: family", f"unknown device family {family!r}",
                        FAMILIES.names())
    body = {k: v for k, v in doc.items() if k != "family"}
    return FAMILIES.get(family).load(body, origin)


def dump_device(device: DeviceModel) -> dict[str, Any]:
    """The device as a document that :func:`load_device_document` reads back unchanged."""
    return FAMILIES.get(family_of(device)).dump(device)


def is_file_name(text: str) -> bool:
    return text.strip().lower().endswith(DEVICE_FILE_SUFFIXES)


def resolve_device(hw: str | Mapping[str, Any] | DeviceModel, *, base: Path | None = None,
                   field: str = "--hw") -> DeviceModel:
    """A device from a preset name, a device file (relative to ``base``), a document, or a
    model itself.

    Raises:
        SpecError: unknown name (listing the presets), unreadable or invalid file.
    """
    from codesign.hw import HARDWARE

    if isinstance(hw, Mapping):
        return load_device_document(hw, field)
    if not isinstance(hw, str):
        return hw
    if is_file_name(hw):
        path = Path(hw)
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise SpecError(field, f"no such device file {str(path)!r}")
        return load_device_document(load_mapping(path), str(path))
    if hw.strip().lower() not in HARDWARE:
        raise SpecError(field, f"unknown device {hw!r}", HARDWARE.names())
    return HARDWARE.get(hw)
