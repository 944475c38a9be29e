"""Deployment search and hardware sizing (``codesign.opt.deployment``, ``codesign.opt.sizing``):
the MILPs against brute-force enumeration of the same objective, the costing shortcuts against
the engine on full graphs, memory and SLO filters, budgets, bad input and the CLI commands."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import SpecError
from codesign.opt.deployment import (
    DeploymentSpace,
    PhaseConfig,
    cost_pass,
    deployment_value,
    enumerate_candidates,
    optimize_split,
    search_deployment,
)
from codesign.opt.sizing import size_hardware
from hwmodels.gpu.sizing import DesignGrid, evaluate_designs

pytestmark = pytest.mark.component

SMALL = DeploymentSpace(tp=(1, 2, 4), pp=(1, 2), prefill_batch=(1, 4),
                        decode_batch=(8, 32, 128))
GRID = DesignGrid(sm_count=(66, 132, 198), hbm_stacks=(2, 5, 8), l2_mb=(25, 50), nics=(1, 2))
WL = ("llama-3.1-8b", "decode", 32, 2048)


def brute_force(pre, dec, gpus, output_len, price):
    """Best tokens/s per $/h over every (prefill, decode, x_p, x_d) in the budget, then the
    most tokens/s among ratio ties."""
    rows = []
    for p, d in itertools.product(pre, dec):
        for xp in range(1, gpus // p.gpus + 1):
            for xd in range(1, (gpus - xp * p.gpus) // d.gpus + 1):
                t, c = deployment_value(p, d, xp, xd, output_len, price)
                rows.append((t / c, t))
    best = max(r for r, _ in rows)
    return best, max(t for r, t in rows if r >= best * (1 - 1e-7))


# ------------------------------------------------------------------------------ costing
@pytest.mark.parametrize("model,phase,tp,dp,ep", [
    ("llama-3.1-8b", "decode", 2, 1, 1),
    ("llama-3.1-8b", "prefill", 1, 1, 1),
    ("deepseek-v2-lite", "decode", 2, 2, 4),
    ("deepseek-v2-lite", "prefill", 1, 1, 1),
])
def test_steady_layer_costing_equals_full_graph(model, phase, tp, dp, ep):
    from codesign.engines.analytical import AnalyticalEngine
    from codesign.hw import resolve_system
    from workloads.builder import build_model_graph
    from workloads.registry import load_model
    from workloads.spec import ParallelSpec, PhaseSpec

    cfg = load_model(model)
    ph = PhaseSpec.decode(8 * dp, 1024) if phase == "decode" else PhaseSpec.prefill(2, 512)
    par = ParallelSpec(tp=tp, dp=dp, ep=ep)
    system = resolve_system("h100-sxm", par.world).main.model
    launch = "graph" if phase == "decode" else "eager"
    full = AnalyticalEngine().run(build_model_graph(cfg, ph, par), system, tokens=ph.tokens,
                                  world=par.world, launch=launch)
    c = cost_pass(cfg, ph, par, system, launch)
    assert c.latency_s == pytest.approx(full.latency_s, rel=1e-9)
    assert c.energy_j * par.world == pytest.approx(full.energy_j, rel=1e-9)
    assert sum(c.stage_times(4)) == pytest.approx(c.latency_s, rel=1e-12)


def test_pp1_decode_candidate_matches_evaluate_model():
    from codesign.evaluate import evaluate_model

    cs = enumerate_candidates("llama-3.1-8b", "h100-sxm", 8, 1024, 256, SMALL)
    c = next(c for c in cs.decode if (c.tp, c.pp, c.batch_per_rank) == (2, 1, 32))
    r = evaluate_model("llama-3.1-8b", "decode", 32, 1024 + 128, "h100-sxm", tp=2)
    assert c.latency_s == pytest.approx(r.latency_s, rel=1e-9)
    assert c.rate_per_s == pytest.approx(32 / r.latency_s, rel=1e-9)


# ------------------------------------------------------------------------------ MILP
@pytest.mark.parametrize("model,hw,gpus,ttft,tpot", [
    ("llama-3.1-8b", "h100-sxm", 8, 1.0, 0.04),
    ("llama-3.1-8b", "h800-sxm", 12, 0.5, 0.02),
    ("deepseek-v2-lite", "h100-sxm", 8, 1.0, 0.05),
])
def test_search_equals_enumeration(model, hw, gpus, ttft, tpot):
    r = search_deployment(model, hw, gpus, 1024, 256, ttft, tpot, space=SMALL)
    cs = enumerate_candidates(model, hw, gpus, 1024, 256, SMALL)
    pre = [c for c in cs.prefill if c.latency_s <= ttft]
    dec = [c for c in cs.decode if c.latency_s <= tpot]
    ratio, tput = brute_force(pre, dec, gpus, 256, cs.usd_per_gpu_hour)
    assert r.tokens_per_s_per_usd_per_hour == pytest.approx(ratio, rel=1e-6)
    assert r.tokens_per_s == pytest.approx(tput, rel=1e-6)
    assert r.gpus <= gpus and r.ttft_s <= ttft and r.tpot_s <= tpot
    assert r.candidates == cs.candidates >= r.costed >= r.milp_candidates["prefill"]
    assert r.solve["all_optimal"] and r.solve["status"] == "optimal"
    json.dumps(r.as_dict())


def _phase_configs(rng, phase, n):
    return [PhaseConfig(phase, 1, 1, 1, 1, 0, 1, int(rng.choice([1, 2, 3, 4, 8])), 0.01,
                        float(rng.uniform(1, 100) * (1 if phase == "prefill" else 50)), 0.0)
            for _ in range(n)]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), gpus=st.integers(2, 20), out=st.integers(1, 600))
def test_split_milp_equals_enumeration_on_random_rates(seed, gpus, out):
    rng = np.random.default_rng(seed)
    pre, dec = _phase_configs(rng, "prefill", 5), _phase_configs(rng, "decode", 5)
    pre = [p for p in pre if p.gpus < gpus] or [pre[0]]
    dec = [d for d in dec if d.gpus <= gpus - min(p.gpus for p in pre)]
    if not dec:
        return
    (i, j, xp, xd), _, _ = optimize_split(pre, dec, gpus, out, 2.5)
    t, c = deployment_value(pre[i], dec[j], xp, xd, out, 2.5)
    ratio, tput = brute_force(pre, dec, gpus, out, 2.5)
    assert t / c == pytest.approx(ratio, rel=1e-6)
    assert t == pytest.approx(tput, rel=1e-6)


# ------------------------------------------------------------------------------ filters
def test_memory_filter_drops_single_gpu_mappings_of_a_large_model():
    space = DeploymentSpace(tp=(1, 2, 4, 8), pp=(1,), prefill_batch=(1,), decode_batch=(1, 64))
    cs = enumerate_candidates("llama-3.1-70b", "h100-sxm", 16, 2048, 512, space)
    assert cs.memory_rejected > 0
    every = cs.prefill + cs.decode
    assert every and all(c.gpus > 1 for c in every)
    assert all(c.memory_bytes_per_gpu <= cs.memory_capacity_bytes for c in every)
    with pytest.raises(SpecError) as e:
        search_deployment("llama-3.1-70b", "h100-sxm", 1, 2048, 512, 2.0, 0.05, space=space)
    assert e.value.field == "gpus" and "fits" in e.value.message


@pytest.mark.parametrize("ttft,tpot,field,text", [
    (5.0, 1e-4, "tpot_slo_s", "fastest decode step"),
    (1e-4, 1.0, "ttft_slo_s", "fastest prefill"),
    (1e-4, 1e-4, "ttft_slo_s", "also tpot_slo_s"),
])
def test_infeasible_slo_names_the_binding_limit(ttft, tpot, field, text):
    with pytest.raises(SpecError) as e:
        search_deployment("llama-3.1-8b", "h100-sxm", 8, 1024, 256, ttft, tpot, space=SMALL)
    assert e.value.field == field and text in e.value.message


@pytest.mark.parametrize("kwargs,field", [
    ({"gpus": 0}, "gpus"), ({"prompt_len": 0}, "prompt_len"), ({"output_len": -1}, "output_len"),
    ({"ttft_slo_s": 0.0}, "ttft_slo_s"), ({"tpot_slo_s": -1.0}, "tpot_slo_s"),
    ({"hw": "hgx-h100", "gpus": 16}, "gpus"), ({"hw": "no-such-gpu"}, "--hw"),
])
def test_bad_deployment_input(kwargs, field):
    args = {"model": "llama-3.1-8b", "hw": "h100-sxm", "gpus": 8, "prompt_len": 1024,
            "output_len": 256, "ttft_slo_s": 1.0, "tpot_slo_s": 0.05, **kwargs}
    with pytest.raises(SpecError) as e:
        search_deployment(**args, space=SMALL)
    assert e.value.field == field


# ------------------------------------------------------------------------------ sizing
def _brute_sizing(points, objective, budgets):
    ok = [p for p in points if p.fits and all(
        v is None or getattr(p, attr) <= v for v, attr in
        ((budgets.get("area_mm2"), "area_mm2"), (budgets.get("power_w"), "power_w"),
         (budgets.get("cost_usd"), "price_usd")))]
    if objective == "tokens_per_dollar":
        return max(p.tokens_per_usd for p in ok)
    return min(p.joules_per_token for p in ok)


@pytest.mark.parametrize("objective", ["tokens_per_dollar", "joules_per_token"])
@pytest.mark.parametrize("budgets", [{}, {"power_w": 650.0}, {"area_mm2": 800.0,
                                                              "cost_usd": 30_000.0}])
def test_sizing_respects_budgets_and_equals_enumeration(objective, budgets):
    r = size_hardware(*WL, objective=objective, grid=GRID, **budgets)
    d = r.design
    for name, attr in (("area_mm2", "area_mm2"), ("power_w", "power_w"),
                       ("cost_usd", "price_usd")):
        if name in budgets:
            assert getattr(d, attr) <= budgets[name]
    points, _ = evaluate_designs(*WL, grid=GRID)
    assert r.objective_value == pytest.approx(_brute_sizing(points, objective, budgets),
                                              rel=1e-9)
    assert r.designs == len(points) == 36
    json.dumps(r.as_dict())


@pytest.mark.parametrize("objective,sign", [("tokens_per_dollar", 1), ("joules_per_token", -1)])
def test_tighter_power_budget_never_improves_the_objective(objective, sign):
    values = [size_hardware(*WL, objective=objective, grid=GRID, power_w=p).objective_value
              for p in (1500.0, 900.0, 700.0, 550.0, 450.0)]
    assert all(sign * (a - b) >= -1e-12 * abs(a) for a, b in itertools.pairwise(values))


def test_reference_design_reproduces_the_base_part():
    _, ref = evaluate_designs(*WL, grid=GRID)
    assert (ref.sm_count, ref.hbm_stacks, ref.l2_mb, ref.nics, ref.dies) == (132, 5, 50, 1, 1)
    assert ref.area_mm2 == pytest.approx(814.0)
    assert ref.power_w == pytest.approx(700.0 + 25.0)
    assert ref.price_usd == pytest.approx(30_000.0 + 1_500.0)
    assert ref.usd_per_hour == pytest.approx(2.5)
    assert ref.hbm_bytes == pytest.approx(80e9) and ref.hbm_bytes_per_s == pytest.approx(3.35e12)


@pytest.mark.parametrize("kwargs,field", [
    ({"power_w": 0.0}, "power_w"), ({"area_mm2": -5.0}, "area_mm2"), ({"cost_usd": 0.0},
                                                                       "cost_usd"),
    ({"objective": "speed"}, "objective"),
])
def test_bad_budget(kwargs, field):
    with pytest.raises(SpecError) as e:
        size_hardware(*WL, grid=GRID, **kwargs)
    assert e.value.field == field


def test_unreachable_budget_names_the_smallest_violation():
    with pytest.raises(SpecError) as e:
        size_hardware(*WL, grid=GRID, power_w=300.0, area_mm2=5_000.0)
    assert e.value.field == "power_w" and "closest needs" in e.value.message
    with pytest.raises(SpecError) as e:
        size_hardware(*WL, grid=GRID, power_w=2_000.0, cost_usd=1_000.0)
    assert e.value.field == "cost_usd"


def test_workload_that_fits_no_design():
    grid = DesignGrid(sm_count=(132,), hbm_stacks=(2,), l2_mb=(50,), nics=(1,))
    with pytest.raises(SpecError) as e:
        size_hardware("llama-3.1-405b", "decode", 8, 4096, tp=1, grid=grid)
    assert e.value.field == "hbm_stacks"


# ------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def optimize_cli():
    from codesign.cli.optimize import deployment, hardware

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("deployment")(deployment)
    app.command("hardware")(hardware)
    command = typer.main.get_command(app)

    def run(*args: str) -> None:
        command.main(args=list(args), standalone_mode=False)

    return run


@pytest.mark.integration
def test_cli_deployment_json(optimize_cli, capsys):
    optimize_cli("deployment", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--gpus", "8",
                 "--prompt", "1024", "--output", "256", "--ttft-slo", "1s", "--tpot-slo",
                 "40ms", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["gpus"] <= 8 and out["tpot_s"] <= 0.04 and out["ttft_s"] <= 1.0
    assert {"prefill", "decode", "tokens_per_usd", "candidates", "solve"} <= set(out)


@pytest.mark.integration
def test_cli_errors_name_flags(optimize_cli):
    with pytest.raises(SpecError, match="--tpot-slo"):
        optimize_cli("deployment", "--model", "llama-3.1-8b", "--system", "hgx-h100",
                     "--gpus", "8", "--tpot-slo", "0.1ms")
    with pytest.raises(SpecError, match="--power-w"):
        optimize_cli("hardware", "--power-w", "0W")
    with pytest.raises(SpecError, match="--ttft-slo"):
        optimize_cli("deployment", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--gpus",
                     "8", "--ttft-slo", "2 GB")


@pytest.mark.integration
def test_cli_hardware_json(optimize_cli, capsys):
    optimize_cli("hardware", "--workload-model", "llama-3.1-8b", "--batch", "16",
                 "--power-w", "700W", "--objective", "joules_per_token", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["design"]["power_w"] <= 700 and math.isfinite(out["objective_value"])
    assert out["linearization"].startswith("grid enumeration")
