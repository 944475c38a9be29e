"""The discrete-event engine: agreement with the analytical engine, overlap schedules, SM
contention, determinism, Chrome-trace export and bad input."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.cli import main
from codesign.engines import ENGINES, RunResult
from codesign.engines.des import (
    SCHEDULES,
    DesEngine,
    split_graphs,
    split_sizes,
    to_chrome_trace,
    write_chrome_trace,
)
from codesign.errors import SpecError
from codesign.evaluate import evaluate_model
from codesign.hw import resolve_system
from codesign.ir.dtypes import DType
from codesign.ir.graph import WorkloadGraph
from codesign.ir.ops import AllReduce, Dispatch, Gemm
from workloads.builder import build_model_graph
from workloads.registry import load_model
from workloads.spec import ParallelSpec, PhaseSpec

pytestmark = pytest.mark.unit

DSV3_PAR = ParallelSpec(tp=4, dp=80, ep=320, redundant_experts=64)
DSV3_BATCH = 80 * 64


@cache
def dsv3_graph(batch: int) -> WorkloadGraph:
    return build_model_graph(load_model("deepseek-v3"), PhaseSpec.decode(batch, 4096), DSV3_PAR)


@cache
def dsv3_parts(parts: int = 2) -> tuple[WorkloadGraph, ...]:
    return tuple(split_graphs(dsv3_graph, DSV3_BATCH, parts, multiple=DSV3_PAR.dp))


@cache
def h800_320() -> Any:
    """The first pool's model (device + network) of 320 H800s."""
    return resolve_system("h800-sxm", DSV3_PAR.world).main.model


def run_dsv3(**kw: Any) -> RunResult:
    kw.setdefault("world", DSV3_PAR.world)
    return DesEngine().run(dsv3_graph(DSV3_BATCH), h800_320(), tokens=DSV3_BATCH, **kw)


# --------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("model,phase,batch,context,kw", [
    ("llama-3.1-8b", "decode", 8, 1024, {}),
    ("llama-3.1-8b", "prefill", 2, 2048, {}),  # eager launches
    ("llama-3.1-70b", "decode", 16, 2048, {"tp": 8}),
    ("deepseek-v3", "decode", DSV3_BATCH, 4096,
     {"tp": 4, "dp": 80, "ep": 320, "redundant_experts": 64}),
])
def test_serial_equals_analytical(model: str, phase: str, batch: int, context: int,
                                  kw: dict[str, Any]) -> None:
    hw = "h800-sxm" if model == "deepseek-v3" else "h100-sxm"
    a = evaluate_model(model, phase, batch, context, hw, **kw)  # type: ignore[arg-type]
    d = evaluate_model(model, phase, batch, context, hw, engine="des", **kw)  # type: ignore[arg-type]
    assert d.engine == "des" and d.meta["schedule"] == "serial"
    assert d.latency_s == pytest.approx(a.latency_s, rel=0.01)
    assert d.latency_s == pytest.approx(a.latency_s, rel=1e-9)  # in fact exact
    assert d.energy_j == pytest.approx(a.energy_j, rel=1e-9)
    assert [r.key for r in d.records] == [r.key for r in a.records]
    for x, y in zip(d.records, a.records, strict=True):
        assert x.start_s == pytest.approx(y.start_s, rel=1e-9, abs=1e-15)
        assert x.latency_s == pytest.approx(y.latency_s, rel=1e-9)
        assert (x.bound, x.kind, x.layer) == (y.bound, y.kind, y.layer)


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 64), context=st.integers(16, 8192),
       launch=st.sampled_from(["graph", "eager"]))
def test_serial_agreement_invariant(batch: int, context: int, launch: str) -> None:
    a = evaluate_model("llama-3.1-8b", "decode", batch, context, "h100-sxm",
                       launch=launch)  # type: ignore[arg-type]
    d = evaluate_model("llama-3.1-8b", "decode", batch, context, "h100-sxm",
                       launch=launch, engine="des")  # type: ignore[arg-type]
    assert d.latency_s == pytest.approx(a.latency_s, rel=1e-9)


def test_cli_engine_flag(capsys: pytest.CaptureFixture[str]) -> None:
    out = {}
    for engine in ("analytical", "des"):
        assert main(["eval", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--batch", "4",
                     "--engine", engine, "--json"]) == 0
        out[engine] = json.loads(capsys.readouterr().out)
    assert out["des"]["engine"] == "des" and out["des"]["schedule"] == "serial"
    assert out["des"]["latency_s"] == pytest.approx(out["analytical"]["latency_s"], rel=0.01)
    assert "des" in ENGINES and "analytical" in ENGINES


# --------------------------------------------------------------------------- overlap
def test_dbo_overlaps_and_respects_bounds() -> None:
    parts = list(dsv3_parts())
    serial_mb = run_dsv3(micro_batch_graphs=parts)  # the same micro-batches, back to back
    dbo = run_dsv3(schedule="dbo", micro_batch_graphs=parts)
    assert "warning" not in dbo.meta and dbo.meta["micro_batches"] == 2
    assert dbo.latency_s < serial_mb.latency_s
    one = DesEngine().run(parts[0], h800_320(), tokens=DSV3_BATCH // 2, world=320)
    assert parts[0] is parts[1] and serial_mb.latency_s == pytest.approx(2 * one.latency_s)
    # never faster than all compute or all communication of the two micro-batches
    compute = sum(r.latency_s for r in serial_mb.records if r.bound != "network")
    comm = sum(r.latency_s for r in serial_mb.records if r.bound == "network")
    assert dbo.latency_s >= max(compute, comm) * (1 - 1e-12)
    for name, use in dbo.meta["resources"].items():
        assert use["busy_s"] <= dbo.latency_s * (1 + 1e-12), name
    # every op of each micro-batch starts after its predecessors end
    ends = {r.key: r.start_s + r.latency_s for r in dbo.records}
    starts = {r.key: r.start_s for r in dbo.records}
    for mb, g in enumerate(parts):
        for u, v in g.nx.edges:
            assert starts[f"mb{mb}/{v}"] >= ends[f"mb{mb}/{u}"] - 1e-15


@pytest.mark.parametrize("schedule", ["nanoflow", "tokenweave"])
def test_other_schedules_overlap(schedule: str) -> None:
    parts = list(dsv3_parts())
    r = run_dsv3(schedule=schedule, micro_batch_graphs=parts, trace=True)
    serial_mb = run_dsv3(micro_batch_graphs=parts)
    assert r.meta["schedule"] == schedule and len(r.records) == len(serial_mb.records)
    assert r.latency_s < serial_mb.latency_s
    on: defaultdict[str, set[str]] = defaultdict(set)
    tracks = {e["tid"]: e["args"]["name"] for e in r.meta["trace"] if e["name"] == "thread_name"}
    for e in r.meta["trace"]:
        if e["ph"] == "X":
            on[e["name"]].add(tracks[e["tid"]])
    if schedule == "nanoflow":
        assert on["mb0/L3.attn.core"] == {"stream.nb0"} and on["mb1/L3.attn.core"] == {
            "stream.nb1"}
    else:  # the residual add and RMSNorm after each TP reduction ride on the collective
        assert on["mb1/L3.attn.residual"] == on["mb1/L3.ffn_norm"] == {"nvlink"}
        assert on["mb1/L3.attn.core"] == {"stream"}
    assert on["mb0/L3.moe.dispatch"] == {"nic.p0"}


def test_missing_micro_batch_graphs_warns() -> None:
    r = run_dsv3(schedule="dbo")
    assert "per full batch" in r.meta["warning"] and r.meta["micro_batches"] == 2


def _two_independent(comm: Any) -> tuple[WorkloadGraph, float, float]:
    g = WorkloadGraph("overlap")
    gemm = Gemm("g", m=4096, n=8192, k=8192)
    g.add_op("gemm", gemm)
    g.add_op("comm", comm)
    sysm = h800_320()
    return g, sysm.op_cost(gemm).latency_s, sysm.op_cost(comm).latency_s


def test_comm_on_sms_stretches_compute_rdma_does_not() -> None:
    sm_comm = AllReduce("ar", 8 << 20, 8)  # NCCL over NVLink: 20 SMs
    rdma = Dispatch("disp", 128, 8, 7168, 1024, ep=320, wire_dtype=DType.FP8_E4M3)
    for comm, stretched in ((sm_comm, True), (rdma, False)):
        g, t_gemm, t_comm = _two_independent(comm)
        assert t_comm < t_gemm
        r = DesEngine().run(g, h800_320(), tokens=1, schedule="dbo", micro_batch_graphs=[g],
                            sm_count=132, comm_sms=20)
        rec = {x.key: x for x in r.records}
        assert rec["gemm"].start_s == rec["comm"].start_s == 0.0
        assert rec["comm"].latency_s == pytest.approx(t_comm)
        # full speed but for the overlap, at (132 - 20) / 132 of it
        expect = t_gemm + t_comm * 20 / 132 if stretched else t_gemm
        assert rec["gemm"].latency_s == pytest.approx(expect, rel=1e-9)
        serial = DesEngine().run(g, h800_320(), tokens=1)
        assert serial.latency_s == pytest.approx(t_gemm + t_comm)
        assert r.latency_s < serial.latency_s


def test_more_comm_sms_never_faster() -> None:
    parts = list(dsv3_parts())
    t = [run_dsv3(schedule="dbo", micro_batch_graphs=parts, comm_sms=n).latency_s
         for n in (0, 20, 60)]
    assert t[0] <= t[1] <= t[2]


# --------------------------------------------------------------------------- determinism
def test_seed_repeats_a_run_exactly() -> None:
    parts = list(dsv3_parts())
    a, b, c = (run_dsv3(schedule="dbo", micro_batch_graphs=parts, jitter=0.1, seed=s)
               for s in (7, 7, 8))
    assert a.records == b.records and a.latency_s == b.latency_s and a.meta == b.meta
    assert a.records != c.records
    assert run_dsv3(schedule="nanoflow").records == run_dsv3(schedule="nanoflow").records


# --------------------------------------------------------------------------- traces
def _check_trace(doc: dict[str, Any], serial_tracks: set[str]) -> dict[str, list[dict]]:
    events = doc["traceEvents"]
    json.dumps(doc)  # plain JSON
    names = {e["tid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)
    by_track: defaultdict[str, list[dict]] = defaultdict(list)
    for e in events:
        assert {"name", "ph", "pid", "tid"} <= set(e)
        if e["ph"] != "X":
            continue
        assert {"ts", "dur", "cat", "args"} <= set(e) and e["dur"] >= 0
        assert isinstance(e["ts"], float | int) and isinstance(e["name"], str)
        assert {"bound", "flops", "dram_bytes"} <= set(e["args"])
        by_track[names[e["tid"]]].append(e)
    for track, evs in by_track.items():
        ts = [e["ts"] for e in evs]
        assert ts == sorted(ts), track
        if track in serial_tracks:
            for a, b in itertools.pairwise(evs):
                assert b["ts"] >= a["ts"] + a["dur"] - 1e-6, (track, a["name"], b["name"])
    return by_track


def test_chrome_trace_dbo(tmp_path: Path) -> None:
    r = run_dsv3(schedule="dbo", micro_batch_graphs=list(dsv3_parts()), trace=True)
    doc = to_chrome_trace(r)
    tracks = _check_trace(doc, {"stream", "nvlink", "nic.p0"})
    assert set(tracks) == {"stream", "nvlink", "nic.p0"}
    xs = sum(len(v) for v in tracks.values())
    assert xs == len(r.records)  # one link per communication op on this system
    assert any(e["ph"] == "C" for e in doc["traceEvents"])
    end = max(e["ts"] + e["dur"] for v in tracks.values() for e in v)
    assert end == pytest.approx(r.latency_s * 1e6)
    path = write_chrome_trace(r, tmp_path / "dbo.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(doc))
    assert "trace" not in run_dsv3().meta  # off unless asked


def test_chrome_trace_planes_and_analytical() -> None:
    mpft = resolve_system("deepseek-h800-mpft", DSV3_PAR.world).main.model
    g = dsv3_graph(DSV3_BATCH)
    r = DesEngine().run(g, mpft, tokens=DSV3_BATCH, world=320, schedule="nanoflow",
                        trace=True)
    tracks = _check_trace(to_chrome_trace(r), {"stream.nb0", "stream.nb1", "nvlink",
                                               *(f"nic.p{p}" for p in range(8))})
    assert r.meta["planes"] == 8 and {f"nic.p{p}" for p in range(8)} <= set(tracks)
    a = ENGINES.get("analytical").run(g, mpft, tokens=DSV3_BATCH, world=320)
    assert len(_check_trace(to_chrome_trace(a), {"stream"})["stream"]) == len(a.records)


# --------------------------------------------------------------------------- helpers, input
def test_split_graphs() -> None:
    assert split_sizes(10, 3) == [4, 3, 3] and split_sizes(160, 2, 80) == [80, 80]
    built: list[int] = []

    def build(b: int) -> WorkloadGraph:
        built.append(b)
        return WorkloadGraph(f"b{b}")

    gs = split_graphs(build, 9, 2)
    assert [g.name for g in gs] == ["b5", "b4"] and built == [5, 4]
    assert len({id(g) for g in split_graphs(build, 8, 2)}) == 1
    with pytest.raises(SpecError) as e:
        split_sizes(80, 2, 80)
    assert e.value.field == "micro_batches"


@pytest.mark.parametrize("kw,field", [
    ({"schedule": "round-robin"}, "schedule"),
    ({"schedule": "dbo", "micro_batches": 0}, "micro_batches"),
    ({"micro_batches": 3, "micro_batch_graphs": [None]}, "micro_batch_graphs"),
    ({"micro_batch_graphs": []}, "micro_batch_graphs"),
    ({"comm_sms": 132}, "comm_sms"),
    ({"comm_sms": 40, "sm_count": 40}, "comm_sms"),
    ({"comm_sms": -1}, "comm_sms"),
    ({"sm_count": 0}, "sm_count"),
    ({"launch": "lazy"}, "launch"),
    ({"jitter": -0.1}, "jitter"),
    ({"world": 0}, "world"),
])
def test_bad_input(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as e:
        run_dsv3(**kw)
    assert e.value.field == field
    if field == "schedule":
        assert e.value.allowed == SCHEDULES


def test_pipeline_needs_several_pools() -> None:
    with pytest.raises(SpecError) as e:
        run_dsv3(schedule="pipeline")
    assert e.value.field == "schedule" and "pipeline" not in (e.value.allowed or ())
