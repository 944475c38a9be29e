"""Expert placement: EPLB port against the published example, EPLB invariants, the MILP against
EPLB and brute force, the solver layer's termination handling, and bad input to the CLI."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from codesign.cli.optimize import optimize_app
from codesign.errors import SpecError
from codesign.opt import SolverError, place_experts, rebalance_experts, solve
from codesign.opt.eplb import balanced_packing, gpu_loads
from codesign.opt.placement import (
    build_placement_model,
    extract_placement,
    full_problem,
    lower_bound,
)

pytestmark = pytest.mark.unit

# EPLB README worked example (shared/reference/published.md)
EXAMPLE = [[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
           [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]]
EXAMPLE_PHY2LOG = [[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
                   [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]]


def zipf(n: int, s: float, seed: int, total: int = 10_000) -> list[int]:
    """Integer Zipf(s) loads over n experts in a seeded random order."""
    p = np.arange(1, n + 1, dtype=float) ** -s
    w = np.maximum(1, np.round(total * p / p.sum())).astype(int)
    return w[np.random.default_rng(seed).permutation(n)].tolist()


# ----------------------------------------------------------------------------- EPLB


def test_eplb_reproduces_worked_example() -> None:
    r = rebalance_experts(EXAMPLE, num_replicas=16, num_groups=4, num_nodes=2, num_gpus=8)
    assert r.hierarchical
    assert r.phy2log.tolist() == EXAMPLE_PHY2LOG
    for layer in range(2):
        assert r.logcnt[layer].tolist() == np.bincount(EXAMPLE_PHY2LOG[layer]).tolist()
        for e in range(12):  # log2phy inverts phy2log
            slots = [p for p in r.log2phy[layer, e] if p >= 0]
            assert sorted(slots) == [p for p, x in enumerate(EXAMPLE_PHY2LOG[layer]) if x == e]
    res = place_experts(EXAMPLE, 16, 4, 2, 8, method="eplb")
    assert res.phy2log == EXAMPLE_PHY2LOG
    assert res.max_gpu_load == pytest.approx([156.0, 179.5])


def test_balanced_packing_fills_every_pack() -> None:
    w = np.array([[5.0, 1, 4, 2, 3, 6], [1, 1, 1, 1, 1, 1]])
    pack, rank = balanced_packing(w, 3)
    for row in range(2):
        assert np.bincount(pack[row]).tolist() == [2, 2, 2]
        for p in range(3):
            assert sorted(rank[row][pack[row] == p].tolist()) == [0, 1]
    assert pack[0].tolist() == [1, 0, 2, 1, 2, 0]  # 6->0, 5->1, 4->2, 3->2, 2->1, 1->0
    fast, _ = balanced_packing(w, 6)  # one item per pack: item i to pack i
    assert fast.tolist() == [list(range(6))] * 2


@settings(max_examples=60, deadline=None)
@given(data=st.data(), gpus_per_node=st.sampled_from([1, 2, 4]), nodes=st.sampled_from([1, 2]),
       groups_per_node=st.sampled_from([1, 2]), group_size=st.sampled_from([1, 2, 3]),
       extra_per_gpu=st.integers(0, 2), layers=st.integers(1, 2))
def test_eplb_invariants(data: st.DataObject, gpus_per_node: int, nodes: int,
                         groups_per_node: int, group_size: int, extra_per_gpu: int,
                         layers: int) -> None:
    gpus = gpus_per_node * nodes
    groups = groups_per_node * nodes
    experts = groups * group_size
    per_gpu = -(-experts // gpus) + extra_per_gpu
    slots = per_gpu * gpus
    loads = data.draw(st.lists(st.lists(st.integers(0, 1000), min_size=experts,
                                        max_size=experts), min_size=layers, max_size=layers))
    r = rebalance_experts(loads, slots, groups, nodes, gpus)
    assert r.phy2log.shape == (layers, slots)
    for layer in range(layers):
        cnt = np.bincount(r.phy2log[layer], minlength=experts)
        assert cnt.min() >= 1 and cnt.tolist() == r.logcnt[layer].tolist()
        node_of_slot = np.arange(slots) // (slots // nodes)
        for e in range(experts):  # hierarchical: an expert's replicas stay in one node
            assert len(set(node_of_slot[r.phy2log[layer] == e].tolist())) == 1
        assert gpu_loads(loads[layer], r.phy2log[layer], gpus).sum() == pytest.approx(
            sum(loads[layer]))


def test_eplb_global_policy_when_nodes_do_not_divide_groups() -> None:
    w = [zipf(12, 1.0, 3)]
    r = rebalance_experts(w, 16, 3, 2, 8)
    assert not r.hierarchical
    assert r.phy2log.tolist() == rebalance_experts(w, 16, 1, 1, 8).phy2log.tolist()


# ----------------------------------------------------------------------------- MILP


def _check_layer(loads: list[float], layer, gpus: int) -> None:
    """phy2log is a valid placement and its GPU loads give max_gpu_load."""
    p2l = np.array(layer.phy2log)
    assert np.bincount(p2l, minlength=len(loads)).tolist() == list(layer.replicas)
    assert min(layer.replicas) >= 1
    recomputed = gpu_loads(loads, p2l, gpus)
    assert recomputed.max() == pytest.approx(layer.max_gpu_load, rel=1e-9)
    assert recomputed.tolist() == pytest.approx(list(layer.gpu_loads), rel=1e-9)
    assert layer.lower_bound <= layer.max_gpu_load * (1 + 1e-9)


@pytest.mark.parametrize("experts,gpus,slots,s,seed", [
    (16, 4, 20, 1.2, 1), (24, 8, 32, 0.8, 2), (32, 8, 40, 1.2, 3), (32, 4, 36, 1.0, 4),
    (16, 8, 24, 1.0, 5),
])
def test_milp_never_worse_than_eplb(experts: int, gpus: int, slots: int, s: float,
                                    seed: int) -> None:
    loads = zipf(experts, s, seed)
    nodes = 2 if gpus >= 8 else 1
    res = place_experts([loads], slots, 4, nodes, gpus, method="milp", time_limit_s=3)
    layer = res.layers[0]
    _check_layer(loads, layer, gpus)
    glob = place_experts([loads], slots, 1, 1, gpus, method="eplb").layers[0]
    assert layer.max_gpu_load <= min(layer.eplb_max_gpu_load, glob.max_gpu_load) * (1 + 1e-12)
    assert layer.status in ("optimal", "feasible")


def _brute_force(loads: list[float], gpus: int, per_gpu: int) -> float:
    """Smallest max GPU load over every placement (GPUs unordered, replicas may share a GPU)."""
    n = len(loads)
    kits = list(itertools.combinations_with_replacement(range(n), per_gpu))
    best = float("inf")
    for combo in itertools.combinations_with_replacement(range(len(kits)), gpus):
        counts = np.zeros((n, gpus))
        for g, k in enumerate(combo):
            for e in kits[k]:
                counts[e, g] += 1
        r = counts.sum(1)
        if r.min() < 1:
            continue
        best = min(best, float((np.array(loads) / r @ counts).max()))
    return best


@pytest.mark.parametrize("loads,gpus,per_gpu", [
    ([90, 40, 61, 4, 73], 2, 4), ([50, 20, 30, 7, 11], 3, 3), ([10, 1], 2, 2), ([9], 2, 3),
])
def test_milp_optimal_on_tiny_instances(loads: list[float], gpus: int, per_gpu: int) -> None:
    res = place_experts([loads], gpus * per_gpu, 1, 1, gpus, method="milp", mip_gap=0.0,
                        time_limit_s=20)
    layer = res.layers[0]
    _check_layer(loads, layer, gpus)
    assert layer.status == "optimal"
    assert layer.max_gpu_load == pytest.approx(_brute_force(loads, gpus, per_gpu), rel=1e-9)


def test_milp_proves_optimum_of_worked_example() -> None:
    """HiGHS proves 136 and 172 optimal (EPLB: 156 and 179.5), each layer solved on its own."""
    res = place_experts(EXAMPLE, 16, 4, 2, 8, method="milp", mip_gap=0.0, time_limit_s=20)
    for loads, layer in zip(EXAMPLE, res.layers, strict=True):
        _check_layer(loads, layer, 8)
        assert layer.status == "optimal" and layer.bound_source == "highs"
    assert res.max_gpu_load == pytest.approx([136.0, 172.0])
    assert [x.eplb_max_gpu_load for x in res.layers] == pytest.approx([156.0, 179.5])


def test_deepseek_prefill_case_within_gap() -> None:
    loads = zipf(256, 1.2, 0, total=1_000_000)
    res = place_experts([loads], 288, 8, 4, 32, method="milp", time_limit_s=30)
    layer = res.layers[0]
    _check_layer(loads, layer, 32)
    assert layer.gap <= 0.01 and layer.status == "optimal"
    assert layer.max_gpu_load < layer.eplb_max_gpu_load


def test_cross_node_weight_keeps_groups_home() -> None:
    loads = zipf(16, 1.0, 7)
    eplb = place_experts([loads], 24, 4, 2, 8, method="eplb").layers[0]
    assert eplb.cross_node_load == 0.0  # hierarchical EPLB keeps each group on its node
    free = place_experts([loads], 24, 4, 2, 8, method="milp", time_limit_s=2).layers[0]
    kept = place_experts([loads], 24, 4, 2, 8, method="milp", time_limit_s=2,
                         cross_node_weight=10.0).layers[0]
    assert kept.cross_node_load is not None and free.cross_node_load is not None
    assert kept.max_gpu_load + 10 * kept.cross_node_load <= eplb.max_gpu_load * (1 + 1e-12)
    assert kept.cross_node_load <= free.cross_node_load


def test_lower_bound_is_valid_and_tight_when_even() -> None:
    assert lower_bound(np.array([4.0, 4, 4, 4]), 2, 4) == 8.0
    assert lower_bound(np.array([10.0, 1, 1]), 2, 4) == 6.0  # 10 over 2 replicas
    res = place_experts([[4, 4, 4, 4]], 4, 1, 1, 2)
    assert res.layers[0].gap == 0.0 and res.layers[0].status == "optimal"


def test_zero_loads_layer() -> None:
    res = place_experts([[0, 0, 0, 0], [1, 2, 3, 4]], 4, 1, 1, 2)
    assert res.layers[0].max_gpu_load == 0.0 and res.layers[0].balance == 1.0
    assert res.layers[0].gap == 0.0


# ----------------------------------------------------------------------------- solver layer


def test_solver_infeasible_raises_with_status() -> None:
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.lo = pyo.Constraint(expr=m.x >= 3)
    m.hi = pyo.Constraint(expr=m.x <= 2)
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(SolverError) as err:
        solve(m)
    assert err.value.status == "infeasible" and "infeasible" in str(err.value)


def test_solver_unbounded_raises() -> None:
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Integers)
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(SolverError) as err:
        solve(m)
    assert "unbounded" in err.value.status


def test_solver_time_limit_returns_incumbent_with_gap() -> None:
    from codesign.opt.placement import _counts_of

    loads = np.array(zipf(16, 1.0, 5), dtype=float)
    loads /= loads.sum() / 8
    start = _counts_of(rebalance_experts([loads], 24, 1, 1, 8).phy2log[0], 16, 8)
    model = build_placement_model(full_problem(loads, start, np.zeros(8, dtype=int)))
    info = solve(model, time_limit_s=0.3, mip_gap=0.0, warm_start=True)
    assert info.status == "feasible" and info.termination == "maxTimeLimit"
    assert info.gap is not None and info.gap > 0 and info.bound is not None
    assert info.objective >= info.bound
    counts = extract_placement(model).counts
    assert counts.sum(0).tolist() == [3] * 8 and counts.sum(1).min() >= 1


def test_solver_error_message_carries_bound_and_incumbent() -> None:
    e = SolverError("time_limit", "no feasible solution found in 1.0 s", bound=2.5)
    assert e.bound == 2.5 and e.incumbent is None and "best bound 2.5" in str(e)


def test_unknown_solver_lists_available() -> None:
    with pytest.raises(SpecError) as err:
        place_experts(EXAMPLE, 16, 4, 2, 8, solver="no-such-solver")
    assert err.value.field == "solver" and "highs" in (err.value.allowed or ())


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs,field,text", [
    ({"loads": [[1, -2, 3, 4]]}, "loads", "layer 0 expert 1: must be >= 0"),
    ({"loads": [[1, 2], [1, 2, 3]]}, "loads", "layer 1"),
    ({"loads": []}, "loads", "non-empty"),
    ({"loads": [[1, float("nan"), 3, 4]]}, "loads", "finite"),
    ({"num_replicas": 2}, "num_replicas", "4 experts need at least 4"),
    ({"num_replicas": 5}, "num_replicas", "multiple of the GPU count"),
    ({"num_groups": 3}, "num_groups", "must divide"),
    ({"num_nodes": 3}, "num_nodes", "must divide"),
    ({"num_gpus": 0}, "num_gpus", ">= 1"),
    ({"time_limit_s": 0}, "time_limit_s", "> 0"),
    ({"method": "greedy"}, "method", "unknown method"),
    ({"max_gpu_load": 1.0}, "max_gpu_load", "GPU count binds"),
    ({"max_gpu_load": 30, "loads": [[40, 1, 1, 1]]}, "max_gpu_load", "slot count binds"),
    ({"expert_bytes": 4e9, "gpu_memory_bytes": 80e9, "num_replicas": 84, "num_gpus": 4},
     "num_replicas", "memory binds"),
    ({"expert_bytes": 1e9, "gpu_memory_bytes": 0}, "gpu_memory_bytes", "> 0"),
])
def test_place_experts_bad_input(kwargs: dict, field: str, text: str) -> None:
    args = {"loads": [[1, 2, 3, 4]], "num_replicas": 4, "num_groups": 1, "num_nodes": 1,
            "num_gpus": 2, **kwargs}
    with pytest.raises(SpecError) as err:
        place_experts(**args)
    assert err.value.field == field and text in str(err.value)


def _cli(tmp_path: Path, loads: object, *args: str, name: str = "loads.json"):
    path = tmp_path / name
    path.write_text(loads if isinstance(loads, str) else json.dumps(loads))
    return CliRunner().invoke(optimize_app, ["placement", "--loads", str(path), *args])


def test_cli_placement_json(tmp_path: Path) -> None:
    out = _cli(tmp_path, EXAMPLE, "--replicas", "16", "--groups", "4", "--nodes", "2",
               "--gpus", "8", "--method", "eplb", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["phy2log"] == EXAMPLE_PHY2LOG and data["method"] == "eplb"
    for key in ("max_gpu_load", "gap", "solve_time_s", "mean_gpu_load", "balance"):
        assert key in data
    out = _cli(tmp_path, EXAMPLE, "--replicas", "16", "--groups", "4", "--nodes", "2",
               "--gpus", "8", "--time-limit", "2", "--json")
    milp = json.loads(out.output)
    assert milp["method"] == "milp"
    assert all(a <= b for a, b in zip(milp["max_gpu_load"], data["max_gpu_load"], strict=True))
    assert 0 <= milp["gap"] < 1 and milp["solve_time_s"] > 0


@pytest.mark.parametrize("loads,args,flag,text", [
    ([[1, 2, 3, -4]], [], "--loads", "layer 0 expert 3: must be >= 0"),
    ([[1, 2, 3, 4], [1, 2]], [], "--loads", "layer 1: has 2 experts"),
    ({"layer": [1, 2]}, [], "--loads", "list"),
    ([[1, 2, "x", 4]], [], "--loads", "must be a number"),
    ("[[1, 2,", [], "--loads", "malformed JSON"),
    ([[1, 2, 3, 4]], ["--replicas", "3"], "--replicas", "at least 4"),
    ([[1, 2, 3, 4]], ["--replicas", "6", "--gpus", "4"], "--replicas", "multiple"),
    ([[1, 2, 3, 4]], ["--groups", "3"], "--groups", "must divide"),
    ([[1, 2, 3, 4]], ["--nodes", "3", "--gpus", "4"], "--nodes", "must divide"),
    ([[1, 2, 3, 4]], ["--method", "ilp"], "--method", "unknown method"),
    ([[1, 2, 3, 4]], ["--time-limit", "0"], "--time-limit", "> 0"),
    ([[1, 2, 3, 4]], ["--max-load", "1"], "--max-load", "binds"),
    ([1, 2, 3, 4], [], "--loads", "layer 0: must be a non-empty list"),
])
def test_cli_bad_input(tmp_path: Path, loads: object, args: list[str], flag: str,
                       text: str) -> None:
    base = {"--replicas": "4", "--gpus": "2"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [x for kv in base.items() for x in kv]
    out = _cli(tmp_path, loads, *flat)
    assert out.exit_code != 0
    assert isinstance(out.exception, SpecError), out.output
    assert out.exception.field == flag and text in str(out.exception)
    assert "\n" not in f"error: {out.exception}"


def test_cli_unknown_file_type(tmp_path: Path) -> None:
    out = _cli(tmp_path, "[[1, 2]]", "--replicas", "2", "--gpus", "1", name="loads.txt")
    assert isinstance(out.exception, SpecError) and out.exception.field == "--loads"


def test_main_cli_prints_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from codesign import cli

    if "optimize" not in [g.name for g in cli.app.registered_groups]:  # not mounted yet
        app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        app.add_typer(optimize_app, name="optimize")
        monkeypatch.setattr(cli, "app", app)
    path = tmp_path / "loads.json"
    path.write_text(json.dumps([[1, -2, 3, 4]]))
    rc = cli.main(["optimize", "placement", "--loads", str(path), "--replicas", "4",
                   "--gpus", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == ["error: --loads: layer 0 expert 1: must be >= 0, got -2"]
    rc = cli.main(["optimize", "placement", "--loads", str(path), "--gpus", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--replicas" in err[0]  # missing option


def test_import_stays_light() -> None:
    code = ("import sys, codesign, codesign.opt, codesign.cli.optimize; "
            "print('pyomo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
