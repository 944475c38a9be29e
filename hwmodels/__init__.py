"""Parametric hardware models: GPU (SM level), networks, FPGA, processing-in-memory, CPU.

Each family implements the hardware contract of ``codesign.hw`` (core framework, part 2).
"""
