"""Orthonormal radial bases on the GPU: one thread per distance, the CPU's per-distance kernel.

GPU twin of :meth:`rstref.OrthonormalRadialBasis.with_derivatives`; the maths is
:func:`rstref._kernels.radial.orthonormal_radial_point`, called unchanged, with the
arguments the basis gives through its public ``kernel_arguments()``.  The basis'
coefficient matrix is copied to each device once (:func:`rstref.cuda.driver.device_table`).
"""

import functools

import numpy as np

from rstref._kernels.radial import orthonormal_radial_point
from rstref.cuda.driver import (
    as_float64_device,
    check_nonnegative,
    cuda,
    device_function,
    device_table,
    empty,
    launch,
    require,
)

_orthonormal_point = device_function(orthonormal_radial_point)


@functools.lru_cache(maxsize=None)
def _kernel(n_prim):
    """Kernel for bases of ``n_prim`` primitives (scratch size is a compile-time constant)."""

    @cuda.jit
    def radial(r, family, r_cut, p, coefficients, out, dout, d2out):
        f = cuda.local.array(n_prim, np.float64)
        df = cuda.local.array(n_prim, np.float64)
        d2f = cuda.local.array(n_prim, np.float64)
        for i in range(cuda.grid(1), r.shape[0], cuda.gridsize(1)):
            _orthonormal_point(
                r[i], family, r_cut, n_prim, p, coefficients, f, df, d2f, out[i], dout[i], d2out[i]
            )

    return radial


def evaluate_on_device(radial_arguments, r):
    """``R``, ``dR/dr``, ``d2R/dr2`` at device distances ``r`` (validated float64).

    Parameters
    ----------
    radial_arguments : tuple
        ``(family, r_cut, n_prim, envelope_power, coefficients)`` as returned by
        :meth:`rstref.OrthonormalRadialBasis.kernel_arguments`; ``coefficients`` has
        shape ``(n_max, n_prim)``.
    r : device array, shape (n,)
        Distances ``>= 0``, already validated.

    Returns
    -------
    tuple of three device arrays, each shape (n, n_max)
    """
    family, r_cut, n_prim, envelope_power, coefficients = radial_arguments
    coefficients = np.ascontiguousarray(coefficients, dtype=np.float64)
    n_max, n_prim = coefficients.shape[0], int(n_prim)
    if coefficients.shape[1] != n_prim:
        raise ValueError(f"radial coefficients must have shape (n_max, {n_prim}) for "
                         f"{n_prim} primitives, got {coefficients.shape}")
    n = r.shape[0]
    out = empty((n, n_max))
    dout = empty((n, n_max))
    d2out = empty((n, n_max))
    if n:
        launch(_kernel(n_prim), n, r, int(family), float(r_cut), int(envelope_power),
               device_table(coefficients), out, dout, d2out)
    return out, dout, d2out


def radial_basis_with_derivatives(radial_arguments, r):
    """GPU twin of ``basis.with_derivatives(r)``: three device arrays of shape ``(len(r), n_max)``.

    Parameters
    ----------
    radial_arguments : tuple
        ``basis.kernel_arguments()`` of an :class:`rstref.OrthonormalRadialBasis`.
    r : array_like or device array, shape (n,)
        Distances, finite and ``>= 0``.
    """
    require()
    r = as_float64_device(r, "r", ndim=1)
    check_nonnegative(r, "r", "distances >= 0")
    return evaluate_on_device(radial_arguments, r)


def radial_basis(radial_arguments, r):
    """GPU twin of ``basis(r)``: device array ``(len(r), n_max)``."""
    return radial_basis_with_derivatives(radial_arguments, r)[0]
