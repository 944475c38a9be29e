"""A graph placed on a system: each op's stage and pool, and the transfers between pools.

Both engines start here (``place``): the system is resolved (a bare device model becomes a
one-pool system of ``world`` devices), the placement defaults to the trivial one (every op on
the first pool, with the parallelism the graph was built for), every op gets the stage that
runs it (``graph.meta["stages"]`` when :func:`compose_stage_graphs` built the graph from
per-stage graphs, else :meth:`PlacementSpec.stage_of`), and every edge whose ends sit on
different pools becomes a transfer of the producer's tensor over the link between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codesign.errors import SpecError
from codesign.hw.device import DeviceModel
from codesign.hw.placement import PlacementSpec, StageSpec
from codesign.hw.resolve import System
from codesign.hw.system import PoolSpec, SystemSpec
from codesign.ir.graph import EdgeMode, WorkloadGraph

SINGLE_POOL = "main"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Bytes one rank of ``src_pool`` sends one rank of ``dst_pool``: an op's output that ops
    on another pool read (sent once per destination pool, however many ops read it there).

    Attributes:
        consumers: the ops on ``dst_pool`` that wait for it, the first in topological order
            first.
    """

    src_key: str
    src_pool: str
    dst_pool: str
    nbytes: float
    consumers: tuple[str, ...] = ()


@dataclass
class PlacedGraph:
    """A graph with each op's stage, and the system and placement it runs on.

    Attributes:
        order: op keys in a topological order.
        stage: op key -> index of its stage in ``stages``.
        stages: the phase's stages.
        transfers: op key -> transfers that the op is the first consumer of (the analytical
            engine charges them before it; every consumer is in ``Transfer.consumers``).
        used: pool -> devices the placement uses in it.
    """

    graph: WorkloadGraph
    system: System
    placement: PlacementSpec
    phase: str
    order: list[str]
    stage: dict[str, int]
    stages: tuple[StageSpec, ...]
    transfers: dict[str, list[Transfer]] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    def pool_of(self, key: str) -> str:
        return self.stages[self.stage[key]].pool

    def model_of(self, key: str) -> DeviceModel:
        return self.system.pools[self.pool_of(key)].model

    @property
    def world(self) -> int:
        return sum(self.used.values())

    @property
    def single_pool(self) -> bool:
        return len(self.used) == 1 and len(self.stages) == 1

    def cost_meta(self) -> dict[str, Any]:
        """The cost split per hour and the devices each pool contributes."""
        split = self.system.usd_per_hour(self.used)
        return {"cost": split, "pools": {p: {"devices": n,
                                              "device": self.system.pools[p].device.name}
                                          for p, n in self.used.items()},
                "system": self.system.name}


def as_system(system: System | SystemSpec | DeviceModel, world: int | None) -> System:
    """A :class:`System`: itself, built from a spec, or one pool of ``world`` devices of a
    device (or pool) model used as it is."""
    if isinstance(system, System):
        return system
    if isinstance(system, SystemSpec):
        return System(system)
    n = world or 1
    spec = SystemSpec(name=system.name, pools={SINGLE_POOL: PoolSpec(
        device=system.name, devices_per_node=n)})
    return System(spec, devices={SINGLE_POOL: system})


def graph_phase(graph: WorkloadGraph) -> str:
    ph = graph.meta.get("phase")
    if isinstance(ph, Mapping):
        return str(ph.get("phase", "decode"))
    return str(ph) if ph in ("prefill", "decode") else "decode"


def graph_tokens(graph: WorkloadGraph) -> int | None:
    ph = graph.meta.get("phase")
    if isinstance(ph, Mapping) and "batch" in ph:
        return int(ph["batch"]) * int(ph.get("seq_len", 1))
    return None


def trivial_placement(graph: WorkloadGraph, pool: str, world: int | None) -> PlacementSpec:
    """Every op on ``pool`` with the parallelism the graph was built for (``meta``), or
    ``world`` data-parallel ranks when the graph does not say."""
    par = graph.meta.get("parallel")
    if isinstance(par, Mapping):
        return PlacementSpec.trivial(pool, tp=int(par.get("tp", 1)), dp=int(par.get("dp", 1)),
                                     ep=int(par.get("ep", 1)),
                                     redundant_experts=int(par.get("redundant_experts", 0)))
    return PlacementSpec.trivial(pool, dp=world or 1)


def place(graph: WorkloadGraph, system: System | SystemSpec | DeviceModel,
          placement: PlacementSpec | None = None, *, world: int | None = None,
          phase: str | None = None) -> PlacedGraph:
    """Resolve the system and placement and assign every op (see module docstring).

    Args:
        world: devices of a bare device model's pool, and of the trivial placement when the
            graph has no ``parallel`` meta (the old ``world`` argument).

    Raises:
        SpecError: a placement naming an unknown pool, a phase placed nowhere, a stage
            larger than its pool, or two pools without a link between them.
    """
    if world is not None and (isinstance(world, bool) or not isinstance(world, int)
                              or world < 1):
        raise SpecError("world", f"must be an integer >= 1, got {world!r}")
    sysm = as_system(system, world)
    ph = phase or graph_phase(graph)
    if placement is None:
        placement = trivial_placement(graph, sysm.first_pool, world)
        if world is not None and placement.stages(ph)[0].world != world:
            placement = PlacementSpec.trivial(sysm.first_pool, dp=world)
    placement.check(sysm.spec, phases=(ph,))
    stages = placement.stages(ph)
    extra = graph.meta.get("extra_stages")
    if extra:  # expert pools (codesign.engines.offload)
        stages = stages + tuple(StageSpec(**d) for d in extra)
    keys, _, layer_of = graph.topological()
    order = list(keys)
    given = graph.meta.get("stages")
    if isinstance(given, Mapping):
        stage = {k: int(given[k]) for k in order}
    elif len(stages) == 1:
        stage = dict.fromkeys(order, 0)
    else:
        layers = [x for x in layer_of if x is not None]
        last = max(layers) if layers else 0
        stage = {k: placement.stage_of(ph, k, x, last) for k, x in zip(order, layer_of,
                                                                      strict=True)}
    used: dict[str, int] = {}
    for i in sorted(set(stage.values())):
        st = stages[i]
        used[st.pool] = used.get(st.pool, 0) + st.world
    for st in stages:
        have = sysm.spec.pools[st.pool].devices
        if used.get(st.pool, 0) > have:
            raise SpecError(f"placement.{ph}", f"its stages use {used[st.pool]} devices of pool "
                            f"{st.pool!r}, which has {have}")
    pg = PlacedGraph(graph, sysm, placement, ph, order, stage, stages, used=used)
    if len(used) > 1:
        _find_transfers(pg)
    return pg


def _find_transfers(pg: PlacedGraph) -> None:
    """One transfer per (producer, destination pool): the largest tensor it sends there (of
    an edge, the smaller of the producer's tensor and what the consumer reads of it)."""
    g = pg.graph.nx
    found: dict[tuple[str, str], tuple[str, float, list[str]]] = {}
    for key in pg.order:
        dst_pool = pg.pool_of(key)
        for src in g.predecessors(key):
            src_pool = pg.pool_of(src)
            if src_pool == dst_pool:
                continue
            if pg.system.link(src_pool, dst_pool) is None:
                raise SpecError(f"placement.{pg.phase}", f"ops on pool {src_pool!r} feed ops "
                                f"on pool {dst_pool!r}, but the system has no link between "
                                "them", list(pg.system.pools))
            edge = g.edges[src, key]
            nbytes = float(min(g.nodes[src]["op"].tensor(edge["src_tensor"]).nbytes,
                               g.nodes[key]["op"].tensor(edge["dst_tensor"]).nbytes))
            first, size, users = found.setdefault((src, dst_pool), (key, nbytes, []))
            users.append(key)
            found[(src, dst_pool)] = (first, max(size, nbytes), users)
    for (src, dst_pool), (first, nbytes, users) in found.items():
        pg.transfers.setdefault(first, []).append(
            Transfer(src, pg.pool_of(src), dst_pool, nbytes, tuple(users)))


def compose_stage_graphs(graphs: list[WorkloadGraph], placement: PlacementSpec, phase: str,
                         name: str) -> WorkloadGraph:
    """One graph from per-stage graphs built at each stage's parallelism: stage ``s`` keeps
    the ops of ``graphs[s]`` that the placement gives it, and the edges out of them (from
    ``graphs[s]``, so a transfer carries the producer's tensor as stage ``s`` shards it) into
    any kept op; cross-pool edges become transfers. The stage of each op is in
    ``meta["stages"]``. An op that only one stage's parallelism has (a TP all-reduce) exists
    only where that stage keeps it."""
    stages = placement.stages(phase)
    nodes: list[tuple[str, Any, int | None]] = []
    owner: dict[str, int] = {}
    for s, g in enumerate(graphs):
        layers = [g.layer_of(k) for k, _ in g.ops() if g.layer_of(k) is not None]
        last = max(x for x in layers if x is not None) if layers else 0
        for key, op in g.ops():
            layer = g.layer_of(key)
            mine = len(stages) == 1 or placement.stage_of(phase, key, layer, last) == s
            if mine and key not in owner:
                owner[key] = s
                nodes.append((key, op, layer))
    edges: set[tuple[str, str, str, str, EdgeMode]] = set()
    for s, g in enumerate(graphs):
        for src, dst, data in g.nx.edges(data=True):
            if owner.get(src) == s and dst in owner:  # the producer's tensor as stage s has it
                edges.add((src, dst, data["src_tensor"], data["dst_tensor"], data["mode"]))
    out = WorkloadGraph(name, {**graphs[0].meta, "stages": owner})
    out.add_bulk(nodes, sorted(edges))
    return out
