"""The serving run on one SimPy environment: arrivals, lanes, KV transfers, results.

Processes and callbacks (``env`` passed in, no globals):

* the arrival process hands each request, at its arrival time, to the least-loaded lane
  (fewest waiting plus running requests; ties to the lowest index) of the entry role;
* one scheduler process per lane (:mod:`codesign.engines.des.serving.lane`), holding its
  instance's compute resource for each iteration;
* with prefill/decode disaggregation, a request whose prefill completes on a prefill lane
  keeps its KV there while it is sent to the least-loaded decode lane: the transfer holds
  the resources of its route (the prefill instance's NVLink or NIC port, and the link
  between the pools when they differ: :mod:`codesign.engines.des.serving.cluster`) for the
  time of one sender's share of the KV; then the decode lane admits it when its KV cache has
  room, and it decodes from there. Transfers are chains of SimPy resource requests and
  timeouts with callbacks (no process per transfer).

Per-request results go to preallocated columns as requests finish; a request's state lives
only while it is in flight, so a run of millions of requests holds the in-flight ones only.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from simpy.events import Event

from codesign.engines.des.serving.cluster import Route, ServingCluster
from codesign.engines.des.serving.lane import Lane, RequestState
from codesign.engines.des.serving.workload import Workload
from codesign.errors import CodesignError


class Router:
    """Sends each request to the least-loaded lane of a role (fewest waiting plus running;
    ties: the lowest index). The lanes keep their loads in one list the router reads."""

    def __init__(self, lanes: Sequence[Lane]) -> None:
        self.lanes = list(lanes)
        self.loads = [lane.load for lane in self.lanes]
        for i, lane in enumerate(self.lanes):
            lane.loads, lane.slot = self.loads, i

    def pick(self) -> Lane:
        loads = self.loads
        return self.lanes[loads.index(min(loads))]


class _Job:
    """One KV transfer walking its route: request each resource, hold them, release."""

    __slots__ = ("dst", "e", "held", "k", "owner", "r", "route", "src", "start", "t", "t0")

    def __init__(self, owner: Transfers, r: RequestState, src: Lane, dst: Lane, route: Route,
                 t: float, e: float) -> None:
        self.owner = owner
        self.r = r
        self.src = src
        self.dst = dst
        self.route = route
        self.t = t
        self.e = e
        self.t0 = owner.env.now
        self.start = 0.0
        self.k = 0
        self.held: list[Any] = []

    def next(self, _: Event | None = None) -> None:
        res = self.route.resources
        if self.k < len(res):
            req = res[self.k].res.request()
            self.k += 1
            self.held.append(req)
            req.callbacks.append(self.next)  # type: ignore[union-attr]
            return
        env = self.owner.env
        self.start = env.now
        tmo = env.timeout(self.t)
        tmo.callbacks.append(self.done)  # type: ignore[union-attr]

    def done(self, _: Event) -> None:
        for link, req in zip(self.route.resources, self.held, strict=True):
            link.res.release(req)
            link.busy_s += self.t
        self.owner.finish(self)


@dataclass
class Transfers:
    """KV transfers from prefill lanes to decode lanes over the cluster's resources.

    Args:
        cluster: instances, ports and links.
        decode: router over the decode lanes.
        kv_bytes_per_token: KV bytes of one token (all layers, before any split).
    """

    env: simpy.Environment
    cluster: ServingCluster
    decode: Router
    kv_bytes_per_token: float
    trace: list[tuple[Any, ...]] | None = None
    busy_s: float = 0.0
    count: int = 0
    energy_j: float = 0.0
    _memo: dict[tuple[int, str, str, str], tuple[float, float]] = field(default_factory=dict)

    def start(self, r: RequestState, src: Lane) -> None:
        dst = self.decode.pick()
        route = self.cluster.route(src.instance, dst.instance)
        key = (r.kv, route.kind, *route.pools)
        te = self._memo.get(key)
        if te is None:
            senders = src.instance.senders
            nbytes = r.kv * self.kv_bytes_per_token / senders
            t, e = self.cluster.transfer_cost(route, nbytes)
            te = self._memo[key] = (t, e * senders)
        _Job(self, r, src, dst, route, te[0], te[1]).next()

    def finish(self, job: _Job) -> None:
        r, t = job.r, job.t
        self.busy_s += t
        self.count += 1
        self.energy_j += job.e
        if self.trace is not None:
            self.trace.append((job.src.instance.index, r.index, job.start, t, r.kv,
                               job.dst.instance.index))
        job.src.free(r.kv)
        r.transfer_s += self.env.now - job.t0
        r.kv = 0
        r.need = r.prompt + r.generated
        r.computed = r.need
        job.dst.submit(r)


@dataclass
class Results:
    """Per-request columns of a finished run (request order)."""

    first_token_s: np.ndarray
    finish_s: np.ndarray
    transfer_s: np.ndarray
    generated: np.ndarray
    preemptions: np.ndarray


#: what the timeline samples per role: lane statistic or state -> key
TIMELINE_KEYS = ("prompt_tokens", "prefill_tokens", "decode_tokens", "waiting", "running",
                 "kv_tokens")


def _sampler(env: simpy.Environment, lanes: Sequence[Lane], every_s: float,
             out: dict[str, Any]) -> Any:
    """Every ``every_s`` seconds, per role: cumulative prompt tokens prefilled (cached
    included), prefill tokens computed and decode tokens; requests waiting and running; KV
    tokens held. Stops when nothing else is left to happen."""
    roles: dict[str, list[Lane]] = {}
    for lane in lanes:
        roles.setdefault(lane.instance.role, []).append(lane)
    out["t_s"] = []
    out["roles"] = {role: {k: [] for k in TIMELINE_KEYS} for role in roles}
    while True:
        out["t_s"].append(float(env.now))
        for role, ls in roles.items():
            col = out["roles"][role]
            col["prompt_tokens"].append(sum(lane.stats.prompt_tokens for lane in ls))
            col["prefill_tokens"].append(sum(lane.stats.prefill_tokens for lane in ls))
            col["decode_tokens"].append(sum(lane.stats.decode_tokens for lane in ls))
            col["waiting"].append(sum(len(lane.waiting) for lane in ls))
            col["running"].append(sum(len(lane.running) for lane in ls))
            col["kv_tokens"].append(sum(lane.kv_used for lane in ls))
        if env.peek() == math.inf:
            return
        yield env.timeout(every_s)


def run_simulation(env: simpy.Environment, wl: Workload, entry: Sequence[Lane],
                   lanes: Sequence[Lane], sample_s: float | None = None,
                   timeline: dict[str, Any] | None = None) -> Results:
    """Run every request of ``wl`` through the ``entry`` lanes (and on, by transfers) to
    completion; with ``sample_s``, fill ``timeline`` (see :func:`_sampler`).

    Raises:
        CodesignError: the run stalled (a request that can never be admitted).
    """
    n = len(wl)
    first = array("d", bytes(8 * n))
    finish = array("d", bytes(8 * n))
    xfer = array("d", bytes(8 * n))
    gen = array("q", bytes(8 * n))
    pre = array("q", bytes(8 * n))
    count = [0]

    def done(s: RequestState, now: float) -> None:
        i = s.index
        first[i] = s.first_token_s
        finish[i] = now
        xfer[i] = s.transfer_s
        gen[i] = s.generated
        pre[i] = s.preemptions
        count[0] += 1

    for lane in lanes:
        env.process(lane.run(done))
    router = Router(entry)
    arrival = wl.arrival_s.tolist()
    prompt = wl.prompt_tokens.tolist()
    output = wl.output_tokens.tolist()
    cached = wl.cached_tokens.tolist()

    def arrivals() -> Any:
        for i in range(n):
            dt = arrival[i] - env.now
            if dt > 0:
                yield env.timeout(dt)
            router.pick().submit(RequestState(i, prompt[i], output[i], cached[i]))

    env.process(arrivals())
    if sample_s is not None:
        assert timeline is not None
        env.process(_sampler(env, lanes, sample_s, timeline))
    env.run()
    if count[0] != n:
        raise CodesignError(f"serving simulation stalled: {count[0]} of {n} requests "
                            "finished")
    return Results(np.frombuffer(first, dtype=np.float64), np.frombuffer(finish),
                   np.frombuffer(xfer), np.frombuffer(gen, dtype=np.int64),
                   np.frombuffer(pre, dtype=np.int64))
