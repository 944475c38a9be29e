"""Hardware sizing: the GPU design (SMs, HBM stacks, L2, NICs) that maximises tokens per
dollar or minimises joules per token for a workload under area, power and cost budgets.

The designs come from a registered design space (:mod:`codesign.opt.design_space`; the GPU
family's, :mod:`hwmodels.gpu.sizing`, has the design grid and the area, power, cost and
performance models that evaluate each design); this module chooses among the designs.

**Linearization.** Performance, area, yield and cost are nonlinear in the design parameters;
the grid is the linearization: every design point is evaluated exactly with the nonlinear
models, and a MILP with one binary per design (sum = 1) picks the design, budgets
``sum_d area_d z_d <= A`` (likewise power, cost) and the objective ``sum_d f_d z_d`` linear in
the binaries. The MILP is exact over the grid; between grid points nothing is claimed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from codesign.errors import SpecError
from codesign.opt.design_space import DESIGN_SPACES, DesignPoint

if TYPE_CHECKING:
    from pydantic import BaseModel

Objective = Literal["tokens_per_dollar", "joules_per_token"]
OBJECTIVES = ("tokens_per_dollar", "joules_per_token")


@dataclass(frozen=True)
class SizingResult:
    """The chosen design, the base part evaluated the same way, and how it was found."""

    workload: dict[str, Any]
    objective: str
    objective_value: float
    budgets: dict[str, float | None]
    design: DesignPoint
    reference: DesignPoint
    designs: int
    feasible: int
    within_budget: int
    search_s: float
    solve: dict[str, Any]
    linearization: str
    assumptions: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["design"], d["reference"] = self.design.as_dict(), self.reference.as_dict()
        return d


LINEARIZATION = ("grid enumeration: each design point evaluated exactly with the nonlinear "
                 "performance, area, yield and cost models; the MILP picks one point (binary "
                 "per design, sum = 1) with budgets and objective linear in the binaries; "
                 "exact over the grid, nothing claimed between points")


# ------------------------------------------------------------------------------ MILP
BUDGETS = (("area_mm2", "area_mm2", "mm^2"), ("power_w", "power_w", "W"),
           ("cost_usd", "price_usd", "USD"))


def _value(p: DesignPoint, objective: str) -> float:
    return p.tokens_per_usd if objective == "tokens_per_dollar" else p.joules_per_token


def build_sizing_model(points: list[DesignPoint], objective: str,
                       budgets: dict[str, float | None]) -> Any:
    """One binary per design, one design chosen, budgets and objective linear in them."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel("sizing")
    m.D = pyo.Set(initialize=range(len(points)))
    m.z = pyo.Var(m.D, within=pyo.Binary)
    m.one = pyo.Constraint(expr=sum(m.z[d] for d in m.D) == 1)
    for name, attr, _ in BUDGETS:
        limit = budgets.get(name)
        if limit is not None:
            setattr(m, name, pyo.Constraint(
                expr=sum(getattr(points[d], attr) * m.z[d] for d in m.D) <= limit))
    sense = pyo.maximize if objective == "tokens_per_dollar" else pyo.minimize
    m.obj = pyo.Objective(expr=sum(_value(points[d], objective) * m.z[d] for d in m.D),
                          sense=sense)
    return m


def extract_sizing(m: Any) -> int:
    """Index of the chosen design."""
    return max(m.D, key=lambda d: m.z[d].value or 0.0)


def _within(p: DesignPoint, budgets: dict[str, float | None], skip: str = "") -> bool:
    return all(budgets.get(n) is None or n == skip or getattr(p, attr) <= budgets[n]
               for n, attr, _ in BUDGETS)


def _binding_error(points: list[DesignPoint], budgets: dict[str, float | None]) -> SpecError:
    """The budget whose smallest relative violation (others met) is least, as a SpecError."""
    best: tuple[float, str, DesignPoint, str, str] | None = None
    for name, attr, unit in BUDGETS:
        limit = budgets.get(name)
        if limit is None:
            continue
        others = [p for p in points if _within(p, budgets, skip=name)]
        if not others:
            continue
        p = min(others, key=lambda p: getattr(p, attr))
        over = getattr(p, attr) / limit - 1
        if best is None or over < best[0]:
            best = (over, name, p, attr, unit)
    if best is None:
        names = [n for n, _, _ in BUDGETS if budgets.get(n) is not None]
        return SpecError(names[0], "no design meets the budgets " + ", ".join(names)
                         + " even one at a time relaxed")
    over, name, p, attr, unit = best
    return SpecError(name, f"no design within budget: the closest needs "
                     f"{getattr(p, attr):,.0f} {unit} > {budgets[name]:,.0f} {unit} "
                     f"({p.sm_count} SMs, {p.hbm_stacks} HBM stacks, {p.l2_mb} MB L2, "
                     f"{p.nics} NICs), the other budgets met")


def size_hardware(workload_model: str = "llama-3.1-70b", phase: str = "decode",
                  batch: int = 64, context: int = 4096, *,
                  objective: Objective = "tokens_per_dollar", area_mm2: float | None = None,
                  power_w: float | None = None, cost_usd: float | None = None,
                  tp: int | None = None, dp: int = 1, ep: int = 1,
                  grid: BaseModel | None = None, base: str = "h100-sxm",
                  assumptions: BaseModel | None = None, space: str = "gpu",
                  time_limit_s: float = 30.0) -> SizingResult:
    """The design of ``grid`` that maximises tokens per dollar (or minimises joules per token)
    for one pass of the workload within the budgets (per GPU: die area mm^2, GPU + NIC power
    W, price USD incl. NICs). ``space`` names the design space (``DESIGN_SPACES``); ``grid``
    and ``assumptions`` are its own models (GPU: ``hwmodels.gpu.sizing.DesignGrid`` and
    ``SizingAssumptions``; ``None``: the defaults); the module docstring has the
    linearization.

    Raises:
        SpecError: a non-positive budget, an unknown objective, no design that holds the
            workload (``hbm_stacks``), or none within the budgets (naming the budget with the
            smallest violation).
    """
    from codesign.opt.deployment import solve_milp

    if objective not in OBJECTIVES:
        raise SpecError("objective", f"unknown {objective!r}", OBJECTIVES)
    budgets = {"area_mm2": area_mm2, "power_w": power_w, "cost_usd": cost_usd}
    for name, v in budgets.items():
        if v is not None and not v > 0:
            raise SpecError(name, f"budget must be > 0, got {v}")
    t0 = time.perf_counter()
    ev = DESIGN_SPACES.get(space).evaluate(workload_model, phase, batch, context, tp=tp, dp=dp,
                                           ep=ep, grid=grid, base=base,
                                           assumptions=assumptions)
    points, ref = ev.points, ev.reference
    fits = [p for p in points if p.fits]
    if not fits:
        most = max(points, key=lambda p: p.hbm_bytes)
        raise SpecError("hbm_stacks", f"no design of the grid holds {workload_model} "
                        f"(batch {batch}, context {context}) even with "
                        f"{most.hbm_bytes / 1e9:.0f} GB per GPU at tp up to "
                        f"{tp or 8}")
    ok = [p for p in fits if _within(p, budgets)]
    if not ok:
        raise _binding_error(fits, budgets)
    m = build_sizing_model(fits, objective, budgets)
    info = solve_milp(m, time_limit_s)
    best = fits[extract_sizing(m)]
    wl = {"model": workload_model, "phase": phase, "batch": batch, "context": context,
          "tp": tp, "dp": dp, "ep": ep, "base": base}
    return SizingResult(workload=wl, objective=objective,
                        objective_value=_value(best, objective), budgets=budgets, design=best,
                        reference=ref, designs=len(points), feasible=len(fits),
                        within_budget=len(ok), search_s=time.perf_counter() - t0, solve=info,
                        linearization=LINEARIZATION, assumptions=ev.assumptions)
