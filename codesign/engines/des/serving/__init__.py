"""Serving simulation: request arrivals, continuous batching with chunked prefill, KV-cache
capacity and preemption, prefill/decode disaggregation, MoE expert parallelism with routing
skew; TTFT/TPOT/E2E distributions, throughput, goodput, utilization, energy and cost.

Entry point: :func:`simulate` (``codesign simulate`` on the command line).
"""

from codesign.engines.des.serving.api import ServingResult, simulate
from codesign.engines.des.serving.cost import StepCost, StepCostModel
from codesign.engines.des.serving.mapping import (
    ServingMapping,
    choose_mapping,
    kv_budget,
    parse_mapping,
)
from codesign.engines.des.serving.workload import (
    LengthDist,
    Request,
    gamma_bursty,
    load_trace,
    poisson,
)

__all__ = ["LengthDist", "Request", "ServingMapping", "ServingResult", "StepCost",
           "StepCostModel", "choose_mapping", "gamma_bursty", "kv_budget", "load_trace",
           "parse_mapping", "poisson", "simulate"]
