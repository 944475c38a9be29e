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
    """Sends each request to the least-loaded lane of a role (ties: the lowest index)."""

    def __init__(self, lanes: Sequence[Lane]) -> None:
        self.lanes = list(lanes)

    def pick(self) -> Lane:
        lanes = self.lanes
        best = lanes[0]
        low = len(best.waiting) + len(best.running)
        for lane in lanes[1:]:
            n = len(lane.waiting) + len(lane.running)
            if n < low:
                best, low = lane, n
        return best


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


def run_simulation(env: simpy.Environment, wl: Workload, entry: Sequence[Lane],
                   lanes: Sequence[Lane]) -> Results:
    """Run every request of ``wl`` through the ``entry`` lanes (and on, by transfers) to
    completion.

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
    env.run()
    if count[0] != n:
        raise CodesignError(f"serving simulation stalled: {count[0]} of {n} requests "
                            "finished")
    return Results(np.frombuffer(first, dtype=np.float64), np.frombuffer(finish),
                   np.frombuffer(xfer), np.frombuffer(gen, dtype=np.int64),
                   np.frombuffer(pre, dtype=np.int64))
