"""One question end to end: a model's pass on a system under a placement, costed by an engine.

``evaluate_model`` loads the model and builds its graph through the registered workload family
(``codesign.ir.models``), resolves the system (``codesign.hw.resolve_system``: a preset, a
file, or a device name standing for a cluster of it), places the phase on the system's pools,
checks that every pool's devices hold their weights, KV cache and activations, and runs the
engine. Decode steps default to CUDA-graph launches (as serving engines run them), prefill
passes to eager launches.
"""

from __future__ import annotations

from typing import Any, Literal

from codesign.engines import ENGINES, RunResult
from codesign.errors import SpecError
from codesign.hw import DeviceModel, LaunchMode, ParallelSpec, PlacementSpec, System
from codesign.hw.families import is_file_name, resolve_device
from codesign.hw.placement import parse_placement
from codesign.hw.resolve import resolve_system
from codesign.ir.graph import WorkloadGraph
from codesign.ir.models import workload_family
from codesign.ir.spec import BuildOptions, PhaseSpec


def choose_placement(sysm: System, phase: str, parallel: ParallelSpec,
                     placement: PlacementSpec | dict[str, Any] | None) -> PlacementSpec:
    """The placement of a question: the one given; else the system's default placement with
    ``parallel`` on a phase that has one stage; else every op on the first pool."""
    if placement is not None:
        return parse_placement(placement)
    par = parallel.model_dump()
    default = sysm.spec.placement
    if default is not None:
        pl = parse_placement(default, f"{sysm.name}.placement")
        stages = pl.stages(phase)
        if len(stages) == 1:
            st = stages[0].model_copy(update=par)
            pl = pl.model_copy(update={phase: (st,)})
        return pl
    return PlacementSpec.trivial(sysm.first_pool, **par)


def memory_report(cfg: Any, sysm: System, pl: PlacementSpec, ph: PhaseSpec,
                  opts: BuildOptions) -> dict[str, dict[str, float | bool]]:
    """Per pool: bytes one device needs (the largest of its stages), its capacity, and
    whether they fit (see the workload family's ``footprint``)."""
    fam = workload_family()
    out: dict[str, dict[str, float | bool]] = {}
    n_exp = fam.num_experts(cfg) or 1
    offloaded = {p: len(set(ids)) / n_exp for p, ids in pl.experts.items()}
    kept = max(0.0, 1.0 - sum(offloaded.values()))
    items: list[tuple[str, ParallelSpec, tuple[int, int] | None, str, float]] = [
        (st.pool, st.parallel, st.layers, st.ops, kept) for st in pl.stages(ph.phase)]
    for pool, share in offloaded.items():
        n = sysm.pools[pool].spec.devices
        items.append((pool, ParallelSpec(dp=n, ep=n), None, "experts", share))
    for pool_name, par, layers, ops, share in items:
        fp = fam.footprint(cfg, ph, par, opts, layers, ops, share)
        cap = float(sysm.pools[pool_name].device.memory_bytes)
        prev = out.get(pool_name)
        if prev is None or fp.total_bytes > float(prev["required_bytes"]):
            out[pool_name] = {"required_bytes": fp.total_bytes, "capacity_bytes": cap,
                            "fits": fp.total_bytes <= cap, "weights_bytes": fp.weights_bytes,
                            "kv_bytes": fp.kv_bytes, "activation_bytes": fp.activation_bytes}
    return out


def check_memory(memory: dict[str, dict[str, float | bool]], field: str = "memory") -> None:
    """Raise a one-line SpecError for the first pool whose devices cannot hold their share."""
    for pool, m in memory.items():
        if not m["fits"]:
            raise SpecError(field, f"pool {pool!r} needs {float(m['required_bytes']) / 1e9:.2f} "
                            f"GB per device (weights {float(m['weights_bytes']) / 1e9:.2f}, KV "
                            f"{float(m['kv_bytes']) / 1e9:.2f}, activations "
                            f"{float(m['activation_bytes']) / 1e9:.2f}) but has "
                            f"{float(m['capacity_bytes']) / 1e9:.2f} GB (use more devices, "
                            "or --ignore-memory to cost it anyway)")


def build_phase_graph(cfg: Any, pl: PlacementSpec, ph: PhaseSpec,
                      opts: BuildOptions) -> WorkloadGraph:
    """The phase's graph: built once when every stage has one parallelism, else built per
    stage and composed (``codesign.engines.placed.compose_stage_graphs``)."""
    fam = workload_family()
    stages = pl.stages(ph.phase)
    pars = {st.parallel for st in stages}
    if len(pars) == 1:
        return fam.build_graph(cfg, ph, stages[0].parallel, opts)
    from codesign.engines.placed import compose_stage_graphs

    built: dict[ParallelSpec, WorkloadGraph] = {}
    graphs = [built.setdefault(st.parallel, fam.build_graph(cfg, ph, st.parallel, opts))
              for st in stages]
    return compose_stage_graphs(graphs, pl, ph.phase, graphs[0].name)


def place_experts(graph: WorkloadGraph, cfg: Any, sysm: System, pl: PlacementSpec,
                  phase: str) -> WorkloadGraph:
    """``graph`` with the routed experts that ``pl.experts`` places elsewhere moved there
    (``codesign.engines.offload``); unchanged without expert placement."""
    if not pl.experts:
        return graph
    from codesign.engines.offload import offload_experts

    n = workload_family().num_experts(cfg) or 0
    devices = {p: sysm.pools[p].spec.devices for p in pl.experts}
    return offload_experts(graph, pl, phase, n, devices)


def evaluate_model(
    model: str,
    phase: Literal["prefill", "decode"],
    batch: int,
    context: int,
    hw: str | DeviceModel | System | None = None,
    *,
    system: str | System | None = None,
    placement: PlacementSpec | dict[str, Any] | None = None,
    seq: int = 1,
    tp: int = 1,
    dp: int = 1,
    ep: int = 1,
    redundant_experts: int = 0,
    mla_form: str | None = None,
    weight_dtype: str | None = None,
    launch: LaunchMode | None = None,
    engine: str = "analytical",
    schedule: str = "serial",
    micro_batches: int = 2,
    ignore_memory: bool = False,
) -> RunResult:
    """Cost one pass of ``model`` on a system.

    Args:
        model: shipped model name or path to a config file.
        phase: ``prefill`` (``context`` is the prompt length) or ``decode`` (``context``
            tokens already cached, ``seq`` new tokens per sequence).
        batch: sequences in the pass, over all ranks.
        hw: a device name or file (a cluster of ``tp * dp`` of it), or a system.
        system: a system preset, file or model (instead of ``hw``).
        placement: stages per phase (default: see :func:`choose_placement`).
        tp, dp, ep, redundant_experts: the parallelism of a single-stage phase.
        mla_form: ``absorbed`` or ``naive`` for MLA models (default: DeepSeek's choice).
        weight_dtype: override the model's linear-layer weight format (e.g. ``bf16``).
        launch: ``graph`` or ``eager`` (default: graph for decode, eager for prefill).
        engine: ``analytical`` or ``des``.
        schedule: for the ``des`` engine: ``serial``, ``dbo`` (dual micro-batch overlap),
            ``nanoflow`` or ``tokenweave``; the batch is split into ``micro_batches`` graphs.
        ignore_memory: cost a point whose pools cannot hold it (``meta["memory"]`` says so).

    Raises:
        SpecError: bad model, system, placement or sizes; a pool that cannot hold its share
            (unless ``ignore_memory``).
    """
    from codesign.ir.dtypes import DType

    fam = workload_family()
    cfg = fam.load(model)
    if phase not in ("prefill", "decode"):
        raise SpecError("phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    ph = PhaseSpec.prefill(batch, context) if phase == "prefill" else \
        PhaseSpec.decode(batch, context, seq)
    par = ParallelSpec(tp=tp, dp=dp, ep=ep, redundant_experts=redundant_experts)
    wd = DType.parse(weight_dtype, "weight_dtype") if weight_dtype else None
    opts = BuildOptions(mla_form=mla_form, weight_dtype=wd)  # type: ignore[arg-type]
    if system is not None and hw is not None:
        raise SpecError("--system", "give a system or a device (--hw), not both")
    target = system if system is not None else hw
    if target is None:
        raise SpecError("--system", "give a system or a device (--hw)")
    if system is None and isinstance(hw, str) and is_file_name(hw):
        target = resolve_device(hw)  # a file given to --hw is a device document
    sysm = resolve_system(target, par.world, "--system" if system is not None else "--hw")
    pl = choose_placement(sysm, phase, par, placement)
    pl.check(sysm.spec, cfg.num_layers, fam.num_experts(cfg), phases=(phase,))
    graph = place_experts(build_phase_graph(cfg, pl, ph, opts), cfg, sysm, pl, phase)
    mode: LaunchMode = launch or ("graph" if phase == "decode" else "eager")
    extra: dict[str, object] = {}
    if engine == "des":
        from codesign.engines.des import SCHEDULES, split_graphs

        if schedule not in SCHEDULES:  # before building micro-batches for it
            raise SpecError("schedule", f"unknown schedule {schedule!r}", SCHEDULES)
        extra["schedule"] = schedule
        stages = pl.stages(phase)
        if schedule != "serial":
            dp = stages[0].dp

            def build(b: int) -> WorkloadGraph:
                p = (PhaseSpec.prefill(b, context) if phase == "prefill"
                     else PhaseSpec.decode(b, context, seq))
                return place_experts(build_phase_graph(cfg, pl, p, opts), cfg, sysm, pl, phase)

            extra["micro_batch_graphs"] = split_graphs(
                build, batch, micro_batches, multiple=dp if batch % dp == 0 else 1)
    elif schedule != "serial":
        raise SpecError("schedule", f"{schedule!r} needs engine 'des'", ["serial"])
    result = ENGINES.get(engine).run(graph, sysm, pl, tokens=ph.tokens, launch=mode,
                                     **extra)  # type: ignore[arg-type]
    memory = memory_report(cfg, sysm, pl, ph, opts)
    if not ignore_memory:  # after costing: an op the device cannot run is the first error
        check_memory(memory)
    stage0 = pl.stages(phase)[0]
    result.meta.update({"model": cfg.name, "phase": phase, "batch": batch, "context": context,
                        "parallel": stage0.parallel.model_dump(), "launch": mode,
                        "engine": engine, "schedule": schedule, "memory": memory,
                        "placement": {phase: [st.model_dump(mode="json")
                                              for st in pl.stages(phase)]}})
    result.meta["cost"]["usd_per_million_tokens"] = result.usd_per_million_tokens
    return result
