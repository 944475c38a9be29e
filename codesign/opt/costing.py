"""Costing one rank's pass quickly for searches: per-layer costs of a short graph
extrapolated to the full depth, op costs memoized by op value, and the memory a rank needs.

Shared by deployment search (``deployment``) and hardware sizing (``sizing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codesign.hw.cost import OpCost
    from codesign.hw.device import DeviceModel, LaunchMode
    from codesign.hw.placement import ParallelSpec
    from codesign.ir.models import ModelConfig
    from codesign.ir.ops import Op
    from codesign.ir.spec import BuildOptions, PhaseSpec


@dataclass(frozen=True, slots=True)
class PassCost:
    """One pass of one rank: seconds of the embedding, of each layer and of the head."""

    embed_s: float
    layers_s: tuple[float, ...]
    head_s: float
    energy_j: float  # one rank

    @property
    def latency_s(self) -> float:
        return self.embed_s + sum(self.layers_s) + self.head_s

    def stage_times(self, pp: int) -> list[float]:
        """Seconds of each of ``pp`` contiguous stages (first holds the embedding, last the
        head; the first ``L mod pp`` stages take one layer more)."""
        n = len(self.layers_s)
        out, start = [], 0
        for k in range(pp):
            size = n // pp + (1 if k < n % pp else 0)
            out.append(sum(self.layers_s[start:start + size]))
            start += size
        out[0] += self.embed_s
        out[-1] += self.head_s
        return out


def steady_layers(cfg: ModelConfig) -> int:
    """Fewest leading layers in which every layer kind occurs twice (or as often as it does)."""
    kinds = [cfg.is_moe_layer(i) for i in range(cfg.num_layers)]
    need = {k: min(2, kinds.count(k)) for k in set(kinds)}
    for n in range(1, cfg.num_layers + 1):
        if all(kinds[:n].count(k) >= c for k, c in need.items()):
            return n
    return cfg.num_layers


def cost_pass(cfg: ModelConfig, phase: PhaseSpec, parallel: ParallelSpec,
              device: DeviceModel, launch: LaunchMode,
              options: BuildOptions | None = None) -> PassCost:
    """Cost one rank's pass with the analytical engine on a graph of :func:`steady_layers`
    layers; later layers take the time of the last costed layer of their kind.

    Raises:
        SpecError: a mapping the model cannot be split by.
    """
    from codesign.engines.analytical import AnalyticalEngine
    from codesign.ir.models import build_graph

    n = steady_layers(cfg)
    small = cfg.model_copy(update={"num_layers": n})
    graph = build_graph(small, phase, parallel, options)
    run = AnalyticalEngine().run(graph, device, tokens=phase.tokens, world=parallel.world,
                                 launch=launch)
    t, e = [0.0] * n, [0.0] * n
    embed = head = e_fixed = 0.0
    for r in run.records:
        if r.layer is None:
            e_fixed += r.energy_j
            if r.key.startswith(("embed", "pos_embed")):
                embed += r.latency_s
            else:
                head += r.latency_s
        else:
            t[r.layer] += r.latency_s
            e[r.layer] += r.energy_j
    kinds = [cfg.is_moe_layer(i) for i in range(cfg.num_layers)]
    last = {kinds[i]: i for i in range(n)}
    idx = [i if i < n else last[kinds[i]] for i in range(cfg.num_layers)]
    return PassCost(embed, tuple(t[i] for i in idx), head, e_fixed + sum(e[i] for i in idx))


class MemoDevice:
    """``device`` with op costs cached by op value across graphs: ``op_cost`` is a pure
    function of the op (the hardware contract), and graphs of neighbouring candidates share
    many ops (the same attention under another ``ep``, the same head under another ``pp``)."""

    def __init__(self, device: DeviceModel) -> None:
        self.device = device
        self.name = device.name
        self._costs: dict[Op, OpCost] = {}

    def op_cost(self, op: Op) -> OpCost:
        c = self._costs.get(op)
        if c is None:
            c = self._costs[op] = self.device.op_cost(op)
        return c

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.device, attr)


def weights_per_gpu(cfg: ModelConfig, tp: int, ep: int, pp: int = 1,
                    redundant: int = 0) -> float:
    """Weight bytes one GPU holds. Linear layers take the model's weight format, embedding,
    head, norms and gate 2 bytes a value. Attention, dense FFN, norms, embedding and head are
    split over ``tp``; shared experts and the gate over ``tp`` when ``ep == 1``, else held
    whole; routed experts (with ``redundant`` replicas) over ``ep`` (over ``tp`` when
    ``ep == 1``); the total over ``pp`` stages."""
    from codesign.ir.models import count_params

    p = count_params(cfg)
    wb = cfg.weight_dtype.bits / 8
    split = (p.attention + p.dense_ffn) * wb + (p.norms + p.embedding + p.lm_head) * 2
    shared = p.moe_shared * wb + p.moe_gate * 2
    routed = p.moe_routed * wb
    if cfg.moe is not None:
        routed *= (cfg.moe.n_routed_experts + redundant) / cfg.moe.n_routed_experts
    per_rank = split / tp + (shared / tp + routed / tp if ep == 1 else shared + routed / ep)
    return per_rank / pp


def kv_bytes_per_gpu(cfg: ModelConfig, tp: int, sequences: int, context: int) -> float:
    """KV-cache bytes one GPU holds for ``sequences`` of ``context`` tokens (BF16)."""
    share = 1.0
    if cfg.mla is None:
        share = max(1, cfg.num_kv_heads // tp) / cfg.num_kv_heads
    return sequences * context * cfg.kv_cache_bytes_per_token() * share


