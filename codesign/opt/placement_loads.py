"""Placement arithmetic in NumPy: encodings, GPU loads, the objective and lower bounds.

A placement of one layer is given as replica counts ``counts[e, g]`` (``[E, G]`` ints): expert
``e`` has ``r_e = sum_g counts[e, g]`` replicas, each carrying ``w_e / r_e``, and GPU ``g``
carries ``L_g = sum_e counts[e, g] w_e / r_e``. EPLB's slot list ``phy2log`` converts to and
from it (:func:`_counts_of`, :func:`_phy2log_of`). Every public name is re-exported by
:mod:`codesign.opt.placement`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from codesign.opt.placement_model import PlacementData

__all__ = [
    "cross_node_load",
    "gpu_loads_of",
    "lower_bound",
    "min_max_replica_load",
    "objective_of",
]


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


def _counts_of(phy2log: np.ndarray, num_experts: int, num_gpus: int) -> np.ndarray:
    """Replica counts ``[E, G]`` of a slot list (slot ``p`` on GPU ``p // slots per GPU``)."""
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


def _cross_lower_bound(w: np.ndarray, home: np.ndarray, num_nodes: int, num_gpus: int,
                       lam: float, base: float) -> float:
    """Bound on ``max load + lam * cross`` given that node ``n``'s GPUs serve at least its
    experts' load minus the cross-node load ``c``: ``max(base, (W_n - c) / gpus per node) +
    lam * c``, minimised over ``c >= 0`` (convex, so a breakpoint is optimal)."""
    per_gpu = num_gpus // num_nodes
    a = max(float(w[home == n].sum()) for n in range(num_nodes)) / per_gpu
    cands = [0.0, max(0.0, (a - base) * per_gpu)]
    return min(max(base, a - c / per_gpu) + lam * c for c in cands)
