"""Workloads: model configurations, graph builders and NumPy reference kernels."""
