"""SM-level GEMM and grouped-GEMM time on a GPU.

A GEMM is cut into CTA tiles ``TM x TN`` (optionally split along K); tiles run in waves over
the SMs. For each candidate tiling the model takes

* occupancy: CTAs resident per SM from the tile's shared memory (``STAGES`` pipeline stages
  of A and B tiles) and registers (one FP32 accumulator per output element plus a fixed
  per-thread budget), at most ``MAX_CTAS_PER_SM``; resident CTAs share their SM's tensor
  cores;
* compute: ``waves * occupancy * (max(tensor time, shared-memory feed time) + tile
  overhead)`` with waves over ``SMs * occupancy`` slots: padded tiles cost full tiles, and a
  partial last wave costs ``wave_tail`` of a wave (wave quantization); small-M tilings stand
  for the swapped-operand GEMV kernels;
* memory: compulsory DRAM bytes (plus FP32 partials of split-K) over the bandwidth the active
  SMs can pull, ``min(HBM * hbm efficiency, active SMs * per-SM bandwidth)``. Operands are
  taken to stream from HBM once per kernel (in a model step each layer's weights are evicted
  before their next use; the calibration rotated inputs over 3x the L2 to measure exactly
  that), and tile re-reads to hit in L2. A separate L2-bandwidth bound was tried and left
  out: fitted, it absorbed the power-capped clock of large GEMMs (its fitted value made every
  large GEMM L2-bound) and did not improve held-out error;
* a soft maximum of the two, plus fixed kernel time (and split-K's reduction pass);

and, like a library heuristic, keeps the fastest candidate. Approximate: cuBLAS's real choice,
L2 re-read misses of very large operands and clock changes under power capping are not
modelled beyond what the fitted efficiencies absorb; the calibration benchmark reports the
error (``benchmarks/bench_gpu_accuracy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import overload

import numpy as np

from hwmodels.gpu.spec import GpuSpec

_TM = (8, 16, 32, 64, 128, 256)
_TN = (64, 128, 256)
_SPLITS = (1, 2, 4, 8, 16)
_TILES = [(tm, tn) for tm in _TM for tn in _TN if tm * tn <= 128 * 256]
TM = np.array([t[0] for t in _TILES for _ in _SPLITS], dtype=np.float64)
TN = np.array([t[1] for t in _TILES for _ in _SPLITS], dtype=np.float64)
SPLIT = np.array([s for _ in _TILES for s in _SPLITS], dtype=np.float64)
STAGES = 4
MAX_CTAS_PER_SM = 4
THREADS_PER_CTA = 256
REGS_PER_THREAD_BASE = 40
TK_BYTES = 128  # K-extent of a pipeline stage in bytes (64 bf16 or 128 fp8 elements)


def occupancy(
    smem_bytes_per_sm: int, regs_per_sm: int, tm: np.ndarray, tn: np.ndarray
) -> np.ndarray:
    """Resident CTAs per SM of each tiling, from shared memory and registers."""
    smem = STAGES * (tm + tn) * TK_BYTES
    regs = tm * tn + THREADS_PER_CTA * REGS_PER_THREAD_BASE
    occ = np.minimum(smem_bytes_per_sm // smem, regs_per_sm // regs)
    return np.clip(occ, 1, MAX_CTAS_PER_SM)


@lru_cache(maxsize=64)
def _occupancies(smem_bytes_per_sm: int, regs_per_sm: int) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy of the GEMM and grouped-GEMM candidate tilings (cached per chip)."""
    return (
        occupancy(smem_bytes_per_sm, regs_per_sm, TM, TN),
        occupancy(smem_bytes_per_sm, regs_per_sm, _GTM, _GTN),
    )


_GTM = np.array([t[0] for t in _TILES], dtype=np.float64)
_GTN = np.array([t[1] for t in _TILES], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class KernelEstimate:
    """Time of one kernel and why. Seconds, bytes, FLOPs."""

    time_s: float
    compute_s: float
    memory_s: float
    dram_bytes: float
    tile: str
    waves: float
    fixed_bound: str | None = None  # e.g. "network" for collectives

    @property
    def bound(self) -> str:
        if self.fixed_bound:
            return self.fixed_bound
        return "compute" if self.compute_s >= self.memory_s else "memory"


@overload
def soft_max(a: np.ndarray, b: np.ndarray | float, p: float) -> np.ndarray: ...
@overload
def soft_max(a: float, b: np.ndarray, p: float) -> np.ndarray: ...
@overload
def soft_max(a: float, b: float, p: float) -> float: ...
def soft_max(a: np.ndarray | float, b: np.ndarray | float, p: float) -> np.ndarray | float:
    """``(a^p + b^p)^(1/p)``: the roofline's max, rounded at the ridge."""
    hi = np.maximum(a, b)
    lo = np.minimum(a, b)
    return hi * (1.0 + (lo / np.maximum(hi, 1e-30)) ** p) ** (1.0 / p)


def _waves(ctas: np.ndarray, slots: np.ndarray | float, tail: float) -> np.ndarray:
    """Waves of ``ctas`` over ``slots``: full waves plus ``tail`` of a partial one."""
    full = np.floor(ctas / slots)
    part = ctas / slots - full
    return full + np.where(part > 0, tail + (1 - tail) * part, 0.0)


def _tile_time(
    spec: GpuSpec, tm: np.ndarray, tn: np.ndarray, k: np.ndarray | float, rate: float, el: float
) -> np.ndarray:
    """One CTA tile: tensor time or shared-memory feed time, whichever is longer, plus the
    fixed tile overhead. Seconds."""
    e = spec.efficiency
    t_mma = 2.0 * tm * tn * k / rate
    t_smem = (tm + tn) * k * el / (e.smem_bytes_per_clk * spec.clock_hz)
    return np.maximum(t_mma, t_smem) + e.tile_overhead_cycles / spec.clock_hz


def gemm_estimate(
    spec: GpuSpec,
    m: int,
    n: int,
    k: int,
    batch: int,
    cls: str,
    a_bytes: float,
    b_bytes: float,
    c_bytes: float,
) -> KernelEstimate:
    """Best tiling of ``C[batch, m, n] = A[batch, m, k] @ B[batch, k, n]``.

    ``a_bytes``/``b_bytes``/``c_bytes`` are bytes per element of each operand.
    """
    e = spec.efficiency
    sm = spec.sm_count
    rate = spec.tensor_flops_per_clk_per_sm[cls] * spec.clock_hz * e.mma[cls]
    bw = spec.hbm_bytes_per_s * e.hbm
    kps = np.ceil(k / SPLIT)
    tiles = batch * np.ceil(m / TM) * np.ceil(n / TN)
    ctas = tiles * SPLIT
    occ = _occupancies(spec.smem_bytes_per_sm, spec.regs_per_sm)[0]
    waves = _waves(ctas, sm * occ, e.wave_tail)
    el = max(a_bytes, b_bytes)
    t_comp = waves * occ * _tile_time(spec, TM, TN, kps, rate, el)
    base = batch * (m * k * a_bytes + k * n * b_bytes + m * n * c_bytes)
    dram = base + (SPLIT > 1) * (batch * m * n * 4.0 * SPLIT * 2.0)
    bw_eff = np.minimum(bw, np.minimum(ctas, sm) * e.sm_bytes_per_s)
    t_mem = dram / bw_eff
    total = soft_max(t_comp, t_mem, e.roofline_p) + (SPLIT > 1) * e.splitk_fixed_s
    valid = (SPLIT == 1) | (kps >= 256)
    total = np.where(valid, total, np.inf)
    i = int(np.argmin(total))
    return KernelEstimate(
        time_s=float(total[i]) + e.kernel_fixed_s,
        compute_s=float(t_comp[i]),
        memory_s=float(t_mem[i]),
        dram_bytes=float(dram[i]),
        tile=f"{int(TM[i])}x{int(TN[i])}/split{int(SPLIT[i])}",
        waves=float(ctas[i] / sm),
    )


def grouped_gemm_estimate(
    spec: GpuSpec,
    tokens_per_expert: tuple[int, ...],
    n: int,
    k: int,
    cls: str,
    a_bytes: float,
    b_bytes: float,
    c_bytes: float,
) -> KernelEstimate:
    """One grouped kernel over all experts (CUTLASS-style persistent scheduler): tiles of
    every expert's ``[t_e, n]`` output share the SMs; only experts with tokens read weights."""
    e = spec.efficiency
    sm = spec.sm_count
    rate = spec.tensor_flops_per_clk_per_sm[cls] * spec.clock_hz * e.mma[cls] * e.grouped_mma
    bw = spec.hbm_bytes_per_s * e.hbm
    t = np.array([x for x in tokens_per_expert if x > 0], dtype=np.float64)
    rows, active = float(t.sum()), len(t)
    if active == 0:
        return KernelEstimate(e.kernel_fixed_s + e.grouped_fixed_s, 0.0, 0.0, 0.0, "-", 0.0)
    tiles = np.ceil(t[None, :] / _GTM[:, None]).sum(axis=1) * np.ceil(n / _GTN)
    occ = _occupancies(spec.smem_bytes_per_sm, spec.regs_per_sm)[1]
    el = max(a_bytes, b_bytes)
    waves = _waves(tiles, sm * occ, e.wave_tail)
    t_comp = waves * occ * _tile_time(spec, _GTM, _GTN, k, rate, el)
    dram = rows * k * a_bytes + active * k * n * b_bytes + rows * n * c_bytes
    t_mem = dram / np.minimum(bw, np.minimum(tiles, sm) * e.sm_bytes_per_s)
    total = soft_max(t_comp, t_mem, e.roofline_p)
    i = int(np.argmin(total))
    return KernelEstimate(
        time_s=float(total[i]) + e.kernel_fixed_s + e.grouped_fixed_s,
        compute_s=float(t_comp[i]),
        memory_s=float(t_mem[i]),
        dram_bytes=float(dram),
        tile=f"{int(_GTM[i])}x{int(_GTN[i])}",
        waves=float(tiles[i] / sm),
    )
