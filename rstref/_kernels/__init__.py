"""Per-item numba kernels shared by the CPU drivers and the CUDA kernels (DESIGN section 3).

Functions here take one item (a point, a distance, an environment), write into
caller-provided output and scratch arrays and never allocate.
"""
