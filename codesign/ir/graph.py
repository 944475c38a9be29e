"""``WorkloadGraph``: a networkx DAG of typed ops, the common currency of every engine.

Node keys are strings unique in the graph (``L3.attn.q_a_proj``); node attributes are ``op``
(a frozen :class:`~codesign.ir.ops.Op`) and ``layer`` (``None`` outside the layer stack).
Edges carry the tensor that flows: ``src_tensor`` (an output of the producer), ``dst_tensor``
(an input of the consumer) and a ``mode``:

* ``same``: the consumer reads exactly what was produced (equal element count; reshapes ok);
* ``slice``: the consumer reads part of it (e.g. the rope part of a query);
* ``append``: the producer's rows are appended to a KV cache that the consumer reads whole
  (new K/V -> cache); the consumer's tensor must have the ``kv_cache`` role, and the sizes are
  unrelated (the cache holds earlier tokens too).
* ``pad``: the consumer reads the produced tensor zero-padded to at least its size (the
  tokens of a TP group padded to a multiple of tp before a sequence-parallel reduce-scatter).

Dtypes must match on every edge.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx

from codesign.errors import GraphError
from codesign.ir.ops import Op
from codesign.ir.tensors import TensorRole

EdgeMode = Literal["same", "slice", "append", "pad"]
EDGE_MODES: tuple[str, ...] = ("same", "slice", "append", "pad")


@dataclass(frozen=True, slots=True)
class GraphTotals:
    """Sums over a graph's ops. FLOPs in operations, bytes in bytes."""

    op_count: int
    flops: int
    bytes_read: int
    bytes_written: int
    weight_bytes_read: int
    kv_bytes_read: int
    comm_send_bytes: int
    ops_by_kind: dict[str, int]
    flops_by_kind: dict[str, int]


class WorkloadGraph:
    """A DAG of ops for one device (one rank) and one pass (a prefill or a decode step)."""

    def __init__(self, name: str, meta: dict[str, Any] | None = None) -> None:
        self.name = name
        self.meta: dict[str, Any] = dict(meta or {})
        self._g = nx.DiGraph()
        self._order: tuple[tuple[str, ...], tuple[Op, ...], tuple[int | None, ...]] | None = None

    # ----------------------------------------------------------------- construction
    def add_op(self, key: str, op: Op, layer: int | None = None) -> str:
        """Add ``op`` under ``key``; a duplicate key is an error."""
        if key in self._g:
            raise GraphError(f"duplicate op key {key!r}")
        if not isinstance(op, Op):
            raise GraphError(f"{key}: not an Op: {type(op).__name__}")
        self._g.add_node(key, op=op, layer=layer)
        self._order = None
        return key

    def connect(
        self, src: str, dst: str, src_tensor: str, dst_tensor: str, mode: EdgeMode = "same"
    ) -> None:
        """Route ``src``'s output ``src_tensor`` into ``dst``'s input ``dst_tensor``."""
        for key in (src, dst):
            if key not in self._g:
                raise GraphError(f"edge {src}->{dst}: unknown op {key!r}")
        self._g.add_edge(src, dst, src_tensor=src_tensor, dst_tensor=dst_tensor, mode=mode)
        self._order = None

    def add_bulk(
        self,
        nodes: list[tuple[str, Op, int | None]],
        edges: list[tuple[str, str, str, str, EdgeMode]],
    ) -> None:
        """Add many nodes and edges at once (the builders' fast path); keys must be new."""
        keys = [k for k, _, _ in nodes]
        if len(set(keys)) != len(keys) or any(k in self._g for k in keys):
            dup = [k for k, c in Counter(keys).items() if c > 1 or k in self._g]
            raise GraphError(f"duplicate op keys: {dup[:5]}")
        self._order = None
        self._g.add_nodes_from((k, {"op": op, "layer": layer}) for k, op, layer in nodes)
        expected = self._g.number_of_nodes()
        self._g.add_edges_from(
            (s, d, {"src_tensor": st, "dst_tensor": dt, "mode": m}) for s, d, st, dt, m in edges
        )
        if self._g.number_of_nodes() != expected:
            stray = [n for n in self._g if "op" not in self._g.nodes[n]]
            self._g.remove_nodes_from(stray)
            raise GraphError(f"edges name ops that are not in the graph: {stray[:5]}")

    # ----------------------------------------------------------------- access
    @property
    def nx(self) -> nx.DiGraph:
        """A read-only view of the underlying networkx graph."""
        return self._g.copy(as_view=True)

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def __contains__(self, key: object) -> bool:
        return key in self._g

    def op(self, key: str) -> Op:
        return self._g.nodes[key]["op"]

    def layer_of(self, key: str) -> int | None:
        return self._g.nodes[key]["layer"]

    def ops(self) -> Iterator[tuple[str, Op]]:
        """``(key, op)`` in insertion order (builders insert in a topological order)."""
        for key, data in self._g.nodes(data=True):
            yield key, data["op"]

    def topological_ops(self) -> Iterator[tuple[str, Op]]:
        """``(key, op)`` in a topological order of the DAG."""
        keys, ops, _ = self.topological()
        yield from zip(keys, ops, strict=True)

    def topological(self) -> tuple[tuple[str, ...], tuple[Op, ...], tuple[int | None, ...]]:
        """Keys, ops and layers in a topological order of the DAG (networkx's, computed once
        and kept until the graph changes): what engines iterate."""
        if self._order is None:
            nodes = self._g.nodes
            keys = _kahn_generations(self._g)
            self._order = (keys, tuple(nodes[k]["op"] for k in keys),
                           tuple(nodes[k]["layer"] for k in keys))
        return self._order

    def predecessors(self, key: str) -> list[str]:
        return list(self._g.predecessors(key))

    def layers(self) -> list[int]:
        return sorted({d["layer"] for _, d in self._g.nodes(data=True) if d["layer"] is not None})

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        """Check the graph is a DAG and every edge's tensors exist and agree.

        Raises:
            GraphError: naming the first offending cycle or edge.
        """
        if not nx.is_directed_acyclic_graph(self._g):
            cycle = nx.find_cycle(self._g)
            raise GraphError("graph has a cycle: " + " -> ".join(f"{u}" for u, _ in cycle))
        checked: set[tuple[int, int, str, str, str]] = set()
        nodes = self._g.nodes
        for src, dst, data in self._g.edges(data=True):
            sop, dop = nodes[src]["op"], nodes[dst]["op"]
            sig = (id(sop), id(dop), data["src_tensor"], data["dst_tensor"], data["mode"])
            if sig in checked:
                continue
            _check_edge(src, dst, sop, dop, data)
            checked.add(sig)

    # ----------------------------------------------------------------- sums
    def totals(self) -> GraphTotals:
        """FLOPs and compulsory bytes summed over all ops."""
        per_op: dict[int, tuple[int, int, int, int, int, int]] = {}
        ops_by_kind: Counter[str] = Counter()
        flops_by_kind: defaultdict[str, int] = defaultdict(int)
        acc = [0, 0, 0, 0, 0, 0]
        for _, op in self.ops():
            vals = per_op.get(id(op))
            if vals is None:
                roles = op.bytes_read_by_role()
                send = int(getattr(op, "send_bytes", 0)) if op.is_communication else 0
                vals = (
                    op.flops,
                    op.bytes_read,
                    op.bytes_written,
                    roles[TensorRole.WEIGHT],
                    roles[TensorRole.KV_CACHE],
                    send,
                )
                per_op[id(op)] = vals
            for i, v in enumerate(vals):
                acc[i] += v
            ops_by_kind[op.kind] += 1
            flops_by_kind[op.kind] += vals[0]
        flops, read, written, weight, kv, send = acc
        return GraphTotals(len(self), flops, read, written, weight, kv, send, dict(ops_by_kind),
                           dict(flops_by_kind))

    def __repr__(self) -> str:
        return f"WorkloadGraph({self.name!r}, ops={len(self)}, edges={self._g.number_of_edges()})"


def _kahn_generations(g: nx.DiGraph) -> tuple[str, ...]:
    """``nx.topological_sort``'s order (Kahn's algorithm generation by generation, nodes of a
    generation in insertion order), on the adjacency dicts directly: a few times faster.

    Raises:
        GraphError: the graph has a cycle.
    """
    succ = g.adj
    indeg = {v: len(p) for v, p in g.pred.items()}
    order = [v for v, d in indeg.items() if d == 0]
    i = 0
    while i < len(order):
        for child in succ[order[i]]:
            indeg[child] -= 1
            if indeg[child] == 0:
                order.append(child)
        i += 1
    if len(order) != len(indeg):
        raise GraphError("graph has a cycle")
    return tuple(order)


def _check_edge(src: str, dst: str, sop: Op, dop: Op, data: dict[str, Any]) -> None:
    where = f"edge {src}->{dst}"
    outs = {t.name: t for t in sop.outputs()}
    ins = {t.name: t for t in dop.inputs()}
    st, dt, mode = data["src_tensor"], data["dst_tensor"], data["mode"]
    if st not in outs:
        raise GraphError(f"{where}: {src} has no output {st!r} (outputs: {sorted(outs)})")
    if dt not in ins:
        raise GraphError(f"{where}: {dst} has no input {dt!r} (inputs: {sorted(ins)})")
    a, b = outs[st], ins[dt]
    if a.dtype != b.dtype:
        raise GraphError(f"{where}: dtype {a.dtype} of {st!r} != {b.dtype} of {dt!r}")
    ok = {
        "same": a.numel == b.numel,
        "slice": b.numel <= a.numel,
        "append": b.role == TensorRole.KV_CACHE and a.role == TensorRole.KV_CACHE,
        "pad": b.numel >= a.numel,
    }.get(mode)
    if ok is None:
        raise GraphError(f"{where}: unknown edge mode {mode!r} (allowed: {', '.join(EDGE_MODES)})")
    if not ok:
        raise GraphError(
            f"{where}: inconsistent shapes for mode {mode!r}: {st}{list(a.shape)} -> "
            f"{dt}{list(b.shape)}"
        )
