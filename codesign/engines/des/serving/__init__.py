"""Serving simulation on the DES engine's SimPy environment: request arrivals, continuous
batching with chunked prefill, KV-cache capacity and preemption, prefix-cache hits,
prefill/decode disaggregation over the pools and links of a system, MoE expert parallelism
with routing skew; TTFT/TPOT/E2E distributions, throughput, goodput, utilization per pool,
memory, energy and cost.

Entry point: :func:`simulate` (``codesign simulate`` on the command line).

Modules: ``api`` (simulate), ``plan`` (pools, mappings, memory; building the deployment),
``cluster`` (SimPy resources from the system), ``lane`` (the batching scheduler), ``sim``
(arrivals, routing, KV transfers), ``cost`` (step costs from the analytical engine),
``mapping``, ``facts`` (model facts from the workload family), ``workload``, ``metrics``,
``trace``.
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
    Workload,
    gamma_bursty,
    gamma_workload,
    load_trace,
    poisson,
    poisson_workload,
)

__all__ = ["LengthDist", "Request", "ServingMapping", "ServingResult", "StepCost",
           "StepCostModel", "Workload", "choose_mapping", "gamma_bursty", "gamma_workload",
           "kv_budget", "load_trace", "parse_mapping", "poisson", "poisson_workload",
           "simulate"]
