"""Hardware design spaces that ``codesign optimize hardware`` searches.

A hardware family registers a :class:`DesignSpace` under its name (``gpu``) in
:data:`DESIGN_SPACES`, through the ``codesign.design_spaces`` entry-point group. A space
evaluates every design of its grid (and the base part it derives them from) on a workload;
:func:`codesign.opt.sizing.size_hardware` then picks one with a MILP.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from codesign.hw.registry import Registry

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class DesignPoint:
    """One design and its workload metrics. mm^2, W, USD, bytes, seconds, joules.

    Attributes:
        sm_count, hbm_stacks, l2_mb, nics: the design (SMs, HBM stacks, MB of L2, NICs per
            device).
        dies: dies the design is split into (above the reticle limit).
        area_mm2, power_w, price_usd, usd_per_hour: silicon area, device + NIC power, price
            with NICs, hourly cost of ownership.
        hbm_bytes, hbm_bytes_per_s, peak_bf16_flops: memory capacity, bandwidth, BF16 peak.
        fits: whether some tensor parallel degree holds weights and KV cache.
        tp, gpus: that degree and the devices used (0 when it does not fit).
        latency_s, tokens_per_s, tokens_per_usd, joules_per_token: the workload's pass.
    """

    sm_count: int
    hbm_stacks: int
    l2_mb: int
    nics: int
    dies: int
    area_mm2: float
    power_w: float
    price_usd: float
    usd_per_hour: float
    hbm_bytes: float
    hbm_bytes_per_s: float
    peak_bf16_flops: float
    fits: bool
    tp: int
    gpus: int
    latency_s: float
    tokens_per_s: float
    tokens_per_usd: float
    joules_per_token: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data; infinite times and energies (a design that does not fit) as None."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DesignEvaluation:
    """Every design of a grid evaluated on a workload, the base part evaluated the same way,
    and the area, power and cost constants used (plain data)."""

    points: list[DesignPoint]
    reference: DesignPoint
    assumptions: dict[str, Any]


class DesignSpace(Protocol):
    """A family's design space."""

    def evaluate(self, workload_model: str, phase: str, batch: int, context: int, *,
                 tp: int | None, dp: int, ep: int, grid: BaseModel | None, base: str,
                 assumptions: BaseModel | None) -> DesignEvaluation:
        """Evaluate every design of ``grid`` (the space's own grid model; ``None``: its
        default) derived from part ``base``, on one pass of ``workload_model`` (``phase``,
        ``batch`` sequences, ``context`` tokens) mapped ``tp`` (``None``: the smallest that
        fits), ``dp``, ``ep``; ``assumptions``: the space's own constants model.

        Raises:
            SpecError: bad workload, mapping, base, grid or assumptions.
        """
        ...


#: design spaces by family, filled by the ``codesign.design_spaces`` entry points
DESIGN_SPACES: Registry[DesignSpace] = Registry("design space", "space",
                                                plugin_group="codesign.design_spaces")
