"""A deployment for the simulation: which pool of the system serves which phase, with which
mapping and KV room, and the lanes, cost models and transfers built on the SimPy resources.

Pools come from the system's default placement (``SystemSpec.placement``): a system that
puts prefill and decode on different pools (``pd-h100-h200``) serves disaggregated, each
phase on its pool, the KV cache of each request moving over the link between them; a
system without one (or with both phases on one pool) serves colocated on its first pool,
or disaggregated inside that pool when prefill and decode mappings are given. Mapping flags
(``tp``, ``dp``, ``ep``, ``pp``, ``redundant_experts``) choose the parallelism of every
phase whose mapping is not given whole (a placement's own stage parallelism is not read).

Memory: an instance's weights (the busiest GPU's share) must leave KV-cache room in
``memory_fraction`` of its device's memory, and every request's KV must fit one
attention-DP rank (and one pipeline stream's share); otherwise :class:`SpecError` names the
pool with the bytes needed and available, unless ``ignore_memory``, where such a pool's KV
cache is taken as unlimited (no admission limit or preemption from memory there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from codesign.engines.des.serving.cluster import ServingCluster
from codesign.engines.des.serving.cost import StepCostModel
from codesign.engines.des.serving.facts import ModelFacts
from codesign.engines.des.serving.lane import Lane
from codesign.engines.des.serving.mapping import (
    KvBudget,
    ServingMapping,
    check_model_mapping,
    choose_mapping,
    kv_budget,
)
from codesign.engines.des.serving.sim import Router, Transfers
from codesign.engines.des.serving.workload import Workload
from codesign.errors import SpecError
from codesign.hw.resolve import System

#: KV tokens of a lane whose pool does not fit and memory is ignored
UNLIMITED = 1 << 60


@dataclass(frozen=True)
class Role:
    """Instances of one role (``instance``, ``prefill`` or ``decode``) on one pool."""

    role: str
    pool: str
    mapping: ServingMapping
    kv: KvBudget
    unlimited: bool = False

    @property
    def lane_tokens(self) -> int:
        return UNLIMITED if self.unlimited else self.kv.instance_tokens // self.mapping.pp


@dataclass
class Plan:
    """The system, the roles on its pools, and the mapping as the summary reports it."""

    system: System
    roles: list[Role]
    mapping_info: dict[str, Any]
    gpus_available: int


@dataclass
class Deployment:
    """Everything the simulation runs on."""

    env: simpy.Environment
    plan: Plan
    cluster: ServingCluster
    lanes: dict[str, list[Lane]] = field(default_factory=dict)
    costs: list[StepCostModel] = field(default_factory=list)
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
        return sum(self.cluster.used().values())


# --------------------------------------------------------------------------- the plan
def resolve_serving_system(system: Any, gpus: int | None, default_gpus: int = 8
                           ) -> tuple[System, int]:
    """(system, devices available on its first pool) for a system preset, file or spec, or a
    device name or model (a cluster of ``gpus`` of it, ``default_gpus`` if not given).

    Raises:
        SpecError: ``system``: unknown name or bad file; ``gpus``: more GPUs than the system
            has.
    """
    from collections.abc import Mapping

    from codesign.hw import HARDWARE, resolve_system
    from codesign.hw.system import SystemSpec

    if isinstance(system, str):
        device = system.strip().lower() in HARDWARE
    else:  # a device model (not a pool model behind its fabric) stands for a cluster of it
        device = not isinstance(system, System | SystemSpec | Mapping) and \
            getattr(system, "pool_spec", None) is None
    if device:
        n = gpus or default_gpus
        return resolve_system(system, n, "system"), n
    sysm = resolve_system(system, default_gpus, "system")
    total = sysm.main.spec.devices
    if gpus is not None and gpus > total:
        raise SpecError("gpus", f"{gpus} exceeds the {total} GPUs of {sysm.name}")
    return sysm, gpus or total


def phase_pools(sysm: System) -> tuple[str, str]:
    """(prefill pool, decode pool) of the system's default placement (the first pool for
    both without one).

    Raises:
        SpecError: ``system.placement``: a phase placed on several stages, part of the
            layers or an op group (serving simulates one stage per phase).
    """
    from codesign.hw.placement import parse_placement

    default = sysm.spec.placement
    if default is None:
        return sysm.first_pool, sysm.first_pool
    pl = parse_placement(default, f"{sysm.name}.placement")
    pools = []
    for ph in ("prefill", "decode"):
        stages = pl.stages(ph)
        if len(stages) != 1 or stages[0].layers is not None or stages[0].ops != "all":
            raise SpecError("system.placement", f"{sysm.name} places {ph} on {len(stages)} "
                            "stage(s) or part of a layer: serving simulates one stage per "
                            "phase, every layer on one pool")
        sysm.pool(stages[0].pool)
        pools.append(stages[0].pool)
    return pools[0], pools[1]


def _budget(facts: ModelFacts, sysm: System, pool: str, m: ServingMapping, mf: float,
            field_: str, ignore: bool) -> KvBudget:
    mem = float(sysm.pool(pool).device.memory_bytes)
    return kv_budget(facts, m, mem, mf, field_, pool, ignore)


def plan_deployment(facts: ModelFacts, system: Any, *, gpus: int | None,
                    prefill: ServingMapping | None, decode: ServingMapping | None,
                    memory_fraction: float, ignore_memory: bool, tp: int | None,
                    dp: int | None, ep: int | None, pp: int | None, redundant_experts: int
                    ) -> Plan:
    """Pools, mappings and KV room of a run (see module doc).

    Raises:
        SpecError: ``mapping``/``prefill``/``decode``: a mapping that does not fit its pool
            (devices or memory); ``gpus``: on a system that places the phases on different
            pools; ``system``/``system.placement``: see :func:`resolve_serving_system` and
            :func:`phase_pools`.
    """
    mf, ign = memory_fraction, ignore_memory
    flags = {"tp": tp, "dp": dp, "ep": ep, "pp": pp, "redundant_experts": redundant_experts}
    given = prefill is not None and decode is not None
    if given:
        assert prefill is not None and decode is not None
        check_model_mapping(facts, prefill, "prefill")
        check_model_mapping(facts, decode, "decode")
        need = prefill.gpus + decode.gpus
    else:
        need = max(8, (tp or 1) * (dp or 1) * (pp or 1))
    sysm, n_gpus = resolve_serving_system(system, gpus, need)
    pre_pool, dec_pool = phase_pools(sysm)
    if pre_pool != dec_pool:
        return _plan_pools(facts, sysm, pre_pool, dec_pool, gpus, prefill, decode, mf, ign,
                           flags)
    pool = pre_pool
    if given:
        assert prefill is not None and decode is not None
        if need > n_gpus:
            raise SpecError("mapping", f"prefill ({prefill.gpus} GPUs) and decode "
                                       f"({decode.gpus}) need {need} GPUs, the system has "
                                       f"{n_gpus}")
        roles = [_role("prefill", pool, prefill, facts, sysm, mf, ign),
                 _role("decode", pool, decode, facts, sysm, mf, ign)]
        info = {"disaggregated": True, "prefill": {**prefill.as_dict(), "pool": pool},
                "decode": {**decode.as_dict(), "pool": pool},
                "reason": "given (prefill/decode disaggregation)"}
        return Plan(sysm, roles, info, n_gpus)
    gpn = sysm.pool(pool).spec.devices_per_node
    mem = float(sysm.pool(pool).device.memory_bytes)
    m, why = choose_mapping(facts, n_gpus, gpn, mem, mf, pool=pool, ignore_memory=ign,
                            **flags)  # type: ignore[arg-type]
    info = {"disaggregated": False, **m.as_dict(), "pool": pool, "label": m.label(),
            "reason": why}
    return Plan(sysm, [_role("instance", pool, m, facts, sysm, mf, ign)], info, n_gpus)


def _role(role: str, pool: str, m: ServingMapping, facts: ModelFacts, sysm: System,
          mf: float, ign: bool) -> Role:
    field_ = "mapping" if role == "instance" else role
    kv = _budget(facts, sysm, pool, m, mf, field_, ign)
    return Role(role, pool, m, kv, unlimited=ign and not kv.fits)


def _plan_pools(facts: ModelFacts, sysm: System, pre_pool: str, dec_pool: str,
                gpus: int | None, prefill: ServingMapping | None,
                decode: ServingMapping | None, mf: float, ign: bool,
                flags: dict[str, Any]) -> Plan:
    """Prefill on one pool, decode on another (the system's placement)."""
    if gpus is not None:
        raise SpecError("gpus", f"{sysm.name} serves prefill on pool {pre_pool!r} and decode "
                        f"on pool {dec_pool!r}: size them with --prefill-mapping and "
                        "--decode-mapping (instances), not --gpus")
    roles, why = [], []
    for role, pool, m in (("prefill", pre_pool, prefill), ("decode", dec_pool, decode)):
        p = sysm.pool(pool)
        if m is None:
            m, reason = choose_mapping(facts, p.spec.devices, p.spec.devices_per_node,
                                       float(p.device.memory_bytes), mf, field=role,
                                       pool=pool, ignore_memory=ign, **flags)
            why.append(f"{role} on pool {pool!r}: {reason}")
        elif m.gpus > p.spec.devices:
            raise SpecError(role, f"{m.label()} needs {m.gpus} GPUs, pool {pool!r} has "
                                  f"{p.spec.devices}")
        else:
            why.append(f"{role} on pool {pool!r}: given")
        roles.append(_role(role, pool, m, facts, sysm, mf, ign))
    info = {"disaggregated": True,
            "prefill": {**roles[0].mapping.as_dict(), "pool": pre_pool},
            "decode": {**roles[1].mapping.as_dict(), "pool": dec_pool},
            "reason": f"system placement ({sysm.name}); " + "; ".join(why)}
    return Plan(sysm, roles, info, sum(sysm.pool(r.pool).spec.devices for r in roles))


# --------------------------------------------------------------------------- memory
def memory_report(wl: Workload, plan: Plan, ignore_memory: bool) -> dict[str, dict[str, Any]]:
    """Per pool: bytes one GPU needs (weights plus the largest request's KV on one rank, for
    the role that needs most), the usable bytes, and whether they fit.

    Raises:
        SpecError: ``kv_cache``: a request longer than one rank's KV cache (unless
            ``ignore_memory``), naming the request, the pool and the bytes.
    """
    out: dict[str, dict[str, Any]] = {}
    prompt_max = int(wl.prompt_tokens.max())
    total = wl.prompt_tokens + wl.output_tokens
    for r in plan.roles:
        # a prefill instance holds prompt + 1 token; the others the whole request
        worst = int(wl.prompt_tokens.argmax() if r.role == "prefill" else total.argmax())
        size = prompt_max + 1 if r.role == "prefill" else int(total[worst])
        kv = r.kv
        cap = min(kv.rank_tokens, kv.instance_tokens // r.mapping.pp)
        share = kv.rank_tokens / cap if cap else 1.0
        need = kv.weight_bytes_per_gpu + size * kv.kv_bytes_per_token * share
        fits = kv.fits and size <= cap
        if not fits and kv.fits and not ignore_memory:
            raise SpecError("kv_cache", f"request {int(wl.id[worst])} needs {size} KV tokens "
                            f"but one {r.role} rank of {r.mapping.label()} on pool "
                            f"{r.pool!r} holds {cap} ({kv.kv_bytes_per_token:g} B per token "
                            f"per GPU: {need / 1e9:.2f} GB needed, "
                            f"{kv.usable_bytes_per_gpu / 1e9:.2f} GB usable); use more GPUs "
                            "per instance, or --ignore-memory to simulate anyway")
        entry = {"required_bytes": need, "capacity_bytes": kv.usable_bytes_per_gpu,
                 "fits": fits, "device_bytes": kv.device_bytes,
                 "weights_bytes": kv.weight_bytes_per_gpu,
                 "kv_bytes": size * kv.kv_bytes_per_token * share, "role": r.role}
        prev = out.get(r.pool)
        if prev is None or need / kv.usable_bytes_per_gpu > (
                prev["required_bytes"] / prev["capacity_bytes"]):
            out[r.pool] = entry
    return out


# --------------------------------------------------------------------------- building
def build_deployment(model: str, facts: ModelFacts, plan: Plan, *, token_budget: int,
                     chunk_size: int | None, max_seqs: int, skew: float,
                     weight_dtype: str | None, trace: bool) -> Deployment:
    """The cluster's resources, lanes, cost models and (disaggregated) KV transfers.

    Raises:
        SpecError: the first step evaluation fails (a mapping the model cannot take, ops the
            device cannot run), naming the field with the model, system and mapping.
    """
    env = simpy.Environment()
    d = Deployment(env, plan, ServingCluster(env, plan.system), steps=[] if trace else None,
                   xfers=[] if trace else None)
    for r in plan.roles:
        m = r.mapping
        pool_model = plan.system.pool(r.pool).model
        cost = StepCostModel(model, pool_model, m, skew=skew, weight_dtype=weight_dtype,
                             facts=facts)
        d.costs.append(cost)
        _probe(cost, r.role, facts.name, getattr(pool_model, "name", ""), m)
        senders = facts.kv_shards(m.tp) * m.pp
        lanes: list[Lane] = []
        for i in range(m.instances):
            inst = d.cluster.add(r.role, r.pool, i, m.instance_gpus, m.pp, senders)
            for stream in range(m.pp):
                lanes.append(Lane(env, "prefill" if r.role == "prefill" else "mixed", inst,
                                  stream, cost, r.lane_tokens, token_budget * m.instance_dp,
                                  chunk_size or token_budget, max_seqs * m.instance_dp,
                                  trace=d.steps))
        d.lanes[r.role] = lanes
    if "prefill" in d.lanes:
        # a route the KV cannot take fails here, not in the middle of the run
        src, dst = d.lanes["prefill"][0].instance, d.lanes["decode"][0].instance
        d.cluster.transfer_cost(d.cluster.route(src, dst), 1.0)
        d.transfers = Transfers(env, d.cluster, Router(d.lanes["decode"]),
                                facts.kv_bytes_per_token, d.xfers)
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
