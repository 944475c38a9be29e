"""Timing on a CUDA device: CUDA-graph replays of back-to-back kernels on rotating buffers.

A measurement captures ``R`` launches (cycling over ``n_bufs`` independent input sets, so that
inputs come from HBM rather than L2 when one set fits in L2) into a CUDA graph, replays it
several times and reports the median time per launch. This is the GPU time of a kernel as it
runs inside a model step under CUDA graphs, inter-kernel gap included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch


def rotation_count(bytes_per_set: int, l2_bytes: int, cap: int = 32) -> int:
    """Input sets to cycle through so their total is at least 3x the L2."""
    if bytes_per_set <= 0:
        return 1
    return max(1, min(cap, -(-3 * l2_bytes // bytes_per_set)))


def time_graph(
    fns: Sequence[Callable[[], object]],
    target_s: float = 0.02,
    replays: int = 7,
    max_launches: int = 256,
) -> dict[str, float]:
    """Median seconds per launch of ``fns`` (cycled) replayed from a CUDA graph."""
    for f in fns:  # warm up: cuBLAS heuristics, workspaces, autotuning
        f()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for f in fns:
        f()
    torch.cuda.synchronize()
    est = max((time.perf_counter() - t0) / len(fns), 1e-6)
    n = int(min(max_launches, max(len(fns), round(target_s / est))))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for f in fns:
            f()
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(n):
            fns[i % len(fns)]()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3 / n)
    del g
    return {
        "time_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "launches": n,
    }


def time_eager(fn: Callable[[], object], reps: int = 200) -> float:
    """Mean wall seconds per eager launch of ``fn`` (launch-rate bound for tiny kernels)."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def time_events(fn: Callable[[], object], reps: int = 5, warmup: int = 2) -> dict[str, float]:
    """Median seconds of ``fn`` timed with CUDA events (for long, eager sequences)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3)
    return {"time_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
