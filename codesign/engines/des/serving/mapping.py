"""Serving mappings: how a model is split over the GPUs of a system, and its KV-cache room.

An *instance* is a group of GPUs that runs one scheduler and steps in lockstep:

* ``ep == 1`` (dense models, or MoE with tensor-parallel experts): one instance is a
  ``tp x pp`` group; ``dp`` instances run independently (vLLM-style data parallelism).
* ``ep > 1`` (MoE with expert parallelism): the ``dp`` attention data-parallel ranks of
  ``tp`` GPUs each meet in every MoE layer's all-to-all, so the ``tp x dp x pp`` GPUs form one
  instance (DeepSeek's serving units); ``instances`` such units serve side by side.

Memory per GPU: the workload family's ``footprint`` (what ``evaluate_model`` checks):
weights other than routed experts split over ``tp`` GPUs (replicated over attention data
parallelism); routed experts (plus ``redundant_experts`` replicas) over ``ep`` GPUs, or over
``tp`` when ``ep == 1``; each pipeline stage holds its layers' share (the busiest stage
counts). Activations and workspace are covered by ``memory_fraction`` (vLLM's
``gpu_memory_utilization``, default 0.9). KV heads split over ``min(tp, kv_heads)`` GPUs
(MLA's latent cannot be split by heads, so TP ranks replicate it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codesign.engines.des.serving.facts import ModelFacts
from codesign.errors import SpecError


@dataclass(frozen=True, slots=True)
class ServingMapping:
    """Parallelism of one kind of instance and how many such instances serve.

    Attributes:
        tp: tensor parallel degree (attention heads, dense FFNs).
        dp: attention data-parallel ranks; with ``ep > 1`` inside one instance, with
            ``ep == 1`` the number of independent instances (see module docstring).
        ep: expert parallel degree (1: experts split like dense FFNs).
        pp: pipeline stages (see ``codesign.engines.des.serving.cost``).
        instances: instances of this mapping.
        redundant_experts: extra expert replicas (DeepSeek's EPLB).
    """

    tp: int = 1
    dp: int = 1
    ep: int = 1
    pp: int = 1
    instances: int = 1
    redundant_experts: int = 0

    @property
    def instance_dp(self) -> int:
        """Attention data-parallel ranks stepping together in one instance."""
        return self.dp if self.ep > 1 else 1

    @property
    def instance_gpus(self) -> int:
        return self.tp * self.pp * self.instance_dp

    @property
    def gpus(self) -> int:
        return self.instance_gpus * self.instances

    def label(self) -> str:
        s = f"tp={self.tp},dp={self.dp},ep={self.ep},pp={self.pp}"
        if self.redundant_experts:
            s += f",redundant_experts={self.redundant_experts}"
        return s + f",instances={self.instances}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "instance_gpus": self.instance_gpus, "gpus": self.gpus}

    def check(self, field: str) -> None:
        for name in ("tp", "dp", "ep", "pp", "instances"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SpecError(f"{field}.{name}" if field != "mapping" else name,
                                f"must be an integer >= 1, got {v!r}")
        if self.redundant_experts < 0:
            raise SpecError("redundant_experts", f"must be >= 0, got {self.redundant_experts}")
        if self.ep > 1 and self.ep > self.tp * self.dp:
            raise SpecError(field, f"{self.label()}: ep={self.ep} exceeds tp*dp="
                                   f"{self.tp * self.dp}")


def parse_mapping(text: str, field: str) -> ServingMapping:
    """A mapping from ``"tp=1,dp=32,ep=32,instances=1"`` (missing keys default to 1,
    ``redundant_experts`` to 0; ``-`` may stand for ``_`` in key names)."""
    keys = {"tp", "dp", "ep", "pp", "instances", "redundant_experts"}
    kw: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        k = k.strip().replace("-", "_")
        if not sep or k not in keys:
            raise SpecError(field, f"expected key=value pairs, got {part.strip()!r}", sorted(keys))
        try:
            kw[k] = int(v)
        except ValueError:
            raise SpecError(field, f"{k} must be an integer, got {v.strip()!r}") from None
    m = ServingMapping(**kw)
    m.check(field)
    return m


def check_model_mapping(facts: ModelFacts, m: ServingMapping, field: str = "mapping") -> None:
    """Check the expert parallelism and expert replicas of ``m`` against the model.

    Each EP rank holds whole experts, so the expert slots (routed experts plus
    ``redundant_experts`` replicas) must divide over ``ep``; DeepSeek-V3's decode layout on
    144 GPUs, for example, needs 32 replicas (288 slots, 2 per GPU). Replicas need expert
    parallelism: with ``ep == 1`` every GPU holds a TP slice of every expert.

    Raises:
        SpecError: ``{field}.ep`` or ``{field}.redundant_experts`` (``ep`` or
            ``redundant_experts`` when ``field`` is ``mapping``, the colocated flags): expert
            parallelism or replicas on a model without experts, replicas with ``ep == 1``,
            or expert slots that do not divide over ``ep``.
    """
    def name(key: str) -> str:
        return key if field == "mapping" else f"{field}.{key}"

    n = facts.experts
    if n is None:
        if m.ep > 1:
            raise SpecError(name("ep"), f"{facts.name} has no experts (expert parallelism "
                                        "needs a MoE model)", [1])
        if m.redundant_experts:
            raise SpecError(name("redundant_experts"), f"{facts.name} has no experts to "
                                                       "replicate", [0])
        return
    if m.redundant_experts and m.ep == 1:
        raise SpecError(name("redundant_experts"), f"{m.redundant_experts} expert replicas need "
                        "expert parallelism (ep > 1): with ep=1 every GPU holds a TP slice of "
                        "every expert", [0])
    slots = n + m.redundant_experts
    if slots % m.ep:
        fewest = -n % m.ep
        fix = f"redundant_experts={fewest} ({n + fewest} slots, {(n + fewest) // m.ep} per rank)"
        key = "redundant_experts" if m.redundant_experts else "ep"
        raise SpecError(name(key), f"ep={m.ep} does not divide the {slots} expert slots of "
                        f"{facts.name} ({n} routed + {m.redundant_experts} redundant_experts); "
                        f"each EP rank holds whole experts, so ep must divide routed + "
                        f"redundant experts: use {fix} or an ep that divides {slots}")


@dataclass(frozen=True, slots=True)
class KvBudget:
    """KV-cache room of one instance on its pool. Tokens; bytes per GPU.

    ``rank_tokens`` is 0 when the weights alone leave no room (only kept with
    ``ignore_memory``); ``fits`` says whether the weights leave any KV room at all.
    """

    pool: str
    weight_bytes_per_gpu: float
    usable_bytes_per_gpu: float
    device_bytes: float
    kv_bytes_per_token: float  # one GPU's share of one token's KV
    rank_tokens: int  # one attention-DP rank (a request's KV lives on one rank)
    instance_tokens: int  # all ranks of the instance

    @property
    def fits(self) -> bool:
        return self.rank_tokens >= 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kv_budget(facts: ModelFacts, m: ServingMapping, memory_bytes: float,
              memory_fraction: float, field: str = "mapping", pool: str = "gpus",
              ignore_memory: bool = False) -> KvBudget:
    """KV tokens that fit an instance of ``m`` on GPUs of ``memory_bytes`` in ``pool``.

    Raises:
        SpecError: ``field``: the weights alone exceed the usable memory (unless
            ``ignore_memory``); the message names the pool and the bytes needed and
            available.
    """
    w = facts.weights_per_gpu(m)
    usable = memory_bytes * memory_fraction
    kv_gpu = facts.kv_bytes_per_gpu_token(m)
    free = usable - w
    rank = int(free // kv_gpu) if free > 0 else 0
    if rank < 1 and not ignore_memory:
        raise SpecError(field, f"{m.label()} does not fit pool {pool!r}: it needs "
                               f"{w / 1e9:.1f} GB of weights per GPU plus KV-cache room, "
                               f"{usable / 1e9:.1f} GB are usable ({memory_fraction:g} of "
                               f"{memory_bytes / 1e9:.1f} GB); use more GPUs per instance "
                               "(--tp/--ep/--pp), or --ignore-memory to simulate anyway")
    return KvBudget(pool, w, usable, memory_bytes, kv_gpu, rank, rank * m.instance_dp)


def _moe_ep(facts: ModelFacts, limit: int, redundant: int) -> int:
    assert facts.experts is not None
    n = facts.experts + redundant
    return max(e for e in range(1, max(1, limit) + 1) if n % e == 0)


def choose_mapping(facts: ModelFacts, gpus: int, gpus_per_node: int, memory_bytes: float,
                   memory_fraction: float, *, tp: int | None = None, dp: int | None = None,
                   ep: int | None = None, pp: int | None = None,
                   redundant_experts: int = 0, field: str = "mapping",
                   pool: str = "gpus", ignore_memory: bool = False
                   ) -> tuple[ServingMapping, str]:
    """The mapping to serve the model on ``gpus`` GPUs of ``pool``, and why (given values
    are kept). ``field`` names the mapping in errors (``mapping``, ``prefill``,
    ``decode``).

    Defaults: MoE models get attention data parallelism with expert parallelism over every
    GPU of an instance (EP = the largest divisor of the expert count <= the GPUs, DeepSeek's
    serving layout); dense models the smallest power-of-two TP (<= 8 and one node) whose
    weights leave at least half the usable memory to the KV cache, with DP over the rest
    (more replicas serve more requests; TP beyond what memory needs mostly adds all-reduce).

    Raises:
        SpecError: ``field``: more GPUs than the pool has, or weights that do not fit
            (unless ``ignore_memory``); ``ep``/``redundant_experts``: see
            :func:`check_model_mapping`.
    """
    for name, v in (("tp", tp), ("dp", dp), ("ep", ep), ("pp", pp)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise SpecError(name, f"must be an integer >= 1, got {v!r}")
    pp_ = pp or 1
    usable = memory_bytes * memory_fraction
    use_ep = facts.is_moe and ep != 1
    if use_ep:
        tp_ = tp or 1
        if ep is None:
            base = tp_ * dp if dp is not None else gpus // pp_
            ep_ = _moe_ep(facts, base, redundant_experts)
        else:
            ep_ = ep
        dp_ = dp if dp is not None else max(1, -(-ep_ // tp_))
        inst = max(1, gpus // (tp_ * dp_ * pp_))
        m = ServingMapping(tp_, dp_, ep_, pp_, inst, redundant_experts)
        why = ("MoE default: attention data parallel (DP) with expert parallelism over all GPUs "
               "of an instance (EP = largest divisor of the expert count <= GPUs)")
        if any(v is not None for v in (tp, dp, ep, pp)):
            why = "given values kept; the rest by the MoE default (DP attention, EP = DP x TP)"
    else:
        if tp is None:
            limit = max(1, min(8, gpus_per_node, gpus // pp_))
            cands = [t for t in (1, 2, 4, 8) if t <= limit]
            tp_ = cands[-1]
            for t in cands:
                m_t = ServingMapping(t, 1, 1, pp_, 1, redundant_experts)
                if facts.weights_per_gpu(m_t) <= 0.5 * usable:
                    tp_ = t
                    break
            why = ("dense default: smallest power-of-two TP (<= 8, within a node) whose weights "
                   "leave half the usable memory to the KV cache; DP over the remaining GPUs")
        else:
            tp_ = tp
            why = "given values kept; DP over the remaining GPUs"
        dp_ = dp if dp is not None else max(1, gpus // (tp_ * pp_))
        m = ServingMapping(tp_, dp_, 1, pp_, dp_, redundant_experts)
        if tp is not None and dp is not None:
            why = "given values kept"
    m.check(field)
    check_model_mapping(facts, m, field)
    if m.gpus > gpus:
        where = "the system has" if field == "mapping" else f"pool {pool!r} has"
        raise SpecError(field, f"{m.label()} needs {m.gpus} GPUs, {where} {gpus}")
    kv_budget(facts, m, memory_bytes, memory_fraction, field, pool, ignore_memory)
    return m, why
