"""The expert-placement MILP: its data, the exact and neighbourhood instances, and the Pyomo
build and extract steps. Every public name is re-exported by :mod:`codesign.opt.placement`.

Model (:func:`build_placement_model`), for one layer (``E`` experts with loads ``w_e``, ``G``
GPUs with ``m`` slots each). The product ``x_eg / r_e`` is linearised exactly by
disaggregating on the replica count: binary ``z_ek`` picks ``r_e = k`` from a range ``K_e``,
integer ``u_ekg`` (replicas of ``e`` on ``g`` when ``r_e = k``) satisfies
``sum_g u_ekg = k z_ek`` and ``sum_ek u_ekg = m``, and ``L_g = sum_ek (w_e / k) u_ekg <= t``;
minimise ``t`` (+ ``lambda`` x cross-node load). Two replicas of one expert may share a GPU
(EPLB allows it too). GPUs are interchangeable; that symmetry is left to HiGHS's symmetry
detection (an explicit load order is an option). The same builder makes *neighbourhoods*
(:func:`neighbourhood`): some GPUs keep their replicas (their loads still follow the new
replica counts, linearly in ``z``), the rest are re-decided. :func:`full_problem` is the whole
layer, exact (every replica count an improving placement can have) when small enough.

Pyomo in three steps: :func:`build_placement_model` (no solving),
:func:`codesign.opt.solver.solve`, :func:`extract_placement`. Pyomo is imported inside them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.opt.placement_loads import _min_counts, gpu_loads_of, lower_bound, objective_of

__all__ = [
    "EXACT_MAX_VARS",
    "FULL_MAX_VARS",
    "GAP_TOL",
    "Assignment",
    "PlacementData",
    "build_placement_model",
    "extract_placement",
    "full_problem",
    "neighbourhood",
]

#: Relative gap counted as zero (HiGHS stops at an absolute gap of 1e-6; loads are scaled to a
#: mean GPU load of 1).
GAP_TOL = 1e-6
#: Largest full model (integer ``u`` variables) built with the exact replica-count ranges.
EXACT_MAX_VARS = 6000
#: Largest full model built at all (ranges are narrowed around the incumbent above the former).
FULL_MAX_VARS = 60000


@dataclass(frozen=True, eq=False)
class PlacementData:
    """Input of :func:`build_placement_model` for one layer (all loads in the same unit).

    Attributes:
        loads: ``[E]`` load of each logical expert (>= 0).
        slots_per_gpu: replica slots per GPU ``m``.
        start: ``[E, G]`` replica counts of a feasible placement: the MIP start, and on GPUs
            outside ``free_gpus`` the fixed part of a neighbourhood.
        free_gpus: GPUs whose slots the model decides (all of them for the full problem).
        replica_range: ``{e: (k_min, k_max)}`` for the experts whose replica count the model
            decides (the *candidates*); every expert with a replica on a free GPU is one.
            Other experts keep their count and replicas from ``start``.
        upper_bound: the incumbent's objective; the model keeps ``t <= upper_bound``.
        lower_bound: a bound valid for ``t`` (0 in neighbourhoods).
        gpu_node: ``[G]`` node of each GPU.
        home_node: ``[E]`` home node of each expert's group, or ``None`` (no cross-node term).
        cross_node_weight: ``lambda`` (dimensionless): objective = ``t + lambda * cross``, with
            ``cross`` the load an expert serves on GPUs outside its group's home node.
        exact: whether the replica ranges cover every placement with objective <= the bound
            (then the solver's bound is a bound of the whole problem).
        order_gpus: add ``L_1 >= L_2 >= ...`` over interchangeable free GPUs. Off by default:
            HiGHS finds the GPU symmetry itself, and on small instances the explicit order
            made it 2-4x slower.
    """

    loads: np.ndarray
    slots_per_gpu: int
    start: np.ndarray
    free_gpus: tuple[int, ...]
    replica_range: dict[int, tuple[int, int]]
    upper_bound: float | None
    lower_bound: float
    gpu_node: np.ndarray
    home_node: np.ndarray | None = None
    cross_node_weight: float = 0.0
    exact: bool = False
    order_gpus: bool = False

    @property
    def num_gpus(self) -> int:
        return int(self.start.shape[1])


@dataclass(frozen=True, eq=False)
class Assignment:
    """Output of :func:`extract_placement`: replica counts ``[E, G]`` (ints)."""

    counts: np.ndarray = field(repr=False)

    @property
    def replicas(self) -> np.ndarray:
        """``[E]`` replica count of each expert."""
        return self.counts.sum(1)


# ----------------------------------------------------------------------------- problem data


def full_problem(loads: np.ndarray, start: np.ndarray, gpu_node: np.ndarray,
                 home_node: np.ndarray | None = None, cross_node_weight: float = 0.0,
                 max_vars: int = FULL_MAX_VARS, exact_max_vars: int = EXACT_MAX_VARS,
                 ) -> PlacementData:
    """The whole layer as one model, warm-started from ``start`` (``[E, G]`` counts).

    Replica ranges: an improving placement needs ``w_e / r_e <= t <= incumbent``, so
    ``r_e >= ceil(w_e / incumbent)``; with ``slack = S - sum`` of those minima, every
    ``r_e <= min + slack``. If those exact ranges fit ``exact_max_vars`` integer variables
    they are used (``exact=True``: the model holds every improving placement); otherwise each
    range is ``start``'s count +- the widest spread that keeps the model under ``max_vars``
    (counts fixed if none does) and the model is a restriction.
    """
    num_experts, num_gpus = start.shape
    m = int(start[:, 0].sum())
    slots = m * num_gpus
    data = PlacementData(loads=loads, slots_per_gpu=m, start=start,
                         free_gpus=tuple(range(num_gpus)), replica_range={},
                         upper_bound=None, lower_bound=0.0, gpu_node=gpu_node,
                         home_node=home_node, cross_node_weight=cross_node_weight)
    ub = objective_of(data, start)
    r0 = start.sum(1)
    lo = np.minimum(_min_counts(loads, ub), r0)
    slack = slots - int(lo.sum())
    hi = lo + slack

    def size(a: np.ndarray, b: np.ndarray) -> int:
        return int((b - a + 1).sum()) * num_gpus

    a, b = lo, hi
    exact = size(lo, hi) <= exact_max_vars
    if not exact:
        a, b = r0, r0
        for spread in range(1, slack + 1):
            a2, b2 = np.maximum(lo, r0 - spread), np.minimum(hi, r0 + spread)
            if size(a2, b2) > max_vars:
                break
            a, b = a2, b2
    rng = {e: (int(a[e]), int(b[e])) for e in range(num_experts)}
    lb = lower_bound(loads, num_gpus, slots)
    return PlacementData(loads=loads, slots_per_gpu=m, start=start,
                         free_gpus=tuple(range(num_gpus)), replica_range=rng,
                         upper_bound=ub, lower_bound=min(lb, ub), gpu_node=gpu_node,
                         home_node=home_node, cross_node_weight=cross_node_weight,
                         exact=exact)


def neighbourhood(loads: np.ndarray, start: np.ndarray, free_gpus: list[int],
                  extra_experts: list[int], gpu_node: np.ndarray,
                  home_node: np.ndarray | None = None, cross_node_weight: float = 0.0,
                  spread: int = 2) -> PlacementData:
    """Re-decide the slots of ``free_gpus`` and the replica counts of every expert on them
    (plus ``extra_experts``, which may gain replicas there); other GPUs keep their replicas,
    though their loads follow the new replica counts. Counts move by at most ``spread``."""
    m = int(start[:, 0].sum())
    free = sorted(set(free_gpus))
    on_free = np.flatnonzero(start[:, free].sum(1) > 0)
    cands = sorted(set(on_free.tolist()) | set(extra_experts))
    base = PlacementData(loads=loads, slots_per_gpu=m, start=start, free_gpus=tuple(free),
                         replica_range={}, upper_bound=None, lower_bound=0.0,
                         gpu_node=gpu_node, home_node=home_node,
                         cross_node_weight=cross_node_weight)
    ub = objective_of(base, start)
    lo = _min_counts(loads, ub)
    r0 = start.sum(1)
    outside = r0 - start[:, free].sum(1)
    rng = {}
    for e in cands:
        a = max(1, int(outside[e]), int(lo[e]), int(r0[e]) - spread)
        b = min(int(r0[e]) + spread, int(outside[e]) + len(free) * m)
        rng[e] = (min(a, int(r0[e])), max(b, int(r0[e])))
    return PlacementData(loads=loads, slots_per_gpu=m, start=start, free_gpus=tuple(free),
                         replica_range=rng, upper_bound=ub, lower_bound=0.0,
                         gpu_node=gpu_node, home_node=home_node,
                         cross_node_weight=cross_node_weight)


# ----------------------------------------------------------------------------- build / extract


@dataclass(frozen=True, eq=False)
class _Index:
    """Index sets of one placement model, derived from its :class:`PlacementData`.

    ``free``: free GPUs, most loaded in ``start`` first (so the warm start is ordered);
    ``fixed``: ``start`` with the free GPUs' columns zeroed; ``cand``: candidate experts;
    ``outside[e]``: replicas of candidate ``e`` on fixed GPUs; ``r0``: ``start``'s counts;
    ``ek``: (expert, count) pairs of ``z``; ``eku``: those with replicas left for free GPUs;
    ``ekg``: the index of ``u``.
    """

    free: list[int]
    fixed: np.ndarray
    cand: list[int]
    outside: dict[int, int]
    r0: np.ndarray
    ek: list[tuple[int, int]]
    eku: list[tuple[int, int]]
    ekg: list[tuple[int, int, int]]


def _index_sets(data: PlacementData, w: np.ndarray) -> _Index:
    start = data.start
    start_loads = gpu_loads_of(w, start)
    free = sorted(data.free_gpus, key=lambda g: (-start_loads[g], g))  # warm start is ordered
    fixed = start.copy()
    fixed[:, free] = 0
    cand = sorted(data.replica_range)
    outside = {e: int(fixed[e].sum()) for e in cand}
    r0 = start.sum(1)
    ek = [(e, k) for e in cand for k in range(data.replica_range[e][0],
                                               data.replica_range[e][1] + 1)]
    eku = [(e, k) for (e, k) in ek if k > outside[e]]
    ekg = [(e, k, g) for (e, k) in eku for g in free]
    return _Index(free=free, fixed=fixed, cand=cand, outside=outside, r0=r0, ek=ek, eku=eku,
                  ekg=ekg)


def _add_assignment(M: Any, data: PlacementData, ix: _Index) -> None:
    """Variables ``z``, ``u``, ``t``; one count per candidate, its replicas split over the free
    GPUs, every free GPU's slots filled."""
    import pyomo.environ as pyo

    m, free, outside, eku = data.slots_per_gpu, ix.free, ix.outside, ix.eku
    M.z = pyo.Var(ix.ek, domain=pyo.Binary)
    M.u = pyo.Var(ix.ekg, domain=pyo.NonNegativeIntegers,
                  bounds=lambda _, e, k, g: (0, min(k - outside[e], m)))
    ub = data.upper_bound * (1 + 1e-9) + 1e-12 if data.upper_bound is not None else None
    M.t = pyo.Var(bounds=(data.lower_bound, ub))
    M.one_count = pyo.Constraint(ix.cand, rule=lambda _, e: pyo.quicksum(
        M.z[e, k] for k in range(data.replica_range[e][0], data.replica_range[e][1] + 1)) == 1)
    M.split = pyo.Constraint(eku, rule=lambda _, e, k: pyo.quicksum(
        M.u[e, k, g] for g in free) == (k - outside[e]) * M.z[e, k])
    M.slots = pyo.Constraint(free, rule=lambda _, g: pyo.quicksum(
        M.u[e, k, g] for (e, k) in eku) == m)


def _add_load_limits(M: Any, data: PlacementData, ix: _Index, w: np.ndarray,
                     use_cross: bool) -> None:
    """``L_g <= t`` on the free GPUs and on the fixed GPUs whose replicas change size, and the
    optional load order of interchangeable free GPUs."""
    import pyomo.environ as pyo

    free, fixed, ek, eku, r0 = ix.free, ix.fixed, ix.ek, ix.eku, ix.r0
    free_set, cand_set = set(free), set(ix.cand)

    def free_load(g: int) -> Any:
        return pyo.quicksum(float(w[e] / k) * M.u[e, k, g] for (e, k) in eku)

    M.free_load = pyo.Expression(free, rule=lambda _, g: free_load(g))
    M.free_max = pyo.Constraint(free, rule=lambda _, g: M.free_load[g] <= M.t)
    # fixed GPUs whose replicas change size: constant part + replicas of candidates
    const = {g: float(sum(w[e] / r0[e] * fixed[e, g] for e in np.flatnonzero(fixed[:, g])
                          if e not in cand_set)) for g in range(data.num_gpus)}

    def fixed_load(g: int) -> Any:
        return const[g] + pyo.quicksum(
            float(fixed[e, g] * w[e] / k) * M.z[e, k] for (e, k) in ek if fixed[e, g] > 0)

    touched = [g for g in range(data.num_gpus)
               if g not in free_set and any(fixed[e, g] > 0 for e in ix.cand)]
    M.fixed_max = pyo.Constraint(touched, rule=lambda _, g: fixed_load(g) <= M.t)
    # symmetry: free GPUs of one class (same node when nodes matter) in descending load
    pairs = []
    for a, b in itertools.pairwise(free):
        if data.order_gpus and (not use_cross or data.gpu_node[a] == data.gpu_node[b]):
            pairs.append((a, b))
    M.order = pyo.Constraint(range(len(pairs)), rule=lambda _, i: (
        M.free_load[pairs[i][0]] >= M.free_load[pairs[i][1]]))


def _cross_node_expr(M: Any, data: PlacementData, ix: _Index, w: np.ndarray) -> Any:
    """Load served outside the experts' home nodes: on free GPUs, on fixed GPUs by candidates,
    and (a constant) by the other experts."""
    import pyomo.environ as pyo

    assert data.home_node is not None
    home = data.home_node
    fixed, r0 = ix.fixed, ix.r0
    free_set, cand_set = set(ix.free), set(ix.cand)
    away = data.gpu_node[None, :] != home[:, None]
    cross = pyo.quicksum(float(w[e] / k) * M.u[e, k, g] for (e, k, g) in ix.ekg
                         if away[e, g])
    cross += pyo.quicksum(float(fixed[e, g] * w[e] / k) * M.z[e, k]
                          for (e, k) in ix.ek for g in np.flatnonzero(fixed[e] * away[e]))
    cross += float(sum(w[e] / r0[e] * fixed[e, g] * away[e, g]
                       for e in range(w.size) if e not in cand_set
                       for g in np.flatnonzero(fixed[e]) if g not in free_set))
    return cross


def build_placement_model(data: PlacementData) -> Any:
    """Build the placement MILP (a Pyomo ``ConcreteModel``) without solving it.

    Variable values are set to ``data.start`` so that a solve with ``warm_start=True`` starts
    from it. Returns the model; read the answer with :func:`extract_placement`.
    """
    import pyomo.environ as pyo

    w = np.asarray(data.loads, dtype=float)
    ix = _index_sets(data, w)
    use_cross = data.cross_node_weight > 0 and data.home_node is not None

    M = pyo.ConcreteModel(name="expert_placement")
    _add_assignment(M, data, ix)
    _add_load_limits(M, data, ix, w, use_cross)
    objective = M.t
    if use_cross:
        objective = objective + float(data.cross_node_weight) * _cross_node_expr(M, data, ix, w)
    M.objective = pyo.Objective(expr=objective, sense=pyo.minimize)
    _set_start(M, data, ix.free, ix.ek, ix.eku, ix.outside)
    M.placement_data = data
    M.placement_index = (ix.free, ix.ek, ix.eku, ix.outside, ix.fixed)
    return M


def _set_start(M: Any, data: PlacementData, free: list[int], ek: list[tuple[int, int]],
               eku: list[tuple[int, int]], outside: dict[int, int]) -> None:
    r0 = data.start.sum(1)
    for (e, k) in ek:
        M.z[e, k].set_value(1 if k == r0[e] else 0)
    for (e, k) in eku:
        for g in free:
            M.u[e, k, g].set_value(int(data.start[e, g]) if k == r0[e] else 0)
    M.t.set_value(float(gpu_loads_of(data.loads, data.start).max()))


def extract_placement(model: Any) -> Assignment:
    """Read the replica counts ``[E, G]`` out of a solved placement model."""
    data: PlacementData = model.placement_data
    free, ek, eku, _, fixed = model.placement_index
    counts = fixed.copy()
    chosen = {}
    for (e, k) in ek:
        if (model.z[e, k].value or 0) > 0.5:
            chosen[e] = k
    for (e, k) in eku:
        if chosen.get(e) != k:
            continue
        for g in free:
            counts[e, g] = round(model.u[e, k, g].value or 0)
    m = data.slots_per_gpu
    if not (np.all(counts.sum(0) == m) and np.all(counts.sum(1) >= 1)):
        raise RuntimeError("placement model returned an inconsistent assignment")
    for e, k in chosen.items():
        if int(counts[e].sum()) != k:
            raise RuntimeError(f"placement model: expert {e} has {counts[e].sum()} != {k}")
    if not math.isclose(counts.sum(), data.start.sum()):
        raise RuntimeError("placement model changed the number of slots")
    return Assignment(counts=counts)
