"""A deployment for the simulation: pools of instances (colocated, or prefill and decode),
their lanes and cost models, GPU placement and the KV-transfer network between pools.

GPUs are placed in order: the instances of the first pool, then the next, each instance on
consecutive GPUs; two instances exchange KV over NVLink only when both lie in one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from codesign.engines.des.serving.cost import StepCostModel
from codesign.engines.des.serving.mapping import KvBudget, ServingMapping, kv_shards
from codesign.engines.des.serving.sim import Lane, Router, Transfers
from codesign.engines.des.serving.workload import Request
from codesign.errors import SpecError


@dataclass(frozen=True)
class Pool:
    """Instances of one role (``instance``, ``prefill`` or ``decode``) and their KV room."""

    role: str
    mapping: ServingMapping
    kv: KvBudget

    @property
    def lane_tokens(self) -> int:
        return self.kv.instance_tokens // self.mapping.pp


@dataclass
class Deployment:
    """Everything the simulation runs on."""

    env: simpy.Environment
    pools: list[Pool]
    names: list[str] = field(default_factory=list)
    lanes: dict[str, list[Lane]] = field(default_factory=dict)
    costs: list[StepCostModel] = field(default_factory=list)
    first_gpu: list[int] = field(default_factory=list)
    transfers: Transfers | None = None
    steps: list[tuple[Any, ...]] | None = None
    xfers: list[tuple[Any, ...]] | None = None

    @property
    def all_lanes(self) -> list[Lane]:
        return [lane for ls in self.lanes.values() for lane in ls]

    @property
    def entry(self) -> list[Lane]:
        return self.lanes["prefill" if "prefill" in self.lanes else "instance"]

    @property
    def gpus(self) -> int:
        return sum(p.mapping.gpus for p in self.pools)


def check_fits(reqs: list[Request], pool: Pool) -> None:
    """Every request's KV must fit one rank's (and one lane's) cache.

    Raises:
        SpecError: ``kv_cache``, naming the first request that does not fit.
    """
    m, kvb = pool.mapping, pool.kv
    cap = min(kvb.rank_tokens, pool.lane_tokens)
    last = 1 if pool.role == "prefill" else None  # a prefill pool holds prompt + 1 token

    def size(r: Request) -> int:
        return r.prompt_tokens + (last or r.output_tokens)

    worst = max(reqs, key=size)
    if size(worst) > cap:
        raise SpecError("kv_cache", f"request {worst.id} needs {size(worst)} KV tokens but one "
                                    f"{pool.role} rank of {m.label()} holds {cap} "
                                    f"({kvb.kv_bytes_per_token} B per token)")


def build_deployment(model: str, cfg: Any, sysm: Any, pools: list[Pool], *, token_budget: int,
                     chunk_size: int | None, max_seqs: int, skew: float,
                     weight_dtype: str | None, trace: bool) -> Deployment:
    """Lanes, cost models and (for disaggregated pools) KV transfers of ``pools``.

    Raises:
        SpecError: the first step evaluation fails (a mapping the model cannot take, ops the
            device cannot run), naming the field with the model, system and mapping.
    """
    d = Deployment(simpy.Environment(), pools, steps=[] if trace else None,
                   xfers=[] if trace else None)
    cursor = 0  # first GPU of the next instance
    for pool in pools:
        m = pool.mapping
        cost = StepCostModel(model, sysm, m, skew=skew, weight_dtype=weight_dtype)
        d.costs.append(cost)
        _probe(cost, pool.role, cfg.name, getattr(sysm, "name", ""), m)
        lanes: list[Lane] = []
        for i in range(m.instances):
            inst = len(d.names)
            d.names.append(f"{pool.role}[{i}]")
            d.first_gpu.append(cursor)
            cursor += m.instance_gpus
            for stream in range(m.pp):
                lanes.append(Lane(d.env, d.names[inst],
                                  "prefill" if pool.role == "prefill" else "mixed", inst,
                                  stream, cost, pool.lane_tokens, token_budget * m.instance_dp,
                                  chunk_size or token_budget, max_seqs * m.instance_dp,
                                  trace=d.steps))
        d.lanes[pool.role] = lanes
    if "prefill" in d.lanes:
        d.transfers = _transfers(d, cfg, sysm, pools[0].mapping)
        for lane in d.lanes["prefill"]:
            lane.on_prefilled = d.transfers.start
    return d


def _probe(cost: StepCostModel, role: str, model: str, system: str, m: ServingMapping) -> None:
    try:  # one evaluation now surfaces a bad mapping, device or graph early
        if role == "prefill":
            cost.prefill(1)
        else:
            cost.decode(1, 0)
    except SpecError as e:
        hint = " (try weight_dtype='bf16')" if e.field == "dtype" else ""
        raise SpecError(e.field, f"{e.message}; while costing {model} on {system} with "
                                 f"{m.label()}{hint}", e.allowed) from None


def _transfers(d: Deployment, cfg: Any, sysm: Any, pre_m: ServingMapping) -> Transfers:
    """KV transfers from prefill to decode lanes over the system's network model: the KV of
    a request, split over the GPUs that hold it, one ``send_recv`` per GPU in parallel."""
    kv_tok = cfg.kv_cache_bytes_per_token()
    shards = kv_shards(cfg, pre_m.tp)
    spec = getattr(sysm, "spec", None)
    gpn = spec.gpus_per_node if spec is not None else 8
    inst_gpus = {lane.instance: lane.cost.mapping.instance_gpus for lane in d.all_lanes}
    memo: dict[tuple[int, bool], float] = {}

    def same_node(a: int, b: int) -> bool:
        ends = [d.first_gpu[a], d.first_gpu[a] + inst_gpus[a] - 1, d.first_gpu[b],
                d.first_gpu[b] + inst_gpus[b] - 1]
        return len({g // gpn for g in ends}) == 1

    def time_s(kv_tokens: int, src: Lane, dst: Lane) -> float:
        intra = same_node(src.instance, dst.instance)
        key = (kv_tokens, intra)
        t = memo.get(key)
        if t is None:
            nbytes = kv_tokens * kv_tok / shards
            t = (sysm.collective("send_recv", nbytes, 2).time_s if intra
                 else sysm.inter("send_recv", nbytes, 2).time_s)
            memo[key] = t
        return t

    links = max(1, pre_m.instance_gpus // shards)
    return Transfers(d.env, Router(d.lanes["decode"]), time_s, links, d.xfers)


def utilization(d: Deployment, window: float) -> dict[str, float]:
    """Busy fraction of each instance (mean over its lanes) and of the KV-transfer links."""
    busy: dict[str, list[float]] = {}
    for lane in d.all_lanes:
        busy.setdefault(lane.name, []).append(lane.stats.busy_s / window)
    out = {n: float(np.mean(busy[n])) for n in d.names if n in busy}
    if d.transfers is not None:
        pre = d.pools[0].mapping
        out["kv_transfer_links"] = d.transfers.busy_s / (d.transfers.links * pre.instances
                                                         * window)
    return out
