"""Deployment search: parallel degrees, batch, GPU count and the prefill/decode split that
maximise output tokens per dollar under TTFT/TPOT limits and device memory.

Build -> solve -> extract, with the candidate costing in front:

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
5. **SLO filter**: TTFT <= ``ttft_slo_s`` (the prefill pass of the rank's batch of prompts;
   queueing and the first decode step ignored) and
   TPOT <= ``tpot_slo_s``. If nothing meets one, :class:`SpecError` names it with the fastest
   time found. Candidates dominated by another of the same phase with no more GPUs and no
   less throughput are dropped (exact: swapping in the dominating one never lowers the
   throughput nor raises the cost of a deployment).
6. **MILP** (Pyomo + HiGHS): one prefill and one decode configuration (binaries), integer
   instance counts ``x_p, x_d >= 1``, ``x_p G_p + x_d G_d <= gpus``; served output tokens/s
   ``T <= output_len x sum R_p x_p`` (prefill request rate) and ``T <= sum R_d x_d`` (decode
   token rate) -- the prefill/decode balance.

**Ratio objective, linearised by Dinkelbach's method.** tokens/s per $/h, ``T / C`` with
``C = $/GPU-hour x GPUs``, is a ratio of two linear functions. Starting from ``q = 0``
(max throughput), each MILP maximises ``T - q C`` and ``q`` becomes the ratio of its answer;
the iteration stops when the maximum is 0 (then no deployment beats ``q``): finite and exact
for a MILP. As the ratio is scale invariant, a last MILP maximises ``T`` subject to
``T >= q* C (1 - 1e-7)``: among the most cost-efficient deployments, the one serving the most
tokens within the GPU budget.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from codesign.errors import SpecError, require_positive
from codesign.opt.costing import (
    MemoDevice,
    PassCost,
    cost_pass,
    kv_bytes_per_gpu,
    weights_per_gpu,
)

Axis = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
RATIO_TIE_TOLERANCE = 1e-7
MAX_DINKELBACH_ITERATIONS = 50


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


@dataclass(frozen=True)
class DeploymentResult:
    """The chosen deployment. Rates in output tokens/s; money in USD; times in seconds.

    Attributes:
        prefill, decode: the chosen configurations; ``*_instances`` how many of each.
        gpus: GPUs used (at most ``gpus_budget``).
        tokens_per_s: output tokens/s served (the slower of prefill and decode capacity).
        tokens_per_s_per_usd_per_hour: the objective; ``tokens_per_usd`` the same x 3600.
        ttft_s, tpot_s: of the chosen configurations (queueing ignored).
        candidates: per-phase configurations enumerated; ``costed`` of them fitting memory
            and buildable (timed); ``memory_rejected``, ``unbuildable``, ``slo_rejected``.
        distinct_graphs: per-rank graphs the analytical engine costed.
        deployments: (prefill config, decode config, x_p, x_d) combinations meeting the
            SLOs within the budget: the space the MILP searched exactly.
        milp_candidates: configurations per phase left after dominance pruning.
        solve: the last MILP's solve info, with ``milps`` and ``all_optimal``.
    """

    model: str
    hw: str
    prompt_len: int
    output_len: int
    ttft_slo_s: float
    tpot_slo_s: float
    gpus_budget: int
    prefill: PhaseConfig
    decode: PhaseConfig
    prefill_instances: int
    decode_instances: int
    gpus: int
    tokens_per_s: float
    requests_per_s: float
    usd_per_hour: float
    tokens_per_s_per_usd_per_hour: float
    tokens_per_usd: float
    usd_per_million_tokens: float
    ttft_s: float
    tpot_s: float
    candidates: int
    costed: int
    memory_rejected: int
    unbuildable: int
    slo_rejected: int
    distinct_graphs: int
    deployments: int
    milp_candidates: dict[str, int]
    dinkelbach_iterations: int
    search_s: float
    milp_s: float
    solve: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prefill"], d["decode"] = self.prefill.as_dict(), self.decode.as_dict()
        return d


# ------------------------------------------------------------------------------ enumerate
def _system(hw: Any, gpus: int) -> Any:
    from codesign.evaluate import resolve_system
    from hwmodels.network.presets import cluster_of

    if isinstance(hw, str):
        try:
            return resolve_system(hw, gpus)
        except SpecError as e:
            if e.field == "world":
                raise SpecError("gpus", e.message) from None
            raise
    return hw if hasattr(hw, "intra") else cluster_of(hw, gpus)


def _axes(cfg: Any, space: DeploymentSpace, per_node: int, max_gpus: int
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
    from workloads.registry import load_model
    from workloads.spec import ParallelSpec, PhaseSpec

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
                    gdp = max(1, ep // tp)
                    ph = (PhaseSpec.prefill(b * gdp, prompt_len) if phase == "prefill" else
                          PhaseSpec.decode(b * gdp, prompt_len + output_len // 2))
                    try:
                        par = ParallelSpec(tp=tp, dp=gdp, ep=ep, redundant_experts=red)
                        launch = "eager" if phase == "prefill" else "graph"
                        costs[key] = cost_pass(cfg, ph, par, memo, launch)
                    except SpecError:
                        costs[key] = None
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


# ------------------------------------------------------------------------------ SLOs
def _apply_slos(cs: CandidateSet, model: str, hw: str, gpus: int, prompt_len: int,
                ttft_slo_s: float, tpot_slo_s: float) -> tuple[list[PhaseConfig],
                                                               list[PhaseConfig]]:
    """Candidates meeting the SLOs; SpecError naming the binding limit when none does."""
    for phase, items in (("prefill", cs.prefill), ("decode", cs.decode)):
        need = cs.min_memory_bytes.get(phase, math.inf)
        if not items and need > cs.memory_capacity_bytes:
            raise SpecError("gpus", f"no {phase} mapping of {model} fits in {gpus} x {hw}: "
                            f"the smallest needs {need / 1e9:.1f} GB per GPU > "
                            f"{cs.memory_capacity_bytes / 1e9:.1f} GB usable")
        if not items:
            raise SpecError("space", f"no {phase} mapping of the space splits {model} "
                            "(tp must divide the heads and FFN sizes; under ep > 1 tokens per "
                            "rank must divide by tp)")
    pre = [c for c in cs.prefill if c.latency_s <= ttft_slo_s]
    dec = [c for c in cs.decode if c.latency_s <= tpot_slo_s]
    msgs = []
    if not pre:
        f = min(cs.prefill, key=lambda c: c.latency_s)
        msgs.append(("ttft_slo_s", f"the fastest prefill of a {prompt_len}-token prompt on "
                     f"{hw} takes {f.latency_s * 1e3:.1f} ms > {ttft_slo_s * 1e3:.1f} ms "
                     f"({_mapping(f)})"))
    if not dec:
        f = min(cs.decode, key=lambda c: c.latency_s)
        msgs.append(("tpot_slo_s", f"the fastest decode step on {hw} is "
                     f"{f.latency_s * 1e3:.2f} ms > {tpot_slo_s * 1e3:.2f} ms ({_mapping(f)})"))
    if msgs:
        extra = "".join(f"; also {k}: {m}" for k, m in msgs[1:])
        raise SpecError(msgs[0][0], msgs[0][1] + extra)
    gp, gd = min(c.gpus for c in pre), min(c.gpus for c in dec)
    if gp + gd > gpus:
        raise SpecError("gpus", f"the smallest deployment meeting the SLOs needs {gp + gd} "
                        f"GPUs ({gp} prefill + {gd} decode) > {gpus}")
    return pre, dec


def _mapping(c: PhaseConfig) -> str:
    return f"tp={c.tp} pp={c.pp} dp={c.dp} ep={c.ep} batch/rank={c.batch_per_rank}"


def pareto_front(items: Sequence[PhaseConfig]) -> list[PhaseConfig]:
    """Candidates not dominated by one with no more GPUs and at least the same rate."""
    out: list[PhaseConfig] = []
    best = -math.inf
    for c in sorted(items, key=lambda c: (c.gpus, -c.rate_per_s, c.latency_s)):
        if c.rate_per_s > best:
            out.append(c)
            best = c.rate_per_s
    return out


# ------------------------------------------------------------------------------ MILP
def build_deployment_model(prefill: Sequence[PhaseConfig], decode: Sequence[PhaseConfig],
                           gpus: int, output_len: int, usd_per_gpu_hour: float, *,
                           q: float = 0.0, min_ratio: float | None = None) -> Any:
    """The split MILP (module doc step 6): maximise ``T - q C``, or, with ``min_ratio``,
    ``T`` subject to ``T >= min_ratio C``. ``T`` output tokens/s, ``C`` $/h."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel("deployment")
    m.P = pyo.Set(initialize=range(len(prefill)))
    m.D = pyo.Set(initialize=range(len(decode)))
    m.yp = pyo.Var(m.P, within=pyo.Binary)
    m.yd = pyo.Var(m.D, within=pyo.Binary)
    m.xp = pyo.Var(m.P, within=pyo.NonNegativeIntegers,
                   bounds=lambda _, i: (0, gpus // prefill[i].gpus))
    m.xd = pyo.Var(m.D, within=pyo.NonNegativeIntegers,
                   bounds=lambda _, j: (0, gpus // decode[j].gpus))
    m.T = pyo.Var(within=pyo.NonNegativeReals)
    m.one_prefill = pyo.Constraint(expr=sum(m.yp[i] for i in m.P) == 1)
    m.one_decode = pyo.Constraint(expr=sum(m.yd[j] for j in m.D) == 1)
    m.xp_on = pyo.Constraint(m.P, rule=lambda m, i: m.xp[i] >= m.yp[i])
    m.xp_off = pyo.Constraint(m.P, rule=lambda m, i: m.xp[i] <= (gpus // prefill[i].gpus)
                              * m.yp[i])
    m.xd_on = pyo.Constraint(m.D, rule=lambda m, j: m.xd[j] >= m.yd[j])
    m.xd_off = pyo.Constraint(m.D, rule=lambda m, j: m.xd[j] <= (gpus // decode[j].gpus)
                              * m.yd[j])
    used = (sum(prefill[i].gpus * m.xp[i] for i in m.P)
            + sum(decode[j].gpus * m.xd[j] for j in m.D))
    m.budget = pyo.Constraint(expr=used <= gpus)
    m.prefill_rate = pyo.Constraint(
        expr=output_len * sum(prefill[i].rate_per_s * m.xp[i] for i in m.P) >= m.T)
    m.decode_rate = pyo.Constraint(expr=sum(decode[j].rate_per_s * m.xd[j] for j in m.D) >= m.T)
    cost = usd_per_gpu_hour * used
    if min_ratio is None:
        m.obj = pyo.Objective(expr=m.T - q * cost, sense=pyo.maximize)
    else:
        m.ratio = pyo.Constraint(expr=min_ratio * cost <= m.T)
        m.obj = pyo.Objective(expr=m.T, sense=pyo.maximize)
    return m


def extract_deployment(m: Any) -> tuple[int, int, int, int]:
    """``(prefill index, decode index, prefill instances, decode instances)`` of a solved
    model."""
    i = max(m.P, key=lambda i: m.yp[i].value or 0.0)
    j = max(m.D, key=lambda j: m.yd[j].value or 0.0)
    return i, j, round(m.xp[i].value), round(m.xd[j].value)


def deployment_value(p: PhaseConfig, d: PhaseConfig, xp: int, xd: int, output_len: int,
                     usd_per_gpu_hour: float) -> tuple[float, float]:
    """(served output tokens/s, $/h) of ``xp`` prefill and ``xd`` decode instances."""
    t = min(output_len * p.rate_per_s * xp, d.rate_per_s * xd)
    return t, usd_per_gpu_hour * (p.gpus * xp + d.gpus * xd)


def solve_milp(m: Any, time_limit_s: float, mip_gap: float = 1e-9) -> dict[str, Any]:
    """Solve with HiGHS (``codesign.opt.solver.solve``); the solve info as plain data.

    Raises:
        SolverError: infeasible, or no incumbent within the time limit.
    """
    from codesign.opt.solver import solve

    return asdict(solve(m, solver="highs", time_limit_s=time_limit_s, mip_gap=mip_gap))


def optimize_split(prefill: Sequence[PhaseConfig], decode: Sequence[PhaseConfig], gpus: int,
                   output_len: int, usd_per_gpu_hour: float, time_limit_s: float = 30.0
                   ) -> tuple[tuple[int, int, int, int], int, dict[str, Any]]:
    """Dinkelbach iterations then the tie-break MILP (module docstring).

    Returns:
        (choice as :func:`extract_deployment`, Dinkelbach iterations, the last solve's info
        with ``milps`` solved and ``all_optimal``: False when a solve stopped at the time
        limit, so the answer is the best found, not proved best).
    """
    q, info, iters, optimal = 0.0, {}, 0, True
    while iters < MAX_DINKELBACH_ITERATIONS:
        iters += 1
        m = build_deployment_model(prefill, decode, gpus, output_len, usd_per_gpu_hour, q=q)
        info = solve_milp(m, time_limit_s)
        optimal &= info.get("status") == "optimal"
        i, j, xp, xd = extract_deployment(m)
        t, c = deployment_value(prefill[i], decode[j], xp, xd, output_len, usd_per_gpu_hour)
        if t - q * c <= 1e-9 * max(t, 1.0):
            break
        q = t / c
    m = build_deployment_model(prefill, decode, gpus, output_len, usd_per_gpu_hour,
                               min_ratio=q * (1 - RATIO_TIE_TOLERANCE))
    info = solve_milp(m, time_limit_s)
    optimal &= info.get("status") == "optimal"
    return extract_deployment(m), iters, {**info, "milps": iters + 1, "all_optimal": optimal}


def _count_deployments(pre: Sequence[PhaseConfig], dec: Sequence[PhaseConfig], gpus: int) -> int:
    """(prefill config, decode config, x_p >= 1, x_d >= 1) combinations within the budget."""
    by_g: dict[int, int] = {}
    for d in dec:
        by_g[d.gpus] = by_g.get(d.gpus, 0) + 1
    total = 0
    for p in pre:
        for xp in range(1, gpus // p.gpus + 1):
            left = gpus - xp * p.gpus
            total += sum(n * (left // g) for g, n in by_g.items())
    return total


def search_deployment(model: str, hw: Any, gpus: int, prompt_len: int, output_len: int,
                      ttft_slo_s: float, tpot_slo_s: float, *,
                      space: DeploymentSpace | None = None,
                      time_limit_s: float = 30.0) -> DeploymentResult:
    """The deployment of ``model`` on up to ``gpus`` GPUs of ``hw`` serving the most output
    tokens per dollar with TTFT <= ``ttft_slo_s`` and TPOT <= ``tpot_slo_s`` (seconds) for
    requests of ``prompt_len`` prompt and ``output_len`` output tokens (module docstring).

    Args:
        hw: device name (a cluster of 8-GPU NVLink nodes), system preset, or a model.
        space: candidate axes (default :class:`DeploymentSpace`).
        time_limit_s: per MILP solve.

    Raises:
        SpecError: non-positive sizes or limits, nothing fitting memory (``gpus``), no
            candidate meeting an SLO (``ttft_slo_s`` / ``tpot_slo_s``, with the fastest time
            found), or a GPU budget below the smallest deployment meeting both.
    """
    for name, v in (("ttft_slo_s", ttft_slo_s), ("tpot_slo_s", tpot_slo_s),
                    ("time_limit_s", time_limit_s)):
        require_positive(name, v)
    t0 = time.perf_counter()
    cs = enumerate_candidates(model, hw, gpus, prompt_len, output_len, space)
    hw_name = hw if isinstance(hw, str) else getattr(hw, "name", "hw")
    pre, dec = _apply_slos(cs, model, hw_name, gpus, prompt_len, ttft_slo_s, tpot_slo_s)
    price = cs.usd_per_gpu_hour
    fp, fd = pareto_front(pre), pareto_front(dec)
    t1 = time.perf_counter()
    (i, j, xp, xd), iters, info = optimize_split(fp, fd, gpus, output_len, price, time_limit_s)
    milp_s = time.perf_counter() - t1
    p, d = fp[i], fd[j]
    t, c = deployment_value(p, d, xp, xd, output_len, price)
    n_gpus = p.gpus * xp + d.gpus * xd
    return DeploymentResult(
        model=model, hw=hw_name, prompt_len=prompt_len, output_len=output_len,
        ttft_slo_s=ttft_slo_s, tpot_slo_s=tpot_slo_s, gpus_budget=gpus, prefill=p, decode=d,
        prefill_instances=xp, decode_instances=xd, gpus=n_gpus, tokens_per_s=t,
        requests_per_s=t / output_len, usd_per_hour=c, tokens_per_s_per_usd_per_hour=t / c,
        tokens_per_usd=t * 3600 / c, usd_per_million_tokens=c / 3600 / t * 1e6,
        ttft_s=p.latency_s, tpot_s=d.latency_s, candidates=cs.candidates,
        costed=len(cs.prefill) + len(cs.decode), memory_rejected=cs.memory_rejected,
        unbuildable=cs.unbuildable,
        slo_rejected=len(cs.prefill) + len(cs.decode) - len(pre) - len(dec),
        distinct_graphs=cs.distinct_graphs, deployments=_count_deployments(pre, dec, gpus),
        milp_candidates={"prefill": len(fp), "decode": len(fd)}, dinkelbach_iterations=iters,
        search_s=time.perf_counter() - t0, milp_s=milp_s, solve=info)
