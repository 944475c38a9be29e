"""SimPy resources of a serving deployment, built from the :class:`~codesign.hw.resolve.System`.

* Each serving **instance** sits on consecutive devices of its pool (the instances of a pool
  in order: prefill before decode when both share a pool) and owns a **compute** resource
  with one slot per pipeline micro-batch stream: every iteration of its lanes holds a slot
  for its duration.
* Each instance has two **ports** for KV it sends: its NVLink share (a transfer to an
  instance inside the same node) and its scale-out NICs (a transfer to another node of the
  pool). A port has one slot per group of devices that sends one request's KV together
  (the KV is split over ``min(tp, kv_heads)`` GPUs, MLA's over one), so concurrent
  transfers out of one instance queue for it.
* Each **link between pools** (``SystemSpec.links``) is one resource, one slot per such group
  of devices on the smaller side (the link's bandwidth is per device of the smaller pool): KV
  transfers from every prefill instance of one pool to every decode instance of another
  contend for it, and also hold their instance's NIC port.

Times: inside a node ``collective("send_recv", bytes, 2)`` of the pool's network model,
across its nodes ``inter("send_recv", bytes, 2)``, between pools ``System.transfer``
(``latency + bytes / bandwidth``), each on one sender's share of the KV. Energy: NVLink's
``energy_per_byte_j`` inside a node, the link's between pools; NICs and switches are charged
as the network's power over the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import simpy

from codesign.engines.des.resources import Link
from codesign.errors import SpecError
from codesign.hw.resolve import System


@dataclass
class Instance:
    """One serving instance: where it sits and the resources it owns.

    Attributes:
        index: global index (the trace's process id).
        name: ``instance[0]``, ``prefill[3]``, ``decode[1]``...
        role: ``instance`` (prefills and decodes), ``prefill`` or ``decode``.
        pool: the system pool it runs on.
        first_device: its first device in the pool.
        devices: devices it spans (``tp x pp x attention-DP``).
        senders: devices that send one request's KV together.
        compute: its compute resource (one slot per micro-batch stream).
        ports: ``nvlink`` and ``nic`` send ports.
        nodes: first and last node of the pool it spans.
    """

    index: int
    name: str
    role: str
    pool: str
    first_device: int
    devices: int
    senders: int
    compute: simpy.Resource
    ports: dict[str, Link]
    nodes: tuple[int, int] = (0, 0)


@dataclass
class Route:
    """How KV goes from one instance to another: resources held, in order, and the kind."""

    kind: str  # "nvlink", "nic" or "link"
    resources: tuple[Link, ...]
    pools: tuple[str, str]


@dataclass
class ServingCluster:
    """Instances on the pools of ``system``, and the links between pools, on ``env``."""

    env: simpy.Environment
    system: System
    instances: list[Instance] = field(default_factory=list)
    links: dict[tuple[str, str], Link] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _routes: dict[tuple[int, int], Route] = field(default_factory=dict)

    def add(self, role: str, pool: str, number: int, devices: int, streams: int,
            senders: int) -> Instance:
        """Place instance ``role[number]`` of ``devices`` devices on the next free devices of
        ``pool``.

        Raises:
            SpecError: ``mapping``: the pool has no devices left for it.
        """
        p = self.system.pool(pool)
        first = self._cursor.get(pool, 0)
        if first + devices > p.spec.devices:
            raise SpecError("mapping", f"pool {pool!r} has {p.spec.devices} devices; "
                            f"{role}[{number}] would need devices {first}..{first + devices - 1}")
        self._cursor[pool] = first + devices
        gpn = p.spec.devices_per_node
        idx = len(self.instances)
        slots = max(1, devices // senders)
        ports = {kind: Link(self.env, f"{role}[{number}].{kind}", idx, capacity=slots)
                 for kind in ("nvlink", "nic")}
        inst = Instance(idx, f"{role}[{number}]", role, pool, first, devices, senders,
                        simpy.Resource(self.env, capacity=streams), ports,
                        (first // gpn, (first + devices - 1) // gpn))
        self.instances.append(inst)
        return inst

    def used(self) -> dict[str, int]:
        """Devices used per pool (what cost and network power are charged for)."""
        return {pool: n for pool, n in self._cursor.items() if n}

    def route(self, src: Instance, dst: Instance) -> Route:
        """The resources a KV transfer from ``src`` to ``dst`` holds (cached per pair).

        Raises:
            SpecError: ``system.links``: the two pools have no link between them.
        """
        key = (src.index, dst.index)
        r = self._routes.get(key)
        if r is not None:
            return r
        if src.pool == dst.pool:
            same = src.nodes[0] == src.nodes[1] == dst.nodes[0] == dst.nodes[1]
            kind = "nvlink" if same else "nic"
            r = Route(kind, (src.ports[kind],), (src.pool, dst.pool))
        else:
            r = Route("link", (src.ports["nic"], self._link(src, dst)), (src.pool, dst.pool))
        self._routes[key] = r
        return r

    def _link(self, src: Instance, dst: Instance) -> Link:
        pair = (src.pool, dst.pool)
        lk = self.links.get(pair)
        if lk is None:
            if self.system.link(*pair) is None:
                have = ["-".join(x.pools) for x in self.system.spec.links]
                raise SpecError("system.links", f"no link between pools {pair[0]!r} and "
                                f"{pair[1]!r} of system {self.system.name!r} to move the KV "
                                "cache over", have or None)
            lanes = min(self._cursor.get(pair[0], 0), self._cursor.get(pair[1], 0))
            lk = Link(self.env, f"link {pair[0]}->{pair[1]}", -1,
                      capacity=max(1, lanes // src.senders))
            self.links[pair] = lk
        return lk

    def transfer_cost(self, route: Route, nbytes: float) -> tuple[float, float]:
        """(seconds, joules per sender) to move ``nbytes`` from one sender along ``route``.

        Raises:
            SpecError: ``system``: a pool without a network model to move KV inside it.
        """
        a, b = route.pools
        if route.kind == "link":
            return self.system.transfer(a, b, nbytes)
        model: Any = self.system.pool(a).model
        fn = getattr(model, "collective" if route.kind == "nvlink" else "inter", None)
        if fn is None:
            raise SpecError("system", f"pool {a!r} of {self.system.name!r} has no network "
                                      "model to move KV between its instances")
        t = float(fn("send_recv", nbytes, 2).time_s)
        su = self.system.pool(a).spec.scale_up
        e = nbytes * su.energy_per_byte_j if route.kind == "nvlink" and su is not None else 0.0
        return t, e
