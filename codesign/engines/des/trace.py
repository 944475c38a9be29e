"""Simulated timelines as Chrome-trace / Perfetto JSON (loadable in ui.perfetto.dev).

Format: the Trace Event Format's JSON object form (``{"traceEvents": [...]}``). Each op is a
complete event (``ph: "X"``) on the track (``tid``) of every resource it held: the compute
stream, the NVLink port, each NIC. ``ts`` and ``dur`` are microseconds; ``pid`` is the rank
(0: the representative rank); ``cat`` is the op kind; ``args`` carry the bound, FLOPs and
bytes. Metadata events (``ph: "M"``) name the process and the tracks, and a counter track
(``ph: "C"``) shows the SMs communication kernels hold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codesign.engines.result import OpRecord, RunResult

_US = 1e6


def _slice(tid: int, rec: OpRecord, mb: int, pid: int) -> dict[str, Any]:
    ts = rec.start_s * _US
    return {"name": rec.key, "cat": rec.kind, "ph": "X", "ts": ts,
            "dur": (rec.start_s + rec.latency_s) * _US - ts, "pid": pid, "tid": tid,
            "args": {"bound": rec.bound, "flops": rec.flops, "dram_bytes": rec.dram_bytes,
                     "layer": rec.layer, "micro_batch": mb}}


def timeline_events(tracks: Sequence[str], slices: Sequence[tuple[list[int], OpRecord, int]],
                    sm_log: Sequence[tuple[float, int]], process: str,
                    pid: int = 0) -> list[dict[str, Any]]:
    """Chrome-trace events: metadata naming ``tracks`` (tid = position), one ``X`` slice per
    (track, record) of ``slices`` (``(tids, record, micro_batch)``), and a counter of SMs
    held by communication from ``sm_log`` (``(time_s, sms)``). Sorted by time."""
    meta: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": process}}]
    for tid, name in enumerate(tracks):
        meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                     "args": {"name": name}})
        meta.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                     "args": {"sort_index": tid}})
    body = [_slice(tid, rec, mb, pid) for tids, rec, mb in slices for tid in tids]
    body.extend({"name": "SMs held by communication", "ph": "C", "ts": t * _US, "pid": pid,
                 "tid": 0, "args": {"sms": n}} for t, n in sm_log)
    body.sort(key=lambda e: (e["ts"], e["tid"]))
    return meta + body


def to_chrome_trace(result: RunResult) -> dict[str, Any]:
    """The run's timeline as a Chrome-trace document.

    A discrete-event run with ``trace=True`` has one track per resource; any other result
    (the analytical engine's) is drawn as its records on one stream.
    """
    events = result.meta.get("trace")
    if events is None:
        events = timeline_events(["stream"], [([0], r, 0) for r in result.records], [],
                                 process=f"rank 0 of {result.world} ({result.device})")
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"graph": result.graph, "device": result.device,
                          "engine": result.engine, "world": result.world,
                          "latency_s": result.latency_s,
                          "schedule": result.meta.get("schedule", "serial")}}


def write_chrome_trace(result: RunResult, path: str | Path) -> Path:
    """Write :func:`to_chrome_trace` of ``result`` to ``path`` atomically (JSON).

    Raises:
        SpecError: the folder does not exist or is not writable.
    """
    from codesign.report.html import write_atomic

    return write_atomic(path, json.dumps(to_chrome_trace(result), separators=(",", ":")))
