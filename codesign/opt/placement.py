"""Expert placement and replication (expert-parallel load balancing) as a MILP.

Problem, for one MoE layer: ``E`` logical experts with loads ``w_e`` (tokens), ``G`` GPUs with
``m`` replica slots each (``S = G m`` slots in all, as in EPLB). Choose replica counts
``r_e >= 1`` (``sum r_e = S``) and how many replicas of each expert each GPU holds, so that the
most loaded GPU is as light as possible. An expert's load splits evenly over its replicas, so
GPU ``g`` carries ``L_g = sum_e x_eg w_e / r_e``. Optionally also penalise the load served
outside the home node of the expert's group (see :class:`PlacementData`).

Model (:func:`build_placement_model`). The product ``x_eg / r_e`` is linearised exactly by
disaggregating on the replica count: binary ``z_ek`` picks ``r_e = k`` from a range ``K_e``,
integer ``u_ekg`` (replicas of ``e`` on ``g`` when ``r_e = k``) satisfies
``sum_g u_ekg = k z_ek`` and ``sum_ek u_ekg = m``, and ``L_g = sum_ek (w_e / k) u_ekg <= t``;
minimise ``t`` (+ ``lambda`` x cross-node load). Two replicas of one expert may share a GPU
(EPLB allows it too). GPUs are interchangeable; that symmetry is left to HiGHS's symmetry
detection (an explicit load order is an option). The same builder makes *neighbourhoods*:
some GPUs keep their replicas (their loads still follow the new replica counts, linearly in
``z``), the rest are re-decided.

Method (:func:`place_experts`, ``method="milp"``), per layer:

1. start from the better of EPLB's hierarchical and global placements;
2. local search (swap a replica of the most loaded GPU, or move a slot between experts) with
   restarts from balanced-differencing packings (:func:`_bldm_pack`), until the gap is met;
3. HiGHS: if the exact model (:func:`full_problem`: all replica counts an improving placement
   can have) is small, solve it warm-started: the answer is optimal within ``mip_gap`` and
   HiGHS's bound counts; otherwise MILP large-neighbourhood search (each neighbourhood solved
   exactly, the whole a heuristic) until the gap is met or time runs out.

What is proven: every reported ``lower_bound`` holds for every placement (the mean GPU load,
the largest replica under the best replica counts, or HiGHS's bound of an exact model); the
``gap`` is measured against it. The mean-load bound is also the LP bound of the full MILP, and
on large instances HiGHS does not raise it by branching within the time limit. The result is
never worse than EPLB.

Pyomo in three steps: :func:`build_placement_model` (no solving),
:func:`codesign.opt.solver.solve`, :func:`extract_placement`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Assignment",
    "LayerPlacement",
    "PlacementData",
    "PlacementResult",
    "build_placement_model",
    "check_loads",
    "extract_placement",
    "full_problem",
    "gpu_loads_of",
    "lower_bound",
    "min_max_replica_load",
    "neighbourhood",
    "objective_of",
    "place_experts",
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


# ----------------------------------------------------------------------------- plain helpers


def gpu_loads_of(loads: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``[G]`` GPU loads of a placement given as replica counts ``[E, G]``."""
    r = counts.sum(1)
    piece = np.divide(loads, r, out=np.zeros_like(loads, dtype=float), where=r > 0)
    return piece @ counts


def cross_node_load(loads: np.ndarray, counts: np.ndarray, gpu_node: np.ndarray,
                    home_node: np.ndarray | None) -> float | None:
    """Load served on GPUs outside the home node of the expert's group (None: no homes)."""
    if home_node is None:
        return None
    r = counts.sum(1)
    piece = loads / np.maximum(r, 1)
    away = gpu_node[None, :] != home_node[:, None]
    return float((piece[:, None] * counts * away).sum())


def objective_of(data: PlacementData, counts: np.ndarray) -> float:
    """The model's objective (max GPU load + lambda * cross-node load) of a placement."""
    obj = float(gpu_loads_of(data.loads, counts).max())
    if data.cross_node_weight > 0 and data.home_node is not None:
        obj += data.cross_node_weight * (
            cross_node_load(data.loads, counts, data.gpu_node, data.home_node) or 0.0)
    return obj


def min_max_replica_load(loads: np.ndarray, slots: int) -> float:
    """Smallest possible largest per-replica load ``max_e w_e / r_e`` over ``sum r_e = slots``.

    Giving each extra replica to the expert with the largest load per replica (EPLB's
    replication rule) attains it: the greedy keeps the largest ratio as low as any count vector.
    """
    r = np.ones(loads.size, dtype=np.int64)
    for _ in range(slots - loads.size):
        e = int(np.argmax(loads / r))
        r[e] += 1
    return float((loads / r).max())


def lower_bound(loads: np.ndarray, num_gpus: int, slots: int) -> float:
    """A bound on the max GPU load valid for every placement: the larger of the mean GPU load
    and :func:`min_max_replica_load` (a GPU holding the largest replica carries at least it)."""
    return max(float(loads.sum()) / num_gpus, min_max_replica_load(loads, slots))


def _min_counts(loads: np.ndarray, bound: float) -> np.ndarray:
    """Fewest replicas each expert needs for a per-replica load <= bound."""
    if bound <= 0:
        return np.ones(loads.size, dtype=np.int64)
    need = np.ceil(loads / bound * (1 - 1e-9)).astype(np.int64)
    return np.maximum(need, 1)


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


def build_placement_model(data: PlacementData) -> Any:
    """Build the placement MILP (a Pyomo ``ConcreteModel``) without solving it.

    Variable values are set to ``data.start`` so that a solve with ``warm_start=True`` starts
    from it. Returns the model; read the answer with :func:`extract_placement`.
    """
    import pyomo.environ as pyo

    w = np.asarray(data.loads, dtype=float)
    m = data.slots_per_gpu
    start = data.start
    start_loads = gpu_loads_of(w, start)
    free = sorted(data.free_gpus, key=lambda g: (-start_loads[g], g))  # warm start is ordered
    free_set = set(free)
    fixed = start.copy()
    fixed[:, free] = 0
    cand = sorted(data.replica_range)
    cand_set = set(cand)
    outside = {e: int(fixed[e].sum()) for e in cand}
    r0 = start.sum(1)
    ek = [(e, k) for e in cand for k in range(data.replica_range[e][0],
                                               data.replica_range[e][1] + 1)]
    eku = [(e, k) for (e, k) in ek if k > outside[e]]
    ekg = [(e, k, g) for (e, k) in eku for g in free]
    home = data.home_node
    use_cross = data.cross_node_weight > 0 and home is not None
    away = (data.gpu_node[None, :] != home[:, None]) if home is not None else np.zeros(
        (w.size, data.num_gpus), dtype=bool)

    M = pyo.ConcreteModel(name="expert_placement")
    M.z = pyo.Var(ek, domain=pyo.Binary)
    M.u = pyo.Var(ekg, domain=pyo.NonNegativeIntegers,
                  bounds=lambda _, e, k, g: (0, min(k - outside[e], m)))
    ub = data.upper_bound * (1 + 1e-9) + 1e-12 if data.upper_bound is not None else None
    M.t = pyo.Var(bounds=(data.lower_bound, ub))
    M.one_count = pyo.Constraint(cand, rule=lambda _, e: pyo.quicksum(
        M.z[e, k] for k in range(data.replica_range[e][0], data.replica_range[e][1] + 1)) == 1)
    M.split = pyo.Constraint(eku, rule=lambda _, e, k: pyo.quicksum(
        M.u[e, k, g] for g in free) == (k - outside[e]) * M.z[e, k])
    M.slots = pyo.Constraint(free, rule=lambda _, g: pyo.quicksum(
        M.u[e, k, g] for (e, k) in eku) == m)

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
               if g not in free_set and any(fixed[e, g] > 0 for e in cand)]
    M.fixed_max = pyo.Constraint(touched, rule=lambda _, g: fixed_load(g) <= M.t)
    # symmetry: free GPUs of one class (same node when nodes matter) in descending load
    pairs = []
    for a, b in itertools.pairwise(free):
        if data.order_gpus and (not use_cross or data.gpu_node[a] == data.gpu_node[b]):
            pairs.append((a, b))
    M.order = pyo.Constraint(range(len(pairs)), rule=lambda _, i: (
        M.free_load[pairs[i][0]] >= M.free_load[pairs[i][1]]))
    objective = M.t
    if use_cross:
        cross = pyo.quicksum(float(w[e] / k) * M.u[e, k, g] for (e, k, g) in ekg
                             if away[e, g])
        cross += pyo.quicksum(float(fixed[e, g] * w[e] / k) * M.z[e, k]
                              for (e, k) in ek for g in np.flatnonzero(fixed[e] * away[e]))
        cross += float(sum(w[e] / r0[e] * fixed[e, g] * away[e, g]
                           for e in range(w.size) if e not in cand_set
                           for g in np.flatnonzero(fixed[e]) if g not in free_set))
        objective = objective + float(data.cross_node_weight) * cross
    M.objective = pyo.Objective(expr=objective, sense=pyo.minimize)
    _set_start(M, data, free, ek, eku, outside)
    M.placement_data = data
    M.placement_index = (free, ek, eku, outside, fixed)
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


# ----------------------------------------------------------------------------- local search


def _local_search(w: np.ndarray, X: np.ndarray, deadline: float, max_iter: int = 100000
                  ) -> np.ndarray:
    """Lower the most loaded GPU by single moves until none helps (max GPU load only).

    Moves, each judged by the new maximum over the GPUs it touches: swap a replica on the
    most loaded GPU ``i`` with a lighter replica of another expert elsewhere; or give an expert
    one more replica in a slot taken from an expert with two or more (on any GPU if the gaining
    expert sits on ``i``, else on ``i`` itself), which resizes every replica of both experts.
    """
    import time

    X = X.copy()
    r = X.sum(1).astype(float)
    p = w / r
    L = p @ X
    tol = 1e-12
    for _ in range(max_iter):
        if time.perf_counter() > deadline:
            break
        i = int(np.argmax(L))
        best_score, move = L[i] - 1e-9 * max(L[i], 1.0), None
        on_i = np.flatnonzero(X[:, i])
        for e in on_i.tolist():  # swaps
            d = p[e] - p
            mask = (d > tol)[:, None] & (X > 0)
            mask[:, i] = False
            if not mask.any():
                continue
            fs, js = np.nonzero(mask)
            score = np.maximum(L[i] - d[fs], L[js] + d[fs])
            k = int(np.argmin(score))
            if score[k] < best_score:
                best_score, move = float(score[k]), ("swap", int(e), int(fs[k]), int(js[k]))
        donors = np.flatnonzero(r >= 2)
        on_i_set = set(on_i.tolist())
        for e in range(w.size):  # replica transfers f -> e
            fs = donors[donors != e]
            if fs.size == 0:
                continue
            pe = w[e] / (r[e] + 1)
            pf = w[fs] / (r[fs] - 1)
            base = (L - X[e] * (p[e] - pe))[None, :] + X[fs] * (pf - p[fs])[:, None]
            if e in on_i_set:
                where = X[fs] > 0
            else:
                where = np.zeros(base.shape, dtype=bool)
                where[:, i] = X[fs, i] > 0
            if not where.any():
                continue
            mx = base.max(1, keepdims=True)
            second = np.partition(base, -2, axis=1)[:, -2:-1] if base.shape[1] > 1 else mx
            other = np.where(base >= mx, second, mx)
            score = np.where(where, np.maximum(other, base + (pe - pf)[:, None]), np.inf)
            a, j = np.unravel_index(int(np.argmin(score)), score.shape)
            if score[a, j] < best_score:
                best_score, move = float(score[a, j]), ("rep", int(e), int(fs[a]), int(j))
        if move is None:
            break
        kind, gain, give, at = move
        if kind == "swap":  # gain leaves i for GPU at, give leaves at for i
            X[gain, i] -= 1
            X[give, i] += 1
            X[give, at] -= 1
            X[gain, at] += 1
        else:  # give's replica on GPU at becomes gain's
            X[give, at] -= 1
            X[gain, at] += 1
            r = X.sum(1).astype(float)
            p = w / r
        L = p @ X
    return X


def _bldm_pack(w: np.ndarray, r: np.ndarray, num_gpus: int,
               jitter: np.ndarray | None = None) -> np.ndarray:
    """Pack the replicas of counts ``r`` onto GPUs, ``m`` each, by balanced largest
    differencing (Karmarkar-Karp with equal part sizes): cut the replicas, heaviest first,
    into ``m`` slices of one per GPU, then repeatedly merge the two slices whose sums differ
    most, heaviest GPU of one with lightest of the other. ``jitter`` perturbs the order only."""
    import heapq

    ids = np.repeat(np.arange(w.size), r)
    sizes = (w / r)[ids]
    key = sizes if jitter is None else sizes * jitter[: sizes.size]
    order = np.argsort(-key, kind="stable")
    m = ids.size // num_gpus
    heap: list[tuple[float, int, np.ndarray, list[list[int]]]] = []
    for k in range(m):
        idx = order[k * num_gpus:(k + 1) * num_gpus]
        sums = sizes[idx].copy()
        heapq.heappush(heap, (-(sums.max() - sums.min()), k, sums,
                              [[int(ids[i])] for i in idx]))
    tick = m
    while len(heap) > 1:
        _, _, s1, p1 = heapq.heappop(heap)
        _, _, s2, p2 = heapq.heappop(heap)
        o1, o2 = np.argsort(-s1, kind="stable"), np.argsort(s2, kind="stable")
        sums = s1[o1] + s2[o2]
        tick += 1
        heapq.heappush(heap, (-(sums.max() - sums.min()), tick, sums,
                              [p1[a] + p2[b] for a, b in zip(o1, o2, strict=True)]))
    counts = np.zeros((w.size, num_gpus), dtype=np.int64)
    for g, part in enumerate(heap[0][3]):
        np.add.at(counts[:, g], part, 1)
    return counts


def _iterated_local_search(w: np.ndarray, X: np.ndarray, deadline: float, target: float,
                           rng: np.random.Generator) -> np.ndarray:
    """Restarts of :func:`_local_search` from fresh packings until the max GPU load reaches
    ``target`` or time runs out: odd rounds move one to three replicas between experts
    (the gaining expert drawn by replica load, the giving one among those with two or more)
    and repack with :func:`_bldm_pack`; even rounds repack the best counts in a jittered order.
    Keeps the best placement (lexicographically smallest sorted GPU loads)."""
    import time

    def key(c: np.ndarray) -> tuple[float, ...]:
        return tuple(np.round(np.sort(gpu_loads_of(w, c))[::-1], 12).tolist())

    best = _local_search(w, X, deadline)
    best_key = key(best)
    n_gpus = X.shape[1]
    it = 0
    while time.perf_counter() < deadline and best_key[0] > target:
        it += 1
        r = best.sum(1).copy()
        jitter = None
        if it % 2:
            for _ in range(int(rng.integers(1, 4))):
                donors = np.flatnonzero(r >= 2)
                if donors.size == 0:
                    break
                f = int(rng.choice(donors))
                piece = w / r
                e = int(rng.choice(w.size, p=piece / piece.sum())) if piece.sum() > 0 else f
                if e != f:
                    r[e] += 1
                    r[f] -= 1
        else:
            jitter = 1 + 0.02 * rng.standard_normal(int(r.sum()))
        Y = _local_search(w, _bldm_pack(w, r, n_gpus, jitter), deadline)
        k = key(Y)
        if k < best_key:
            best, best_key = Y, k
    return best


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LayerPlacement:
    """Placement of one layer. Loads are in the unit of the input loads (tokens).

    Attributes:
        phy2log: logical expert of each physical slot (slot ``p`` on GPU ``p // slots/GPU``).
        replicas: replica count of each logical expert.
        gpu_loads: load of each GPU (sum over its slots of expert load / replica count).
        max_gpu_load: the largest of ``gpu_loads``.
        mean_gpu_load: total load / GPUs (the same for every placement).
        balance: ``max_gpu_load / mean_gpu_load`` (1 is perfect).
        lower_bound: a proven bound: no placement has a smaller max GPU load.
        bound_source: ``mean/replica`` (:func:`lower_bound`) or ``highs`` (the solver's bound
            of an exact model, where larger).
        gap: ``(max_gpu_load - lower_bound) / max_gpu_load``.
        cross_node_load: load served outside the home node of the expert's group (None when
            the groups cannot be spread evenly over nodes).
        eplb_max_gpu_load: max GPU load of EPLB's placement with the same arguments.
        status: ``optimal`` (gap <= mip_gap), ``feasible`` (time limit), ``heuristic`` (EPLB).
        solve_time_s: wall-clock seconds for this layer.
        stages: ``(stage, objective after it)`` for the MILP method: ``start`` (better EPLB,
            or the per-node solution with a cross-node weight), ``local_search``,
            ``highs_exact`` or ``highs_lns`` (absent when the gap was met before HiGHS).
        highs_solves: HiGHS calls made for this layer.
    """

    phy2log: tuple[int, ...]
    replicas: tuple[int, ...]
    gpu_loads: tuple[float, ...]
    max_gpu_load: float
    mean_gpu_load: float
    balance: float
    lower_bound: float
    bound_source: str
    gap: float
    cross_node_load: float | None
    eplb_max_gpu_load: float
    status: str
    solve_time_s: float
    stages: tuple[tuple[str, float], ...] = ()
    highs_solves: int = 0


@dataclass(frozen=True)
class PlacementResult:
    """Output of :func:`place_experts`: one :class:`LayerPlacement` per layer."""

    method: str
    num_replicas: int
    num_groups: int
    num_nodes: int
    num_gpus: int
    layers: tuple[LayerPlacement, ...]

    @property
    def phy2log(self) -> list[list[int]]:
        return [list(layer.phy2log) for layer in self.layers]

    @property
    def max_gpu_load(self) -> list[float]:
        return [layer.max_gpu_load for layer in self.layers]

    @property
    def gap(self) -> float:
        """The largest per-layer gap."""
        return max(layer.gap for layer in self.layers)

    @property
    def solve_time_s(self) -> float:
        return sum(layer.solve_time_s for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (per-layer lists, ``gap`` the largest, time summed)."""
        ls = self.layers
        return {
            "method": self.method,
            "num_replicas": self.num_replicas, "num_groups": self.num_groups,
            "num_nodes": self.num_nodes, "num_gpus": self.num_gpus,
            "phy2log": self.phy2log,
            "max_gpu_load": self.max_gpu_load,
            "mean_gpu_load": [x.mean_gpu_load for x in ls],
            "balance": [x.balance for x in ls],
            "gap": self.gap,
            "solve_time_s": self.solve_time_s,
            "lower_bound": [x.lower_bound for x in ls],
            "eplb_max_gpu_load": [x.eplb_max_gpu_load for x in ls],
            "cross_node_load": [x.cross_node_load for x in ls],
            "status": [x.status for x in ls],
            "replicas": [list(x.replicas) for x in ls],
            "stages": [dict(x.stages) for x in ls],
            "highs_solves": [x.highs_solves for x in ls],
        }


# ----------------------------------------------------------------------------- validation


def check_loads(loads: Any, field: str = "loads", allow_flat: bool = True) -> np.ndarray:
    """Validate per-layer expert loads (a list of layers, each a list of numbers >= 0, all of
    one length; with ``allow_flat`` a flat list is one layer) and return them as
    ``[layers, experts]`` float64."""
    from codesign.errors import SpecError

    if isinstance(loads, np.ndarray):
        loads = loads.tolist()
    if not isinstance(loads, list | tuple) or not loads:
        raise SpecError(field, "must be a non-empty list of per-layer lists of expert loads")
    if allow_flat and all(isinstance(x, int | float) and not isinstance(x, bool)
                          for x in loads):
        loads = [loads]
    width = None
    for i, layer in enumerate(loads):
        if not isinstance(layer, list | tuple) or not layer:
            raise SpecError(field, f"layer {i}: must be a non-empty list of numbers")
        if width is None:
            width = len(layer)
        elif len(layer) != width:
            raise SpecError(field, f"layer {i}: has {len(layer)} experts, layer 0 has {width}")
        for j, x in enumerate(layer):
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise SpecError(field, f"layer {i} expert {j}: must be a number, got {x!r}")
            if not math.isfinite(x):
                raise SpecError(field, f"layer {i} expert {j}: must be finite, got {x}")
            if x < 0:
                raise SpecError(field, f"layer {i} expert {j}: must be >= 0, got {x}")
    return np.asarray(loads, dtype=np.float64)


def _check_args(num_experts: int, num_replicas: int, num_groups: int, num_nodes: int,
                num_gpus: int, method: str, time_limit_s: float, mip_gap: float,
                cross_node_weight: float, expert_bytes: float | None,
                gpu_memory_bytes: float | None) -> None:
    from codesign.errors import SpecError

    if method not in ("eplb", "milp"):
        raise SpecError("method", f"unknown method {method!r}", ["eplb", "milp"])
    for name, v in (("num_gpus", num_gpus), ("num_nodes", num_nodes),
                    ("num_groups", num_groups), ("num_replicas", num_replicas)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise SpecError(name, f"must be a whole number >= 1, got {v!r}")
    if num_replicas < num_experts:
        raise SpecError("num_replicas", f"{num_experts} experts need at least {num_experts} "
                        f"slots, got {num_replicas}")
    if num_replicas % num_gpus:
        raise SpecError("num_replicas", f"must be a multiple of the GPU count {num_gpus} "
                        f"(every GPU holds the same number of slots), got {num_replicas}")
    if num_gpus % num_nodes:
        raise SpecError("num_nodes", f"must divide the GPU count {num_gpus}, got {num_nodes}")
    if num_experts % num_groups:
        raise SpecError("num_groups", f"must divide the {num_experts} experts, got {num_groups}")
    if not time_limit_s > 0:
        raise SpecError("time_limit_s", f"must be > 0, got {time_limit_s}")
    if not 0 <= mip_gap < 1:
        raise SpecError("mip_gap", f"must be in [0, 1), got {mip_gap}")
    if not (cross_node_weight >= 0 and math.isfinite(cross_node_weight)):
        raise SpecError("cross_node_weight", f"must be >= 0, got {cross_node_weight}")
    if cross_node_weight > 0 and num_groups % num_nodes:
        raise SpecError("cross_node_weight", f"needs groups spread evenly over nodes "
                        f"({num_groups} groups is not a multiple of {num_nodes} nodes)")
    if (expert_bytes is None) != (gpu_memory_bytes is None):
        raise SpecError("gpu_memory_bytes", "give both expert_bytes and gpu_memory_bytes")
    if expert_bytes is not None and gpu_memory_bytes is not None:
        if not expert_bytes > 0:
            raise SpecError("expert_bytes", f"must be > 0, got {expert_bytes}")
        if not gpu_memory_bytes > 0:
            raise SpecError("gpu_memory_bytes", f"must be > 0, got {gpu_memory_bytes}")
        per_gpu = num_replicas // num_gpus
        fit = int(gpu_memory_bytes // expert_bytes)
        if per_gpu > fit:
            raise SpecError("num_replicas", f"infeasible: memory binds: {per_gpu} slots per "
                            f"GPU x {expert_bytes:.4g} B > gpu_memory_bytes "
                            f"{gpu_memory_bytes:.4g} B (at most {fit} per GPU, "
                            f"{fit * num_gpus} in all)")
        if fit * num_gpus < num_experts:
            raise SpecError("gpu_memory_bytes", f"infeasible: memory binds: {num_experts} "
                            f"experts do not fit {fit} per GPU on {num_gpus} GPUs")


def _check_slo(loads: np.ndarray, num_gpus: int, slots: int, slo: float, layer: int) -> None:
    from codesign.errors import SpecError

    mean = float(loads.sum()) / num_gpus
    if mean > slo:
        raise SpecError("max_gpu_load", f"infeasible: layer {layer}: the mean GPU load "
                        f"{mean:.6g} (total load / GPUs) exceeds the target {slo:.6g}: "
                        "the GPU count binds")
    piece = min_max_replica_load(loads, slots)
    if piece > slo:
        e = int(np.argmax(loads))
        raise SpecError("max_gpu_load", f"infeasible: layer {layer}: with {slots} slots some "
                        f"replica carries >= {piece:.6g} (expert {e} has load "
                        f"{loads[e]:.6g}) > target {slo:.6g}: the slot count binds")


# ----------------------------------------------------------------------------- the API


def _counts_of(phy2log: np.ndarray, num_experts: int, num_gpus: int) -> np.ndarray:
    m = len(phy2log) // num_gpus
    counts = np.zeros((num_experts, num_gpus), dtype=np.int64)
    np.add.at(counts, (np.asarray(phy2log), np.arange(len(phy2log)) // m), 1)
    return counts


def _phy2log_of(counts: np.ndarray) -> tuple[int, ...]:
    """Slots GPU by GPU, each GPU's experts in ascending id (a replica per slot)."""
    out: list[int] = []
    for g in range(counts.shape[1]):
        for e in np.flatnonzero(counts[:, g]):
            out.extend([int(e)] * int(counts[e, g]))
    return tuple(out)


def _home_nodes(loads: np.ndarray, num_groups: int, num_nodes: int) -> np.ndarray | None:
    """Home node of each expert: its group's node in EPLB's step 1 (groups packed to nodes by
    load, heaviest first, to the lightest node with room). None unless nodes divide groups."""
    from codesign.opt.eplb import balanced_packing

    if num_groups % num_nodes:
        return None
    group_load = loads.reshape(num_groups, -1).sum(1)
    pack, _ = balanced_packing(group_load[None, :], num_nodes)
    return np.repeat(pack[0], loads.size // num_groups)


class _Layer:
    """Solves one layer or one node of it (loads scaled to a mean GPU load of about 1)."""

    def __init__(self, w: np.ndarray, num_gpus: int, gpu_node: np.ndarray,
                 home: np.ndarray | None, lam: float, solver: str, mip_gap: float,
                 threads: int, deadline: float, seed: int):
        self.w, self.G, self.gpu_node, self.home, self.lam = w, num_gpus, gpu_node, home, lam
        self.solver, self.mip_gap, self.threads, self.deadline = solver, mip_gap, threads, deadline
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.ils_share = 0.5  # of the time left, for restarts before HiGHS
        self.stages: list[tuple[str, float]] = []  # (stage, objective after it)
        self.highs_solves = 0
        self.meta = PlacementData(loads=w, slots_per_gpu=0, start=np.zeros((w.size, num_gpus)),
                                  free_gpus=(), replica_range={}, upper_bound=None,
                                  lower_bound=0.0, gpu_node=gpu_node, home_node=home,
                                  cross_node_weight=lam)

    def objective(self, counts: np.ndarray) -> float:
        return objective_of(self.meta, counts)

    def key(self, counts: np.ndarray) -> tuple[float, ...]:
        loads = np.round(np.sort(gpu_loads_of(self.w, counts))[::-1], 12)
        return (round(self.objective(counts), 12), *loads.tolist())

    def remaining(self) -> float:
        import time

        return self.deadline - time.perf_counter()

    def done(self, X: np.ndarray, lb: float) -> bool:
        obj = self.objective(X)
        return obj <= 0 or (obj - lb) / obj <= self.mip_gap + GAP_TOL

    def improve(self, X: np.ndarray, lb: float) -> tuple[np.ndarray, float | None, bool]:
        """Local search with restarts (max load only; until the gap is met or for half the time
        left, a tenth where the exact model is small), then the exact model if small, else
        MILP LNS with the rest.

        Returns the counts, HiGHS's bound (exact model only) and whether the model was exact.
        """
        if self.lam == 0:
            import time

            X = _local_search(self.w, X, self.deadline)
            # HiGHS is the better tool where the exact model is small: restart less there
            small = full_problem(self.w, X, self.gpu_node, self.home, self.lam).exact
            share = self.ils_share / 5 if small else self.ils_share
            mid = time.perf_counter() + share * max(self.remaining(), 0.0)
            target = lb / (1 - self.mip_gap) if self.mip_gap < 1 else lb
            X = _iterated_local_search(self.w, X, mid, target, self.rng)
            self.stages.append(("local_search", self.objective(X)))
        data = full_problem(self.w, X, self.gpu_node, self.home, self.lam)
        if data.exact:
            X, hb = self.exact_milp(X, data)
            self.stages.append(("highs_exact", self.objective(X)))
            return X, hb, True
        if self.done(X, lb):
            return X, None, False
        X = self.lns(X, lb)
        self.stages.append(("highs_lns", self.objective(X)))
        return X, None, False

    def exact_milp(self, X: np.ndarray, data: PlacementData) -> tuple[np.ndarray, float | None]:
        """Solve the exact full model from ``X``; returns the best counts and HiGHS's bound."""
        from codesign.opt.solver import SolverError, solve

        self.highs_solves += 1
        try:
            model = build_placement_model(data)
            info = solve(model, solver=self.solver, time_limit_s=max(self.remaining(), 0.5),
                         mip_gap=self.mip_gap, threads=self.threads, warm_start=True)
            Y = extract_placement(model).counts
        except SolverError as e:
            return X, e.bound
        return (Y if self.key(Y) < self.key(X) else X), info.bound

    def lns(self, X: np.ndarray, lb: float, size: int = 6, stall: int = 40) -> np.ndarray:
        """MILP large-neighbourhood search: re-optimise the slots of a few GPUs (the two most
        loaded, the two least loaded, random others) and the replica counts of the experts on
        them exactly, keep the result when the objective, then the sorted GPU loads, improve."""
        from codesign.opt.solver import SolverError, solve

        fails = 0
        while self.remaining() > 0.2 and fails < stall and not self.done(X, lb):
            L = gpu_loads_of(self.w, X)
            order = [int(g) for g in np.argsort(-L, kind="stable")]
            pick = order[:2] + order[-2:]
            rest = [g for g in order if g not in pick]
            n_rand = max(0, min(len(rest), size - len(set(pick))))
            pick += [int(g) for g in self.rng.choice(rest, size=n_rand, replace=False)]
            piece = self.w / X.sum(1)
            extra = [int(e) for e in np.argsort(-piece, kind="stable")[:4]]
            data = neighbourhood(self.w, X, pick, extra, self.gpu_node, self.home, self.lam)
            self.highs_solves += 1
            try:
                model = build_placement_model(data)
                solve(model, solver=self.solver,
                      time_limit_s=max(min(2.0, self.remaining()), 0.1),
                      mip_gap=1e-4, threads=self.threads, warm_start=True)
                Y = extract_placement(model).counts
            except SolverError:
                fails += 1
                continue
            if self.key(Y) < self.key(X):
                X, fails = Y, 0
                if self.lam == 0:
                    X = _local_search(self.w, X, self.deadline)
            else:
                fails += 1
        return X

    def per_node(self, S: int, num_nodes: int) -> np.ndarray:
        """Each node's experts (by home node) on that node's GPUs alone, solved as its own
        layer with max load as objective and an equal share of the time; no cross-node load."""
        import time

        from codesign.opt.eplb import rebalance_experts

        assert self.home is not None
        per_gpu = self.G // num_nodes
        X = np.zeros((self.w.size, self.G), dtype=np.int64)
        for n in range(num_nodes):
            left = max(self.remaining(), 0.0) / (2 * (num_nodes - n))
            experts = np.flatnonzero(self.home == n)
            gpus = np.arange(n * per_gpu, (n + 1) * per_gpu)
            w = self.w[experts]
            slots = S // num_nodes
            sub = _Layer(w, per_gpu, np.zeros(per_gpu, dtype=np.int64), None, 0.0,
                         self.solver, self.mip_gap, self.threads, time.perf_counter() + left,
                         self.seed + 1000 + n)
            start = _counts_of(rebalance_experts(w[None, :], slots, 1, 1, per_gpu).phy2log[0],
                               w.size, per_gpu)
            Y = start if w.sum() <= 0 else sub.improve(start, lower_bound(w, per_gpu, slots))[0]
            X[np.ix_(experts, gpus)] = Y
        return X


def _cross_lower_bound(w: np.ndarray, home: np.ndarray, num_nodes: int, num_gpus: int,
                       lam: float, base: float) -> float:
    """Bound on ``max load + lam * cross`` given that node ``n``'s GPUs serve at least its
    experts' load minus the cross-node load ``c``: ``max(base, (W_n - c) / gpus per node) +
    lam * c``, minimised over ``c >= 0`` (convex, so a breakpoint is optimal)."""
    per_gpu = num_gpus // num_nodes
    a = max(float(w[home == n].sum()) for n in range(num_nodes)) / per_gpu
    cands = [0.0, max(0.0, (a - base) * per_gpu)]
    return min(max(base, a - c / per_gpu) + lam * c for c in cands)


def place_experts(
    loads: Any, num_replicas: int, num_groups: int = 1, num_nodes: int = 1, num_gpus: int = 8,
    *, method: str = "milp", time_limit_s: float = 30.0, mip_gap: float = 0.01,
    threads: int = 2, solver: str = "highs", cross_node_weight: float = 0.0,
    max_gpu_load: float | None = None, expert_bytes: float | None = None,
    gpu_memory_bytes: float | None = None, seed: int = 0,
) -> PlacementResult:
    """Choose replica counts and placement of experts on GPUs to minimise the most loaded GPU.

    Arguments follow EPLB's ``rebalance_experts``: ``loads`` is ``[layers, experts]`` (a flat
    list is one layer), ``num_replicas`` the physical slots in all (a multiple of ``num_gpus``),
    ``num_groups`` the expert groups of node-limited routing, ``num_nodes`` the server nodes.
    Each layer is solved independently, with ``time_limit_s`` per layer.

    Methods:
        ``eplb``: DeepSeek's EPLB (:mod:`codesign.opt.eplb`), hierarchical when nodes divide
            groups, else global.
        ``milp``: start from the better of EPLB's hierarchical and global placements, improve
            by local search (single swaps and replica moves), then by HiGHS: when the exact
            model (:func:`full_problem`) is small, solve it (the answer is optimal within
            ``mip_gap`` and HiGHS's bound counts); otherwise re-optimise neighbourhoods of a
            few GPUs exactly (each an exact MILP; the whole is a heuristic) until the gap to
            :func:`lower_bound` is within ``mip_gap`` or time runs out. The result is never
            worse than EPLB, and its ``lower_bound`` holds for every placement.

    Args:
        cross_node_weight: ``lambda`` >= 0: minimise ``max GPU load + lambda * cross-node
            load`` (load served outside the home node of the expert's group; homes from EPLB's
            step 1). 0 (default) ignores nodes. With ``lambda > 0`` the gap refers to this
            weighted objective.
        max_gpu_load: optional target; infeasible targets raise :class:`SpecError` saying
            whether the GPU count or the slot count binds; a target not met by the placement
            found raises :class:`~codesign.opt.solver.SolverError`.
        expert_bytes, gpu_memory_bytes: optional memory check of slots per GPU.

    Raises:
        SpecError: bad input (field named as the argument).
    """
    import time

    from codesign.opt.eplb import rebalance_experts

    W = check_loads(loads)
    num_layers, num_experts = W.shape
    _check_args(num_experts, num_replicas, num_groups, num_nodes, num_gpus, method,
                time_limit_s, mip_gap, cross_node_weight, expert_bytes, gpu_memory_bytes)
    if method == "milp" and solver not in ("highs", "appsi_highs"):
        from codesign.errors import SpecError
        from codesign.opt.solver import available_solvers

        names = available_solvers()
        if solver not in names:
            raise SpecError("solver", f"{solver!r} is not installed or unknown", names)
    if threads < 1:
        from codesign.errors import SpecError

        raise SpecError("threads", f"must be >= 1, got {threads}")
    if max_gpu_load is not None:
        from codesign.errors import SpecError

        if not max_gpu_load > 0:
            raise SpecError("max_gpu_load", f"must be > 0, got {max_gpu_load}")
        for i in range(num_layers):
            _check_slo(W[i], num_gpus, num_replicas, max_gpu_load, i)
    gpu_node = np.arange(num_gpus) // (num_gpus // num_nodes)
    layers = []
    for i in range(num_layers):
        t0 = time.perf_counter()
        layer = _place_layer(W[i], num_replicas, num_groups, num_nodes, num_gpus, gpu_node,
                             method, t0 + time_limit_s, mip_gap, threads, solver,
                             cross_node_weight, seed + i, rebalance_experts)
        layers.append(layer)
    if max_gpu_load is not None:
        from codesign.opt.solver import SolverError

        for i, layer in enumerate(layers):
            if layer.max_gpu_load > max_gpu_load * (1 + 1e-9):
                raise SolverError("target_not_met", f"layer {i}: best placement found has max "
                                  f"GPU load {layer.max_gpu_load:.6g} > target "
                                  f"{max_gpu_load:.6g}", layer.lower_bound, layer.max_gpu_load)
    return PlacementResult(method=method, num_replicas=num_replicas, num_groups=num_groups,
                           num_nodes=num_nodes, num_gpus=num_gpus, layers=tuple(layers))


def _place_layer(w_raw: np.ndarray, S: int, num_groups: int, num_nodes: int, G: int,
                 gpu_node: np.ndarray, method: str, deadline: float, mip_gap: float,
                 threads: int, solver: str, lam: float, seed: int, eplb: Any) -> LayerPlacement:
    import time

    t0 = time.perf_counter()
    total = float(w_raw.sum())
    scale = total / G if total > 0 else 1.0
    w = w_raw / scale
    home = _home_nodes(w, num_groups, num_nodes)
    cfg_phy2log = tuple(int(e) for e in eplb([w_raw], S, num_groups, num_nodes, G).phy2log[0])
    cfg = _counts_of(np.asarray(cfg_phy2log), w.size, G)
    bound, source = lower_bound(w, G, S), "mean/replica"
    if lam > 0 and home is not None:
        bound = max(bound, _cross_lower_bound(w, home, num_nodes, G, lam, bound))
    X, status = cfg, "heuristic"
    stages: list[tuple[str, float]] = []
    highs_solves = 0
    if method == "milp" and total > 0:
        layer = _Layer(w, G, gpu_node, home, lam, solver, mip_gap, threads, deadline, seed)
        starts = [cfg]
        if num_groups % num_nodes == 0 and num_nodes > 1:
            starts.append(_counts_of(eplb([w_raw], S, 1, 1, G).phy2log[0], w.size, G))
        if lam > 0 and home is not None and num_nodes > 1:
            starts.append(layer.per_node(S, num_nodes))
        X = min(starts, key=layer.key)
        layer.stages.append(("start", layer.objective(X)))
        if not layer.done(X, bound) or lam == 0:
            X, hb, exact = layer.improve(X, bound)
            if exact and hb is not None and hb > bound:
                bound, source = hb, "highs"
        status = "optimal" if layer.done(X, bound) else "feasible"
        stages = [(name, v * scale) for name, v in layer.stages]
        highs_solves = layer.highs_solves
    loads = gpu_loads_of(w, X) * scale
    mx = float(loads.max())
    cross = cross_node_load(w, X, gpu_node, home)
    obj = mx + lam * (cross or 0.0) * scale
    bound *= scale
    return LayerPlacement(
        phy2log=cfg_phy2log if method == "eplb" else _phy2log_of(X),
        replicas=tuple(int(c) for c in X.sum(1)),
        gpu_loads=tuple(float(x) for x in loads), max_gpu_load=mx,
        mean_gpu_load=total / G, balance=mx / (total / G) if total > 0 else 1.0,
        lower_bound=bound, bound_source=source,
        gap=_clean_gap(obj, bound),
        cross_node_load=None if cross is None else cross * scale,
        eplb_max_gpu_load=float(gpu_loads_of(w, cfg).max() * scale),
        status=status, solve_time_s=time.perf_counter() - t0,
        stages=tuple(stages), highs_solves=highs_solves)


def _clean_gap(obj: float, bound: float) -> float:
    """Relative gap, with round-off below 1e-9 reported as 0."""
    if obj <= 0:
        return 0.0
    gap = (obj - bound) / obj
    return 0.0 if gap < 1e-9 else gap
