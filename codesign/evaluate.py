"""One question end to end: a model's pass on a device under a mapping, costed by an engine.

``evaluate_model`` builds the workload graph (``workloads``), finds the device in the
hardware registry and runs the engine. Decode steps default to CUDA-graph launches (as
serving engines run them), prefill passes to eager launches.
"""

from __future__ import annotations

from typing import Literal

from codesign.engines import ENGINES, RunResult
from codesign.errors import SpecError
from codesign.hw import DeviceModel, LaunchMode, get_device
from codesign.ir.graph import WorkloadGraph


def resolve_device(hw: str | DeviceModel) -> DeviceModel:
    """A device model from a registry name, a calibration file path, or a model itself."""
    if not isinstance(hw, str):
        return hw
    if hw.strip().lower().endswith((".json", ".yaml", ".yml")):
        from hwmodels.gpu.presets import load_gpu_file

        return load_gpu_file(hw)
    return get_device(hw)


def resolve_system(hw: str | DeviceModel, world: int = 8) -> DeviceModel:
    """A system for ``world`` ranks: a system preset by name (``hgx-h100``...), or a device
    name or calibration file, taken as a cluster of 8-GPU NVLink nodes of that device with
    one 400 Gb/s NIC per GPU (``hwmodels.network.presets.cluster_of``).

    Raises:
        SpecError: unknown name (listing devices and systems), or ``world`` larger than the
            system.
    """
    from codesign.hw import HARDWARE, SYSTEMS

    if not isinstance(hw, str):
        return hw
    key = hw.strip().lower()
    if key in SYSTEMS:
        system = SYSTEMS.get(key)
        system.check_world(world, "world")  # type: ignore[attr-defined]
        return system
    from hwmodels.network.presets import cluster_of

    if key.endswith((".json", ".yaml", ".yml")):
        return cluster_of(resolve_device(hw), world)
    if key not in HARDWARE:
        raise SpecError("--hw", f"unknown device or system {hw!r}",
                        HARDWARE.names() + SYSTEMS.names())
    return cluster_of(key, world)


def evaluate_model(
    model: str,
    phase: Literal["prefill", "decode"],
    batch: int,
    context: int,
    hw: str | DeviceModel,
    *,
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
) -> RunResult:
    """Cost one pass of ``model`` on ``tp * dp`` devices of kind ``hw``.

    Args:
        model: shipped model name or path to a config file.
        phase: ``prefill`` (``context`` is the prompt length) or ``decode`` (``context``
            tokens already cached, ``seq`` new tokens per sequence).
        batch: sequences in the pass, over all ranks.
        hw: system name, device name (a cluster of that device), calibration file, or a
            device model.
        tp, dp, ep, redundant_experts: the mapping (see ``workloads.spec.ParallelSpec``).
        mla_form: ``absorbed`` or ``naive`` for MLA models (default: DeepSeek's choice).
        weight_dtype: override the model's linear-layer weight format (e.g. ``bf16``).
        launch: ``graph`` or ``eager`` (default: graph for decode, eager for prefill).
        engine: ``analytical`` or ``des``.
        schedule: for the ``des`` engine: ``serial``, ``dbo`` (dual micro-batch overlap),
            ``nanoflow`` or ``tokenweave``; the batch is split into ``micro_batches`` graphs.

    Raises:
        SpecError: bad model, device, mapping or sizes.
    """
    from codesign.ir.dtypes import DType
    from workloads.builder import build_model_graph
    from workloads.registry import load_model
    from workloads.spec import BuildOptions, ParallelSpec, PhaseSpec

    cfg = load_model(model)
    if phase == "prefill":
        ph = PhaseSpec.prefill(batch, context)
    elif phase == "decode":
        ph = PhaseSpec.decode(batch, context, seq)
    else:
        raise SpecError("phase", f"unknown phase {phase!r}", ["prefill", "decode"])
    par = ParallelSpec(tp=tp, dp=dp, ep=ep, redundant_experts=redundant_experts)
    wd = DType.parse(weight_dtype, "weight_dtype") if weight_dtype else None
    opts = BuildOptions(mla_form=mla_form, weight_dtype=wd)  # type: ignore[arg-type]
    graph = build_model_graph(cfg, ph, par, opts)
    device = resolve_system(hw, par.world)
    mode: LaunchMode = launch or ("graph" if phase == "decode" else "eager")
    extra: dict[str, object] = {}
    if engine == "des":
        from codesign.engines.des import SCHEDULES, split_graphs

        if schedule not in SCHEDULES:  # before building micro-batches for it
            raise SpecError("schedule", f"unknown schedule {schedule!r}", SCHEDULES)
        extra["schedule"] = schedule
        if schedule != "serial":
            def build(b: int) -> WorkloadGraph:
                p = (PhaseSpec.prefill(b, context) if phase == "prefill"
                     else PhaseSpec.decode(b, context, seq))
                return build_model_graph(cfg, p, par, opts)

            extra["micro_batch_graphs"] = split_graphs(
                build, batch, micro_batches, multiple=dp if batch % dp == 0 else 1)
    elif schedule != "serial":
        raise SpecError("schedule", f"{schedule!r} needs engine 'des'", ["serial"])
    result = ENGINES.get(engine).run(graph, device, tokens=ph.tokens, world=par.world,
                                     launch=mode, **extra)  # type: ignore[arg-type]
    result.meta.update({"model": cfg.name, "phase": phase, "batch": batch, "context": context,
                        "parallel": par.model_dump(), "launch": mode, "engine": engine,
                        "schedule": schedule})
    return result
