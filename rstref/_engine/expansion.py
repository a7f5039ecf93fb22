"""Ragged batch -> per-neighbour factors -> coefficients (+ per-neighbour derivatives).

Stage 1, per neighbour: radial values ``R_n, R_n', R_n''`` at ``|r|`` (evaluated by the
radial kernel :func:`rstref._kernels.radial.orthonormal_radial_point` when the basis
offers ``kernel_arguments()``, else tabulated by its ``with_derivatives``) and the
'component' spherical harmonics with derivatives (the injected harmonics calculator).

Stage 2, per environment: :func:`rstref._kernels.tensor.project_environment_channels` (one
per-atom kernel, :func:`~rstref._kernels.tensor.project_atom`, for the raw and the
kernel-normalised projection and for any number of species channels).

Outputs for a batch of ``n_env`` environments and ``P`` neighbours (``L = (l_max+1)**2``,
``n_eff = n_channels * n_max``): ``c`` (n_env, n_eff * L) in the stacked layout;
``dc`` (P, 3, n_max * L) and ``d2c`` (P, 3, 3, n_max * L) per neighbour in the
one-channel layout (a neighbour only moves its own channel's rows of its own
environment); trailing axes of size 0 beyond ``order``.
"""

import math

import numba
import numpy as np

from rstref import limits
from rstref._kernels import tensor as _kt
from rstref._kernels.radial import orthonormal_radial_point
from rstref._numba import njit

#: weights above this magnitude are scaled by a power of two before projecting
WEIGHT_SCALE_ABOVE = 2.0 ** 64


@njit
def _largest_magnitude(flat):
    top = 0.0
    for x in flat:
        top = max(top, abs(x))
    return top


def power_of_two_scale(limit, *arrays):
    """1.0 if every entry of ``arrays`` is at most ``limit`` in magnitude, else a power of
    two ``s`` with ``max|entries| / s`` in ``[1, 2)`` (finite for finite entries)."""
    largest = 0.0
    for a in arrays:
        if a.size:
            largest = max(largest, _largest_magnitude(a.reshape(-1)))
    if not largest > limit:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(largest)[1]) - 1))


def unscale(scale, degree, *arrays):
    """``arrays`` multiplied in place ``degree`` times by ``scale`` (overflow -> +-inf).

    One factor at a time, so a huge ``scale**degree`` never overflows on its own (and
    ``0 * scale**degree`` stays 0, never NaN).  Returns ``arrays`` as a tuple.
    """
    if scale != 1.0:
        with np.errstate(over="ignore"):
            for a in arrays:
                for _ in range(degree):
                    a *= scale
    return arrays

#: neighbours per chunk of the parallel radial loop; below 2 chunks the loops run serially
_CHUNK = 1024


@njit
def _radial_rows(vectors, start, stop, family, r_cut, n_prim, p, coefficients, R, dR, d2R):
    f = np.empty(n_prim)
    df = np.empty(n_prim)
    d2f = np.empty(n_prim)
    for i in range(start, stop):
        x = vectors[i]
        rho = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
        orthonormal_radial_point(rho, family, r_cut, n_prim, p, coefficients, f, df, d2f,
                                 R[i], dR[i], d2R[i])


@njit(parallel=True)
def _radial_parallel(vectors, family, r_cut, n_prim, p, coefficients, R, dR, d2R):
    n = vectors.shape[0]
    for k in numba.prange((n + _CHUNK - 1) // _CHUNK):
        _radial_rows(vectors, k * _CHUNK, min(n, (k + 1) * _CHUNK), family, r_cut, n_prim, p,
                     coefficients, R, dR, d2R)


@njit(parallel=True)
def _project_batch(offsets, vectors, channels, weights, R, dR, d2R, Y, dY, d2Y, n_max, n_eff,
                   l_max, normalize, order, norm_floor, c, dc, d2c):
    for e in numba.prange(offsets.shape[0] - 1):
        s = offsets[e]
        t = offsets[e + 1]
        _kt.project_environment_channels(vectors[s:t], weights[s:t], channels[s:t], R[s:t], dR[s:t],
                                d2R[s:t], Y[s:t], dY[s:t], d2Y[s:t], n_max, n_eff, l_max,
                                normalize, order, norm_floor, c[e], dc[s:t], d2c[s:t])


def _empty_derivatives(n, order, width):
    """``(n, 3, width)`` and ``(n, 3, 3, width)`` arrays, with 0-sized axes beyond ``order``."""
    first = np.zeros((n, 3, width) if order >= 1 else (n, 0, 0))
    second = np.zeros((n, 3, 3, width) if order >= 2 else (n, 0, 0, 0))
    return first, second


class Expansion:
    """One radial basis and one harmonics calculator: the engine's density expansion.

    Parameters
    ----------
    radial_basis
        Object with ``n_max`` and ``with_derivatives(r)`` -> ``R, dR/dr, d2R/dr2`` of shape
        ``(len(r), n_max)``; when it also offers ``kernel_arguments()`` (an
        :class:`rstref.OrthonormalRadialBasis`) the radial kernel evaluates it.
    l_max : int
    harmonics
        'component' spherical-harmonics calculator (``compute``,
        ``compute_with_gradients``, ``compute_with_hessians``), in the wanted convention.

    Attributes
    ----------
    n_max, l_max, dim : int
        ``dim = n_max * (l_max+1)**2``, the size of one channel.
    """

    def __init__(self, radial_basis, l_max, harmonics):
        self.radial_basis = radial_basis
        self.n_max = int(radial_basis.n_max)
        self.l_max = int(l_max)
        self.dim = self.n_max * (self.l_max + 1) ** 2
        self.harmonics = harmonics
        self._radial_arguments = None
        if hasattr(radial_basis, "kernel_arguments"):
            family, r_cut, n_prim, power, coefficients = radial_basis.kernel_arguments()
            self._radial_arguments = (family, float(r_cut), int(n_prim), int(power),
                                      np.ascontiguousarray(coefficients))

    @property
    def radial_kernel_arguments(self):
        """``(family, r_cut, n_prim, power, coefficients)`` of the radial kernel
        (:mod:`rstref._kernels.radial`), or None for a tabulated basis."""
        return self._radial_arguments

    # -- stage 1: per-neighbour factors
    def radial(self, vectors):
        """``R, dR, d2R`` (P, n_max) at ``|vectors|``."""
        n = vectors.shape[0]
        if self._radial_arguments is None:
            rho = np.sqrt(np.einsum("ia,ia->i", vectors, vectors))
            return tuple(np.ascontiguousarray(a) for a in self.radial_basis.with_derivatives(rho))
        R = np.empty((n, self.n_max))
        dR = np.empty((n, self.n_max))
        d2R = np.empty((n, self.n_max))
        if n > _CHUNK:
            _radial_parallel(vectors, *self._radial_arguments, R, dR, d2R)
        elif n:
            _radial_rows(vectors, 0, n, *self._radial_arguments, R, dR, d2R)
        return R, dR, d2R

    def angular(self, vectors, order):
        """``Y`` (P, L), ``dY`` (P, 3, L), ``d2Y`` (P, 3, 3, L); 0-sized axes beyond ``order``."""
        n = vectors.shape[0]
        if order == 0:
            return self.harmonics.compute(vectors), np.zeros((n, 0, 0)), np.zeros((n, 0, 0, 0))
        if order == 1:
            Y, dY = self.harmonics.compute_with_gradients(vectors)
            return Y, dY, np.zeros((n, 0, 0, 0))
        return self.harmonics.compute_with_hessians(vectors)

    def factors(self, vectors, order):
        """``(R, dR, d2R, Y, dY, d2Y)`` of every neighbour (see :meth:`radial`, :meth:`angular`)."""
        return (*self.radial(vectors), *self.angular(vectors, order))

    # -- stage 2: coefficients
    def coefficients(self, batch, normalize, order):
        """``c`` (n_env, n_eff * L), ``dc`` (P, 3, dim), ``d2c`` (P, 3, 3, dim) of a batch.

        ``normalize``: kernel-normalised (True) or raw (False) projection; ``order`` 0, 1
        or 2 (derivative arrays have 0-sized axes beyond it).  The projection is linear in
        the weights: weights beyond ``2**64`` are divided by a power of two first and the
        results multiplied back, so a coefficient whose true value exceeds float64 is
        ``+-inf``, never NaN.
        """
        scale, c, dc, d2c = self.coefficients_scaled(batch, normalize, order)
        return unscale(scale, 1, c, dc, d2c)

    def coefficients_scaled(self, batch, normalize, order):
        """``(s, c, dc, d2c)`` with the true coefficients ``s * c`` (see :meth:`coefficients`).

        ``s`` is 1.0 or a power of two: weights above ``2**64`` in magnitude are divided
        by it before the projection (exact: a power of two), so ``c`` never overflows for
        finite weights.  Homogeneous invariants of degree ``k`` then follow as ``s**k``
        times the invariants of ``c`` (:func:`unscale`).
        """
        scale = power_of_two_scale(WEIGHT_SCALE_ABOVE, batch.weights)
        if scale != 1.0:
            batch = batch._replace(weights=batch.weights / scale)
        return (scale, *self._coefficients(batch, normalize, order))

    def _coefficients(self, batch, normalize, order):
        """:meth:`coefficients` of a batch, without scaling."""
        n = batch.n_neighbours
        n_eff = batch.n_channels * self.n_max
        c = np.zeros((batch.n_env, n_eff * (self.l_max + 1) ** 2))
        dc, d2c = _empty_derivatives(n, order, self.dim)
        if n == 0:
            return c, dc, d2c
        args = (*self.factors(batch.vectors, order), self.n_max, n_eff, self.l_max,
                bool(normalize), order, limits.KERNEL_NORM_FLOOR)
        if batch.n_env == 1:
            _kt.project_environment_channels(batch.vectors, batch.weights, batch.channels, *args, c[0],
                                    dc, d2c)
        else:
            _project_batch(batch.offsets, batch.vectors, batch.channels, batch.weights, *args,
                           c, dc, d2c)
        return c, dc, d2c
