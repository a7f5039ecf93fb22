"""Per-item numba kernels shared by the CPU drivers and the CUDA kernels (docs/architecture.md).

Functions here take one item (a point, a distance, an environment), write into
caller-provided output and scratch arrays and never allocate.
"""
