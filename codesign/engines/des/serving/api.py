"""``simulate``: serve a stream of requests with a model on a system; latency, throughput,
goodput, utilization (per pool), memory, energy and cost.

The library call behind ``codesign simulate``. It runs on the DES engine's SimPy
environment: one environment for arrivals, iterations and KV transfers, its resources built
from the :class:`~codesign.hw.resolve.System` (:mod:`codesign.engines.des.serving.cluster`).
Every bad input raises one :class:`~codesign.errors.SpecError` naming the parameter
(``rate``, ``requests``, ``kv_cache``, ``mapping``, ...); the CLI renames parameters to its
flags.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.engines.des.serving.facts import ModelFacts
from codesign.engines.des.serving.mapping import ServingMapping, parse_mapping
from codesign.engines.des.serving.metrics import request_table, summarize, window_s
from codesign.engines.des.serving.plan import (
    Deployment,
    build_deployment,
    memory_report,
    plan_deployment,
)
from codesign.engines.des.serving.sim import run_simulation
from codesign.engines.des.serving.workload import (
    DEFAULT_OUTPUT,
    DEFAULT_PROMPT,
    LengthDist,
    Request,
    Workload,
    check_workload,
    gamma_workload,
    load_trace,
    poisson_workload,
)
from codesign.errors import SpecError, require_positive

ARRIVALS = ("poisson", "gamma", "trace")

APPROXIMATIONS = (
    "step cost: analytical engine at grid points (batch, context, prefill tokens), "
    "interpolated; a mixed iteration costs prefill(chunk tokens) + decode(batch), an upper "
    "bound (weights read twice)",
    "chunked prefill: a chunk is priced as a fresh sequence of its own length (attention to "
    "earlier chunks and to a cached prefix not charged; reading a cached prefix is free)",
    "KV capacity: (memory x memory_fraction - weights per GPU) per GPU (the workload "
    "family's footprint: non-expert weights split over tp, routed experts over ep, each "
    "pipeline stage its layers); KV pooled over an instance's attention-DP ranks (one "
    "request must fit one rank)",
    "attention DP: a step costs the busiest rank with ceil(batch / dp) sequences",
    "routing skew multiplies the MoE time (grouped GEMMs, dispatch, combine) of each step",
    "pipeline parallelism: pp micro-batch streams per instance, each step the full model "
    "plus pp - 1 activation sends",
    "preemption by recompute: the newest running request is evicted and re-prefilled",
    "KV transfer: one sender's share of a request's KV over its route (NVLink inside a "
    "node, the pool's scale-out network across nodes, the link between pools), the "
    "sending instance's ports and the inter-pool link as SimPy resources; the receiving "
    "side's ports are not modelled",
    "network: NIC and switch power charged over the whole window for the devices used",
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
                  positive: bool = False, integer: bool = False, maximum: float | None = None,
                  below: float | None = None) -> None:
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
    if below is not None and v >= below:
        raise SpecError(name, f"must be < {below}, got {v}")


def build_workload(arrival: str, *, rate: float | None, requests: int | None, seed: int,
                   cv: float, trace: str | Path | None, prompt: LengthDist,
                   output: LengthDist) -> Workload:
    """The requests of a run, as columns (see :mod:`codesign.engines.des.serving.workload`).
    """
    if arrival not in ARRIVALS:
        raise SpecError("arrival", f"unknown {arrival!r}", ARRIVALS)
    if arrival == "trace":
        if trace is None:
            raise SpecError("trace", "give a CSV or JSONL trace file with arrival 'trace'")
        if rate is not None:
            raise SpecError("rate", "not used with arrival 'trace' (the trace has the times)")
        return Workload.from_requests(load_trace(trace, limit=requests))
    if trace is not None:
        raise SpecError("trace", f"only used with arrival 'trace', not {arrival!r}")
    if rate is None:
        raise SpecError("rate", f"required with arrival {arrival!r} (requests/s)")
    if requests is None:
        requests = 1000
    if arrival == "poisson":
        return poisson_workload(rate, requests, prompt=prompt, output=output, seed=seed)
    return gamma_workload(rate, cv, requests, prompt=prompt, output=output, seed=seed)


def _mapping_arg(v: ServingMapping | str | None, name: str) -> ServingMapping | None:
    if v is None or isinstance(v, ServingMapping):
        if v is not None:
            v.check(name)
        return v
    return parse_mapping(v, name)


# --------------------------------------------------------------------------- simulate
def simulate(
    model: str,
    system: Any,
    *,
    arrival: str = "poisson",
    rate: float | None = None,
    requests: int | None = None,
    seed: int = 0,
    cv: float = 2.0,
    trace: str | Path | None = None,
    workload: list[Request] | Workload | None = None,
    prompt: LengthDist = DEFAULT_PROMPT,
    output: LengthDist = DEFAULT_OUTPUT,
    cache_hit: float = 0.0,
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
    ignore_memory: bool = False,
    skew: float = 1.0,
    ttft_slo_s: float = 2.0,
    tpot_slo_s: float = 0.1,
    weight_dtype: str | None = None,
    trace_out: str | Path | None = None,
    sample_s: float | None = None,
) -> ServingResult:
    """Simulate serving ``model`` on ``system`` and summarise the run.

    Args:
        model: shipped model name or config path.
        system: system preset (``hgx-h100``, ``deepseek-h800-mpft``, ``pd-h100-h200``...),
            a system or device file, a :class:`~codesign.hw.resolve.System` or spec, or a
            device name (a cluster of 8-GPU nodes of it). A system whose default placement
            puts prefill and decode on different pools serves disaggregated over them.
        arrival: ``poisson``, ``gamma`` (bursty, coefficient of variation ``cv``) or
            ``trace`` (replay of ``trace``, a CSV or JSONL file).
        rate: requests/s (``poisson``, ``gamma``).
        requests: requests to generate (default 1000; a trace: the first ``requests`` if
            given, else all).
        seed: seed of every random draw; the same seed repeats a run exactly.
        workload: explicit requests (instead of ``arrival``/``rate``/``trace``), a list of
            :class:`Request` or a :class:`Workload`.
        prompt, output: token-length distributions of generated requests.
        cache_hit: share of every prompt read from a prefix cache instead of computed
            (``0 <= cache_hit < 1``); a workload or trace with its own ``cached_tokens``
            takes none.
        gpus: GPUs to use on a single-pool system (default: the preset's, or 8 for a
            device).
        tp, dp, ep, pp, redundant_experts: mapping overrides for every phase whose mapping
            is not given (the rest by default, see
            :func:`~codesign.engines.des.serving.mapping.choose_mapping`).
        prefill, decode: disaggregated serving: the prefill and the decode mapping (each with
            its ``instances`` and ``redundant_experts``), as :class:`ServingMapping` or
            ``"tp=1,dp=144,ep=144,redundant_experts=32"`` strings.
        token_budget: tokens per iteration per attention-DP rank (vLLM's
            ``max_num_batched_tokens``).
        chunk_size: largest prefill chunk of one request (default ``token_budget``).
        max_seqs: running requests per attention-DP rank (vLLM's ``max_num_seqs``).
        memory_fraction: share of GPU memory for weights and KV cache.
        ignore_memory: simulate a deployment whose weights or requests do not fit (such a
            pool's KV cache is taken as unlimited; ``memory`` says what does not fit).
        skew: MoE routing skew (>= 1): the hottest expert rank's load over the mean.
        ttft_slo_s, tpot_slo_s: SLOs for goodput.
        weight_dtype: weight-format override (e.g. ``bf16`` on GPUs without FP8).
        trace_out: write a Chrome/Perfetto JSON timeline there.
        sample_s: sample, every ``sample_s`` simulated seconds, cumulative tokens and the
            queues of each role into the summary's ``timeline`` (throughput over any part of
            a run: a long run's steady state, say).

    Raises:
        SpecError: bad input, naming the parameter; ``mapping``/``prefill``/``decode``: a
            mapping that does not fit its pool (the message names the pool and the bytes);
            ``prefill.ep``, ``decode.redundant_experts``, ...: expert parallelism the model
            cannot take (see
            :func:`~codesign.engines.des.serving.mapping.check_model_mapping`);
            ``kv_cache``: a request longer than one rank's KV cache.
    """
    wall0 = time.perf_counter()
    _validate(seed=seed, token_budget=token_budget, max_seqs=max_seqs, chunk_size=chunk_size,
              memory_fraction=memory_fraction, skew=skew, ttft_slo_s=ttft_slo_s,
              tpot_slo_s=tpot_slo_s, gpus=gpus, rate=rate, requests=requests,
              redundant_experts=redundant_experts, cache_hit=cache_hit)
    if sample_s is not None:
        _check_number("sample_s", sample_s, positive=True)
    if not isinstance(ignore_memory, bool):
        raise SpecError("ignore_memory", f"must be true or false, got {ignore_memory!r}",
                        [True, False])
    if trace_out is not None:
        _check_output(trace_out)
    facts = ModelFacts.load(model, weight_dtype)
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
    if ep is not None and ep > 1 and not facts.is_moe:
        raise SpecError("ep", f"{facts.name} has no experts (expert parallelism needs a MoE "
                              "model)")
    if workload is not None:
        wl = check_workload(workload)
    else:
        wl = build_workload(arrival, rate=rate, requests=requests, seed=seed, cv=cv,
                            trace=trace, prompt=prompt, output=output)
    if cache_hit:
        if int(wl.cached_tokens.max()):
            raise SpecError("cache_hit", "the workload has its own cached_tokens; give one "
                                         "or the other")
        wl = wl.with_cache_hit(cache_hit)

    plan = plan_deployment(facts, system, gpus=gpus, prefill=pre_m, decode=dec_m,
                           memory_fraction=memory_fraction, ignore_memory=ignore_memory,
                           tp=tp, dp=dp, ep=ep, pp=pp, redundant_experts=redundant_experts)
    memory = memory_report(wl, plan, ignore_memory)
    dep = build_deployment(model, facts, plan, token_budget=token_budget,
                           chunk_size=chunk_size, max_seqs=max_seqs, skew=skew,
                           weight_dtype=weight_dtype, trace=trace_out is not None)
    timeline: dict[str, Any] = {}
    res = run_simulation(dep.env, wl, dep.entry, dep.all_lanes, sample_s, timeline)

    table = request_table(wl, res)
    data: dict[str, Any] = {
        "model": facts.name, "system": plan.system.name, "gpus": dep.gpus,
        "gpus_available": plan.gpus_available, "mapping": plan.mapping_info,
        "arrival": "workload" if workload is not None else arrival,
        "rate": rate, "seed": seed, "requests": len(wl), "cache_hit": cache_hit,
    }
    data.update(_figures(dep, table, ttft_slo_s, tpot_slo_s))
    data["memory"] = memory
    if sample_s is not None:
        data["timeline"] = {"sample_s": sample_s, **timeline}
    data["scheduler"] = {"token_budget": token_budget, "chunk_size": chunk_size or token_budget,
                         "max_seqs": max_seqs, "memory_fraction": memory_fraction,
                         "ignore_memory": ignore_memory, "skew": skew}
    data["approximations"] = list(APPROXIMATIONS)
    trace_doc = None
    if trace_out is not None:
        from codesign.engines.des.serving.trace import chrome_trace, dumps
        from codesign.report.html import write_atomic

        assert dep.steps is not None and dep.xfers is not None
        trace_doc = chrome_trace([i.name for i in dep.cluster.instances], dep.steps,
                                 dep.xfers, {"model": facts.name, "system": data["system"],
                                             "mapping": plan.mapping_info})
        write_atomic(trace_out, dumps(trace_doc))
        data["trace_out"] = str(trace_out)
    data["sim_wall_s"] = time.perf_counter() - wall0
    return ServingResult(data, table, trace_doc)


def _energy(dep: Deployment, window: float) -> dict[str, float]:
    """Devices (steps plus each pool's idle power), network power over the window, KV moves.
    """
    sysm = dep.plan.system
    used = dep.cluster.used()
    devices = 0.0
    for pool, n in used.items():
        lanes = [lane for lane in dep.all_lanes if lane.instance.pool == pool]
        step_j = sum(lane.stats.energy_j for lane in lanes)
        step_gpu_s = sum(lane.stats.gpu_s for lane in lanes)
        idle_w = float(sysm.pool(pool).model.idle_power_w)
        devices += step_j + idle_w * max(0.0, n * window - step_gpu_s)
    links = dep.transfers.energy_j if dep.transfers is not None else 0.0
    return {"devices_j": devices, "network_j": sysm.network_power_w(used) * window,
            "links_j": links}


def _figures(dep: Deployment, table: dict[str, np.ndarray], ttft_slo_s: float,
             tpot_slo_s: float) -> dict[str, Any]:
    """Metrics, utilization, pools, KV-cache use, preemptions and transfers of a run."""
    window = window_s(table)
    used = dep.cluster.used()
    data = summarize(table, energy=_energy(dep, window),
                     cost=dep.plan.system.usd_per_hour(used), ttft_slo_s=ttft_slo_s,
                     tpot_slo_s=tpot_slo_s)
    busy = _instance_busy(dep, window)
    data["utilization"] = dict(busy)
    data["pools"] = _pools(dep, data, busy)
    tr = dep.transfers
    if tr is not None:
        ports = [p for i in dep.cluster.instances if i.role == "prefill"
                 for p in i.ports.values()]
        slots = sum(i.ports["nic"].capacity for i in dep.cluster.instances
                    if i.role == "prefill")
        data["utilization"]["kv_transfer_links"] = tr.busy_s / (slots * window)
        sent = table["transfer_s"][table["transfer_s"] > 0]
        links = {lk.name: {"busy_s": lk.busy_s, "slots": lk.capacity,
                           "utilization": lk.busy_s / (lk.capacity * window)}
                 for lk in [*ports, *dep.cluster.links.values()] if lk.busy_s > 0}
        data["kv_transfer_s"] = {"count": tr.count,
                                 "mean": float(sent.mean()) if sent.size else None,
                                 "busy_s": tr.busy_s, "resources": links}
    data["kv_cache"] = {
        r.role: {**r.kv.as_dict(), "lane_tokens": r.lane_tokens, "unlimited": r.unlimited,
                 "peak_fraction": max(lane.stats.kv_peak for lane in dep.lanes[r.role])
                 / max(1, r.lane_tokens)}
        for r in dep.plan.roles}
    data["preemptions"] = int(table["preemptions"].sum())
    data["iterations"] = sum(lane.stats.iterations for lane in dep.all_lanes)
    data["evaluations"] = {"grid_points": sum(c.points for c in dep.costs),
                           "engine_runs": sum(c.evaluations for c in dep.costs)}
    return data


def _instance_busy(dep: Deployment, window: float) -> dict[str, float]:
    """Busy fraction of each instance (mean over its lanes)."""
    busy: dict[str, list[float]] = {}
    for lane in dep.all_lanes:
        busy.setdefault(lane.name, []).append(lane.stats.busy_s / window)
    return {i.name: float(np.mean(busy[i.name])) for i in dep.cluster.instances
            if i.name in busy}


def _pools(dep: Deployment, data: dict[str, Any], busy: dict[str, float]
           ) -> dict[str, dict[str, Any]]:
    """Per pool of the system: its devices used, roles, TTFT of the requests it prefilled,
    TPOT of those it decoded, and the mean busy fraction of its instances."""
    plan = dep.plan
    entry = plan.roles[0].pool  # prefill (or colocated) role comes first
    decoder = plan.roles[-1].pool
    out: dict[str, dict[str, Any]] = {}
    for pool, n in dep.cluster.used().items():
        insts = [i for i in dep.cluster.instances if i.pool == pool]
        out[pool] = {
            "device": plan.system.pool(pool).device.name, "gpus": n,
            "roles": sorted({i.role for i in insts}),
            "instances": len(insts),
            "ttft_s": data["ttft_s"] if pool == entry else None,
            "tpot_s": data["tpot_s"] if pool == decoder else None,
            "utilization": float(np.mean([busy[i.name] for i in insts])),
        }
    return out


def _validate(*, seed: int, token_budget: int, max_seqs: int, chunk_size: int | None,
              memory_fraction: float, skew: float, ttft_slo_s: float, tpot_slo_s: float,
              gpus: int | None, rate: float | None, requests: int | None,
              redundant_experts: int, cache_hit: float) -> None:
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
    _check_number("cache_hit", cache_hit, minimum=0, below=1)


def _check_output(path: str | Path) -> None:
    p = Path(path)
    if p.is_dir():
        raise SpecError("trace_out", f"{str(path)!r} is a folder, not a file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError("trace_out", f"folder {str(folder)!r} does not exist")
