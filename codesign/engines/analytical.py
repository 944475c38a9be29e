"""The analytical engine: one device, one stream, ops in topological order.

Every op costs what the device's ``op_cost`` says; on one rank the ops of a pass run back to
back on one stream, so the pass takes their sum (the critical path of a serial schedule).

Launch modes: ``graph`` (CUDA-graph replay) takes device times as they are. ``eager``
models the host issuing kernels one at a time, ``launch_overhead_s`` apart: a kernel starts
when both the previous kernel has finished and the host has issued it, so short kernels
wait on the host (bound ``launch``) while long ones let the host run ahead.
Overlap of communication with computation and contention are the discrete-event engine's
business. Costs are cached per op object: identical layers share ops, so a 61-layer graph
costs a few dozen distinct predictions.
"""

from __future__ import annotations

from codesign.engines.result import OpRecord, RunResult
from codesign.hw.cost import OpCost
from codesign.hw.device import DeviceModel, LaunchMode
from codesign.ir.graph import WorkloadGraph


class AnalyticalEngine:
    """Sum of per-op costs on one rank; ``world`` identical ranks for totals."""

    name = "analytical"

    def run(self, graph: WorkloadGraph, device: DeviceModel, *, tokens: int, world: int = 1,
            launch: LaunchMode = "graph") -> RunResult:
        """Cost one pass of ``graph`` (one rank's share) on ``device``.

        Args:
            graph: the rank's graph.
            device: the device model of every rank.
            tokens: new tokens the whole deployment processes in the pass.
            world: ranks running the same graph in parallel.
            launch: ``graph`` (CUDA-graph replay) or ``eager`` kernel launches.
        """
        cache: dict[int, OpCost] = {}
        records: list[OpRecord] = []
        t = 0.0  # device clock
        host = 0.0  # host issue clock (eager)
        issue = device.launch_overhead_s if launch == "eager" else 0.0
        idle_w = device.idle_power_w
        energy = 0.0
        nodes = graph.nx.nodes
        for key, op in graph.topological_ops():
            c = cache.get(id(op))
            if c is None:
                c = device.op_cost(op)
                cache[id(op)] = c
            start, bound, per_kernel = t, c.bound, c.latency_s / c.kernels
            for _ in range(c.kernels):
                host += issue
                if host > t:
                    bound = "launch"
                t = max(t, host) + per_kernel
            latency = t - start
            e = c.energy_j + idle_w * (latency - c.latency_s)  # waiting on the host idles
            records.append(OpRecord(key, op.kind, nodes[key]["layer"], start, latency, e,
                                    bound, c.flops, c.dram_bytes))
            energy += e
        return RunResult(graph=graph.name, device=device.name, engine=self.name, world=world,
                         tokens=tokens, latency_s=t, energy_j=energy * world,
                         usd_per_hour=device.usd_per_hour * world, records=records)
