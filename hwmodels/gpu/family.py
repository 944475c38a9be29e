"""The GPU family as the core sees it: device documents in, device documents out.

Two document forms (``family: gpu`` plus):

* **model**: every field of :class:`~hwmodels.gpu.spec.GpuSpec` (datasheet facts, fitted
  efficiencies, energy, cost, sources) -- what ``codesign hw show NAME --yaml`` writes; it
  reads back to the same model (``hw show --json`` output too: its derived keys are skipped).
* **datasheet**: ``datasheet:`` a preset name or a mapping of
  :class:`~hwmodels.gpu.datasheet.GpuDatasheet` fields, with optional ``efficiency`` and
  ``energy`` (a ``codesign calibrate gpu`` result). Without them the chip is hypothetical:
  efficiencies are transferred from the nearest calibrated chip (same architecture first,
  then the closest bandwidth and BF16 peak) and energy scaled by TDP per peak, as the presets
  beyond Hopper are; ``describe()["calibration"]`` says ``transferred from <chip>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from codesign.errors import SpecError
from codesign.hw import FAMILIES, DeviceModel
from codesign.hw.placement import spec_error_from
from hwmodels.gpu.datasheet import GpuDatasheet
from hwmodels.gpu.model import GpuModel
from hwmodels.gpu.spec import GpuSpec

#: chips with a calibration of their own (``calibrated/<name>.json``)
CALIBRATED: tuple[str, ...] = ("h100-sxm",)
#: keys ``GpuModel.describe()`` derives from the spec (``hw show --json`` prints them); a
#: document that carries them reads back as the model form
DERIVED_KEYS = ("kind", "peak_flops", "calibration")


def nearest_calibrated(ds: GpuDatasheet) -> str:
    """The calibrated chip closest to ``ds``: same architecture first, then the smallest
    distance in log memory bandwidth and log BF16 peak."""
    from hwmodels.gpu.datasheets import DATASHEETS

    def distance(name: str) -> tuple[int, float]:
        ref = DATASHEETS[name]()
        arch = 0 if ref.architecture == ds.architecture else 1
        d = abs(math.log(ds.hbm_bytes_per_s / ref.hbm_bytes_per_s))
        if "bf16" in ds.tensor_flops_per_clk_per_sm:
            d += abs(math.log(ds.peak_flops("bf16") / ref.peak_flops("bf16")))
        return arch, d

    return min(CALIBRATED, key=distance)


def _datasheet(raw: Any, origin: str) -> GpuDatasheet:
    from hwmodels.gpu.datasheets import DATASHEETS

    if isinstance(raw, str):
        if raw not in DATASHEETS:
            raise SpecError(f"{origin}: datasheet", f"unknown {raw!r}", sorted(DATASHEETS))
        return DATASHEETS[raw]()
    if not isinstance(raw, Mapping):
        raise SpecError(f"{origin}: datasheet", "must be a preset name or a mapping of "
                        "datasheet fields")
    body = dict(raw)
    body.setdefault("sources", {"datasheet": f"user datasheet file {origin}"})
    try:
        return GpuDatasheet.model_validate(body)
    except ValidationError as e:
        raise spec_error_from(e, f"{origin}: datasheet", ": ") from None


class GpuFamily:
    """GPU documents <-> :class:`GpuModel` (see module docstring)."""

    name = "gpu"

    def load(self, doc: Mapping[str, Any], origin: str) -> DeviceModel:
        if "datasheet" not in doc:
            body = {k: v for k, v in doc.items() if k not in DERIVED_KEYS}
            try:
                return GpuModel(GpuSpec.model_validate(body))
            except ValidationError as e:
                raise spec_error_from(e, origin, ": ") from None
        from hwmodels.gpu.presets import from_parts, transferred

        extra = sorted(set(doc) - {"datasheet", "efficiency", "energy", "report"})
        if extra:
            raise SpecError(f"{origin}: {extra[0]}", "unknown key",
                            ["datasheet", "efficiency", "energy"])
        ds = _datasheet(doc["datasheet"], origin)
        if "efficiency" not in doc and "energy" not in doc:
            return transferred(ds, nearest_calibrated(ds), "datasheet only")
        if "efficiency" not in doc or "energy" not in doc:
            missing = "efficiency" if "efficiency" not in doc else "energy"
            raise SpecError(f"{origin}: {missing}", "give both efficiency and energy (a "
                            "calibration), or neither (transferred from a calibrated chip)")
        return from_parts(ds, doc["efficiency"], doc["energy"], origin)

    def dump(self, device: DeviceModel) -> dict[str, Any]:
        if not isinstance(device, GpuModel):
            raise SpecError("device", f"{device.name} is not a GPU model")
        return {"family": "gpu", **device.spec.model_dump(mode="json")}


FAMILIES.register("gpu", GpuFamily)
