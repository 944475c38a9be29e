"""Collective communication time: ring algorithms with NCCL's three protocols.

For ``n`` ranks and a buffer of ``S`` bytes (nccl-tests' convention: per-rank buffer; the
gathered output for all-gather, the input for reduce-scatter) a collective moves ``bus``
bytes over each rank's link in ``steps`` sequential steps:

=============== ================ ==============
collective      steps            bus bytes
=============== ================ ==============
all_reduce      ``2 (n - 1)``    ``2 (n-1)/n S``
all_gather      ``n - 1``        ``(n-1)/n S``
reduce_scatter  ``n - 1``        ``(n-1)/n S``
all_to_all      ``n - 1``        ``(n-1)/n S``
send_recv       ``1``            ``S``
=============== ================ ==============

Like NCCL's own tuner, the time is the best of its protocols ``p`` (LL: flag-carrying 8-byte
stores, lowest latency, about half the bandwidth; LL128; Simple: full bandwidth, highest
latency per step)::

    t = base + min_p (steps * step_latency_p + bus / (bandwidth(n) * efficiency_p))
    bandwidth(n) = bus_bytes_per_s * n / (n + peer_half)

On a switched fabric (NVSwitch) a rank drives more of its links at once when it has more peers:
measured on 2 and 4 H200s, bus bandwidth grows with ``n`` (``peer_half`` is the rank count at
which half of the asymptotic bandwidth is reached). ``base``, the step latencies, the
bandwidth, ``peer_half`` and the LL/LL128 efficiencies are fitted per link class to NCCL
measurements (``hwmodels.network.calibrate``). Tree and NVLS algorithms are not
modelled (NVLS is disabled on the measured machines). Approximate: chunking and pipelining
inside a protocol are folded into its fitted parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codesign.errors import SpecError
from codesign.hw.fabric import COLLECTIVES

CollectiveKind = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all",
                         "send_recv"]
PROTOCOLS: tuple[str, ...] = ("LL", "LL128", "Simple")


class ProtocolParams(BaseModel):
    """One protocol's per-step latency (s) and fraction of the link bandwidth it reaches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step_latency_s: float = Field(ge=0)
    efficiency: float = Field(gt=0, le=1)


class CollectiveParams(BaseModel):
    """Fitted parameters of one collective on one link class.

    Attributes:
        base_latency_s: fixed cost of launching the collective (device side).
        bus_bytes_per_s: per-rank bus bandwidth the Simple protocol reaches with many peers.
        peer_half: ranks at which half of that bandwidth is reached.
        protocols: ``LL``, ``LL128``, ``Simple``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_latency_s: float = Field(ge=0)
    bus_bytes_per_s: float = Field(gt=0)
    peer_half: float = Field(ge=0)
    protocols: dict[str, ProtocolParams]


class LinkClassParams(BaseModel):
    """Collective parameters of a link class (``nvlink``, ``ib``...), with provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    collectives: dict[str, CollectiveParams]
    sms: int = Field(gt=0)
    source: str


@dataclass(frozen=True, slots=True)
class CollectiveEstimate:
    """Time of one collective. Seconds, bytes."""

    time_s: float
    protocol: str
    steps: int
    bus_bytes: float

    @property
    def bus_bytes_per_s(self) -> float:
        return self.bus_bytes / self.time_s


def steps_and_bus(kind: str, nbytes: float, n: int) -> tuple[int, float]:
    """Sequential steps and per-rank bus bytes of the ring algorithm (see module docstring)."""
    if kind not in COLLECTIVES:
        raise SpecError("collective", f"unknown {kind!r}", COLLECTIVES)
    if n < 2:
        return 0, 0.0
    if kind == "all_reduce":
        return 2 * (n - 1), 2.0 * (n - 1) / n * nbytes
    if kind == "send_recv":
        return 1, float(nbytes)
    return n - 1, (n - 1) / n * nbytes


def collective_time(params: LinkClassParams, kind: str, nbytes: float, n: int,
                    bandwidth_scale: float = 1.0) -> CollectiveEstimate:
    """Time of collective ``kind`` over ``n`` ranks of one link class.

    ``bandwidth_scale`` scales the fitted bandwidth (a failed link or plane, a different
    link generation); latencies are kept.
    """
    if nbytes < 0:
        raise SpecError("bytes", f"must be >= 0, got {nbytes}")
    if n < 1:
        raise SpecError("world", f"must be >= 1, got {n}")
    steps, bus = steps_and_bus(kind, nbytes, n)
    if steps == 0 or nbytes == 0:
        return CollectiveEstimate(0.0, "none", 0, 0.0)
    p = params.collectives[kind if kind in params.collectives else "all_gather"]
    best, proto = float("inf"), "Simple"
    bw = p.bus_bytes_per_s * bandwidth_scale * n / (n + p.peer_half)
    for name, pp in p.protocols.items():
        t = steps * pp.step_latency_s + bus / (bw * pp.efficiency)
        if t < best:
            best, proto = t, name
    return CollectiveEstimate(p.base_latency_s + best, proto, steps, bus)
