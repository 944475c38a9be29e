"""The workload contract: model configurations and their graphs, from a registered family.

The core builds no model itself: a workload family (``workloads``, through the
``codesign.workloads`` entry-point group) registers a :class:`WorkloadFamily` in
:data:`WORKLOADS`, and the functions here delegate to it. A config is opaque to the core
except for what :class:`ModelConfig` lists; parameter counts come from the family
(:meth:`WorkloadFamily.count_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Self

from codesign.hw.placement import ParallelSpec
from codesign.hw.registry import Registry
from codesign.ir.dtypes import DType
from codesign.ir.graph import WorkloadGraph
from codesign.ir.spec import BuildOptions, PhaseSpec


class MoEFacts(Protocol):
    """What the core reads of a model's mixture-of-experts settings."""

    @property
    def n_routed_experts(self) -> int:
        """Routed experts per MoE layer."""
        ...


class ModelConfig(Protocol):
    """What the core reads of a family's model configuration (``workloads.config.ModelConfig``
    implements it). Sizes in elements."""

    @property
    def name(self) -> str: ...

    @property
    def model_type(self) -> str:
        """The HF ``model_type`` (``llama``, ``deepseek_v3``...)."""
        ...

    @property
    def attention_kind(self) -> str:
        """``mha``, ``gqa`` or ``mla``."""
        ...

    @property
    def num_layers(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    @property
    def num_heads(self) -> int: ...

    @property
    def num_kv_heads(self) -> int: ...

    @property
    def weight_dtype(self) -> DType:
        """The format of the linear layers' weights."""
        ...

    @property
    def mla(self) -> object | None:
        """Multi-head latent attention settings, ``None`` without MLA."""
        ...

    @property
    def moe(self) -> MoEFacts | None:
        """Mixture-of-experts settings, ``None`` for a dense model."""
        ...

    def is_moe_layer(self, layer: int) -> bool:
        """Whether layer ``layer`` (0-based) has a MoE FFN."""
        ...

    def kv_cache_bytes_per_token(self, kv_dtype: DType = DType.BF16) -> int:
        """KV-cache bytes of one token over all layers."""
        ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Self:
        """A copy with fields replaced (the core shortens ``num_layers`` to cost a few)."""
        ...


@dataclass(frozen=True, slots=True)
class ParamCounts:
    """Parameter counts (elements). ``linear`` is what the weight format applies to.

    ``activated`` counts what one token's forward pass multiplies with (its top-k routed
    experts and every other weight, the input embedding table apart).
    """

    total: int
    activated: int
    embedding: int
    lm_head: int
    attention: int
    dense_ffn: int
    moe_routed: int
    moe_shared: int
    moe_gate: int
    norms: int
    linear: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


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
    """What a workload family offers the core. A method given a config of another family
    raises :class:`~codesign.errors.SpecError`."""

    def names(self) -> list[str]:
        """Shipped model names."""
        ...

    def load(self, name_or_path: str, field: str = "model") -> ModelConfig:
        """A config by shipped name or file path; SpecError naming ``field`` otherwise."""
        ...

    def build_graph(self, cfg: ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                    options: BuildOptions) -> WorkloadGraph:
        """One rank's graph of one pass."""
        ...

    def footprint(self, cfg: ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                  options: BuildOptions, layers: tuple[int, int] | None = None,
                  ops: str = "all", routed_share: float = 1.0) -> MemoryFootprint:
        """Memory of one rank of a stage holding ``layers`` (all when ``None``) and the op
        group ``ops`` (``all``, ``attention``, ``ffn``, or ``experts``: routed experts only),
        with ``routed_share`` of the routed experts (the rest placed on other pools)."""
        ...

    def num_experts(self, cfg: ModelConfig) -> int | None:
        """Routed experts per MoE layer, or ``None`` for a dense model."""
        ...

    def count_params(self, cfg: ModelConfig) -> ParamCounts:
        """Parameter counts of the whole model, total and activated per token."""
        ...

    def describe(self, cfg: ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
                 options: BuildOptions) -> dict[str, Any]:
        """Plain data (JSON-ready) about the model and its graph of ``phase`` on one rank:
        what ``codesign models show`` prints (parameters, weight bytes, KV bytes per token,
        the graph's op count, FLOPs and bytes)."""
        ...


#: workload families by name, filled by the ``codesign.workloads`` entry points
WORKLOADS: Registry[WorkloadFamily] = Registry("workload family", "model",
                                               plugin_group="codesign.workloads")
DEFAULT_FAMILY = "transformer"


def workload_family(name: str = DEFAULT_FAMILY) -> WorkloadFamily:
    return WORKLOADS.get(name)


def load_model(name_or_path: str, field: str = "model") -> ModelConfig:
    """A model config by shipped name or path (see the registered family)."""
    return workload_family().load(name_or_path, field)


def model_names() -> list[str]:
    return workload_family().names()


def build_graph(cfg: ModelConfig, phase: PhaseSpec, parallel: ParallelSpec | None = None,
                options: BuildOptions | None = None) -> WorkloadGraph:
    """One rank's graph of one pass (one device and default formats when unset)."""
    return workload_family().build_graph(cfg, phase, parallel or ParallelSpec(),
                                         options or BuildOptions())


def count_params(cfg: ModelConfig) -> ParamCounts:
    """Parameter counts of ``cfg`` (see the registered family)."""
    return workload_family().count_params(cfg)
