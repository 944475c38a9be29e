"""Calibrating a device family's model to measurements (``codesign calibrate``).

A hardware family registers a :class:`Calibrator` under its name (``gpu``) in
:data:`CALIBRATORS`, through the ``codesign.calibrators`` entry-point group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from codesign.hw.registry import Registry


class Calibrator(Protocol):
    """How a family measures this machine's device and fits its model to measurements."""

    def measure(self, out: str, datasheet: str, quick: bool = False) -> Path:
        """Measure the device into folder ``out`` (``quick``: a few cases per suite) and fit;
        returns the calibration file written.

        Raises:
            SpecError: the measuring tools or the device are missing.
        """
        ...

    def fit(self, data: str, out: str, datasheet: str) -> Path:
        """Fit the model of the part ``datasheet`` to measurements in folder ``data``; write
        the calibration file ``out`` and return its path.

        Raises:
            SpecError: unknown datasheet, missing measurements, unwritable output.
        """
        ...


#: calibrators by device family, filled by the ``codesign.calibrators`` entry points
CALIBRATORS: Registry[Calibrator] = Registry("calibrator", "family",
                                             plugin_group="codesign.calibrators")
