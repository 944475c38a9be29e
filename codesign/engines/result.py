"""``RunResult``: what an engine answers for one graph on one system."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One op's cost in a run. Seconds, joules, FLOPs, bytes."""

    key: str
    kind: str
    layer: int | None
    start_s: float
    latency_s: float
    energy_j: float
    bound: str
    flops: float
    dram_bytes: float


@dataclass
class RunResult:
    """Costs of one pass (a prefill or a decode step) of a graph on ``world`` identical ranks.

    Attributes:
        latency_s: the pass on one rank (ranks run in parallel).
        energy_j: all ranks together.
        tokens: new tokens the whole deployment processes in the pass.
        usd_per_hour: rental price of all ranks together.
    """

    graph: str
    device: str
    engine: str
    world: int
    tokens: int
    latency_s: float
    energy_j: float
    usd_per_hour: float
    records: list[OpRecord] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.latency_s

    @property
    def joules_per_token(self) -> float:
        return self.energy_j / self.tokens

    @property
    def usd_per_million_tokens(self) -> float:
        return self.usd_per_hour / 3600.0 * self.latency_s / self.tokens * 1e6

    def time_by(self, attr: str) -> dict[Any, float]:
        """Latency summed by a record attribute (``kind``, ``bound``, ``layer``)."""
        out: defaultdict[Any, float] = defaultdict(float)
        for r in self.records:
            out[getattr(r, attr)] += r.latency_s
        return dict(out)

    @property
    def bound(self) -> str:
        """The bound that takes the most time."""
        shares = self.time_by("bound")
        return max(shares, key=shares.__getitem__) if shares else "launch"

    def per_layer(self) -> list[dict[str, Any]]:
        """Latency and energy per layer (``None``: embedding and head), in layer order."""
        acc: dict[Any, list[float]] = {}
        for r in self.records:
            a = acc.setdefault(r.layer, [0.0, 0.0])
            a[0] += r.latency_s
            a[1] += r.energy_j * self.world
        keys = sorted(acc, key=lambda k: (k is None, k if k is not None else 0))
        return [{"layer": k, "latency_s": acc[k][0], "energy_j": acc[k][1]} for k in keys]

    def summary(self) -> dict[str, Any]:
        """Plain data with the documented keys of ``codesign eval --json``."""
        return {
            "graph": self.graph, "hw": self.device, "engine": self.engine, "world": self.world,
            "tokens": self.tokens, "latency_s": self.latency_s, "energy_j": self.energy_j,
            "bound": self.bound, "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_device": self.tokens_per_s / self.world,
            "joules_per_token": self.joules_per_token,
            "usd_per_million_tokens": self.usd_per_million_tokens,
            "op_count": len(self.records),
            "time_by_kind_s": dict(sorted(self.time_by("kind").items())),
            "time_by_bound_s": dict(sorted(self.time_by("bound").items())),
            **self.meta,
        }

    def to_frame(self) -> Any:
        """Per-op records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ if hasattr(r, "__dict__") else _asdict(r)
                             for r in self.records])


def _asdict(r: OpRecord) -> dict[str, Any]:
    return {f: getattr(r, f) for f in r.__slots__}  # type: ignore[attr-defined]
