"""GPU calibration: a PyTorch microbenchmark harness (runs on a real GPU, needs the ``gpu``
extra) and the fit of the GPU model's efficiency parameters to its measurements.

``microbench``, ``llama_e2e``, ``torch_kernels`` and ``nvml`` import only the standard library
and torch, so they run on a machine where nothing else of codesign is installed.
"""
