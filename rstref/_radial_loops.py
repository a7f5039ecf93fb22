"""CPU drivers of :mod:`rstref.radial`: the per-distance kernels of
:mod:`rstref._kernels.radial` over an array of distances, threaded over chunks.

``r`` is a checked 1-D float64 array; the outputs ``(len(r), n)`` are allocated by the
caller and written row by row.
"""

import numba
import numpy as np

from rstref._kernels.radial import orthonormal_radial_point, radial_primitives_point
from rstref._numba import njit

#: distances per thread task
_CHUNK = 256


@njit
def _primitives_chunk(r, family, r_cut, n, p, f, df, d2f, start, stop):
    for i in range(start, stop):
        radial_primitives_point(r[i], family, r_cut, n, p, f[i], df[i], d2f[i])


@njit(parallel=True)
def primitives_loop(r, family, r_cut, n, p, f, df, d2f):
    """Primitive values ``f``, first and second derivatives ``df``, ``d2f`` at every ``r``."""
    n_chunks = (r.shape[0] + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        _primitives_chunk(r, family, r_cut, n, p, f, df, d2f,
                          c * _CHUNK, min((c + 1) * _CHUNK, r.shape[0]))


@njit
def _orthonormal_chunk(r, family, r_cut, n_prim, p, coefficients, out, dout, d2out, start, stop):
    f = np.empty(n_prim)
    df = np.empty(n_prim)
    d2f = np.empty(n_prim)
    for i in range(start, stop):
        orthonormal_radial_point(r[i], family, r_cut, n_prim, p, coefficients,
                                 f, df, d2f, out[i], dout[i], d2out[i])


@njit(parallel=True)
def orthonormal_loop(r, family, r_cut, n_prim, p, coefficients, out, dout, d2out):
    """``R``, ``dR/dr``, ``d2R/dr2`` at every ``r`` (arguments after ``r``: the basis's
    ``kernel_arguments()``)."""
    n_chunks = (r.shape[0] + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        _orthonormal_chunk(r, family, r_cut, n_prim, p, coefficients, out, dout, d2out,
                           c * _CHUNK, min((c + 1) * _CHUNK, r.shape[0]))
