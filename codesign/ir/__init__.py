"""Workload IR: typed frozen ops, tensors with roles, and the ``WorkloadGraph`` DAG."""

from codesign.ir.dtypes import DType
from codesign.ir.graph import GraphTotals, WorkloadGraph
from codesign.ir.ops import (
    ELEMENTWISE_FLOPS,
    OP_TYPES,
    AllGather,
    AllReduce,
    Attention,
    Combine,
    Dispatch,
    Elementwise,
    Embedding,
    Gemm,
    GroupedGemm,
    KvCacheWrite,
    LmHead,
    MlaAttention,
    Op,
    ReduceScatter,
    Router,
    causal_pairs,
)
from codesign.ir.tensors import TensorRole, TensorSpec

__all__ = [
    "ELEMENTWISE_FLOPS",
    "OP_TYPES",
    "AllGather",
    "AllReduce",
    "Attention",
    "Combine",
    "DType",
    "Dispatch",
    "Elementwise",
    "Embedding",
    "Gemm",
    "GraphTotals",
    "GroupedGemm",
    "KvCacheWrite",
    "LmHead",
    "MlaAttention",
    "Op",
    "ReduceScatter",
    "Router",
    "TensorRole",
    "TensorSpec",
    "WorkloadGraph",
    "causal_pairs",
]
