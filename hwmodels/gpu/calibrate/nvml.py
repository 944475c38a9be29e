"""Minimal NVML access through ctypes: energy counter, power, clocks (no pynvml needed)."""

from __future__ import annotations

import ctypes
from typing import Any

_NVML_CLOCK_SM = 1
_NVML_CLOCK_MEM = 2


class Nvml:
    """Handle to GPU ``index``; every reading returns ``None`` when NVML cannot give it."""

    def __init__(self, index: int = 0) -> None:
        self.ok = False
        self.handle = ctypes.c_void_p()
        try:
            self.lib: Any = ctypes.CDLL("libnvidia-ml.so.1")
            if self.lib.nvmlInit_v2() != 0:
                return
            if self.lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(self.handle)) != 0:
                return
            self.ok = True
        except OSError:
            self.lib = None

    def energy_mj(self) -> int | None:
        """Total energy since driver load, millijoules (Volta and newer)."""
        if not self.ok:
            return None
        v = ctypes.c_ulonglong()
        rc = self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(v))
        return int(v.value) if rc == 0 else None

    def power_mw(self) -> int | None:
        if not self.ok:
            return None
        v = ctypes.c_uint()
        return (
            int(v.value)
            if self.lib.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(v)) == 0
            else None
        )

    def clock_mhz(self, which: str = "sm") -> int | None:
        if not self.ok:
            return None
        v = ctypes.c_uint()
        kind = _NVML_CLOCK_SM if which == "sm" else _NVML_CLOCK_MEM
        rc = self.lib.nvmlDeviceGetClockInfo(self.handle, kind, ctypes.byref(v))
        return int(v.value) if rc == 0 else None

    def power_limit_mw(self) -> int | None:
        if not self.ok:
            return None
        v = ctypes.c_uint()
        rc = self.lib.nvmlDeviceGetEnforcedPowerLimit(self.handle, ctypes.byref(v))
        return int(v.value) if rc == 0 else None
