"""Solve a Pyomo model and check how the solve ended: step two of build -> solve -> extract.

HiGHS runs embedded through ``highspy`` (Pyomo's ``appsi`` interface, which also takes a MIP
start); no external binary is needed. CBC, SCIP, Gurobi and other solvers Pyomo knows run by
name when :func:`available_solvers` finds them installed.

A solve ends in one of three ways:

* optimal (within ``mip_gap``), or stopped at the time limit with an incumbent: the variables
  hold the incumbent and :class:`SolveInfo` reports objective, best bound and gap;
* infeasible, unbounded, or stopped without an incumbent: :class:`SolverError`, with the
  status and whatever bound or incumbent the solver had;
* an unknown or unavailable solver name: :class:`~codesign.errors.SpecError` on ``solver``.

Pyomo is imported inside the functions, so ``import codesign`` stays light.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from codesign.errors import CodesignError, SpecError

__all__ = ["SolveInfo", "SolverError", "available_solvers", "solve"]

#: Solver names tried by :func:`available_solvers`, HiGHS first (always there).
KNOWN_SOLVERS = ("highs", "cbc", "scip", "gurobi", "cplex", "glpk")

#: Per-solver option names of (time limit, relative MIP gap, threads) for Pyomo's shell plugins.
_OPTION_NAMES = {
    "cbc": ("seconds", "ratioGap", "threads"),
    "scip": ("limits/time", "limits/gap", "parallel/maxnthreads"),
    "gurobi": ("TimeLimit", "MIPGap", "Threads"),
    "gurobi_direct": ("TimeLimit", "MIPGap", "Threads"),
    "cplex": ("timelimit", "mipgap", "threads"),
    "glpk": ("tmlim", "mipgap", None),
}


class SolverError(CodesignError):
    """A solve that gave no usable answer: infeasible, unbounded, or stopped without incumbent.

    Attributes:
        status: what the solver reported (``infeasible``, ``unbounded``, ``time_limit``, ...).
        bound: the best proven bound on the objective, where the solver had one.
        incumbent: the best objective found, where there was one.
        message: the one-line explanation (also ``str(error)``).
    """

    def __init__(self, status: str, message: str, bound: float | None = None,
                 incumbent: float | None = None):
        self.status = status
        self.bound = bound
        self.incumbent = incumbent
        self.message = message
        text = f"solver: {status}: {message}"
        extra = []
        if bound is not None:
            extra.append(f"best bound {bound:.6g}")
        if incumbent is not None:
            extra.append(f"incumbent {incumbent:.6g}")
        if extra:
            text += f" ({', '.join(extra)})"
        super().__init__(text)


@dataclass(frozen=True)
class SolveInfo:
    """How a solve ended.

    Attributes:
        solver: the solver name used.
        status: ``optimal`` (proved within ``mip_gap``) or ``feasible`` (stopped with an
            incumbent, e.g. at the time limit).
        termination: the solver's own termination condition, as text.
        objective: objective value of the incumbent loaded into the model.
        bound: best proven bound on the objective (``None`` if the solver gave none).
        gap: relative gap ``|objective - bound| / |objective|`` (``None`` without a bound).
        solve_time_s: wall-clock seconds spent in the solver call.
    """

    solver: str
    status: str
    termination: str
    objective: float
    bound: float | None
    gap: float | None
    solve_time_s: float


def available_solvers() -> list[str]:
    """Names of the solvers :func:`solve` can use here (``highs`` when highspy is installed)."""
    from pyomo.environ import SolverFactory

    out = []
    for name in KNOWN_SOLVERS:
        if name == "highs":
            from pyomo.contrib.appsi.solvers import Highs

            if Highs().available():
                out.append(name)
            continue
        try:
            if SolverFactory(name).available(exception_flag=False):
                out.append(name)
        except Exception:  # a plugin that cannot even probe counts as missing
            continue
    return out


def _rel_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1e-12)


def solve(model: Any, solver: str = "highs", time_limit_s: float = 30.0, mip_gap: float = 0.01,
          threads: int = 2, warm_start: bool = False, verbose: bool = False) -> SolveInfo:
    """Solve ``model`` (a Pyomo ``ConcreteModel`` with one objective) and load the incumbent.

    Args:
        model: the model from a ``build_*_model`` function.
        solver: ``highs`` (default, embedded) or the name of another installed solver.
        time_limit_s: wall-clock limit in seconds.
        mip_gap: relative MIP gap at which the solver may stop.
        threads: solver threads.
        warm_start: pass the values already in the model's variables as a MIP start.
        verbose: stream the solver log to stdout.

    Raises:
        SpecError: ``solver`` unknown or not installed, or a bad limit.
        SolverError: infeasible, unbounded, or no incumbent when the solver stopped.
    """
    if not time_limit_s > 0:
        raise SpecError("time_limit_s", f"must be > 0, got {time_limit_s}")
    if not 0 <= mip_gap < 1:
        raise SpecError("mip_gap", f"must be in [0, 1), got {mip_gap}")
    if threads < 1:
        raise SpecError("threads", f"must be >= 1, got {threads}")
    if solver in ("highs", "appsi_highs"):
        return _solve_highs(model, time_limit_s, mip_gap, threads, warm_start, verbose)
    return _solve_legacy(model, solver, time_limit_s, mip_gap, threads, warm_start, verbose)


def _solve_highs(model: Any, time_limit_s: float, mip_gap: float, threads: int,
                 warm_start: bool, verbose: bool) -> SolveInfo:
    from pyomo.contrib.appsi.base import TerminationCondition as TC
    from pyomo.contrib.appsi.solvers import Highs

    opt = Highs()
    if not opt.available():
        raise SpecError("solver", "highspy is not installed", available_solvers())
    opt.config.time_limit = float(time_limit_s)
    opt.config.mip_gap = float(mip_gap)
    opt.config.load_solution = False
    opt.config.warmstart = warm_start
    opt.config.stream_solver = verbose
    opt.highs_options = {"threads": int(threads), "random_seed": 0}
    t0 = time.perf_counter()
    res = opt.solve(model)
    elapsed = time.perf_counter() - t0
    tc = res.termination_condition
    inc, bound = res.best_feasible_objective, res.best_objective_bound
    if bound is not None and not math.isfinite(bound):
        bound = None
    if tc == TC.infeasible:
        raise SolverError("infeasible", "the model has no feasible solution", bound, inc)
    if tc in (TC.unbounded, TC.infeasibleOrUnbounded):
        name = "unbounded" if tc == TC.unbounded else "infeasible_or_unbounded"
        raise SolverError(name, "the objective is unbounded or the model is infeasible",
                          bound, inc)
    if inc is None or not math.isfinite(inc):
        status = "time_limit" if tc == TC.maxTimeLimit else tc.name
        raise SolverError(status, f"no feasible solution found in {elapsed:.1f} s", bound, None)
    res.solution_loader.load_vars()
    status = "optimal" if tc == TC.optimal else "feasible"
    return SolveInfo(solver="highs", status=status, termination=tc.name, objective=float(inc),
                     bound=bound, gap=_rel_gap(inc, bound), solve_time_s=elapsed)


def _solve_legacy(model: Any, solver: str, time_limit_s: float, mip_gap: float, threads: int,
                  warm_start: bool, verbose: bool) -> SolveInfo:
    from pyomo.environ import SolverFactory, value
    from pyomo.opt import SolutionStatus, TerminationCondition

    try:
        opt = SolverFactory(solver)
        ok = opt is not None and opt.available(exception_flag=False)
    except Exception:
        ok = False
    if not ok:
        raise SpecError("solver", f"{solver!r} is not installed or unknown", available_solvers())
    names = _OPTION_NAMES.get(solver, (None, None, None))
    for key, val in zip(names, (time_limit_s, mip_gap, threads), strict=True):
        if key is not None:
            opt.options[key] = val
    kwargs: dict[str, Any] = {"tee": verbose, "load_solutions": False}
    if warm_start and getattr(opt, "warm_start_capable", lambda: False)():
        kwargs["warmstart"] = True
    t0 = time.perf_counter()
    res = opt.solve(model, **kwargs)
    elapsed = time.perf_counter() - t0
    tc = res.solver.termination_condition
    bound = _finite(getattr(res.problem, "lower_bound", None))
    has_solution = len(res.solution) > 0 and res.solution(0).status in (
        SolutionStatus.optimal, SolutionStatus.feasible, SolutionStatus.stoppedByLimit,
        SolutionStatus.bestSoFar, SolutionStatus.locallyOptimal)
    if tc == TerminationCondition.infeasible:
        raise SolverError("infeasible", "the model has no feasible solution", bound, None)
    if tc in (TerminationCondition.unbounded, TerminationCondition.infeasibleOrUnbounded):
        raise SolverError("unbounded", "the objective is unbounded or the model is infeasible",
                          bound, None)
    if not has_solution:
        raise SolverError(str(tc), f"no feasible solution found in {elapsed:.1f} s", bound, None)
    model.solutions.load_from(res)
    from pyomo.environ import Objective

    obj = float(value(next(model.component_data_objects(Objective, active=True))))
    status = "optimal" if tc == TerminationCondition.optimal else "feasible"
    return SolveInfo(solver=solver, status=status, termination=str(tc), objective=obj,
                     bound=bound, gap=_rel_gap(obj, bound), solve_time_s=elapsed)


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
