"""Topology benchmarks: the 16,384-endpoint MPFT build time and DeepSeek's topology table.

Run: ``python benchmarks/bench_topology.py`` (writes ``benchmarks/results/topology.json``).

* Building the radix-64, 8-plane MPFT (16,384 GPUs) with its counts and cost must take
  <= 2 s. Counts and cost come from formulas (no graph); the full networkx graph
  (GPUs, NICs, NVSwitches, switches: ~42K nodes, ~115K edges) is timed separately, as is the
  first routed flow (which indexes the graph) and later flows.
* Counts and cost per endpoint of FT2, MPFT, FT3, SF, DF at radix 64 against DeepSeek ISCA
  2025, "Insights into DeepSeek-V3" (arXiv 2505.09343), Table 3.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from hwmodels.network.topology import build_topology, find_flow_path, mpft

PUBLISHED = {  # kind: (endpoints, switches, links, cost USD, cost per endpoint USD)
    "ft2": (2_048, 96, 2_048, 9e6, 4.39e3),
    "mpft": (16_384, 768, 16_384, 72e6, 4.39e3),
    "ft3": (65_536, 5_120, 131_072, 491e6, 7.5e3),
    "slimfly": (32_928, 1_568, 32_928, 146e6, 4.4e3),
    "dragonfly": (261_632, 16_352, 384_272, 1_522e6, 5.8e3),
}


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _counts_and_cost() -> tuple[int, float]:
    t = mpft(64, 8)
    return t.endpoints, t.cost_usd


def _with_graph() -> int:
    t = mpft(64, 8)
    _ = (t.counts, t.cost_usd)
    return t.graph.number_of_edges()


def main() -> dict:
    counts_s = _median_s(_counts_and_cost, 200)
    graph_s = _median_s(_with_graph, 3)
    t = mpft(64, 8)
    g = t.graph
    t0 = time.perf_counter()
    find_flow_path(t, 0, 16_383)
    first_flow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for dst in range(1, 65):
        find_flow_path(t, 0, dst * 200)
    flow_s = (time.perf_counter() - t0) / 64
    table = {}
    for kind, (ep, sw, links, cost, per_ep) in PUBLISHED.items():
        topo = build_topology(kind, 64)
        table[kind] = {
            "endpoints": topo.endpoints, "switches": topo.switches, "links": topo.links,
            "cost_usd": round(topo.cost_usd), "cost_per_endpoint_usd":
                round(topo.cost_per_endpoint_usd, 1),
            "published": {"endpoints": ep, "switches": sw, "links": links, "cost_usd": cost,
                          "cost_per_endpoint_usd": per_ep},
            "counts_match": (topo.endpoints, topo.switches, topo.links) == (ep, sw, links),
            "cost_per_endpoint_ratio": round(topo.cost_per_endpoint_usd / per_ep, 4),
        }
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "mpft_r64_p8_endpoints": t.endpoints,
        "mpft_counts_and_cost_s_median": round(counts_s, 6),
        "mpft_with_graph_s_median": round(graph_s, 3),
        "mpft_graph_nodes": g.number_of_nodes(),
        "mpft_graph_edges": g.number_of_edges(),
        "target_s": 2.0,
        "first_flow_path_s": round(first_flow_s, 3),
        "flow_path_new_destination_s": round(flow_s, 4),
        "deepseek_table3": table,
    }
    out = Path(__file__).parent / "results" / "topology.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    r = main()
    print(json.dumps({k: v for k, v in r.items() if k != "deepseek_table3"}, indent=2))
    for kind, row in r["deepseek_table3"].items():
        print(f"{kind:10s} counts match: {row['counts_match']}  cost/endpoint "
              f"${row['cost_per_endpoint_usd']:,.0f} (x{row['cost_per_endpoint_ratio']})")
