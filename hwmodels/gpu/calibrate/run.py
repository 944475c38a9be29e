"""``codesign calibrate gpu|fit``: measure a GPU and fit the GPU model to it (registered as
the ``gpu`` calibrator in ``codesign.hw.calibration.CALIBRATORS``)."""

from __future__ import annotations

import json
from pathlib import Path

from codesign.errors import SpecError
from codesign.hw.calibration import CALIBRATORS


def fit_calibration(data: str, out: str, datasheet: str = "h100-sxm") -> Path:
    """Fit the GPU model to measurements in ``data``; write the calibration JSON to ``out``.

    Raises:
        SpecError: unknown datasheet, missing measurements, unwritable output.
    """
    from codesign.report.html import write_atomic
    from hwmodels.gpu.calibrate.fit import calibrate
    from hwmodels.gpu.datasheets import DATASHEETS

    if datasheet not in DATASHEETS:
        raise SpecError("--datasheet", f"unknown {datasheet!r}", sorted(DATASHEETS))
    folder = Path(data)
    if not (folder / "gemm.jsonl").is_file():
        raise SpecError("--data", f"{data!r} holds no gemm.jsonl measurements")
    spec, report = calibrate(folder, DATASHEETS[datasheet]())
    doc = {"datasheet": datasheet, "efficiency": spec.efficiency.model_dump(mode="json"),
           "energy": spec.energy.model_dump(mode="json"), "report": report}
    return write_atomic(out, json.dumps(doc, indent=2) + "\n")


def calibrate_gpu(out: str, datasheet: str = "h100-sxm", quick: bool = False) -> Path:
    """Run the microbenchmarks and the end-to-end LLaMA timing on this machine's GPU 0 into
    ``out``, then fit; returns the path of ``out/calibration.json``.

    Raises:
        SpecError: PyTorch or a CUDA GPU is missing.
    """
    try:
        import torch
    except ImportError:
        raise SpecError("torch", "not installed: pip install 'codesign[gpu]'") from None
    if not torch.cuda.is_available():
        raise SpecError("gpu", "no CUDA GPU visible to PyTorch")
    from hwmodels.gpu.calibrate import llama_e2e, microbench

    folder = Path(out)
    args = ["--out", str(folder)] + (["--quick"] if quick else [])
    microbench.main(args)
    llama_e2e.main(args)
    return fit_calibration(str(folder), str(folder / "calibration.json"), datasheet)


class GpuCalibrator:
    """The GPU family's calibrator (:func:`calibrate_gpu`, :func:`fit_calibration`)."""

    def measure(self, out: str, datasheet: str, quick: bool = False) -> Path:
        return calibrate_gpu(out, datasheet, quick)

    def fit(self, data: str, out: str, datasheet: str) -> Path:
        return fit_calibration(data, out, datasheet)


CALIBRATORS.register("gpu", GpuCalibrator)
