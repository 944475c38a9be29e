"""Deployment search, candidate side: enumerate and cost the per-phase configurations that
:func:`codesign.opt.deployment.search_deployment` chooses from (steps 1-4 of its method; the
SLO filter and the MILP are in :mod:`codesign.opt.deployment`).

1. **Enumerate** per-phase candidates ``(tp, pp, dp, ep, batch per rank)`` (see
   :class:`DeploymentSpace`). An instance of a candidate uses ``tp * dp * pp`` GPUs. MoE
   models: expert parallelism over the ``tp`` ranks of a one-group instance, or over all
   ``tp * dp`` ranks of a stage, with redundant expert slots making the routed experts divide
   evenly (as DeepSeek's EP320 decode: 256 routed + 64 redundant), up to
   ``max_redundant_fraction`` of the routed experts; or experts split over ``tp`` (``ep=1``).
2. **Memory filter** (per GPU, before any costing): weights + KV cache <= device memory x
   ``memory_fraction`` (0.9; activations and workspace are assumed to fit in the rest).
   Weights: attention, dense FFNs, norms, embedding and head split over ``tp``; routed experts
   and their redundant copies over ``ep`` (``ep > 1``) or split over ``tp`` (``ep == 1``);
   shared experts and the gate split over ``tp`` when ``ep == 1``, else replicated (as the
   graph builder maps them); all divided by ``pp`` (embedding and head spread evenly over
   stages: an approximation).
   KV cache: ``batch per rank x context x kv bytes per token x (KV heads per rank / KV
   heads)`` (MLA latents are replicated over tp); with ``pp`` stages ``pp`` micro-batches are
   in flight, each stage holding ``1/pp`` of the layers, so the KV per GPU does not depend on
   ``pp``. Context: the prompt for prefill, prompt + output for decode.
3. **Cost each distinct per-rank graph once.** One rank's graph depends on ``(phase, tp, ep,
   sequences per rank)`` only, not on ``dp``, ``pp`` or the GPU count, so it is costed once
   (analytical engine, prefill with eager launches, decode with CUDA graphs) and every
   candidate sharing it is derived. Identical layers cost the same, so the engine runs on a
   graph with just enough layers to reach each layer kind's steady state (2 dense layers;
   DeepSeek-V3: 3 dense + 2 MoE) and the rest are extrapolated; a test checks this equals
   costing the full graph. Decode is costed at the mean context ``prompt + output / 2``.
4. **Pipeline stages** (an approximation, the graph builder has no PP): contiguous layer
   chunks (embedding on the first stage, head on the last), stage time = the chunk's share of
   the per-layer times; between stages one send/recv of the rank's activations (BF16) over
   NVLink when the instance fits one node, else over the scale-out network (system model).
   Prefill: TTFT = sum of stages + (pp-1) sends; throughput = dp x batch / (slowest stage +
   send). Decode: pp micro-batches in flight, TPOT = pp x (slowest stage + send); throughput
   = dp x batch x pp / TPOT. ``pp = 1`` gives the plain pass.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from codesign.errors import SpecError, require_positive
from codesign.opt.costing import (
    MemoDevice,
    PassCost,
    cost_pass,
    kv_bytes_per_gpu,
    weights_per_gpu,
)

if TYPE_CHECKING:
    from codesign.hw.device import LaunchMode
    from codesign.ir.models import ModelConfig

Axis = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]


class DeploymentSpace(BaseModel):
    """Candidate axes. ``None`` means the default described per field.

    Attributes:
        tp: tensor parallel degrees (default: divisors of the head count up to the GPUs of one
            node; degrees the model cannot be split by are skipped).
        pp: pipeline stages.
        dp: attention data parallel degrees inside one instance (default: ``1`` for dense
            models, whose replicas are instances; for MoE models, where the expert-parallel
            group spans ``tp x dp`` ranks, every ``dp`` making ``tp x dp`` a power of two or
            whole nodes).
        prefill_batch: prompts per rank in one prefill pass.
        decode_batch: sequences per rank in one decode step.
        max_instance_gpus: GPUs of one instance at most (default: the GPU budget).
        memory_fraction: usable share of device memory for weights and KV cache.
        max_redundant_fraction: redundant expert slots at most this share of the routed
            experts (0: ``ep`` must divide the routed experts).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tp: Axis | None = None
    pp: Axis = (1, 2, 4, 8)
    dp: Axis | None = None
    prefill_batch: Axis = (1, 2, 4, 8, 16)
    decode_batch: Axis = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512)
    max_instance_gpus: PositiveInt | None = None
    memory_fraction: float = Field(0.9, gt=0, le=1)
    max_redundant_fraction: float = Field(0.25, ge=0)


@dataclass(frozen=True, slots=True)
class PhaseConfig:
    """One prefill or decode instance configuration and its costs.

    ``latency_s`` is the TTFT (prefill) or TPOT (decode); ``rate_per_s`` what one instance
    serves: requests/s (prefill) or output tokens/s (decode).
    """

    phase: str
    tp: int
    pp: int
    dp: int
    ep: int
    redundant_experts: int
    batch_per_rank: int
    gpus: int
    latency_s: float
    rate_per_s: float
    memory_bytes_per_gpu: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CandidateSet:
    """Per-phase candidates that fit memory and could be built, with the search counts."""

    prefill: list[PhaseConfig]
    decode: list[PhaseConfig]
    candidates: int = 0  # configurations enumerated
    memory_rejected: int = 0
    unbuildable: int = 0  # mappings the model cannot be split by
    distinct_graphs: int = 0
    min_memory_bytes: dict[str, float] = field(default_factory=dict)
    memory_capacity_bytes: float = 0.0
    usd_per_gpu_hour: float = 0.0



# ------------------------------------------------------------------------------ enumerate
def _system(hw: Any, gpus: int) -> Any:
    """The network model of the first pool of ``hw`` (a system, or a cluster of a device)."""
    from codesign.hw import resolve_system

    if hasattr(hw, "intra"):
        return hw
    system = resolve_system(hw, gpus, "--hw")
    if gpus > system.main.spec.devices:
        raise SpecError("gpus", f"{gpus} exceeds the {system.main.spec.devices} devices of "
                        f"{system.name}")
    return system.main.model


def _axes(cfg: ModelConfig, space: DeploymentSpace, per_node: int, max_gpus: int
          ) -> list[tuple[int, int, int, int, int]]:
    """(tp, pp, dp, ep, redundant experts) within ``max_gpus`` GPUs per instance."""
    moe = cfg.moe
    tps = space.tp or tuple(t for t in range(1, per_node + 1) if cfg.num_heads % t == 0)
    pps = tuple(p for p in space.pp if p <= cfg.num_layers)
    out = []
    for tp, pp in itertools.product(tps, pps):
        top = max_gpus // (tp * pp)
        if moe is None:
            dps = space.dp or (1,)
        else:
            dps = space.dp or tuple(d for d in range(1, top + 1)
                                    if (tp * d) & (tp * d - 1) == 0 or tp * d % per_node == 0)
        for dp in (d for d in dps if d <= top):
            if moe is None:
                out.append((tp, pp, dp, 1, 0))
                continue
            e = moe.n_routed_experts
            for ep in dict.fromkeys((1, tp) if dp == 1 else (tp * dp,)):
                r = -e % ep
                if r <= space.max_redundant_fraction * e:
                    out.append((tp, pp, dp, ep, r))
    return out


def enumerate_candidates(model: str, hw: Any, gpus: int, prompt_len: int, output_len: int,
                         space: DeploymentSpace | None = None) -> CandidateSet:
    """Every per-phase candidate of ``space`` that fits memory, costed (module doc 1-4).

    Raises:
        SpecError: bad sizes, unknown model or hardware, a budget larger than the system.
    """
    from codesign.ir.models import load_model

    for name, v in (("gpus", gpus), ("prompt_len", prompt_len), ("output_len", output_len)):
        require_positive(name, v)
    space = space or DeploymentSpace()
    cfg = load_model(model)
    system = _system(hw, gpus)
    per_node = system.spec.gpus_per_node if hasattr(system, "spec") else 1
    max_gpus = min(gpus, space.max_instance_gpus or gpus)
    cap = system.memory_bytes * space.memory_fraction
    price = system.usd_per_hour
    out = CandidateSet([], [], memory_capacity_bytes=cap, usd_per_gpu_hour=price)
    costs: dict[tuple[Any, ...], PassCost | None] = {}
    memo = MemoDevice(system)
    axes = _axes(cfg, space, per_node, max_gpus)
    for phase in ("prefill", "decode"):
        batches = space.prefill_batch if phase == "prefill" else space.decode_batch
        mem_ctx = prompt_len if phase == "prefill" else prompt_len + output_len
        seq = prompt_len if phase == "prefill" else 1
        for tp, pp, dp, ep, red in axes:
            weights = weights_per_gpu(cfg, tp, ep, pp, red)
            for b in batches:
                out.candidates += 1
                mem = weights + kv_bytes_per_gpu(cfg, tp, b, mem_ctx)
                low = out.min_memory_bytes.get(phase, math.inf)
                out.min_memory_bytes[phase] = min(low, mem)
                if mem > cap:
                    out.memory_rejected += 1
                    continue
                key = (phase, tp, ep, b)
                if key not in costs:
                    costs[key] = _rank_cost(cfg, memo, phase, tp, ep, red, b, prompt_len,
                                            output_len)
                c = costs[key]
                if c is None:
                    out.unbuildable += 1
                    continue
                send = _send_s(system, b * seq * cfg.hidden_size * 2, pp,
                               tp * dp * pp <= per_node)
                latency, rate = phase_metrics(phase, c, pp, dp * b, send)
                cand = PhaseConfig(phase, tp, pp, dp, ep, red, b, tp * dp * pp, latency, rate,
                                   mem)
                (out.prefill if phase == "prefill" else out.decode).append(cand)
    out.distinct_graphs = sum(1 for v in costs.values() if v is not None)
    return out


def _rank_cost(cfg: ModelConfig, memo: MemoDevice, phase: str, tp: int, ep: int, red: int, b: int,
               prompt_len: int, output_len: int) -> PassCost | None:
    """One rank's pass of ``b`` sequences per rank (module doc 3); None when the model
    cannot be split that way."""
    from codesign.hw.placement import ParallelSpec
    from codesign.ir.spec import PhaseSpec

    gdp = max(1, ep // tp)
    ph = (PhaseSpec.prefill(b * gdp, prompt_len) if phase == "prefill" else
          PhaseSpec.decode(b * gdp, prompt_len + output_len // 2))
    try:
        par = ParallelSpec(tp=tp, dp=gdp, ep=ep, redundant_experts=red)
        launch: LaunchMode = "eager" if phase == "prefill" else "graph"
        return cost_pass(cfg, ph, par, memo, launch)
    except SpecError:
        return None


def phase_metrics(phase: str, cost: PassCost, pp: int, sequences: int, send_s: float
                  ) -> tuple[float, float]:
    """(TTFT or TPOT in s, requests/s or output tokens/s) of one instance whose pass on each
    rank costs ``cost``, ``sequences`` per micro-batch over its dp groups (module doc 4)."""
    stages = cost.stage_times(pp)
    period = max(stages) + (send_s if pp > 1 else 0.0)
    if phase == "prefill":
        return sum(stages) + (pp - 1) * send_s, sequences / period
    tpot = pp * period
    return tpot, sequences * pp / tpot


def _send_s(system: Any, nbytes: float, pp: int, one_node: bool) -> float:
    """One stage-to-stage activation transfer (0 without pipeline stages)."""
    if pp == 1:
        return 0.0
    if one_node:
        return float(system.intra("send_recv", nbytes, 2).time_s)
    return float(system.inter("send_recv", nbytes, 2).time_s)
