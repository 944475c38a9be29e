"""``simulate``: serve a stream of requests with a model on a system; latency, throughput,
goodput, utilization, energy and cost.

The library call behind ``codesign simulate``. Every bad input raises one
:class:`~codesign.errors.SpecError` naming the parameter (``rate``, ``requests``, ``kv_cache``,
``mapping``, ...); the CLI renames parameters to its flags.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.engines.des.serving.mapping import (
    ServingMapping,
    check_model_mapping,
    choose_mapping,
    kv_budget,
    parse_mapping,
)
from codesign.engines.des.serving.metrics import request_table, summarize
from codesign.engines.des.serving.plan import (
    Deployment,
    Pool,
    build_deployment,
    check_fits,
    utilization,
)
from codesign.engines.des.serving.sim import run_simulation
from codesign.engines.des.serving.workload import (
    DEFAULT_OUTPUT,
    DEFAULT_PROMPT,
    LengthDist,
    Request,
    gamma_bursty,
    load_trace,
    poisson,
)
from codesign.errors import SpecError, require_positive

ARRIVALS = ("poisson", "gamma", "trace")

APPROXIMATIONS = (
    "step cost: analytical engine at grid points (batch, context, prefill tokens), "
    "interpolated; a mixed iteration costs prefill(chunk tokens) + decode(batch), an upper "
    "bound (weights read twice)",
    "chunked prefill: a chunk is priced as a fresh sequence of its own length (attention to "
    "earlier chunks not charged)",
    "KV capacity: (memory x memory_fraction - weights per GPU) per GPU; non-expert weights "
    "split over tp x pp, routed experts over ep x pp; KV pooled over an instance's "
    "attention-DP ranks (one request must fit one rank)",
    "attention DP: a step costs the busiest rank with ceil(batch / dp) sequences",
    "routing skew multiplies the MoE time (grouped GEMMs, dispatch, combine) of each step",
    "pipeline parallelism: pp micro-batch streams per instance, each step the full model "
    "plus pp - 1 activation sends",
    "preemption by recompute: the newest running request is evicted and re-prefilled",
)


@dataclass
class ServingResult:
    """A finished serving run: the summary, per-request columns and the optional trace."""

    data: dict[str, Any]
    table: dict[str, np.ndarray]
    trace: dict[str, Any] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """Plain data with the documented keys of ``codesign simulate --json``."""
        return dict(self.data)

    def to_frame(self) -> Any:
        """Per-request rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table)


# --------------------------------------------------------------------------- inputs
def _check_number(name: str, v: Any, *, minimum: float | None = None,
                  positive: bool = False, integer: bool = False, maximum: float | None = None
                  ) -> None:
    ok_type = (int,) if integer else (int, float)
    if isinstance(v, bool) or not isinstance(v, ok_type) or (
            isinstance(v, float) and not math.isfinite(v)):
        kind = "an integer" if integer else "a finite number"
        raise SpecError(name, f"must be {kind}, got {v!r}")
    if positive:
        require_positive(name, v)
    if minimum is not None and v < minimum:
        raise SpecError(name, f"must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise SpecError(name, f"must be <= {maximum}, got {v}")


def resolve_serving_system(name: str, gpus: int | None, default_gpus: int = 8
                           ) -> tuple[Any, int]:
    """(system model, GPUs to use) for a system preset or a device name (a cluster of it).

    Raises:
        SpecError: ``system``: unknown name; ``gpus``: more GPUs than the preset has.
    """
    from codesign.hw import HARDWARE, System, resolve_system

    if not isinstance(name, str) and not isinstance(name, System):  # a model object
        return name, gpus or getattr(getattr(name, "spec", None), "gpus", default_gpus)
    if isinstance(name, str) and name.strip().lower() in HARDWARE:
        n = gpus or default_gpus
        return resolve_system(name, n, "system").main.model, n
    system = resolve_system(name, default_gpus, "system")
    total = system.main.spec.devices
    if gpus is not None and gpus > total:
        raise SpecError("gpus", f"{gpus} exceeds the {total} GPUs of {system.name}")
    return system.main.model, gpus or total


def build_workload(arrival: str, *, rate: float | None, requests: int | None, seed: int,
                   cv: float, trace: str | Path | None, prompt: LengthDist,
                   output: LengthDist) -> list[Request]:
    """The requests of a run (see :mod:`codesign.engines.des.serving.workload`)."""
    if arrival not in ARRIVALS:
        raise SpecError("arrival", f"unknown {arrival!r}", ARRIVALS)
    if arrival == "trace":
        if trace is None:
            raise SpecError("trace", "give a CSV or JSONL trace file with arrival 'trace'")
        if rate is not None:
            raise SpecError("rate", "not used with arrival 'trace' (the trace has the times)")
        return load_trace(trace, limit=requests)
    if trace is not None:
        raise SpecError("trace", f"only used with arrival 'trace', not {arrival!r}")
    if rate is None:
        raise SpecError("rate", f"required with arrival {arrival!r} (requests/s)")
    if requests is None:
        requests = 1000
    if arrival == "poisson":
        return poisson(rate, requests, prompt=prompt, output=output, seed=seed)
    return gamma_bursty(rate, cv, requests, prompt=prompt, output=output, seed=seed)


def _mapping_arg(v: ServingMapping | str | None, name: str) -> ServingMapping | None:
    if v is None or isinstance(v, ServingMapping):
        if v is not None:
            v.check(name)
        return v
    return parse_mapping(v, name)


# --------------------------------------------------------------------------- simulate
def simulate(
    model: str,
    system: str,
    *,
    arrival: str = "poisson",
    rate: float | None = None,
    requests: int | None = None,
    seed: int = 0,
    cv: float = 2.0,
    trace: str | Path | None = None,
    workload: list[Request] | None = None,
    prompt: LengthDist = DEFAULT_PROMPT,
    output: LengthDist = DEFAULT_OUTPUT,
    gpus: int | None = None,
    tp: int | None = None,
    dp: int | None = None,
    ep: int | None = None,
    pp: int | None = None,
    redundant_experts: int = 0,
    prefill: ServingMapping | str | None = None,
    decode: ServingMapping | str | None = None,
    token_budget: int = 8192,
    chunk_size: int | None = None,
    max_seqs: int = 256,
    memory_fraction: float = 0.9,
    skew: float = 1.0,
    ttft_slo_s: float = 2.0,
    tpot_slo_s: float = 0.1,
    weight_dtype: str | None = None,
    trace_out: str | Path | None = None,
) -> ServingResult:
    """Simulate serving ``model`` on ``system`` and summarise the run.

    Args:
        model: shipped model name or config path.
        system: system preset (``hgx-h100``, ``deepseek-h800-mpft``...) or a device name
            (a cluster of 8-GPU nodes of it).
        arrival: ``poisson``, ``gamma`` (bursty, coefficient of variation ``cv``) or
            ``trace`` (replay of ``trace``, a CSV or JSONL file).
        rate: requests/s (``poisson``, ``gamma``).
        requests: requests to generate (default 1000; a trace: the first ``requests`` if
            given, else all).
        seed: seed of every random draw; the same seed repeats a run exactly.
        workload: explicit requests (instead of ``arrival``/``rate``/``trace``).
        prompt, output: token-length distributions of generated requests.
        gpus: GPUs to use (default: the preset's, or 8 for a device).
        tp, dp, ep, pp, redundant_experts: colocated mapping overrides (the rest by default,
            see :func:`codesign.engines.des.serving.mapping.choose_mapping`).
        prefill, decode: disaggregated serving: the prefill and the decode mapping (each with
            its ``instances`` and ``redundant_experts``), as :class:`ServingMapping` or
            ``"tp=1,dp=144,ep=144,redundant_experts=32"`` strings.
        token_budget: tokens per iteration per attention-DP rank (vLLM's
            ``max_num_batched_tokens``).
        chunk_size: largest prefill chunk of one request (default ``token_budget``).
        max_seqs: running requests per attention-DP rank (vLLM's ``max_num_seqs``).
        memory_fraction: share of GPU memory for weights and KV cache.
        skew: MoE routing skew (>= 1): the hottest expert rank's load over the mean.
        ttft_slo_s, tpot_slo_s: SLOs for goodput.
        weight_dtype: weight-format override (e.g. ``bf16`` on GPUs without FP8).
        trace_out: write a Chrome/Perfetto JSON timeline there.

    Raises:
        SpecError: bad input, naming the parameter; ``mapping``/``prefill``/``decode``: a
            mapping that does not fit; ``prefill.ep``, ``decode.redundant_experts``, ...:
            expert parallelism the model cannot take (see
            :func:`~codesign.engines.des.serving.mapping.check_model_mapping`); ``kv_cache``: a
            request longer than one rank's KV cache.
    """
    wall0 = time.perf_counter()
    from workloads.registry import load_model

    _validate(seed=seed, token_budget=token_budget, max_seqs=max_seqs, chunk_size=chunk_size,
              memory_fraction=memory_fraction, skew=skew, ttft_slo_s=ttft_slo_s,
              tpot_slo_s=tpot_slo_s, gpus=gpus, rate=rate, requests=requests,
              redundant_experts=redundant_experts)
    if trace_out is not None:
        _check_output(trace_out)
    cfg = load_model(model)
    pre_m, dec_m = _mapping_arg(prefill, "prefill"), _mapping_arg(decode, "decode")
    if (pre_m is None) != (dec_m is None):
        raise SpecError("decode" if dec_m is None else "prefill",
                        "disaggregated serving needs both a prefill and a decode mapping")
    disagg = pre_m is not None and dec_m is not None
    if disagg and any(v is not None for v in (tp, dp, ep, pp)):
        raise SpecError("tp", "give tp/dp/ep/pp inside the prefill and decode mappings")
    if disagg and redundant_experts:
        raise SpecError("redundant_experts", "give redundant_experts inside the prefill and "
                                             "decode mappings (e.g. 'tp=1,dp=144,ep=144,"
                                             "redundant_experts=32')")
    if ep is not None and ep > 1 and cfg.moe is None:
        raise SpecError("ep", f"{cfg.name} has no experts (expert parallelism needs a MoE "
                              "model)")
    if workload is not None:
        reqs = _check_workload(workload)
    else:
        reqs = build_workload(arrival, rate=rate, requests=requests, seed=seed, cv=cv,
                              trace=trace, prompt=prompt, output=output)

    sysm, n_gpus, pools, mapping_info = _plan(
        cfg, system, gpus, pre_m, dec_m, memory_fraction, tp=tp, dp=dp, ep=ep, pp=pp,
        redundant_experts=redundant_experts)
    for pool in pools:
        check_fits(reqs, pool)
    dep = build_deployment(model, cfg, sysm, pools, token_budget=token_budget,
                           chunk_size=chunk_size, max_seqs=max_seqs, skew=skew,
                           weight_dtype=weight_dtype, trace=trace_out is not None)
    states = run_simulation(reqs, dep.entry, dep.all_lanes, dep.env)

    table = request_table(states)
    data: dict[str, Any] = {
        "model": cfg.name, "system": getattr(sysm, "name", str(system)), "gpus": dep.gpus,
        "gpus_available": n_gpus, "mapping": mapping_info,
        "arrival": "workload" if workload is not None else arrival,
        "rate": rate, "seed": seed, "requests": len(reqs),
    }
    data.update(_figures(dep, table, sysm, ttft_slo_s, tpot_slo_s))
    data["scheduler"] = {"token_budget": token_budget, "chunk_size": chunk_size or token_budget,
                         "max_seqs": max_seqs, "memory_fraction": memory_fraction,
                         "skew": skew}
    data["approximations"] = list(APPROXIMATIONS)
    trace_doc = None
    if trace_out is not None:
        from codesign.engines.des.serving.trace import chrome_trace, dumps
        from codesign.report.html import write_atomic

        assert dep.steps is not None and dep.xfers is not None
        trace_doc = chrome_trace(dep.names, dep.steps, dep.xfers,
                                 {"model": cfg.name, "system": data["system"],
                                  "mapping": mapping_info})
        write_atomic(trace_out, dumps(trace_doc))
        data["trace_out"] = str(trace_out)
    data["sim_wall_s"] = time.perf_counter() - wall0
    return ServingResult(data, table, trace_doc)


def _figures(dep: Deployment, table: dict[str, np.ndarray], sysm: Any, ttft_slo_s: float,
             tpot_slo_s: float) -> dict[str, Any]:
    """Metrics, utilization, KV-cache use, preemptions and transfers of a finished run."""
    lanes = dep.all_lanes
    data = summarize(table, gpus=dep.gpus, idle_power_w=float(sysm.idle_power_w),
                     usd_per_gpu_hour=float(sysm.usd_per_hour),
                     step_energy_j=sum(lane.stats.energy_j for lane in lanes),
                     step_gpu_s=sum(lane.stats.gpu_s for lane in lanes),
                     ttft_slo_s=ttft_slo_s, tpot_slo_s=tpot_slo_s)
    data["utilization"] = utilization(dep, data["window_s"])
    data["kv_cache"] = {
        p.role: {**p.kv.as_dict(), "lane_tokens": p.lane_tokens,
                 "peak_fraction": max(lane.stats.kv_peak for lane in dep.lanes[p.role])
                 / max(1, p.lane_tokens)}
        for p in dep.pools}
    data["preemptions"] = int(table["preemptions"].sum())
    data["iterations"] = sum(lane.stats.iterations for lane in lanes)
    tr = dep.transfers
    if tr is not None:
        sent = table["transfer_s"][table["transfer_s"] > 0]
        data["kv_transfer_s"] = {"count": tr.count,
                                 "mean": float(sent.mean()) if sent.size else None,
                                 "busy_s": tr.busy_s}
    data["evaluations"] = {"grid_points": sum(c.points for c in dep.costs),
                           "engine_runs": sum(c.evaluations for c in dep.costs)}
    return data


def _plan(cfg: Any, system: str, gpus: int | None, pre_m: ServingMapping | None,
          dec_m: ServingMapping | None, memory_fraction: float, *, tp: int | None,
          dp: int | None, ep: int | None, pp: int | None, redundant_experts: int
          ) -> tuple[Any, int, list[Pool], dict[str, Any]]:
    """(system, GPUs available, pools, mapping description) of a run."""
    mem = memory_fraction
    if pre_m is not None and dec_m is not None:
        check_model_mapping(cfg, pre_m, "prefill")
        check_model_mapping(cfg, dec_m, "decode")
        need = pre_m.gpus + dec_m.gpus
        sysm, n_gpus = resolve_serving_system(system, gpus, need)
        if need > n_gpus:
            raise SpecError("mapping", f"prefill ({pre_m.gpus} GPUs) and decode ({dec_m.gpus}) "
                                       f"need {need} GPUs, the system has {n_gpus}")
        pools = [Pool("prefill", pre_m, kv_budget(cfg, pre_m, sysm.memory_bytes, mem,
                                                  "prefill")),
                 Pool("decode", dec_m, kv_budget(cfg, dec_m, sysm.memory_bytes, mem,
                                                 "decode"))]
        return sysm, n_gpus, pools, {"disaggregated": True, "prefill": pre_m.as_dict(),
                                     "decode": dec_m.as_dict(),
                                     "reason": "given (prefill/decode disaggregation)"}
    implied = (tp or 1) * (dp or 1) * (pp or 1)
    sysm, n_gpus = resolve_serving_system(system, gpus, max(8, implied))
    gpn = getattr(getattr(sysm, "spec", None), "gpus_per_node", 8)
    m, why = choose_mapping(cfg, n_gpus, gpn, sysm.memory_bytes, mem, tp=tp, dp=dp, ep=ep,
                            pp=pp, redundant_experts=redundant_experts)
    pool = Pool("instance", m, kv_budget(cfg, m, sysm.memory_bytes, mem))
    return sysm, n_gpus, [pool], {"disaggregated": False, **m.as_dict(), "label": m.label(),
                                  "reason": why}


def _validate(*, seed: int, token_budget: int, max_seqs: int, chunk_size: int | None,
              memory_fraction: float, skew: float, ttft_slo_s: float, tpot_slo_s: float,
              gpus: int | None, rate: float | None, requests: int | None,
              redundant_experts: int) -> None:
    """Scalar parameters of :func:`simulate`, each error naming its parameter."""
    _check_number("seed", seed, integer=True, minimum=0)
    _check_number("token_budget", token_budget, integer=True, positive=True)
    _check_number("max_seqs", max_seqs, integer=True, positive=True)
    if chunk_size is not None:
        _check_number("chunk_size", chunk_size, integer=True, positive=True)
    if max_seqs > token_budget:
        raise SpecError("max_seqs", f"{max_seqs} exceeds token_budget={token_budget} (each "
                                    "running request decodes one token per iteration)")
    _check_number("memory_fraction", memory_fraction, positive=True, maximum=1.0)
    _check_number("skew", skew, minimum=1.0)
    _check_number("ttft_slo_s", ttft_slo_s, positive=True)
    _check_number("tpot_slo_s", tpot_slo_s, positive=True)
    if gpus is not None:
        _check_number("gpus", gpus, integer=True, positive=True)
    if rate is not None:
        _check_number("rate", rate, positive=True)
    if requests is not None:
        _check_number("requests", requests, integer=True, positive=True)
    _check_number("redundant_experts", redundant_experts, integer=True, minimum=0)


def _check_workload(workload: list[Request]) -> list[Request]:
    """Explicit requests, validated, sorted by arrival (stable)."""
    if not workload:
        raise SpecError("workload", "holds no requests")
    for i, r in enumerate(workload):
        if not isinstance(r, Request):
            raise SpecError(f"workload[{i}]", f"must be a Request, got {type(r).__name__}")
        if not (math.isfinite(r.arrival_s) and r.arrival_s >= 0):
            raise SpecError(f"workload[{i}].arrival_s", f"must be >= 0, got {r.arrival_s}")
        for name in ("prompt_tokens", "output_tokens"):
            v = getattr(r, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SpecError(f"workload[{i}].{name}", f"must be an integer >= 1, got {v!r}")
    return sorted(workload, key=lambda r: r.arrival_s)


def _check_output(path: str | Path) -> None:
    p = Path(path)
    if p.is_dir():
        raise SpecError("trace_out", f"{str(path)!r} is a folder, not a file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError("trace_out", f"folder {str(folder)!r} does not exist")
