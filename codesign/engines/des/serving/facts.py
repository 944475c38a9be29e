"""Model facts the serving simulation needs, from the registered workload family.

Everything comes through :func:`codesign.ir.models.workload_family`: the config (``load``),
the routed-expert count (``num_experts``) and the bytes one GPU holds (``footprint``, the
same function ``evaluate_model``'s memory report uses), so serving and ``codesign eval``
agree on weights and KV bytes per GPU. The only config attributes read directly are the ones
the workload contract names (``name``, ``num_layers``) and ``hidden_size`` (the activation
sent between pipeline stages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codesign.hw.placement import ParallelSpec
from codesign.ir.models import MemoryFootprint, workload_family
from codesign.ir.spec import BuildOptions, PhaseSpec

if TYPE_CHECKING:
    from codesign.engines.des.serving.mapping import ServingMapping


@dataclass
class ModelFacts:
    """A loaded model and what serving asks of it (memoized per mapping).

    Attributes:
        cfg: the family's config object.
        name: model name.
        num_layers: transformer layers.
        experts: routed experts per MoE layer, ``None`` for a dense model.
        weight_dtype: weight-format override (``evaluate_model``'s ``weight_dtype``).
    """

    cfg: Any
    name: str
    num_layers: int
    experts: int | None
    weight_dtype: str | None = None
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, model: str, weight_dtype: str | None = None) -> ModelFacts:
        """Facts of a shipped model name or config path.

        Raises:
            SpecError: ``model`` unknown; ``weight_dtype`` not a dtype.
        """
        fam = workload_family()
        cfg = fam.load(model)
        if weight_dtype is not None:
            from codesign.ir.dtypes import DType

            DType.parse(weight_dtype, "weight_dtype")
        return cls(cfg, str(cfg.name), int(cfg.num_layers), fam.num_experts(cfg), weight_dtype)

    @property
    def is_moe(self) -> bool:
        return self.experts is not None

    @property
    def hidden_size(self) -> int:
        return int(self.cfg.hidden_size)

    def _options(self) -> BuildOptions:
        from codesign.ir.dtypes import DType

        wd = DType.parse(self.weight_dtype, "weight_dtype") if self.weight_dtype else None
        return BuildOptions(weight_dtype=wd)

    def _stage_footprint(self, tp: int, dp: int, ep: int, redundant: int, pp: int,
                         stage: int) -> MemoryFootprint:
        """One GPU of pipeline stage ``stage`` of ``pp``: weights, KV of one token of one
        sequence per attention-DP rank, activations of that token."""
        key = ("fp", tp, dp, ep, redundant, pp, stage)
        hit = self._memo.get(key)
        if hit is None:
            L = self.num_layers
            layers = None if pp == 1 else (stage * L // pp, (stage + 1) * L // pp)
            par = ParallelSpec(tp=tp, dp=dp, ep=ep, redundant_experts=redundant)
            hit = workload_family().footprint(self.cfg, PhaseSpec.decode(dp, 0), par,
                                              self._options(), layers)
            self._memo[key] = hit
        return hit

    def _busiest(self, m: ServingMapping) -> MemoryFootprint:
        """The pipeline stage whose GPUs hold the most weights."""
        fps = [self._stage_footprint(m.tp, m.instance_dp, m.ep, m.redundant_experts, m.pp, s)
               for s in range(m.pp)]
        return max(fps, key=lambda f: f.weights_bytes)

    def weights_per_gpu(self, m: ServingMapping) -> float:
        """Weight bytes on the busiest GPU of an instance of ``m``."""
        return self._busiest(m).weights_bytes

    def kv_bytes_per_gpu_token(self, m: ServingMapping) -> float:
        """KV bytes one GPU of the busiest stage holds per cached token of a sequence."""
        return self._busiest(m).kv_bytes

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes of one token over all layers (before any split)."""
        return self._stage_footprint(1, 1, 1, 0, 1, 0).kv_bytes

    def kv_shards(self, tp: int) -> int:
        """GPUs of a TP group over which one token's KV is split (KV heads split over
        ``min(tp, kv_heads)``; MLA's latent is replicated: 1)."""
        key = ("shards", tp)
        hit = self._memo.get(key)
        if hit is None:
            one = self._stage_footprint(tp, 1, 1, 0, 1, 0).kv_bytes
            hit = self._memo[key] = max(1, round(self.kv_bytes_per_token / one))
        return int(hit)
