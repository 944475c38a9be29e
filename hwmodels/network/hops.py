"""Switch hops of a scale-out topology and the latency they add (seconds)."""

from __future__ import annotations

from codesign.hw.system import ScaleOutSpec

#: switches a worst-case minimal route traverses, by topology: fat trees of two tiers go
#: leaf-spine-leaf (3), of three tiers leaf-aggregation-core-aggregation-leaf (5); a
#: dragonfly's minimal route is router, gateway, (global link), gateway, router (4); a slim
#: fly has diameter 2 (3 routers). ``ScaleOutSpec.latency_s`` is the two-tier figure.
SWITCH_HOPS = {"ft2": 3, "mpft": 3, "mrft": 3, "ft3": 5, "dragonfly": 4, "slimfly": 3}
REFERENCE_HOPS = 3


def fabric_latency_s(so: ScaleOutSpec) -> float:
    """One-way NIC-to-NIC latency on ``so``'s topology: the two-tier latency plus
    ``switch_latency_s`` per switch hop beyond three (see :data:`SWITCH_HOPS`)."""
    hops = SWITCH_HOPS.get(so.topology, REFERENCE_HOPS)
    return so.latency_s + (hops - REFERENCE_HOPS) * so.switch_latency_s
