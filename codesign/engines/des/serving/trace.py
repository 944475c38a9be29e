"""Chrome/Perfetto trace of a serving run: one process per instance, one track per lane
(pipeline micro-batch stream), each iteration a slice with its batch and tokens in ``args``;
the KV-cache use as a counter; KV transfers as async slices on their prefill instance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def chrome_trace(names: Sequence[str], steps: Sequence[tuple[Any, ...]],
                 transfers: Sequence[tuple[Any, ...]], meta: dict[str, Any]) -> dict[str, Any]:
    """The trace as a JSON-ready dict.

    Args:
        names: instance names by global instance index (the ``pid``).
        steps: ``(instance, stream, start_s, dur_s, decodes, prefill_tokens, chunks,
            kv_tokens)`` per iteration.
        transfers: ``(src_instance, request, start_s, dur_s, kv_tokens, dst_instance)``.
        meta: run description stored under ``metadata``.
    """
    ev: list[dict[str, Any]] = []
    for pid, name in enumerate(names):
        ev.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                   "args": {"name": name}})
        ev.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                   "args": {"sort_index": pid}})
    streams = sorted({(s[0], s[1]) for s in steps})
    for pid, tid in streams:
        ev.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                   "args": {"name": f"micro-batch stream {tid}" if tid else "iterations"}})
    for inst, stream, start, dur, dec, ptok, chunks, kv in steps:
        name = "mixed" if dec and ptok else ("prefill" if ptok else "decode")
        ev.append({"ph": "X", "name": name, "cat": "step", "pid": inst, "tid": stream,
                   "ts": start * 1e6, "dur": dur * 1e6,
                   "args": {"batch": dec + chunks, "decode_tokens": dec,
                            "prefill_tokens": ptok, "tokens": dec + ptok,
                            "kv_tokens": kv}})
        ev.append({"ph": "C", "name": f"kv_tokens[{stream}]", "pid": inst,
                   "ts": start * 1e6, "args": {"used": kv}})
    for src, req, start, dur, kv, dst in transfers:
        common = {"name": "kv_transfer", "cat": "kv_transfer", "pid": src, "tid": 0,
                  "id": int(req)}
        ev.append({**common, "ph": "b", "ts": start * 1e6,
                   "args": {"request": int(req), "kv_tokens": kv, "to": names[dst]}})
        ev.append({**common, "ph": "e", "ts": (start + dur) * 1e6})
    return {"traceEvents": ev, "displayTimeUnit": "ms", "metadata": meta}


def dumps(trace: dict[str, Any]) -> str:
    return json.dumps(trace, separators=(",", ":"))
