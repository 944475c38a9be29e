"""Optimisation problems as Pyomo models: build -> solve -> extract, one module per problem.

Importing this package is light: Pyomo is imported inside the functions that build or solve.

* :func:`place_experts` — expert replication and placement (expert-parallel load balancing),
  ``method="milp"`` (EPLB start, local search, then HiGHS: exact model when small, MILP
  neighbourhoods otherwise; never worse than EPLB, gap against a proven bound) or ``"eplb"``
  (DeepSeek's greedy, ported exactly to NumPy in :mod:`codesign.opt.eplb`).
* :func:`search_deployment` — TP/EP/DP/PP, batch, GPUs and prefill/decode split maximizing
  tokens/s per dollar under TTFT/TPOT and memory limits (:mod:`codesign.opt.deployment`).
* :func:`size_hardware` — a GPU design from a parametric grid under area/power/cost budgets
  (:mod:`codesign.opt.sizing`).
* :func:`solve` — solve any Pyomo model, with :class:`SolveInfo` / :class:`SolverError`.
"""

from codesign.opt.deployment import DeploymentResult, DeploymentSpace, search_deployment
from codesign.opt.eplb import EplbResult, rebalance_experts
from codesign.opt.placement import LayerPlacement, PlacementResult, place_experts
from codesign.opt.sizing import SizingResult, size_hardware
from codesign.opt.solver import SolveInfo, SolverError, available_solvers, solve

__all__ = [
    "DeploymentResult",
    "DeploymentSpace",
    "EplbResult",
    "LayerPlacement",
    "PlacementResult",
    "SizingResult",
    "SolveInfo",
    "SolverError",
    "available_solvers",
    "place_experts",
    "rebalance_experts",
    "search_deployment",
    "size_hardware",
    "solve",
]
