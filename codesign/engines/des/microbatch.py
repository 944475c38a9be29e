"""Per-micro-batch graphs for the overlap schedules (the engine cannot rebuild graphs)."""

from __future__ import annotations

from collections.abc import Callable

from codesign.errors import SpecError
from codesign.ir.graph import WorkloadGraph


def split_sizes(batch: int, parts: int, multiple: int = 1) -> list[int]:
    """``batch`` cut into ``parts`` near-equal sizes, each a multiple of ``multiple``
    (larger parts first).

    Raises:
        SpecError: ``parts < 1``, ``multiple < 1``, or a part that would be empty or not a
            multiple of ``multiple``.
    """
    if not isinstance(parts, int) or parts < 1:
        raise SpecError("micro_batches", f"must be an integer >= 1, got {parts!r}")
    if not isinstance(multiple, int) or multiple < 1:
        raise SpecError("multiple", f"must be an integer >= 1, got {multiple!r}")
    if batch % multiple:
        raise SpecError("batch", f"{batch} is not a multiple of {multiple}")
    units = batch // multiple
    if units < parts:
        raise SpecError("micro_batches", f"{parts} micro-batches of a batch of {batch} "
                        f"(in multiples of {multiple}) leave some empty")
    base, extra = divmod(units, parts)
    return [(base + (1 if p < extra else 0)) * multiple for p in range(parts)]


def split_graphs(build: Callable[[int], WorkloadGraph], batch: int, parts: int,
                 multiple: int = 1) -> list[WorkloadGraph]:
    """One graph per micro-batch: ``build(size)`` for each size of :func:`split_sizes`.

    Equal sizes share one graph object (the engine flattens it once).

    Args:
        build: builds the graph of a batch of the given size (e.g. a closure over
            ``workloads.builder.build_model_graph`` with the model, phase and mapping).
        batch: sequences in the whole pass.
        parts: micro-batches.
        multiple: each micro-batch a multiple of this (the data-parallel degree).
    """
    built: dict[int, WorkloadGraph] = {}
    out = []
    for size in split_sizes(batch, parts, multiple):
        if size not in built:
            built[size] = build(size)
        out.append(built[size])
    return out
