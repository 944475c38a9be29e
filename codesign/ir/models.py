"""The workload contract: model configurations and their graphs, from a registered family.

The core builds no model itself: a workload family (``workloads``, through the
``codesign.workloads`` entry-point group) registers a :class:`WorkloadFamily` in
:data:`WORKLOADS`, and the functions here delegate to it. A config is opaque to the core
except for the attributes below (``name``, ``num_layers``, ``moe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from codesign.hw.placement import ParallelSpec
from codesign.hw.registry import Registry
from codesign.ir.graph import WorkloadGraph
from codesign.ir.spec import BuildOptions, PhaseSpec


@dataclass(frozen=True, slots=True)
class MemoryFootprint:
    """Bytes one device of a stage holds for a pass.

    Attributes:
        weights_bytes: its share of the weights.
        kv_bytes: its share of the KV cache of the pass's sequences (context plus new tokens).
        activation_bytes: an estimate of the live activations and workspace of the pass.
    """

    weights_bytes: float
    kv_bytes: float
    activation_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_bytes + self.activation_bytes


class WorkloadFamily(Protocol):
    """What a workload family offers the core."""

    def names(self) -> list[str]:
        """Shipped model names."""
        ...

    def load(self, name_or_path: str, field: str = "model") -> Any:
        """A config by shipped name or file path; SpecError naming ``field`` otherwise."""
        ...

    def build_graph(self, cfg: Any, phase: PhaseSpec, parallel: ParallelSpec,
                    options: BuildOptions) -> WorkloadGraph:
        """One rank's graph of one pass."""
        ...

    def footprint(self, cfg: Any, phase: PhaseSpec, parallel: ParallelSpec,
                  options: BuildOptions, layers: tuple[int, int] | None = None,
                  ops: str = "all", routed_share: float = 1.0) -> MemoryFootprint:
        """Memory of one rank of a stage holding ``layers`` (all when ``None``) and the op
        group ``ops`` (``all``, ``attention``, ``ffn``, or ``experts``: routed experts only),
        with ``routed_share`` of the routed experts (the rest placed on other pools)."""
        ...

    def num_experts(self, cfg: Any) -> int | None:
        """Routed experts per MoE layer, or ``None`` for a dense model."""
        ...

    def describe(self, cfg: Any) -> dict[str, Any]:
        """Plain data about the model (parameters, KV bytes per token...)."""
        ...


#: workload families by name, filled by the ``codesign.workloads`` entry points
WORKLOADS: Registry[WorkloadFamily] = Registry("workload family", "model",
                                               plugin_group="codesign.workloads")
DEFAULT_FAMILY = "transformer"


def workload_family(name: str = DEFAULT_FAMILY) -> WorkloadFamily:
    return WORKLOADS.get(name)


def load_model(name_or_path: str, field: str = "model") -> Any:
    """A model config by shipped name or path (see the registered family)."""
    return workload_family().load(name_or_path, field)


def model_names() -> list[str]:
    return workload_family().names()


def build_graph(cfg: Any, phase: PhaseSpec, parallel: ParallelSpec,
                options: BuildOptions | None = None) -> WorkloadGraph:
    return workload_family().build_graph(cfg, phase, parallel, options or BuildOptions())
