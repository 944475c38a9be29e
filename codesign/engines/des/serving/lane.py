"""A continuous-batching scheduler (a *lane*) as a SimPy process, with no per-token work.

A lane is one scheduler: an instance, or one of the ``pp`` micro-batch streams of a
pipelined instance. While it has work it runs iterations back to back, vLLM-style, on a
slot of its instance's compute resource (:mod:`codesign.engines.des.serving.cluster`), held
from the first iteration of a busy period to its last, each iteration taking the step time
the cost model gives:

1. every running request past its prefill decodes one token (one KV slot each); when the KV
   cache cannot hold them, the newest running request is preempted by recompute (its KV
   freed, back to the front of the waiting queue, its prompt and the tokens generated so
   far to be prefilled again; a prefix-cache hit is read again, not recomputed);
2. running requests with prefill left get a chunk (at most ``chunk`` tokens, within the
   token budget and the free KV);
3. waiting requests are admitted in FIFO order while the token budget, ``max_seqs`` and the
   free KV allow their first chunk (plus their cached prefix); a request whose KV arrived by
   transfer is admitted straight into decoding;
4. a request whose prefill completes in the iteration emits its first token at its end (a
   prefill lane then hands it to the KV transfer), each decoding request one more token.

Decoding requests are kept as aggregates, so an iteration costs O(1) plus the requests that
start, finish or are preempted in it, however large the batch: the lane counts its
iterations (``it``); a request that starts decoding at iteration ``join`` with ``kv`` KV
tokens is stored as ``base = kv - it``, so its KV at any later iteration is ``base + it``
and the batch's total KV is ``sum(base) + n * it``; it finishes at iteration
``join + output - generated - 1``, kept in a heap. The order of scheduling decisions, and so
every time the simulation gives, is the one of a per-request loop.

KV capacity is pooled per lane (attention-DP ranks share one pool: an approximation; a single
request must fit one rank's pool, which the deployment checks up front).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import Event

from codesign.engines.des.serving.cluster import Instance
from codesign.engines.des.serving.cost import StepCostModel


class RequestState:
    """A request in flight (one per request from arrival to its last token)."""

    __slots__ = ("base", "cached", "computed", "decoding", "first_token_s", "generated",
                 "hseq", "index", "join", "kv", "need", "output", "preemptions", "prompt",
                 "running", "transfer_s")

    def __init__(self, index: int, prompt: int, output: int, cached: int = 0) -> None:
        self.index = index
        self.prompt = prompt
        self.output = output
        self.cached = cached  # prompt tokens read from a prefix cache, not computed
        self.need = prompt  # tokens whose KV must be there before decoding
        self.computed = cached
        self.kv = 0  # KV tokens held on the current lane (while not decoding)
        self.generated = 0  # while decoding: tokens generated before ``join``
        self.first_token_s = -1.0
        self.transfer_s = 0.0
        self.preemptions = 0
        self.running = False
        self.decoding = False
        self.base = 0
        self.join = 0
        self.hseq = -1


@dataclass
class LaneStats:
    """What a lane did: seconds busy, joules, iterations, preemptions, peak KV tokens."""

    busy_s: float = 0.0
    energy_j: float = 0.0
    gpu_s: float = 0.0  # GPU-seconds covered by step energies
    iterations: int = 0
    preemptions: int = 0
    prefill_tokens: int = 0  # prompt tokens computed (recomputation included)
    decode_tokens: int = 0
    prompt_tokens: int = 0  # prompts (cached prefix included) whose first token came here
    kv_peak: int = 0


#: a finished request: ``done(state, finish_s)``
Done = Callable[[RequestState, float], None]


class Lane:
    """One scheduler: a queue of waiting requests, a running batch and a KV pool (tokens).

    Args:
        role: ``mixed`` (prefills and decodes) or ``prefill`` (hands requests off after it).
        instance: the instance it runs on (its compute resource, its name and index).
        stream: micro-batch stream of the instance (0 without pipeline parallelism).
        cost: prices iterations.
        kv_tokens: KV cache, tokens; budget: tokens per iteration; chunk: largest prefill
            chunk of one request; max_seqs: running requests.
        trace: collects ``(instance, stream, start_s, dur_s, decodes, prefill_tokens,
            chunks, kv_tokens)`` per iteration, if given.
    """

    def __init__(self, env: simpy.Environment, role: str, instance: Instance, stream: int,
                 cost: StepCostModel, kv_tokens: int, budget: int, chunk: int, max_seqs: int,
                 trace: list[tuple[Any, ...]] | None = None) -> None:
        self.env = env
        self.role = role
        self.instance = instance
        self.name = instance.name
        self.stream = stream
        self.cost = cost
        self.kv_tokens = kv_tokens
        self.budget = budget
        self.chunk = chunk
        self.max_seqs = max_seqs
        self.trace = trace
        self.stats = LaneStats()
        self.gpus = cost.world
        self.on_prefilled: Callable[[RequestState, Lane], None] | None = None
        self.waiting: deque[RequestState] = deque()
        self.running: dict[RequestState, None] = {}  # admission order; popitem() = newest
        self.prefilling: dict[RequestState, None] = {}  # running with prefill left, in order
        self.n_dec = 0  # decoding requests
        self.dec_base = 0  # sum of their ``base``
        self.fin: list[tuple[int, int, RequestState]] = []  # (finish iteration, seq, state)
        self.it = 0
        self.seq = 0
        self.kv_used = 0
        self._wake: Event | None = None
        # waiting plus running requests, kept in a list a Router shares among its lanes
        self.loads: list[int] = [0]
        self.slot = 0

    # ------------------------------------------------------------------ interface
    @property
    def load(self) -> int:
        """Waiting plus running requests."""
        return self.loads[self.slot]

    def submit(self, r: RequestState) -> None:
        self.waiting.append(r)
        self.loads[self.slot] += 1
        self._poke()

    def free(self, tokens: int) -> None:
        self.kv_used -= tokens
        self._poke()

    def _poke(self) -> None:
        w = self._wake
        if w is not None:
            self._wake = None
            w.succeed()

    def _sleep(self) -> Event:
        self._wake = ev = self.env.event()
        return ev

    # ------------------------------------------------------------------ decode set
    def _join(self, r: RequestState, kv: int) -> None:
        """``r`` decodes from the next iteration on, holding ``kv`` KV tokens now."""
        it = self.it
        r.decoding = True
        r.base = base = kv - it
        r.join = it + 1
        self.n_dec += 1
        self.dec_base += base
        self.seq += 1
        r.hseq = self.seq
        heappush(self.fin, (it + r.output - r.generated, self.seq, r))

    def _leave(self, r: RequestState) -> None:
        """``r`` stops decoding: its KV and generated tokens become explicit again."""
        it = self.it
        r.decoding = False
        self.n_dec -= 1
        self.dec_base -= r.base
        r.kv = r.base + it
        r.generated += it - r.join + 1
        r.hseq = -1

    # ------------------------------------------------------------------ scheduling
    def _preempt_newest(self) -> None:
        v, _ = self.running.popitem()
        if v.decoding:
            self._leave(v)
        else:
            del self.prefilling[v]
        self.kv_used -= v.kv
        v.kv = 0
        v.computed = v.cached
        v.need = v.prompt + v.generated
        v.running = False
        v.preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(v)

    def _schedule(self) -> tuple[list[tuple[RequestState, int]], int, int]:
        """This iteration's prefill chunks, their tokens and the largest chunk; decoders
        are every running request past its prefill (``n_dec``)."""
        running = self.running
        preempted = False
        while self.n_dec > self.kv_tokens - self.kv_used and running:
            self._preempt_newest()
            preempted = True
        budget = self.budget - self.n_dec
        free = self.kv_tokens - self.kv_used - self.n_dec
        chunks: list[tuple[RequestState, int]] = []
        chunk = self.chunk
        if budget > 0 and free > 0:
            for r in self.prefilling:
                c = min(r.need - r.computed, chunk, budget, free)
                chunks.append((r, c))
                budget -= c
                free -= c
                if budget <= 0 or free <= 0:
                    break
        # admission stops for an iteration that preempted (vLLM does the same): a victim
        # re-admitted at once would be evicted again next iteration
        waiting = self.waiting
        while not preempted and waiting and budget > 0 and len(running) < self.max_seqs:
            r = waiting[0]
            if r.computed >= r.need:  # KV arrived by transfer: decode right away
                if free < r.need + 1:
                    break
                self.kv_used += r.need
                free -= r.need + 1
                budget -= 1
                waiting.popleft()
                r.running = True
                running[r] = None
                self._join(r, r.need)
                continue
            pre = r.computed  # a cached prefix, read into the KV cache
            c = min(r.need - pre, chunk, budget)
            if free < c + pre:
                break
            chunks.append((r, c))
            budget -= c
            free -= c + pre
            r.kv = pre
            self.kv_used += pre
            waiting.popleft()
            r.running = True
            running[r] = None
            self.prefilling[r] = None
        self.it += 1  # every decoder takes one more KV slot
        ptok = big = 0
        for r, c in chunks:
            r.kv += c
            ptok += c
            if c > big:
                big = c
        self.kv_used += self.n_dec + ptok
        return chunks, ptok, big

    def run(self, done: Done) -> Any:
        """The scheduler process (a SimPy generator). It holds a slot of its instance's
        compute resource from the first iteration of a busy period to the last."""
        env, st = self.env, self.stats
        step = self.cost.step_te
        compute = self.instance.compute
        trace = self.trace
        slot: Any = None
        while True:
            if not self.waiting and not self.running:
                self._release(slot)
                slot = None
                yield self._sleep()
                continue
            chunks, ptok, big = self._schedule()
            n = self.n_dec
            if not n and not chunks:
                if self.running:  # prefills stuck on KV: free the newest one's
                    self._preempt_newest()
                    continue
                self._release(slot)
                slot = None
                yield self._sleep()  # waiting on KV held by transfers
                continue
            ctx = (self.dec_base + n * self.it) / n if n else 0.0
            t, e = step(ptok, big, n, ctx)
            if slot is None:
                slot = compute.request()
                if not slot.triggered:
                    yield slot
            start = env.now
            if self.kv_used > st.kv_peak:
                st.kv_peak = self.kv_used
            yield env.timeout(t)
            now = env.now
            st.busy_s += t
            st.energy_j += e
            st.gpu_s += t * self.gpus
            st.iterations += 1
            st.prefill_tokens += ptok
            st.decode_tokens += n
            if trace is not None:
                trace.append((self.instance.index, self.stream, start, t, n, ptok,
                              len(chunks), self.kv_used))
            for r, c in chunks:
                r.computed += c
                if r.computed >= r.need:
                    self._prefilled(r, now, done)
            fin, it = self.fin, self.it
            while fin and fin[0][0] <= it:
                _, seq, r = heappop(fin)
                if r.hseq != seq:  # preempted since
                    continue
                self._leave(r)
                self._finish(r, now, done)

    def _release(self, slot: Any) -> None:
        if slot is not None:
            self.instance.compute.release(slot)

    def _prefilled(self, r: RequestState, now: float, done: Done) -> None:
        """``r``'s prefill completed: its first (or next) token at ``now``."""
        r.generated += 1
        if r.first_token_s < 0:
            r.first_token_s = now
            self.stats.prompt_tokens += r.prompt
        del self.prefilling[r]
        if r.generated >= r.output:
            self._finish(r, now, done)
        elif self.role == "prefill":
            assert self.on_prefilled is not None
            r.running = False
            del self.running[r]
            self.loads[self.slot] -= 1
            self.on_prefilled(r, self)  # KV stays here until the transfer ends
        else:
            self._join(r, r.kv)

    def _finish(self, r: RequestState, now: float, done: Done) -> None:
        r.running = False
        self.kv_used -= r.kv
        r.kv = 0
        del self.running[r]
        self.loads[self.slot] -= 1
        done(r, now)
