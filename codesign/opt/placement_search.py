"""Heuristic search for expert placement: local search, restarts, and MILP neighbourhoods.

Used by :func:`codesign.opt.placement.place_experts` (``method="milp"``), per layer, after it
starts from the better of EPLB's hierarchical and global placements (:class:`_Layer`):

1. local search (swap a replica of the most loaded GPU, or move a slot between experts,
   :func:`_local_search`) with restarts from balanced-differencing packings
   (:func:`_bldm_pack`, :func:`_iterated_local_search`), until the gap is met;
2. HiGHS: if the exact model (:func:`~codesign.opt.placement_model.full_problem`) is small,
   solve it warm-started (:meth:`_Layer.exact_milp`); otherwise MILP large-neighbourhood
   search (:meth:`_Layer.lns`: each neighbourhood solved exactly, the whole a heuristic) until
   the gap is met or time runs out.

Loads here are scaled to a mean GPU load of about 1. Pyomo is imported only by the solves.
"""

from __future__ import annotations

import numpy as np

from codesign.opt.placement_loads import _counts_of, gpu_loads_of, lower_bound, objective_of
from codesign.opt.placement_model import (
    GAP_TOL,
    PlacementData,
    build_placement_model,
    extract_placement,
    full_problem,
    neighbourhood,
)

__all__: list[str] = []

# ----------------------------------------------------------------------------- local search

#: A move of :func:`_local_search`: (kind ``swap`` or ``rep``, gaining expert, giving expert,
#: the other GPU).
_Move = tuple[str, int, int, int]


def _best_swap(X: np.ndarray, p: np.ndarray, L: np.ndarray, i: int, on_i: np.ndarray,
               best_score: float, move: _Move | None) -> tuple[float, _Move | None]:
    """Best swap of a replica on GPU ``i`` with a lighter replica of another expert elsewhere,
    if it beats ``best_score`` (the new maximum over the two GPUs)."""
    tol = 1e-12
    for e in on_i.tolist():
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
    return best_score, move


def _best_transfer(w: np.ndarray, X: np.ndarray, r: np.ndarray, p: np.ndarray, L: np.ndarray,
                   i: int, on_i: np.ndarray, best_score: float, move: _Move | None
                   ) -> tuple[float, _Move | None]:
    """Best transfer of a slot from an expert ``f`` with two or more replicas to expert ``e``
    (on any GPU if ``e`` sits on ``i``, else on ``i`` itself), if it beats ``best_score`` (the
    new maximum over all GPUs, since every replica of both experts resizes)."""
    donors = np.flatnonzero(r >= 2)
    on_i_set = set(on_i.tolist())
    for e in range(w.size):
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
    return best_score, move


def _apply_move(w: np.ndarray, X: np.ndarray, r: np.ndarray, p: np.ndarray, i: int,
                move: _Move) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``move`` to ``X`` in place; returns the (possibly new) replica counts and sizes."""
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
    return r, p


def _local_search(w: np.ndarray, X: np.ndarray, deadline: float, max_iter: int = 100000
                  ) -> np.ndarray:
    """Lower the most loaded GPU by single moves until none helps (max GPU load only).

    Moves, each judged by the new maximum over the GPUs it touches: swap a replica on the
    most loaded GPU ``i`` with a lighter replica of another expert elsewhere
    (:func:`_best_swap`); or give an expert one more replica in a slot taken from an expert
    with two or more (on any GPU if the gaining expert sits on ``i``, else on ``i`` itself),
    which resizes every replica of both experts (:func:`_best_transfer`).
    """
    import time

    X = X.copy()
    r = X.sum(1).astype(float)
    p = w / r
    L = p @ X
    for _ in range(max_iter):
        if time.perf_counter() > deadline:
            break
        i = int(np.argmax(L))
        best_score, move = L[i] - 1e-9 * max(L[i], 1.0), None
        on_i = np.flatnonzero(X[:, i])
        best_score, move = _best_swap(X, p, L, i, on_i, best_score, move)
        best_score, move = _best_transfer(w, X, r, p, L, i, on_i, best_score, move)
        if move is None:
            break
        r, p = _apply_move(w, X, r, p, i, move)
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


# ----------------------------------------------------------------------------- one layer


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
            X = self.local_search(X, lb)
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

    def local_search(self, X: np.ndarray, lb: float) -> np.ndarray:
        """The local-search stage of :meth:`improve` (max load only)."""
        import time

        X = _local_search(self.w, X, self.deadline)
        # HiGHS is the better tool where the exact model is small: restart less there
        small = full_problem(self.w, X, self.gpu_node, self.home, self.lam).exact
        share = self.ils_share / 5 if small else self.ils_share
        mid = time.perf_counter() + share * max(self.remaining(), 0.0)
        target = lb / (1 - self.mip_gap) if self.mip_gap < 1 else lb
        X = _iterated_local_search(self.w, X, mid, target, self.rng)
        self.stages.append(("local_search", self.objective(X)))
        return X

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
            data = self.pick_neighbourhood(X, size)
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

    def pick_neighbourhood(self, X: np.ndarray, size: int) -> PlacementData:
        """The next LNS neighbourhood: the two most and two least loaded GPUs plus random
        others (``size`` in all), and the four experts with the largest replicas as extras."""
        L = gpu_loads_of(self.w, X)
        order = [int(g) for g in np.argsort(-L, kind="stable")]
        pick = order[:2] + order[-2:]
        rest = [g for g in order if g not in pick]
        n_rand = max(0, min(len(rest), size - len(set(pick))))
        pick += [int(g) for g in self.rng.choice(rest, size=n_rand, replace=False)]
        piece = self.w / X.sum(1)
        extra = [int(e) for e in np.argsort(-piece, kind="stable")[:4]]
        return neighbourhood(self.w, X, pick, extra, self.gpu_node, self.home, self.lam)

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
