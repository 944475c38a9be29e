"""Engines that run a workload graph on a system: analytical (fast) and discrete-event (SimPy)."""

from codesign.engines.analytical import AnalyticalEngine
from codesign.engines.des import DesEngine
from codesign.engines.result import OpRecord, RunResult
from codesign.hw.registry import Registry

ENGINES: Registry[AnalyticalEngine] = Registry("engine", "--engine")
ENGINES.register("analytical", AnalyticalEngine)
ENGINES.register("des", DesEngine)  # type: ignore[arg-type]

__all__ = ["ENGINES", "AnalyticalEngine", "OpRecord", "RunResult"]
