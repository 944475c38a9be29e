"""Named GPU presets: datasheet facts (``datasheets``) plus fitted efficiencies and energy
(``calibrated/*.json``), registered in ``codesign.hw.HARDWARE``.

* ``h100-sxm``: calibrated on the lent H100 SXM (see the JSON's provenance and
  ``benchmarks/bench_gpu_accuracy.py``).
* ``h800-sxm``, ``h200-sxm``: the same Hopper die: H100 efficiencies transferred unchanged,
  their own datasheet (H200: HBM3e 141 GB at 4.8 TB/s; H800: NVLink 400 GB/s). H200 GEMMs are
  checked against measurements on the lent H200 without refitting.
* ``b200``, ``a100-sxm``, ``v100s``, ``rtx-4090``, ``jetson-agx-orin``: H100 efficiencies
  transferred as fractions of each chip's own peaks -- an assumption, not validated.
  Energy per FLOP is scaled by TDP per peak BF16 FLOP relative to the H100, energy per byte
  by TDP per byte/s of memory bandwidth; idle power from the datasheet (mostly estimates).

A calibration file of one's own (``codesign calibrate gpu`` writes one: ``datasheet`` plus
``efficiency`` and ``energy``) works wherever a preset name does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from codesign.config import load_mapping
from codesign.errors import SpecError
from codesign.hw import HARDWARE
from hwmodels.gpu.calibrate.fit import build_spec
from hwmodels.gpu.datasheet import GpuDatasheet
from hwmodels.gpu.datasheets import DATASHEETS
from hwmodels.gpu.model import GpuModel
from hwmodels.gpu.spec import GpuEfficiency, GpuEnergy

REFERENCE = "h100-sxm"


@lru_cache(maxsize=8)
def load_calibration(name: str) -> dict[str, Any]:
    """The shipped calibration JSON ``calibrated/<name>.json``."""
    text = resources.files("hwmodels.gpu").joinpath(f"calibrated/{name}.json").read_text()
    return json.loads(text)


def transferred(ds: GpuDatasheet, reference: str = REFERENCE, note: str = "") -> GpuModel:
    """``ds`` with the calibrated chip ``reference``'s efficiencies and scaled energy."""
    ref_cal = load_calibration(reference)
    ref = DATASHEETS[reference]()
    eff = GpuEfficiency(
        **{**ref_cal["efficiency"], "source": f"transferred from {reference} calibration ({note})"}
    )
    e = ref_cal["energy"]
    flop_scale = (ds.tdp_w / ds.peak_flops("bf16")) / (ref.tdp_w / ref.peak_flops("bf16"))
    byte_scale = (ds.tdp_w / ds.hbm_bytes_per_s) / (ref.tdp_w / ref.hbm_bytes_per_s)
    same_die = ds.architecture == ref.architecture and ds.sm_count == ref.sm_count
    if same_die:
        flop_scale = 1.0
    energy = GpuEnergy(
        idle_w=ds.idle_w,
        tdp_w=ds.tdp_w,
        j_per_flop={k: v * flop_scale for k, v in e["j_per_flop"].items()},
        j_per_dram_byte=e["j_per_dram_byte"] * (1.0 if same_die else byte_scale),
        source=(
            f"{reference} NVML fit"
            + (
                ""
                if same_die
                else f", scaled by TDP/peak ({flop_scale:.2f}) and TDP/bandwidth ({byte_scale:.2f})"
            )
            + f"; idle: {ds.sources.get('idle_w', '')}"
        ),
    )
    return GpuModel(build_spec(ds, eff, energy))


def from_parts(ds: GpuDatasheet, efficiency: Any, energy: Any, origin: str) -> GpuModel:
    """A model from a datasheet and calibration documents (``efficiency``, ``energy``)."""
    try:
        eff = GpuEfficiency(**efficiency)
        en = GpuEnergy(**energy)
    except (KeyError, TypeError, ValueError) as e:
        raise SpecError(origin, f"not a GPU calibration: {str(e).splitlines()[0]}") from None
    return GpuModel(build_spec(ds, eff, en))


def from_calibration(cal: dict[str, Any], origin: str) -> GpuModel:
    """A model from a calibration document (``datasheet``, ``efficiency``, ``energy``)."""
    name = cal.get("datasheet")
    if name not in DATASHEETS:
        raise SpecError(f"{origin}: datasheet", f"unknown {name!r}", sorted(DATASHEETS))
    if "efficiency" not in cal or "energy" not in cal:
        raise SpecError(origin, "not a GPU calibration: needs efficiency and energy")
    return from_parts(DATASHEETS[name](), cal["efficiency"], cal["energy"], origin)


def h100_sxm() -> GpuModel:
    """H100 SXM5 80 GB, calibrated on the lent card."""
    return from_calibration(load_calibration(REFERENCE), REFERENCE)


def h800_sxm() -> GpuModel:
    return transferred(DATASHEETS["h800-sxm"](), note="same GH100 die")


def h200_sxm() -> GpuModel:
    return transferred(DATASHEETS["h200-sxm"](), note="same GH100 die, HBM3e")


def b200() -> GpuModel:
    return transferred(DATASHEETS["b200"](), note="Blackwell: not validated")


def a100_sxm() -> GpuModel:
    return transferred(DATASHEETS["a100-sxm"](), note="Ampere: not validated")


def v100s() -> GpuModel:
    return transferred(DATASHEETS["v100s"](), note="Volta: not validated")


def rtx_4090() -> GpuModel:
    return transferred(DATASHEETS["rtx-4090"](), note="Ada: not validated")


def jetson_agx_orin() -> GpuModel:
    return transferred(DATASHEETS["jetson-agx-orin"](), note="Ampere GA10B: not validated")


def load_gpu_file(path: str) -> GpuModel:
    """A GPU document (see :mod:`hwmodels.gpu.family`) by path; ``family: gpu`` may be left
    out of a calibration file (``datasheet``, ``efficiency``, ``energy``)."""
    from codesign.hw.families import load_device_document

    doc = load_mapping(Path(path))
    if not isinstance(doc, dict):
        raise SpecError(path, "a GPU document is a mapping")
    model = load_device_document({"family": "gpu", **doc}, path)
    if not isinstance(model, GpuModel):
        raise SpecError(f"{path}: family", "not a GPU document", ["gpu"])
    return model


PRESETS = {
    "h100-sxm": h100_sxm,
    "h800-sxm": h800_sxm,
    "h200-sxm": h200_sxm,
    "b200": b200,
    "a100-sxm": a100_sxm,
    "v100s": v100s,
    "rtx-4090": rtx_4090,
    "jetson-agx-orin": jetson_agx_orin,
}

for _name, _factory in PRESETS.items():
    HARDWARE.register(_name, _factory)
