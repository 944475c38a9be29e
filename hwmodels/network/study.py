"""Network co-design in DeepSeek's style: pure functions behind the ``network-codesign`` study.

* :func:`cost_sweep`: fabric cost, power and counts per endpoint against endpoints for FT2,
  MPFT, FT3, slim fly and dragonfly over switch radices (closed-form counts; no graph is
  built, so a slim fly whose ``q`` is not a prime power still counts).
* :func:`tpot_bound`: the decode time-per-output-token bound of DeepSeek ISCA 2025
  ("Insights into DeepSeek-V3", arXiv 2505.09343, section 2.3.2): per layer one dispatch
  (FP8, 1 byte a value) and one combine (BF16, 2 bytes) of ``tokens x experts x hidden``
  values over a GPU's bandwidth; with dual micro-batch overlap and computation hidden a layer
  takes twice that; TPOT is ``layers`` layers. The paper writes the hidden size as "7K" and
  computes with 7,000 (:data:`PAPER_HIDDEN`): that gives its 120.96 us and 14.76 ms exactly.
* :func:`ep_tpot`: the same bound from the codesign expert-parallel model
  (:func:`~hwmodels.network.ep.ep_estimate`): FP8 scales, achievable fraction of line rate,
  NVLink forwarding and fixed collective latency included.
* :func:`multi_plane_effects`: what an 8-plane fat tree changes against single-plane FT2/FT3.

The TPOT functions are in :mod:`hwmodels.network.study_tpot`, the multi-plane ones in
:mod:`hwmodels.network.study_planes`; every name is importable from here.
"""

from __future__ import annotations

from typing import Any

from codesign.errors import SpecError
from hwmodels.network.study_planes import (
    failed_plane_flow_check,
    multi_plane_effects,
    pruned_ft3,
)
from hwmodels.network.study_tpot import (
    PAPER_HIDDEN,
    PAPER_TPOT,
    EpTpot,
    TpotBound,
    ep_tpot,
    paper_tpot_check,
    per_gpu_bytes_per_s,
    system_variant,
    tpot_bound,
    tpot_explanation,
    tpot_table,
)
from hwmodels.network.topology import build_topology

TOPOLOGY_KINDS = ("ft2", "mpft", "ft3", "slimfly", "dragonfly")


# ------------------------------------------------------------------------------ cost
def cost_sweep(radices: tuple[int, ...] = (16, 32, 48, 64, 128), planes: int = 8,
               kinds: tuple[str, ...] = TOPOLOGY_KINDS) -> Any:
    """Counts, cost and power of each topology at each radix (one row each), full size.

    Columns: ``topology, name, radix, planes, endpoints, switches, links, endpoint_links,
    cost_usd, cost_per_endpoint_usd, power_w, power_per_endpoint_w`` (fabric only: switches,
    switch-link optics and fibres, endpoint cables; NICs apart; default prices
    :func:`~hwmodels.network.topology.ndr_400g_prices`). A combination a builder rejects is
    left out and listed in ``df.attrs["skipped"]`` as ``{topology, radix, field, reason}``.
    """
    import pandas as pd

    rows, skipped = [], []
    for kind in kinds:
        for radix in radices:
            try:
                t = build_topology(kind, radix, planes=planes if kind == "mpft" else None)
            except SpecError as e:
                skipped.append({"topology": kind, "radix": radix, "field": e.field,
                                "reason": e.message})
                continue
            rows.append({
                "topology": kind, "name": t.name, "radix": radix,
                "planes": int(t.params.get("planes", 1)), "endpoints": t.endpoints,
                "switches": t.switches, "links": t.links, "endpoint_links": t.endpoint_links,
                "cost_usd": t.cost_usd, "cost_per_endpoint_usd": t.cost_per_endpoint_usd,
                "power_w": t.power_w, "power_per_endpoint_w": t.power_w / t.endpoints,
            })
    df = pd.DataFrame(rows)
    df.attrs["skipped"] = skipped
    return df



__all__ = ["PAPER_HIDDEN", "PAPER_TPOT", "TOPOLOGY_KINDS", "EpTpot", "TpotBound",
           "cost_sweep", "ep_tpot", "failed_plane_flow_check", "multi_plane_effects",
           "paper_tpot_check", "per_gpu_bytes_per_s", "pruned_ft3", "system_variant",
           "tpot_bound", "tpot_explanation", "tpot_table"]
