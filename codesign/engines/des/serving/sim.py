"""The serving simulation (SimPy): arrivals, continuous-batching schedulers, KV transfers.

Processes (``env`` passed in, no globals):

* the arrival process hands each request, at its arrival time, to the least-loaded lane
  (fewest waiting plus running requests; ties to the lowest index) of the entry pool;
* one scheduler process per *lane* (an instance, or one of the ``pp`` micro-batch streams of
  a pipelined instance) runs iterations back to back while it has work, vLLM-style:

  1. every running request past its prefill decodes one token (one KV slot each); when the
     KV cache cannot hold them, the newest running request is preempted by recompute (its KV
     freed, back to the front of the waiting queue, its prompt and the tokens generated so
     far to be prefilled again);
  2. running requests with prefill left get a chunk (at most ``chunk_size`` tokens, within
     the token budget and the free KV);
  3. waiting requests are admitted in FIFO order while the token budget, ``max_seqs`` and
     the free KV allow their first chunk;
  4. the iteration takes ``StepCostModel.step`` seconds; a request whose prefill completes
     in it emits its first token at its end, each decoding request one more token.

* with prefill/decode disaggregation, a request whose prefill completes on a prefill lane
  keeps its KV there while it is sent to the least-loaded decode lane (one transfer per NIC
  of the prefill instance at a time); the transfer takes ``system.collective("send_recv",
  bytes, 2)`` inside one node or the scale-out ``send_recv`` time across nodes, with the KV
  split over the GPUs that hold it; then the decode lane admits it when its KV cache has
  room, and it decodes from there.

KV capacity is pooled per lane (attention-DP ranks share one pool: an approximation; a single
request must fit one rank's pool, which ``api.simulate`` checks up front).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from codesign.engines.des.serving.cost import StepCostModel
from codesign.engines.des.serving.workload import Request
from codesign.errors import CodesignError


class RequestState:
    """A request's progress through the engine (mutable; one per request)."""

    __slots__ = ("computed", "finish_s", "first_token_s", "generated", "index", "kv", "need",
                 "output", "preemptions", "prompt", "req", "running", "transfer_s")

    def __init__(self, index: int, req: Request) -> None:
        self.index = index
        self.req = req
        self.prompt = req.prompt_tokens
        self.output = req.output_tokens
        self.need = req.prompt_tokens  # tokens whose KV must be computed before decoding
        self.computed = 0
        self.kv = 0  # KV tokens held on the current lane
        self.generated = 0
        self.first_token_s = -1.0
        self.finish_s = -1.0
        self.preemptions = 0
        self.transfer_s = 0.0
        self.running = False


@dataclass
class LaneStats:
    """What a lane did: seconds busy, joules, iterations, preemptions, peak KV tokens."""

    busy_s: float = 0.0
    energy_j: float = 0.0
    gpu_s: float = 0.0  # GPU-seconds covered by step energies
    iterations: int = 0
    preemptions: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    kv_peak: int = 0


@dataclass
class Lane:
    """One scheduler: a queue of waiting requests, a running batch and a KV pool (tokens)."""

    env: simpy.Environment
    name: str
    role: str  # "mixed" (prefills and decodes) or "prefill" (hands requests off after it)
    instance: int
    stream: int
    cost: StepCostModel
    kv_tokens: int
    budget: int
    chunk: int
    max_seqs: int
    on_prefilled: Callable[[RequestState, Lane], None] | None = None
    trace: list[tuple[Any, ...]] | None = None
    stats: LaneStats = field(default_factory=LaneStats)

    def __post_init__(self) -> None:
        self.waiting: deque[RequestState] = deque()
        self.running: list[RequestState] = []
        self.kv_used = 0
        self._wake = self.env.event()
        self.gpus = self.cost.world

    # ------------------------------------------------------------------ interface
    @property
    def load(self) -> int:
        return len(self.waiting) + len(self.running)

    def submit(self, r: RequestState) -> None:
        self.waiting.append(r)
        self._poke()

    def free(self, tokens: int) -> None:
        self.kv_used -= tokens
        self._poke()

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    # ------------------------------------------------------------------ scheduling
    def _preempt_newest(self) -> RequestState:
        v = self.running.pop()
        self.kv_used -= v.kv
        v.kv = 0
        v.computed = 0
        v.need = v.prompt + v.generated
        v.running = False
        v.preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(v)
        return v

    def _schedule(self) -> tuple[list[RequestState], list[tuple[RequestState, int]]]:
        running = self.running
        n_dec = sum(1 for r in running if r.computed >= r.need)
        preempted = False
        while n_dec > self.kv_tokens - self.kv_used and running:
            self._preempt_newest()
            preempted = True
            n_dec = sum(1 for r in running if r.computed >= r.need)
        decodes = [r for r in running if r.computed >= r.need]
        budget = self.budget - len(decodes)
        free = self.kv_tokens - self.kv_used - len(decodes)
        chunks: list[tuple[RequestState, int]] = []
        for r in running:
            if r.computed < r.need and budget > 0 and free > 0:
                c = min(r.need - r.computed, self.chunk, budget, free)
                chunks.append((r, c))
                budget -= c
                free -= c
        # admission stops for an iteration that preempted (vLLM does the same): a victim
        # re-admitted at once would be evicted again next iteration
        waiting = self.waiting
        while not preempted and waiting and budget > 0 and len(running) < self.max_seqs:
            r = waiting[0]
            if r.computed >= r.need:  # KV arrived by transfer: decode right away
                if free < r.need + 1:
                    break
                r.kv = r.need
                self.kv_used += r.need
                free -= r.need + 1
                budget -= 1
                decodes.append(r)
            else:
                c = min(r.need - r.computed, self.chunk, budget)
                if free < c:
                    break
                chunks.append((r, c))
                budget -= c
                free -= c
            waiting.popleft()
            r.running = True
            running.append(r)
        for r in decodes:
            r.kv += 1
        for r, c in chunks:
            r.kv += c
        self.kv_used += len(decodes) + sum(c for _, c in chunks)
        return decodes, chunks

    def run(self, done: Callable[[RequestState], None]) -> Any:
        """The scheduler process (a SimPy generator)."""
        env, st = self.env, self.stats
        while True:
            if not self.waiting and not self.running:
                self._wake = env.event()
                yield self._wake
                continue
            decodes, chunks = self._schedule()
            if not decodes and not chunks:
                if self.running:  # prefills stuck on KV: free the newest one's
                    self._preempt_newest()
                    continue
                self._wake = env.event()  # waiting on KV held by transfers
                yield self._wake
                continue
            ptok = sum(c for _, c in chunks)
            ctx = sum(r.kv for r in decodes) / len(decodes) if decodes else 0.0
            cost = self.cost.step(ptok, max((c for _, c in chunks), default=0), len(decodes),
                                  ctx)
            start = env.now
            st.kv_peak = max(st.kv_peak, self.kv_used)
            yield env.timeout(cost.time_s)
            now = env.now
            st.busy_s += cost.time_s
            st.energy_j += cost.energy_j
            st.gpu_s += cost.time_s * self.gpus
            st.iterations += 1
            st.prefill_tokens += ptok
            st.decode_tokens += len(decodes)
            if self.trace is not None:
                self.trace.append((self.instance, self.stream, start, cost.time_s,
                                   len(decodes), ptok, len(chunks), self.kv_used))
            left = False
            for r, c in chunks:
                r.computed += c
                if r.computed >= r.need:
                    left |= self._emit(r, now, done)
            for r in decodes:
                left |= self._emit(r, now, done)
            if left:
                self.running = [r for r in self.running if r.running]

    def _emit(self, r: RequestState, now: float, done: Callable[[RequestState], None]) -> bool:
        """A token for ``r`` at ``now``; True when ``r`` leaves this lane."""
        r.generated += 1
        if r.first_token_s < 0:
            r.first_token_s = now
        if r.generated >= r.output:
            r.finish_s = now
            r.running = False
            self.kv_used -= r.kv
            r.kv = 0
            done(r)
            return True
        if self.role == "prefill":
            assert self.on_prefilled is not None
            r.running = False
            self.on_prefilled(r, self)  # KV stays here until the transfer ends
            return True
        return False


class Router:
    """Sends each request to the least-loaded lane of a pool."""

    def __init__(self, lanes: Sequence[Lane]) -> None:
        self.lanes = list(lanes)

    def pick(self) -> Lane:
        return min(self.lanes, key=lambda lane: lane.load)


@dataclass
class Transfers:
    """KV transfers from prefill lanes to decode lanes (disaggregated serving).

    Args:
        time_s: ``time_s(kv_tokens, src_lane, dst_lane)`` -> seconds on the wire.
        links: concurrent transfers each prefill instance can run.
    """

    env: simpy.Environment
    decode: Router
    time_s: Callable[[int, Lane, Lane], float]
    links: int
    trace: list[tuple[Any, ...]] | None = None
    busy_s: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self._res: dict[int, simpy.Resource] = {}

    def start(self, r: RequestState, src: Lane) -> None:
        self.env.process(self._run(r, src))

    def _run(self, r: RequestState, src: Lane) -> Any:
        env = self.env
        res = self._res.get(src.instance)
        if res is None:
            res = self._res[src.instance] = simpy.Resource(env, capacity=self.links)
        dst = self.decode.pick()
        t0 = env.now
        t = self.time_s(r.kv, src, dst)
        with res.request() as q:
            yield q
            start = env.now
            yield env.timeout(t)
        self.busy_s += t
        self.count += 1
        if self.trace is not None:
            self.trace.append((src.instance, r.index, start, t, r.kv, dst.instance))
        src.free(r.kv)
        r.transfer_s += env.now - t0
        r.kv = 0
        r.need = r.prompt + r.generated
        r.computed = r.need
        dst.submit(r)


def run_simulation(requests: Sequence[Request], entry: Sequence[Lane],
                   all_lanes: Sequence[Lane], env: simpy.Environment) -> list[RequestState]:
    """Run every request through ``entry`` lanes (and on, by transfers) to completion."""
    states = [RequestState(i, r) for i, r in enumerate(requests)]
    finished = [0]

    def done(_: RequestState) -> None:
        finished[0] += 1

    for lane in all_lanes:
        env.process(lane.run(done))
    router = Router(entry)

    def arrivals() -> Any:
        for s in states:
            dt = s.req.arrival_s - env.now
            if dt > 0:
                yield env.timeout(dt)
            router.pick().submit(s)

    env.process(arrivals())
    env.run()
    if finished[0] != len(states):
        raise CodesignError(f"serving simulation stalled: {finished[0]} of {len(states)} "
                            "requests finished")
    return states
