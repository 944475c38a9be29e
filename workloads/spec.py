"""What to build (re-exported from the core): the pass, the parallel mapping, the formats."""

from codesign.hw.placement import ParallelSpec
from codesign.ir.spec import BuildOptions, PhaseSpec

__all__ = ["BuildOptions", "ParallelSpec", "PhaseSpec"]
