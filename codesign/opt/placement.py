"""Expert placement and replication (expert-parallel load balancing): the API.

Problem, for one MoE layer: ``E`` logical experts with loads ``w_e`` (tokens), ``G`` GPUs with
``m`` replica slots each (``S = G m`` slots in all, as in EPLB). Choose replica counts
``r_e >= 1`` (``sum r_e = S``) and how many replicas of each expert each GPU holds, so that the
most loaded GPU is as light as possible. An expert's load splits evenly over its replicas, so
GPU ``g`` carries ``L_g = sum_e x_eg w_e / r_e``. Optionally also penalise the load served
outside the home node of the expert's group (see :class:`PlacementData`).

The work is split over five modules; every public name is importable from here:

* this module — :func:`place_experts` and the result types (:class:`PlacementResult`);
* :mod:`codesign.opt.placement_checks` — input validation (:func:`check_loads`);
* :mod:`codesign.opt.placement_loads` — NumPy arithmetic on placements: GPU loads, the
  objective, the lower bounds (:func:`lower_bound`);
* :mod:`codesign.opt.placement_model` — the MILP: :class:`PlacementData`, the exact
  :func:`full_problem` and its :func:`neighbourhood` restrictions, :func:`build_placement_model`
  and :func:`extract_placement`;
* :mod:`codesign.opt.placement_search` — local search, restarts and MILP neighbourhoods.

Method (:func:`place_experts`, ``method="milp"``), per layer:

1. start from the better of EPLB's hierarchical and global placements;
2. local search (swap a replica of the most loaded GPU, or move a slot between experts) with
   restarts from balanced-differencing packings, until the gap is met;
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

from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.opt.placement_checks import _check_args, _check_options, check_loads
from codesign.opt.placement_loads import (
    _counts_of,
    _cross_lower_bound,
    _phy2log_of,
    cross_node_load,
    gpu_loads_of,
    lower_bound,
    min_max_replica_load,
    objective_of,
)
from codesign.opt.placement_model import EXACT_MAX_VARS as EXACT_MAX_VARS
from codesign.opt.placement_model import FULL_MAX_VARS as FULL_MAX_VARS
from codesign.opt.placement_model import GAP_TOL as GAP_TOL
from codesign.opt.placement_model import (
    Assignment,
    PlacementData,
    build_placement_model,
    extract_placement,
    full_problem,
    neighbourhood,
)
from codesign.opt.placement_search import _Layer

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


# ----------------------------------------------------------------------------- the API


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
    _check_options(W, num_replicas, num_gpus, method, solver, threads, max_gpu_load)
    gpu_node = np.arange(num_gpus) // (num_gpus // num_nodes)
    layers = []
    for i in range(num_layers):
        t0 = time.perf_counter()
        layer = _place_layer(W[i], num_replicas, num_groups, num_nodes, num_gpus, gpu_node,
                             method, t0 + time_limit_s, mip_gap, threads, solver,
                             cross_node_weight, seed + i, rebalance_experts)
        layers.append(layer)
    if max_gpu_load is not None:
        _check_target_met(layers, max_gpu_load)
    return PlacementResult(method=method, num_replicas=num_replicas, num_groups=num_groups,
                           num_nodes=num_nodes, num_gpus=num_gpus, layers=tuple(layers))


def _check_target_met(layers: list[LayerPlacement], max_gpu_load: float) -> None:
    """Raise :class:`~codesign.opt.solver.SolverError` for the first layer over the target."""
    from codesign.opt.solver import SolverError

    for i, layer in enumerate(layers):
        if layer.max_gpu_load > max_gpu_load * (1 + 1e-9):
            raise SolverError("target_not_met", f"layer {i}: best placement found has max "
                              f"GPU load {layer.max_gpu_load:.6g} > target "
                              f"{max_gpu_load:.6g}", layer.lower_bound, layer.max_gpu_load)


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
        X, bound, source = _improve_layer(layer, w_raw, cfg, bound, source, S, num_groups,
                                          num_nodes, eplb)
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


def _improve_layer(layer: _Layer, w_raw: np.ndarray, cfg: np.ndarray, bound: float,
                   source: str, S: int, num_groups: int, num_nodes: int, eplb: Any
                   ) -> tuple[np.ndarray, float, str]:
    """The MILP method on one layer: the best start (EPLB's placement ``cfg``, global EPLB, and
    the per-node solution with a cross-node weight), then :meth:`_Layer.improve` unless the gap
    is met (always with max load only). Returns the counts and the bound with its source."""
    w, G, lam, home = layer.w, layer.G, layer.lam, layer.home
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
    return X, bound, source


def _clean_gap(obj: float, bound: float) -> float:
    """Relative gap, with round-off below 1e-9 reported as 0."""
    if obj <= 0:
        return 0.0
    gap = (obj - bound) / obj
    return 0.0 if gap < 1e-9 else gap


def _home_nodes(loads: np.ndarray, num_groups: int, num_nodes: int) -> np.ndarray | None:
    """Home node of each expert: its group's node in EPLB's step 1 (groups packed to nodes by
    load, heaviest first, to the lightest node with room). None unless nodes divide groups."""
    from codesign.opt.eplb import balanced_packing

    if num_groups % num_nodes:
        return None
    group_load = loads.reshape(num_groups, -1).sum(1)
    pack, _ = balanced_packing(group_load[None, :], num_nodes)
    return np.repeat(pack[0], loads.size // num_groups)
