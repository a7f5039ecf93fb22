"""Orthonormal radial bases on the GPU: one thread per distance, the CPU's per-distance kernel.

GPU twin of :meth:`rstref.OrthonormalRadialBasis.with_derivatives`; the maths is
:func:`rstref._kernels.radial.orthonormal_radial_point`, called unchanged.  The basis'
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


def evaluate_on_device(basis, r):
    """``R``, ``dR/dr``, ``d2R/dr2`` of ``basis`` at device distances ``r`` (validated float64).

    Parameters
    ----------
    basis : OrthonormalRadialBasis
    r : device array, shape (n,)
        Distances ``>= 0``, already validated.

    Returns
    -------
    tuple of three device arrays, each shape (n, n_max)
    """
    n = r.shape[0]
    out = empty((n, basis.n_max))
    dout = empty((n, basis.n_max))
    d2out = empty((n, basis.n_max))
    if n:
        coefficients = device_table(basis.coefficients)
        launch(_kernel(basis.n_max), n, r, basis.family.family_code, basis.r_cut,
               basis.family._p, coefficients, out, dout, d2out)
    return out, dout, d2out


def radial_basis_with_derivatives(basis, r):
    """GPU twin of ``basis.with_derivatives(r)``: three device arrays of shape ``(len(r), n_max)``.

    Parameters
    ----------
    basis : OrthonormalRadialBasis
    r : array_like or device array, shape (n,)
        Distances, finite and ``>= 0``.
    """
    require()
    r = as_float64_device(r, "r", ndim=1)
    check_nonnegative(r, "r", "distances >= 0")
    return evaluate_on_device(basis, r)


def radial_basis(basis, r):
    """GPU twin of ``basis(r)``: device array ``(len(r), n_max)``."""
    return radial_basis_with_derivatives(basis, r)[0]
