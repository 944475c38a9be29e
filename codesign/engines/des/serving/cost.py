"""``StepCostModel``: the time and energy of one engine iteration, from the analytical engine.

One iteration of a continuous-batching engine runs some prefill chunks and one decode token
for each decoding request. Its cost comes from :func:`codesign.evaluate.evaluate_model` on the
instance's mapping, evaluated at grid points and interpolated, with results cached (LRU), so a
run of 10,000 requests needs a few dozen to a few hundred evaluations:

* decode: per-rank batch ``ceil(batch / dp)`` and the mean context of the decoding requests,
  bilinear between grid points (batch: 1, 2, 3, 4, 6, 8, 12, ...; context: 0, 16, 24, 32, 48,
  ...: powers of two and 1.5x powers of two, so a grid cell spans at most 1.5x).
* prefill: per-rank tokens ``max(ceil(tokens / dp), largest chunk)`` (a chunk lives on one
  attention-DP rank), priced as one sequence of that many tokens without a cached prefix,
  linear between grid points.

Approximations (stated, not hidden):

* a mixed iteration costs ``prefill(chunk tokens) + decode(batch)``: the weights are read
  twice where a fused kernel reads them once, so mixed steps are an upper bound;
* chunked-prefill attention to earlier chunks of the same prompt is not charged (a chunk is
  priced as a fresh sequence of its own length);
* routing skew: ``skew >= 1`` multiplies the MoE part of a step (grouped GEMMs and the
  dispatch/combine all-to-all, where the hottest expert rank sets the pace); the extra time is
  charged at idle power on every GPU of the instance;
* pipeline parallelism: a micro-batch's pass costs the full model on a TP group (each stage
  runs ``1/pp`` of the layers in turn) plus ``pp - 1`` activation sends between stages; the
  instance runs ``pp`` micro-batches at once (``codesign.engines.des.serving.lane``);
* sequence parallelism (``tp > 1`` with ``ep > 1``): a pass whose tokens per attention-DP
  rank do not divide by ``tp`` (a decode step of one sequence on TP8) is priced with those
  tokens zero-padded to the next multiple of ``tp``, as TP+SP engines pad before the
  reduce-scatter: the padding rows cost norms, MoE and SP collectives, not attention
  (the workload family's graph builder).

Energy: a step's joules are the devices' (``meta["energy"]["devices_j"]`` of the engine run);
the network hardware's power is charged over the whole run by the simulation
(``System.network_power_w``), not per step, so it is not counted twice.

Speed: interpolation coefficients are cached per decode cell (batch per rank, context cell)
and per prefill size, so pricing an iteration is a couple of dict look-ups and one
multiply-add; no work per token or per request.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from codesign.engines.des.serving.facts import ModelFacts
from codesign.engines.des.serving.mapping import ServingMapping, check_model_mapping

MOE_KINDS = ("grouped_gemm", "dispatch", "combine")

#: evaluations shared by every StepCostModel of the process: (model, system, mapping, point)
#: -> (seconds, joules, MoE seconds); least recently used dropped past ``_SHARED_SIZE``
_SHARED: OrderedDict[tuple[Any, ...], tuple[float, float, float]] = OrderedDict()
_SHARED_SIZE = 8192


def clear_cache() -> None:
    """Forget the evaluations shared across runs (after changing a model or device file)."""
    _SHARED.clear()


_GRID = sorted({round(m * 2**k) for k in range(0, 34) for m in (1.0, 1.5)})


def _grid_ctx() -> list[int]:
    return [0, *[g for g in _GRID if g >= 16]]


_GRID_CTX = _grid_ctx()


def _bracket(grid: list[int], x: float) -> tuple[int, int, float]:
    """Grid points ``lo <= x <= hi`` and the weight of ``hi``."""
    if x <= grid[0]:
        return grid[0], grid[0], 0.0
    i = bisect.bisect_left(grid, x)
    if i >= len(grid):
        return grid[-1], grid[-1], 0.0
    hi = grid[i]
    if hi == x:
        return hi, hi, 0.0
    lo = grid[i - 1]
    return lo, hi, (x - lo) / (hi - lo)


@dataclass(frozen=True, slots=True)
class StepCost:
    """One iteration: seconds on the instance, joules over all its GPUs."""

    time_s: float
    energy_j: float

    def __add__(self, other: StepCost) -> StepCost:
        return StepCost(self.time_s + other.time_s, self.energy_j + other.energy_j)


ZERO = StepCost(0.0, 0.0)


class StepCostModel:
    """Prices iterations of one instance of ``mapping`` (``model`` on ``system``).

    Args:
        model: model name or config path (as ``evaluate_model`` takes).
        system: the pool's model (a device behind its fabric, ``System.pools[name].model``),
            or anything else ``evaluate_model`` accepts as ``hw``.
        mapping: the instance's parallelism (its ``redundant_experts`` go to the graph's
            ``ParallelSpec``).
        skew: routing skew, >= 1 (see module docstring).
        cache_size: grid evaluations kept (LRU).
        weight_dtype: optional weight-format override passed to ``evaluate_model``.
        facts: the model's facts, if already loaded (else loaded from ``model``).

    Raises:
        SpecError: ``ep``/``redundant_experts``: expert parallelism the model cannot take
            (see :func:`codesign.engines.des.serving.mapping.check_model_mapping`).
    """

    def __init__(self, model: str, system: Any, mapping: ServingMapping, *,
                 skew: float = 1.0, cache_size: int = 4096, weight_dtype: str | None = None,
                 facts: ModelFacts | None = None) -> None:
        facts = facts or ModelFacts.load(model, weight_dtype)
        check_model_mapping(facts, mapping, "mapping")
        self.facts = facts
        self.model = model
        self.system = system
        self.mapping = mapping
        self.skew = skew
        self.weight_dtype = weight_dtype
        self.dp = mapping.instance_dp
        self.world = mapping.tp * self.dp  # GPUs of one pass (one pipeline stage's share)
        self.evaluations = 0
        self._cache: OrderedDict[tuple[str, int, int], tuple[float, float]] = OrderedDict()
        self._cache_size = cache_size
        spec = getattr(system, "spec", None)
        sys_key = (spec.model_dump_json() if spec is not None else id(system),
                   getattr(system, "name", ""))
        self._key = (model, sys_key, mapping.tp, self.dp, mapping.ep, mapping.redundant_experts,
                     weight_dtype)
        self._idle_w = float(getattr(system, "idle_power_w", 0.0))
        self._p2p: dict[int, float] = {}
        self._dec: dict[tuple[int, int], tuple[float, float, float, float, float]] = {}
        self._pre: dict[int, tuple[float, float]] = {}

    @property
    def points(self) -> int:
        """Grid points this model has priced (from the engine or the shared cache)."""
        return len(self._cache)

    # ------------------------------------------------------------------ grid points
    def point(self, phase: str, per_rank: int, context: int) -> tuple[float, float]:
        """(seconds, joules) of one pass at a grid point: ``per_rank`` sequences per rank
        (decode) or tokens per rank (prefill), ``context`` cached tokens (decode)."""
        key = (phase, per_rank, context)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        m = self.mapping
        t, e, moe = self._evaluate(phase, per_rank, context)
        if self.skew != 1.0:
            extra = (self.skew - 1.0) * moe
            t += extra
            e += extra * self._idle_w * self.world
        if m.pp > 1:  # per_rank: tokens of a prefill, or sequences of one decode token
            t += (m.pp - 1) * self._p2p_time(per_rank)
        out = (t, e)
        self._cache[key] = out
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def _evaluate(self, phase: str, per_rank: int, context: int) -> tuple[float, float, float]:
        """(seconds, joules, MoE seconds) of one pass from the analytical engine (shared
        cache first)."""
        skey = (*self._key, phase, per_rank, context)
        hit = _SHARED.get(skey)
        if hit is not None:
            _SHARED.move_to_end(skey)
            return hit
        from codesign.evaluate import evaluate_model

        m = self.mapping
        if phase == "decode":
            batch, ctx = per_rank * self.dp, context
        else:
            batch, ctx = self.dp, per_rank
        # memory is the simulation's to check (KV budget, largest request); a grid point
        # bracketing the largest batch may exceed it, and is still a valid interpolation end
        r = evaluate_model(self.model, phase, batch, ctx, self.system,  # type: ignore[arg-type]
                           tp=m.tp, dp=self.dp, ep=m.ep, redundant_experts=m.redundant_experts,
                           weight_dtype=self.weight_dtype, ignore_memory=True)
        self.evaluations += 1
        moe = sum(v for k, v in r.time_by("kind").items() if k in MOE_KINDS)
        en = r.meta["energy"]
        out = (r.latency_s, en["devices_j"] + en["links_j"], moe)
        _SHARED[skey] = out
        if len(_SHARED) > _SHARED_SIZE:
            _SHARED.popitem(last=False)
        return out

    def _p2p_time(self, tokens: int) -> float:
        """One activation send between pipeline stages (BF16 hidden states of ``tokens``)."""
        t = self._p2p.get(tokens)
        if t is None:
            nbytes = tokens * self.facts.hidden_size * 2.0 / self.mapping.tp
            spec = getattr(self.system, "spec", None)
            intra = spec is None or self.mapping.instance_gpus <= spec.gpus_per_node
            if intra:
                t = self.system.collective("send_recv", nbytes, 2).time_s
            else:
                t = self.system.inter("send_recv", nbytes, 2).time_s
            self._p2p[tokens] = t
        return t

    # ------------------------------------------------------------------ interpolation
    def decode(self, batch: int, mean_context: float) -> StepCost:
        """One decode token for ``batch`` sequences of ``mean_context`` cached tokens."""
        if batch <= 0:
            return ZERO
        return StepCost(*self._decode_te(batch, mean_context))

    def _decode_cell(self, b: int, cell: int) -> tuple[float, float, float, float, float]:
        """Bilinear interpolation is linear in context inside one grid cell at a fixed
        batch: (c0, seconds at c0, seconds per token, joules at c0, joules per token)."""
        b0, b1, wb = _bracket(_GRID, b)
        c0 = _GRID_CTX[cell]
        c1 = _GRID_CTX[cell + 1] if cell + 1 < len(_GRID_CTX) else c0

        def at(c: int) -> tuple[float, float]:
            t0, e0 = self.point("decode", b0, c)
            if not wb:
                return t0, e0
            t1, e1 = self.point("decode", b1, c)
            return (1 - wb) * t0 + wb * t1, (1 - wb) * e0 + wb * e1

        ta, ea = at(c0)
        if c1 == c0:
            return c0, ta, 0.0, ea, 0.0
        tb, eb = at(c1)
        return c0, ta, (tb - ta) / (c1 - c0), ea, (eb - ea) / (c1 - c0)

    def _decode_te(self, batch: int, mean_context: float) -> tuple[float, float]:
        b = -(-batch // self.dp)
        c = mean_context if mean_context > 0 else 0.0
        cell = bisect.bisect_right(_GRID_CTX, c) - 1
        coef = self._dec.get((b, cell))
        if coef is None:
            coef = self._dec[(b, cell)] = self._decode_cell(b, cell)
        c0, t0, st, e0, se = coef
        return t0 + st * (c - c0), e0 + se * (c - c0)

    def _prefill_te(self, per_rank: int) -> tuple[float, float]:
        hit = self._pre.get(per_rank)
        if hit is not None:
            return hit
        lo, hi, w = _bracket(_GRID, per_rank)
        t0, e0 = self.point("prefill", lo, 0)
        if not w:
            out = (t0, e0)
        else:
            t1, e1 = self.point("prefill", hi, 0)
            out = ((1 - w) * t0 + w * t1, (1 - w) * e0 + w * e1)
        self._pre[per_rank] = out
        return out

    def prefill(self, tokens: int, largest_chunk: int = 0) -> StepCost:
        """Prefill of ``tokens`` new tokens over the instance (largest single chunk
        ``largest_chunk``)."""
        if tokens <= 0:
            return ZERO
        return StepCost(*self._prefill_te(max(-(-tokens // self.dp), largest_chunk)))

    def step_te(self, prefill_tokens: int, largest_chunk: int, decode_batch: int,
                decode_context: float) -> tuple[float, float]:
        """:meth:`step` as ``(seconds, joules)`` (the simulation's hot path)."""
        if prefill_tokens <= 0:
            if decode_batch <= 0:
                return 0.0, 0.0
            return self._decode_te(decode_batch, decode_context)
        p = self._prefill_te(max(-(-prefill_tokens // self.dp), largest_chunk))
        if decode_batch <= 0:
            return p
        d = self._decode_te(decode_batch, decode_context)
        return p[0] + d[0], p[1] + d[1]

    def step(self, prefill_tokens: int, largest_chunk: int, decode_batch: int,
             decode_context: float) -> StepCost:
        """A mixed iteration: ``prefill(...) + decode(...)`` (upper bound, see module doc)."""
        return StepCost(*self.step_te(prefill_tokens, largest_chunk, decode_batch,
                                      decode_context))
