"""NumPy reference implementations of low-precision formats (FP8, MXFP4, NVFP4, INT-n)."""
