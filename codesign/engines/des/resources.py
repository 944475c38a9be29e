"""SimPy resources of one representative rank: compute stream(s), SMs, host, NVLink, NICs.

Symmetric GPUs are folded: every rank of a deployment runs the same graph at the same time,
so one representative rank is simulated, and its communication ops hold that rank's share of
the links (its NVLink port, one NIC per scale-out plane) for the time ``op_cost`` gives the
whole collective. Switches are folded into the links: with every rank symmetric no switch
port sees more than its rank's NIC, so the NIC is the queue.

* :class:`Stream`: a CUDA stream, one kernel at a time, ops picked from per-micro-batch
  ready queues (lowest micro-batch first, or sticky: keep the micro-batch running until it
  blocks, as DeepSeek's dual micro-batch overlap does).
* :class:`SmArray`: the GPU's SMs as a fluid server. A :class:`simpy.Container` of
  ``sm_count`` SMs; a communication kernel that runs on SMs (NCCL, DeepEP NVLink kernels)
  takes ``comm_sms`` of them while it runs, and compute kernels get the rest: a compute
  kernel progresses at ``free_sms / sm_count`` of its full speed, so overlapped compute is
  stretched by ``sm_count / (sm_count - comm_sms)``. Approximation: throughput in proportion
  to SMs (exact for compute-bound kernels, pessimistic for memory-bound kernels, which reach
  HBM bandwidth with fewer SMs). RDMA transfers driven by the NIC (DeepEP low-latency
  kernels, IBGDA) take no SMs.
  With ``share_by_bound`` (NanoFlow), kernels of concurrent nano-batches share the GPU by
  their bound: compute-bound kernels share the SMs' math throughput, memory-bound kernels the
  HBM bandwidth (k kernels of one bound each run at 1/k speed), and a compute-bound kernel
  beside a memory-bound one slows neither (NanoFlow's premise); launch-bound kernels (fixed
  overheads) overlap freely. Dynamic processor sharing stands in for NanoFlow's searched
  static SM partition; interference between co-running kernels is not modelled.
* :class:`Host`: eager launches, the analytical engine's recurrence (one kernel issued every
  ``launch_overhead_s``; a kernel starts when issued and its stream is free).
* :class:`Link`: a :class:`simpy.Resource` (NVLink port, one NIC per plane: capacity 1;
  the serving simulation's KV ports and links between pools: one slot per sender group).
"""

from __future__ import annotations

from heapq import heappush
from typing import Any

import simpy
from simpy.events import Event

#: a job is finished when less than this much work (seconds at full speed) is left
_EPS_S = 1e-12
#: bounds whose kernels share one unit under NanoFlow-style sharing
_SHARED_BOUNDS = ("compute", "memory")


class Link:
    """One link port: a SimPy resource (capacity 1 for a representative rank's port), with
    the seconds it was held (``busy_s``, summed over its slots)."""

    __slots__ = ("busy_s", "capacity", "name", "res", "tid")

    def __init__(self, env: simpy.Environment, name: str, tid: int, capacity: int = 1) -> None:
        self.name = name
        self.res = simpy.Resource(env, capacity=capacity)
        self.tid = tid
        self.capacity = capacity
        self.busy_s = 0.0


class Stream:
    """A compute stream: ready ops of its micro-batches, one kernel at a time.

    ``heaps[m]`` holds the topological indices of micro-batch ``m``'s ready ops (the
    analytical engine's order within a micro-batch). ``sticky``: keep running the current
    micro-batch while it has ready ops, else switch round-robin; otherwise the lowest
    micro-batch with ready ops runs (serial).
    """

    __slots__ = ("cur", "heaps", "members", "name", "sticky", "tid", "wake")

    def __init__(self, name: str, tid: int, members: list[int], parts: int,
                 sticky: bool) -> None:
        self.name = name
        self.tid = tid
        self.members = members
        self.heaps: list[list[int]] = [[] for _ in range(parts)]
        self.sticky = sticky
        self.cur = members[0]
        self.wake: Event | None = None

    def push(self, mb: int, i: int) -> None:
        heappush(self.heaps[mb], i)
        w = self.wake
        if w is not None:
            self.wake = None
            w.succeed()

    def pick(self) -> int:
        """The micro-batch to run next, or -1 when none has a ready op."""
        heaps = self.heaps
        if self.sticky:
            if heaps[self.cur]:
                return self.cur
            members = self.members
            n = len(members)
            k = members.index(self.cur)
            for s in range(1, n):
                m = members[(k + s) % n]
                if heaps[m]:
                    self.cur = m
                    return m
            return -1
        for m in self.members:
            if heaps[m]:
                return m
        return -1


class _Job:
    __slots__ = ("cls", "done", "left", "rate")

    def __init__(self, left: float, cls: str, done: Event) -> None:
        self.left = left
        self.cls = cls
        self.done = done
        self.rate = 1.0


class SmArray:
    """The SMs of one GPU as a fluid (processor-sharing) server; see the module docstring.

    Args:
        sm_count: SMs; 0 turns the SM model off (communication takes no SMs).
        share_by_bound: NanoFlow sharing between concurrent kernels.
        log: record ``(time_s, sms_used_by_communication)`` at each change (for traces).
    """

    def __init__(self, env: simpy.Environment, sm_count: int, share_by_bound: bool,
                 log: bool = False) -> None:
        self.env = env
        self.sm_count = sm_count
        self.container = (simpy.Container(env, capacity=sm_count, init=sm_count)
                          if sm_count else None)
        self.share = share_by_bound
        self.jobs: list[_Job] = []
        self.t_last = 0.0
        self.timer: Event | None = None
        self.busy_s = 0.0  # time with at least one compute kernel running
        self.comm_sm_s = 0.0  # SM-seconds taken by communication kernels
        self.log: list[tuple[float, int]] | None = [] if log else None

    def run(self, work_s: float, cls: str) -> Event:
        """An event that fires when ``work_s`` seconds of full-speed work are done."""
        ev = Event(self.env)
        if work_s <= 0.0:
            ev.succeed()
            return ev
        self.advance()
        self.jobs.append(_Job(work_s, cls, ev))
        self.replan()
        return ev

    def advance(self) -> None:
        """Bring the jobs' remaining work up to now (call before any rate change)."""
        now = self.env.now
        dt = now - self.t_last
        if dt > 0.0:
            if self.jobs:
                self.busy_s += dt
                for j in self.jobs:
                    j.left -= dt * j.rate
            c = self.container
            if c is not None:
                self.comm_sm_s += dt * (self.sm_count - c.level)
            self.t_last = now

    def replan(self) -> None:
        """Set every job's rate from the SMs free now and schedule the next completion."""
        jobs = self.jobs
        c = self.container
        if self.log is not None and c is not None:
            used, now, log = self.sm_count - int(c.level), float(self.env.now), self.log
            if log and log[-1][0] == now:
                log.pop()
            if not log or log[-1][1] != used:
                log.append((now, used))
        if not jobs:
            self.timer = None
            return
        s = c.level / self.sm_count if c is not None else 1.0
        if len(jobs) == 1:  # the common case: one kernel on the SMs
            j = jobs[0]
            j.rate = s
            if s <= 0.0:
                self.timer = None
                return
            t = self.env.timeout(j.left / s if j.left > 0.0 else 0.0)
            t.callbacks.append(self._fire)  # type: ignore[union-attr]
            self.timer = t
            return
        if self.share:
            counts: dict[str, int] = {}
            for j in jobs:
                counts[j.cls] = counts.get(j.cls, 0) + 1
            for j in jobs:
                j.rate = s / counts[j.cls] if j.cls in _SHARED_BOUNDS else s
        else:
            for j in jobs:
                j.rate = s
        if s <= 0.0:  # communication holds every SM: compute waits
            self.timer = None
            return
        dt = min(j.left / j.rate for j in jobs)
        t = self.env.timeout(dt if dt > 0.0 else 0.0)
        t.callbacks.append(self._fire)  # type: ignore[union-attr]
        self.timer = t

    def _fire(self, ev: Event) -> None:
        if ev is not self.timer:
            return  # superseded by a later plan
        self.advance()
        jobs = self.jobs
        if len(jobs) == 1:
            self.jobs = []
            jobs[0].done.succeed()
            self.replan()
            return
        low = min(j.left for j in jobs)
        keep = []
        for j in jobs:
            if j.left <= _EPS_S or j.left <= low:
                j.done.succeed()
            else:
                keep.append(j)
        self.jobs = keep
        self.replan()

    def take(self, sms: int) -> Event:
        """Request ``sms`` SMs for a communication kernel (yield the event, then ``replan``)."""
        assert self.container is not None
        self.advance()
        return self.container.get(sms)

    def give(self, sms: int) -> None:
        """Return ``sms`` SMs and speed compute back up."""
        assert self.container is not None
        self.advance()
        self.container.put(sms)
        self.replan()


class Host:
    """The host thread issuing kernels (eager launches), one every ``issue_s`` seconds.

    The host runs ahead of the device without bound; a kernel starts when it is issued and
    its stream is free (the analytical engine's recurrence, applied in dispatch order).
    """

    __slots__ = ("clock", "issue_s")

    def __init__(self, issue_s: float) -> None:
        self.issue_s = issue_s
        self.clock = 0.0

    def issue(self, now: float, kernels: int, per_kernel_s: float) -> tuple[float, bool]:
        """Wall time of an op of ``kernels`` kernels started at ``now``, and whether the host
        held it back (bound ``launch``)."""
        t, host, held = now, self.clock, False
        for _ in range(kernels):
            host += self.issue_s
            if host > t:
                held = True
            t = max(t, host) + per_kernel_s
        self.clock = host
        return t - now, held


def device_sm_count(device: Any) -> int | None:
    """SMs of the device's GPU (``SystemModel.gpu.spec`` or ``GpuModel.spec``), else None."""
    for obj in (getattr(device, "gpu", None), device):
        n = getattr(getattr(obj, "spec", None), "sm_count", None)
        if isinstance(n, int) and n > 0:
            return n
    return None


def device_planes(device: Any) -> int:
    """Scale-out planes of a system (one NIC per plane), 1 for anything else."""
    so = getattr(getattr(device, "spec", None), "scale_out", None)
    planes = getattr(so, "planes", None)
    return planes if isinstance(planes, int) and planes > 0 else 1
