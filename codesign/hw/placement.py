"""A placement: which pool of a system runs which part of the work, at what parallelism.

* **Phases**: ``prefill`` and ``decode`` each have one or more *stages*; a stage names a pool,
  the layers it runs (``layers: [first, end)``; all when omitted), the op group (``all``,
  ``attention`` or ``ffn``) and its parallelism (``tp``, ``dp``, ``ep``, redundant experts).
  One stage over all layers is the homogeneous case; consecutive layer ranges on unlike pools
  are a pipeline across heterogeneous stages; an ``attention`` and an ``ffn`` stage over the
  same layers split each layer between two pools (attention-FFN disaggregation).
* **Experts**: ``experts: {pool: [expert ids]}`` runs those routed experts' grouped GEMMs on
  another pool (KTransformers-style experts on a CPU host); the rest stay with their stage.
* **Requests**: ``instances`` model instances share the load (round-robin).

Op groups follow the graph's key convention (``L3.attn.*`` and ``L3.attn_norm`` are
attention; ``L3.ffn.*``, ``L3.ffn_norm`` and ``L3.moe.*`` are the FFN); ``embed`` runs with
the stage that holds layer 0's attention, ``final_norm`` and ``lm_head`` with the stage that
holds the last layer's FFN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codesign.errors import SpecError

if TYPE_CHECKING:
    from codesign.hw.system import SystemSpec

OpGroup = Literal["all", "attention", "ffn"]
OP_GROUPS: tuple[str, ...] = ("all", "attention", "ffn")
PHASES: tuple[str, ...] = ("prefill", "decode")
_ATTENTION_PARTS = frozenset({"attn", "attn_norm"})
_HEAD_KEYS = frozenset({"final_norm", "lm_head"})


class ParallelSpec(BaseModel):
    """How one layer is split over ranks (the graph built is one rank's share).

    Attributes:
        tp: tensor parallel degree of attention (heads split) and dense FFNs (intermediate
            split), with an all-reduce after each (Megatron style). With ``ep > 1`` the TP group
            also runs sequence parallelism (reduce-scatter / all-gather, DeepSeek's TP+SP).
        dp: data parallel degree of attention: each group of ``tp`` ranks takes
            ``ceil(batch / dp)`` sequences (the busiest rank is the one built).
        ep: expert parallel degree of MoE layers (``ep == 1``: experts are TP-split instead).
        redundant_experts: extra expert replicas (DeepSeek's EPLB); routed experts plus
            redundant ones must divide evenly over ``ep`` ranks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tp: int = Field(1, gt=0)
    dp: int = Field(1, gt=0)
    ep: int = Field(1, gt=0)
    redundant_experts: int = Field(0, ge=0)

    @property
    def world(self) -> int:
        return self.tp * self.dp

    @model_validator(mode="after")
    def _ep_fits(self) -> ParallelSpec:
        if self.ep > 1 and self.ep > self.world:
            raise SpecError("parallel.ep", f"{self.ep} exceeds the world size tp*dp={self.world}")
        return self


class StageSpec(BaseModel):
    """One stage of a phase: a pool, its layers and op group, and its parallelism.

    Attributes:
        pool: the pool's name in the system.
        layers: ``[first, end)`` layer indices, or ``None`` for every layer.
        ops: ``all``, ``attention`` or ``ffn``.
        tp, dp, ep, redundant_experts: the stage's parallelism (see :class:`ParallelSpec`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: str
    layers: tuple[int, int] | None = None
    ops: OpGroup = "all"
    tp: int = Field(1, gt=0)
    dp: int = Field(1, gt=0)
    ep: int = Field(1, gt=0)
    redundant_experts: int = Field(0, ge=0)

    @property
    def parallel(self) -> ParallelSpec:
        return ParallelSpec(tp=self.tp, dp=self.dp, ep=self.ep,
                            redundant_experts=self.redundant_experts)

    @property
    def world(self) -> int:
        return self.tp * self.dp

    def holds(self, layer: int) -> bool:
        return self.layers is None or self.layers[0] <= layer < self.layers[1]


class PlacementSpec(BaseModel):
    """Stages per phase, experts on other pools, and model instances (see module doc).

    Attributes:
        prefill: the prefill stages.
        decode: the decode stages.
        experts: pool -> routed expert ids that run there instead of with their stage.
        instances: model instances serving side by side.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefill: tuple[StageSpec, ...] = ()
    decode: tuple[StageSpec, ...] = ()
    experts: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    instances: int = Field(1, gt=0)

    @classmethod
    def trivial(cls, pool: str, *, tp: int = 1, dp: int = 1, ep: int = 1,
                redundant_experts: int = 0, instances: int = 1) -> PlacementSpec:
        """Both phases on one pool with one parallelism: the homogeneous case."""
        st = StageSpec(pool=pool, tp=tp, dp=dp, ep=ep, redundant_experts=redundant_experts)
        return cls(prefill=(st,), decode=(st,), instances=instances)

    def stages(self, phase: str) -> tuple[StageSpec, ...]:
        if phase not in PHASES:
            raise SpecError("phase", f"unknown phase {phase!r}", PHASES)
        return self.prefill if phase == "prefill" else self.decode

    def pools(self, phase: str | None = None) -> list[str]:
        """Pools the placement uses (in one phase, or in any), in order of first use."""
        out: list[str] = []
        phases = PHASES if phase is None else (phase,)
        for ph in phases:
            for st in self.stages(ph):
                if st.pool not in out:
                    out.append(st.pool)
        for p in self.experts:
            if p not in out and phase is None:
                out.append(p)
        return out

    def check(self, system: SystemSpec, num_layers: int | None = None,
              num_experts: int | None = None, phases: tuple[str, ...] = PHASES) -> None:
        """Validate against a system (and a model's layer and expert counts).

        Raises:
            SpecError: naming the stage field that is wrong (``placement.decode[1].pool``...).
        """
        names = list(system.pools)
        for ph in phases:
            stages = self.stages(ph)
            if not stages:
                raise SpecError(f"placement.{ph}", "the phase is placed nowhere (give at "
                                "least one stage)")
            for i, st in enumerate(stages):
                where = f"placement.{ph}[{i}]"
                if st.pool not in system.pools:
                    raise SpecError(f"{where}.pool", f"unknown pool {st.pool!r}", names)
                have = system.pools[st.pool].devices
                if st.world > have:
                    raise SpecError(f"{where}.tp", f"tp*dp = {st.world} exceeds the {have} "
                                    f"devices of pool {st.pool!r}")
                if st.ep > 1 and st.ep > st.world:
                    raise SpecError(f"{where}.ep", f"{st.ep} exceeds tp*dp = {st.world}")
                _check_layers(where, st, num_layers)
            _check_coverage(ph, stages, num_layers)
        if num_layers is not None:
            self.check_experts(num_experts)
        for pool, ids in self.experts.items():
            if pool not in system.pools:
                raise SpecError("placement.experts", f"unknown pool {pool!r}", names)
            if num_experts is not None:
                bad = [e for e in ids if not 0 <= e < num_experts]
                if bad:
                    raise SpecError(f"placement.experts.{pool}", f"expert ids {bad[:4]} outside "
                                    f"0..{num_experts - 1}")

    def check_experts(self, num_experts: int | None) -> None:
        """Expert placement needs a model with routed experts (``None``: a dense model).

        Raises:
            SpecError: ``placement.experts`` on a dense model.
        """
        if num_experts is None and self.experts:
            raise SpecError("placement.experts", "the model has no routed experts")

    def stage_of(self, phase: str, key: str, layer: int | None, last_layer: int) -> int:
        """Index of the stage that runs op ``key`` (of ``layer``) in ``phase``."""
        stages = self.stages(phase)
        if len(stages) == 1:
            return 0
        if layer is None:
            group, layer = (("ffn", last_layer) if key.split(".")[0] in _HEAD_KEYS
                            else ("attention", 0))
        else:
            part = key.split(".")[1] if "." in key else ""
            group = "attention" if part in _ATTENTION_PARTS else "ffn"
        for i, st in enumerate(stages):
            if st.holds(layer) and st.ops in ("all", group):
                return i
        raise SpecError(f"placement.{phase}", f"no stage runs {key!r} (layer {layer}, "
                        f"{group} ops)")


def _check_layers(where: str, st: StageSpec, num_layers: int | None) -> None:
    if st.layers is None:
        return
    a, b = st.layers
    if not 0 <= a < b:
        raise SpecError(f"{where}.layers", f"must be [first, end) with 0 <= first < end, got "
                        f"[{a}, {b})")
    if num_layers is not None and b > num_layers:
        raise SpecError(f"{where}.layers", f"end {b} exceeds the model's {num_layers} layers")


def _check_coverage(phase: str, stages: tuple[StageSpec, ...], num_layers: int | None) -> None:
    """Every layer's attention and FFN ops run on exactly one stage."""
    if num_layers is None:
        return
    for layer in range(num_layers):
        for group in ("attention", "ffn"):
            n = sum(1 for st in stages if st.holds(layer) and st.ops in ("all", group))
            if n != 1:
                what = "no stage runs" if n == 0 else f"{n} stages run"
                raise SpecError(f"placement.{phase}", f"{what} layer {layer}'s {group} ops")


def parse_placement(doc: Any, field: str = "placement") -> PlacementSpec:
    """A :class:`PlacementSpec` from a mapping (a system file's ``placement:``).

    A stage may be given as a single mapping instead of a one-item list.

    Raises:
        SpecError: naming the first wrong field.
    """
    if isinstance(doc, PlacementSpec):
        return doc
    if not isinstance(doc, Mapping):
        raise SpecError(field, f"must be a mapping, got {type(doc).__name__}")
    data = dict(doc)
    for ph in PHASES:
        if isinstance(data.get(ph), Mapping):
            data[ph] = [data[ph]]
    try:
        return PlacementSpec.model_validate(data)
    except ValidationError as e:
        raise spec_error_from(e, field) from None


def spec_error_from(e: ValidationError, prefix: str, sep: str = ".") -> SpecError:
    """The first error of a pydantic ``ValidationError`` as a one-line SpecError naming
    ``prefix``, ``sep`` and the field's dotted location."""
    err = e.errors()[0]
    orig = (err.get("ctx") or {}).get("error")
    if isinstance(orig, SpecError):
        return orig
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return SpecError(f"{prefix}{sep}{loc}" if loc else prefix, msg)
