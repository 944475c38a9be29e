"""Deployment search: parallel degrees, batch, GPU count and the prefill/decode split that
maximise output tokens per dollar under TTFT/TPOT limits and device memory.

Build -> solve -> extract, with the candidate costing in front. Steps 1-4 (enumerate the
per-phase candidates, filter them by memory, cost each distinct per-rank graph once, derive
pipeline stages) are in :mod:`codesign.opt.deployment_candidates`; this module filters them by
the SLOs and chooses the deployment:

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

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from codesign.errors import SpecError, require_positive
from codesign.opt.costing import MemoDevice as MemoDevice
from codesign.opt.costing import PassCost as PassCost
from codesign.opt.costing import cost_pass as cost_pass
from codesign.opt.costing import kv_bytes_per_gpu as kv_bytes_per_gpu
from codesign.opt.costing import weights_per_gpu as weights_per_gpu
from codesign.opt.deployment_candidates import Axis as Axis
from codesign.opt.deployment_candidates import (
    CandidateSet,
    DeploymentSpace,
    PhaseConfig,
    enumerate_candidates,
)
from codesign.opt.deployment_candidates import _axes as _axes
from codesign.opt.deployment_candidates import _send_s as _send_s
from codesign.opt.deployment_candidates import _system as _system
from codesign.opt.deployment_candidates import phase_metrics as phase_metrics

RATIO_TIE_TOLERANCE = 1e-7
MAX_DINKELBACH_ITERATIONS = 50


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
                            "(tp must divide the heads and FFN sizes, ep the expert slots)")
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
