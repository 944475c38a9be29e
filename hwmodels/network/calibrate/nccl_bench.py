"""NCCL collective timings in the manner of nccl-tests, through torch.distributed.

    python -m hwmodels.network.calibrate.nccl_bench --out DIR [--worlds 2,4] [--quick]

For every world size (GPUs 0..W-1 of this host, one process each) and every size from 64 KiB
to 1 GiB: all-reduce, all-gather, reduce-scatter, all-to-all (and send/recv at W = 2), BF16,
launched eagerly from Python (``mode: eager``, host launch cost included, as torch eager code
sees it) and replayed from a CUDA graph (``mode: graph``, device time, as a CUDA-graph serving
step sees it).
``bytes`` follows nccl-tests: the per-rank buffer (all-gather: the gathered output buffer,
reduce-scatter: the input buffer). Time is the mean over a loop of iterations between CUDA
events on rank 0 after a barrier and warm-up, median of 3 repeats; ``algbw = bytes / time``,
``busbw`` with nccl-tests' factors. Writes ``DIR/nccl.jsonl`` and ``DIR/nccl_env.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

BUS_FACTOR = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "all_to_all": lambda n: (n - 1) / n,
    "send_recv": lambda n: 1.0,
}
SIZES = tuple(2**p for p in range(16, 31))


def _run_op(op: str, n: int, bufs: dict[str, torch.Tensor], rank: int) -> None:
    if op == "all_reduce":
        dist.all_reduce(bufs["a"])
    elif op == "all_gather":
        dist.all_gather_into_tensor(bufs["out"], bufs["in_part"])
    elif op == "reduce_scatter":
        dist.reduce_scatter_tensor(bufs["in_part"], bufs["a"])
    elif op == "all_to_all":
        dist.all_to_all_single(bufs["out"], bufs["a"])
    elif op == "send_recv":
        if rank == 0:
            dist.send(bufs["a"], 1)
        elif rank == 1:
            dist.recv(bufs["a"], 0)


def _time_eager(op: str, world: int, bufs: dict[str, torch.Tensor], rank: int,
                iters: int) -> list[float]:
    times = []
    for _ in range(3):
        dist.barrier()
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            _run_op(op, world, bufs, rank)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3 / iters)
    return times


def _time_graph(op: str, world: int, bufs: dict[str, torch.Tensor], rank: int,
                iters: int) -> list[float]:
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            _run_op(op, world, bufs, rank)
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(iters):
            _run_op(op, world, bufs, rank)
    times = []
    for _ in range(5):
        dist.barrier()
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3 / iters)
    del g
    return times


def _worker(rank: int, world: int, port: int, out: str, quick: bool) -> None:
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast stays off here
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    ops = ["all_reduce", "all_gather", "reduce_scatter", "all_to_all"]
    if world == 2:
        ops.append("send_recv")
    sizes = SIZES[::3] if quick else SIZES
    records = []
    for op in ops:
        for nbytes in sizes:
            numel = nbytes // 2
            part = numel // world
            bufs = {
                "a": torch.randn(numel, device="cuda", dtype=torch.bfloat16),
                "out": torch.empty(numel, device="cuda", dtype=torch.bfloat16),
                "in_part": torch.randn(part, device="cuda", dtype=torch.bfloat16),
            }
            iters = max(3, min(50, int(2e9 / max(nbytes, 1) // 8)))
            for _ in range(5):
                _run_op(op, world, bufs, rank)
            torch.cuda.synchronize()
            for mode, timer in (("eager", _time_eager), ("graph", _time_graph)):
                times = timer(op, world, bufs, rank, iters)
                t = statistics.median(times)
                if rank == 0:
                    alg = nbytes / t
                    records.append({"world": world, "op": op, "bytes": nbytes, "dtype": "bf16",
                                    "mode": mode, "time_s": t, "min_s": min(times),
                                    "max_s": max(times), "iters": iters,
                                    "algbw_bytes_per_s": alg,
                                    "busbw_bytes_per_s": alg * BUS_FACTOR[op](world)})
            del bufs
            torch.cuda.empty_cache()
    if rank == 0:
        with open(Path(out) / "nccl.jsonl", "a") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        print(f"[nccl] world {world}: {len(records)} records", flush=True)
    dist.destroy_process_group()


def environment() -> dict:
    def sh(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())),
            "topology": sh(["nvidia-smi", "topo", "-m"]),
            "nvlink": sh(["nvidia-smi", "nvlink", "-s", "-i", "0"])[:2000],
            "env": {k: v for k, v in os.environ.items() if k.startswith("NCCL")}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--worlds", default="2,4")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nccl_env.json").write_text(json.dumps(environment(), indent=2))
    for i, world in enumerate(int(w) for w in args.worlds.split(",")):
        if world > torch.cuda.device_count():
            print(f"[nccl] skip world {world}: {torch.cuda.device_count()} GPUs")
            continue
        t0 = time.perf_counter()
        mp.spawn(_worker, args=(world, 29500 + i, str(out), args.quick), nprocs=world,
                 join=True)
        print(f"[nccl] world {world} took {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
