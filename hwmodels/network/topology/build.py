"""Topology builders by name: ``build_topology("mpft", 64, planes=8)``.

Builders (each returns a :class:`Topology`; counts and cost come from formulas at once, the
graph is built on first access to ``.graph``):

* ``ft2``, ``ft3``, ``mpft``, ``mrft`` -- fat trees (``fattree.py``);
* ``dragonfly``, ``slimfly`` -- direct topologies (``direct.py``);
* ``hgx-node``, ``nvl72`` -- scale-up domains (``scaleup.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from codesign.errors import SpecError
from codesign.hw.registry import Registry
from hwmodels.network.topology.direct import dragonfly, slimfly
from hwmodels.network.topology.fattree import ft2, ft3, mpft, mrft
from hwmodels.network.topology.scaleup import hgx_node, nvl72
from hwmodels.network.topology.topology import Topology

Builder = Callable[..., Topology]



def _entry(fn: Builder) -> Callable[[], Builder]:
    return lambda: fn


#: topology builders by name
TOPOLOGIES: Registry[Builder] = Registry("topology", "kind")
for _name, _fn in (("ft2", ft2), ("ft3", ft3), ("mpft", mpft), ("mrft", mrft),
                   ("dragonfly", dragonfly), ("slimfly", slimfly), ("hgx-node", hgx_node),
                   ("nvl72", nvl72)):
    TOPOLOGIES.register(_name, _entry(_fn))

SCALE_UP = ("hgx-node", "nvl72")
DEFAULT_PLANES = 8


def build_topology(
    kind: str, radix: int | None = None, planes: int | None = None, **kw: Any
) -> Topology:
    """Build the topology ``kind`` (see :data:`TOPOLOGIES`).

    Args:
        kind: a registered name; unknown names raise a SpecError (field ``kind``) listing them.
        radix: switch radix; required by the scale-out kinds (slim fly also takes ``q=``),
            refused by the scale-up ones.
        planes: MPFT planes (default 8); other kinds have one plane (None or 1).
        **kw: the builder's keyword options (``gpus_per_node``, ``world``, ``groups``, ``q``,
            ``cost``...); an option the builder lacks raises a SpecError naming it.
    """
    builder = TOPOLOGIES.get(kind)
    key = kind.strip().lower()
    params = inspect.signature(builder).parameters
    for name in kw:
        if name not in params or name in ("radix", "planes"):
            allowed = [p for p in params if p not in ("radix", "planes")]
            raise SpecError(name, f"not an option of topology {key!r}", allowed)
    if key == "mpft":
        return builder(radix, DEFAULT_PLANES if planes is None else planes, **kw)
    if planes is not None and planes != 1:
        raise SpecError("planes", f"{key} has a single plane; planes apply to mpft")
    if key in SCALE_UP:
        if radix is not None:
            raise SpecError("radix", f"{key} is a scale-up domain: it has no switch radix")
        return builder(**kw)
    if radix is None and not (key == "slimfly" and "q" in kw):
        raise SpecError("radix", f"required for topology {key!r}")
    return builder(radix, **kw)


__all__ = ["TOPOLOGIES", "Topology", "build_topology", "dragonfly", "ft2", "ft3", "hgx_node",
           "mpft", "mrft", "nvl72", "slimfly"]
