"""Input validation of :func:`codesign.opt.placement.place_experts` (and of the CLI's loads).

Every check raises :class:`~codesign.errors.SpecError` naming the offending argument, in the
order :func:`place_experts` applies them: :func:`check_loads`, :func:`_check_args` (sizes,
method, limits, memory), then :func:`_check_options` (solver, threads, target load).
:func:`check_loads` is re-exported by :mod:`codesign.opt.placement`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from codesign.opt.placement_loads import min_max_replica_load

__all__ = ["check_loads"]


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
    """Sizes, method, time limit, gap and cross-node weight, then :func:`_check_memory`."""
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
    _check_memory(num_experts, num_replicas, num_gpus, expert_bytes, gpu_memory_bytes)


def _check_memory(num_experts: int, num_replicas: int, num_gpus: int,
                  expert_bytes: float | None, gpu_memory_bytes: float | None) -> None:
    """Both or neither memory argument, both > 0, and the slots per GPU fit its memory."""
    from codesign.errors import SpecError

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


def _check_options(W: np.ndarray, num_replicas: int, num_gpus: int, method: str, solver: str,
                   threads: int, max_gpu_load: float | None) -> None:
    """Checks of :func:`place_experts` after :func:`_check_args`: solver, threads, target."""
    from codesign.errors import SpecError

    if method == "milp" and solver not in ("highs", "appsi_highs"):
        from codesign.opt.solver import available_solvers

        names = available_solvers()
        if solver not in names:
            raise SpecError("solver", f"{solver!r} is not installed or unknown", names)
    if threads < 1:
        raise SpecError("threads", f"must be >= 1, got {threads}")
    if max_gpu_load is not None:
        if not max_gpu_load > 0:
            raise SpecError("max_gpu_load", f"must be > 0, got {max_gpu_load}")
        for i in range(W.shape[0]):
            _check_slo(W[i], num_gpus, num_replicas, max_gpu_load, i)
