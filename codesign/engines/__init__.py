"""Engines that run a workload graph on a system: analytical (fast) and, later, discrete-event."""

from codesign.engines.analytical import AnalyticalEngine
from codesign.engines.result import OpRecord, RunResult
from codesign.hw.registry import Registry

ENGINES: Registry[AnalyticalEngine] = Registry("engine", "--engine")
ENGINES.register("analytical", AnalyticalEngine)

__all__ = ["ENGINES", "AnalyticalEngine", "OpRecord", "RunResult"]
