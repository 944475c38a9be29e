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
from codesign.hw import topology as core
from hwmodels.network.topology.direct import dragonfly, slimfly
from hwmodels.network.topology.fattree import ft2, ft3, mpft, mrft
from hwmodels.network.topology.scaleup import hgx_node, nvl72
from hwmodels.network.topology.topology import Topology

Builder = Callable[..., Topology]

#: topology builders by name (each also registered in ``codesign.hw.topology.TOPOLOGIES``)
BUILDERS: dict[str, Builder] = {
    "ft2": ft2, "ft3": ft3, "mpft": mpft, "mrft": mrft, "dragonfly": dragonfly,
    "slimfly": slimfly, "hgx-node": hgx_node, "nvl72": nvl72,
}

SCALE_UP = ("hgx-node", "nvl72")
DEFAULT_PLANES = 8


def build_topology(
    kind: str, radix: int | None = None, planes: int | None = None, **kw: Any
) -> Topology:
    """Build the topology ``kind`` (see :data:`BUILDERS`).

    Args:
        kind: a registered name; unknown names raise a SpecError (field ``kind``) listing them.
        radix: switch radix; required by the scale-out kinds (slim fly also takes ``q=``),
            refused by the scale-up ones.
        planes: MPFT planes (default 8); other kinds have one plane (None or 1).
        **kw: the builder's keyword options (``gpus_per_node``, ``world``, ``groups``, ``q``,
            ``cost``...); an option the builder lacks raises a SpecError naming it.
    """
    key = kind.strip().lower()
    if key not in BUILDERS:
        raise SpecError("kind", f"unknown topology {kind!r}", sorted(BUILDERS))
    builder = BUILDERS[key]
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


def _core_builder(kind: str) -> Callable[[], core.TopologyBuilder]:
    def build(radix: int | None, planes: int | None) -> Topology:
        return build_topology(kind, radix, planes)

    return lambda: build


for _name in BUILDERS:
    core.TOPOLOGIES.register(_name, _core_builder(_name))


__all__ = ["BUILDERS", "Topology", "build_topology", "dragonfly", "ft2", "ft3", "hgx_node",
           "mpft", "mrft", "nvl72", "slimfly"]
