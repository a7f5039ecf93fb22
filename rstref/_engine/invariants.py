"""Coefficients (+ per-neighbour derivatives) -> invariants (+ derivatives).

Every function takes already-checked float64 arrays (the public modules validate) and
calls the per-environment kernels of :mod:`rstref._kernels.invariants`.  Layouts: see
:mod:`rstref.invariants` (power spectrum, cross power spectrum, bispectrum).

A new invariant plugs in here with two kernels, its values and its Jacobian ``dB/dc``:
gradients of any order-1 quantity then follow from :func:`jacobian_gradients` (dense)
or the pair-sparse structure path (:mod:`rstref._engine.structures`).
"""

import numba
import numpy as np

from rstref._engine.expansion import power_of_two_scale, unscale
from rstref._kernels import invariants as _ki
from rstref._numba import njit

#: Overflow.  The invariants are homogeneous polynomials (degree 2 or 3) in the
#: coefficients and their derivatives, so inputs whose largest magnitude exceeds this are
#: divided by a power of two ``s`` (exact), the kernels run on numbers of magnitude < 2,
#: and the results are multiplied by ``s`` once per degree: a true value beyond float64
#: is ``+-inf``, never NaN from ``inf - inf`` in a sum of overflowed products.
COEFFICIENT_SCALE_ABOVE = 2.0 ** 200

# ----------------------------------------------------------------------------- power spectrum


def power_spectrum_size(n_max, l_max):
    return (l_max + 1) * n_max * (n_max + 1) // 2


@njit(parallel=True)
def _power_spectra_rows(c, n_max, l_max, p):
    for e in numba.prange(c.shape[0]):
        _ki.power_spectrum_values(c[e], n_max, l_max, p[e])


@njit(parallel=True)
def _power_spectra_gradient_rows(c, dc_rows, offsets, n_max, l_max, dp_rows):
    for e in numba.prange(c.shape[0]):
        s = 3 * offsets[e]
        t = 3 * offsets[e + 1]
        if t > s:
            _ki.power_spectrum_gradients(c[e], dc_rows[s:t], n_max, l_max, dp_rows[s:t])


def power_spectra(c, n_max, l_max):
    """``p`` (k, F) of the rows of ``c`` (k, dim); rows beyond the limit scaled one by one."""
    p = _power_spectra_unscaled(c, n_max, l_max)
    if power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c) != 1.0:
        for e in np.nonzero(np.max(np.abs(c), axis=1) > COEFFICIENT_SCALE_ABOVE)[0]:
            s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c[e])
            p[e] = _power_spectra_unscaled(c[e:e + 1] / s, n_max, l_max)[0]
            unscale(s, 2, p[e])
    return p


def _power_spectra_unscaled(c, n_max, l_max):
    p = np.zeros((c.shape[0], power_spectrum_size(n_max, l_max)))
    if c.shape[0] == 1:
        _ki.power_spectrum_values(c[0], n_max, l_max, p[0])
    elif c.shape[0]:
        _power_spectra_rows(c, n_max, l_max, p)
    return p


def power_spectrum_gradients(c, dc, n_max, l_max):
    """``dp`` (M, F) of one environment from ``c`` (dim,) and ``dc`` (M, dim)."""
    dp = np.empty((dc.shape[0], power_spectrum_size(n_max, l_max)))
    if dc.shape[0]:
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c, dc)
        if s != 1.0:
            c, dc = c / s, dc / s
        _ki.power_spectrum_gradients(c, dc, n_max, l_max, dp)
        unscale(s, 2, dp)
    return dp


def power_spectra_gradients(c, dc, offsets, n_max, l_max):
    """Per-neighbour ``dp`` (P, 3, F) of a batch: ``c`` (n_env, dim), ``dc`` (P, 3, dim)."""
    n, dim = dc.shape[0], c.shape[1]
    F = power_spectrum_size(n_max, l_max)
    dp = np.zeros((n, 3, F))
    if power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c, dc) != 1.0:
        for e in range(offsets.shape[0] - 1):
            rows = slice(offsets[e], offsets[e + 1])
            dp[rows] = power_spectrum_gradients(c[e], dc[rows].reshape(-1, dim), n_max,
                                                l_max).reshape(-1, 3, F)
        return dp
    if offsets.shape[0] == 2:
        if n:
            _ki.power_spectrum_gradients(c[0], dc.reshape(3 * n, dim), n_max, l_max,
                                         dp.reshape(3 * n, F))
    elif n:
        _power_spectra_gradient_rows(c, dc.reshape(3 * n, dim), offsets, n_max, l_max,
                                     dp.reshape(3 * n, F))
    return dp


def power_spectrum_hessian(c, dc, d2c, n_max, l_max):
    """``p`` (F,), ``dp`` (N, 3, F), ``d2p`` (N, 3, N, 3, F) of one environment.

    ``d2p[i,a,j,b] = sum_kk' d2p/dc_k dc_k' dc[i,a,k] dc[j,b,k'] + delta_ij sum_k dp/dc_k
    d2c[i,a,b,k]`` (atoms contribute independently, so ``d2c`` is atom-diagonal).
    """
    s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c, dc, d2c)
    if s != 1.0:
        return unscale(s, 2, *power_spectrum_hessian(c / s, dc / s, d2c / s, n_max, l_max))
    N, dim = dc.shape[0], c.shape[0]
    p = power_spectra(c[None], n_max, l_max)[0]
    F = p.shape[0]
    dp = power_spectrum_gradients(c, dc.reshape(3 * N, dim), n_max, l_max).reshape(N, 3, F)
    M = 3 * N
    d2p = np.zeros((M, M, F))
    if N == 0:
        return p, dp, d2p.reshape(N, 3, N, 3, F)
    _ki.power_spectrum_hessian_pairs(np.ascontiguousarray(dc.reshape(M, dim)), n_max, l_max,
                                     np.empty((n_max, n_max)), d2p)
    diag = power_spectrum_gradients(c, d2c.reshape(9 * N, dim), n_max, l_max)
    d2p = d2p.reshape(N, 3, N, 3, F)
    idx = np.arange(N)
    d2p[idx, :, idx, :, :] += diag.reshape(N, 3, 3, F)
    return p, dp, d2p


# ----------------------------------------------------------------------------- cross power spectrum


def power_spectrum_cross(ca, cb, n_max, l_max):
    """Cross power spectrum of the rows of ``ca``, ``cb`` (k, dim): (k, (l_max+1) n_max^2)."""
    out = np.empty((ca.shape[0], (l_max + 1) * n_max * n_max))
    for i in range(ca.shape[0]):
        a, b = ca[i], cb[i]
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, a, b)
        if s != 1.0:
            a, b = a / s, b / s
        _ki.power_spectrum_cross_values(a, b, n_max, l_max, out[i])
        unscale(s, 2, out[i])
    return out


def power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max):
    """``dpa`` (Ma, F), ``dpb`` (Mb, F) from ``dca`` (Ma, dim), ``dcb`` (Mb, dim)."""
    F = (l_max + 1) * n_max * n_max
    dpa = np.empty((dca.shape[0], F))
    dpb = np.empty((dcb.shape[0], F))
    s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, ca, dca, cb, dcb)
    if s != 1.0:
        ca, dca, cb, dcb = ca / s, dca / s, cb / s, dcb / s
    _ki.power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max, dpa, dpb)
    return unscale(s, 2, dpa, dpb)


# ----------------------------------------------------------------------------- bispectrum


class BispectrumKernel:
    """Triples and Clebsch-Gordan arrays of one bispectrum (values, Jacobian, Hessian).

    ``triples`` (T, 6) int64 rows ``(n1, l1, n2, l2, n3, l3)`` over ``n_eff`` radial rows;
    ``cg`` the tuple of :meth:`rstref.coupling.CouplingTable.kernel_arrays`.
    """

    def __init__(self, triples, cg, n_eff, l_max):
        self.triples = triples
        self.cg = cg
        self.n_eff = int(n_eff)
        self.l_max = int(l_max)
        self.n_features = int(triples.shape[0])
        self.dim = self.n_eff * (self.l_max + 1) ** 2

    def values(self, c):
        """``B`` (F,) of ``c`` (dim,)."""
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c)
        out = np.empty(self.n_features)
        _ki.bispectrum_values(c / s if s != 1.0 else c, self.n_eff, self.triples, *self.cg, out)
        return unscale(s, 3, out)[0]

    def jacobian(self, c):
        """``dB/dc`` (F, dim) at ``c`` (dim,)."""
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c)
        return unscale(s, 2, self._jacobian(c / s if s != 1.0 else c))[0]

    def _jacobian(self, c):
        jac = np.empty((self.n_features, self.dim))
        _ki.bispectrum_jacobian(c, self.n_eff, self.triples, *self.cg, jac)
        return jac

    def gradients(self, c, dc):
        """``B`` (F,) and ``dB = dc @ (dB/dc).T`` (..., F) from ``c`` (dim,), ``dc`` (..., dim)."""
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c, dc)
        if s != 1.0:
            c, dc = c / s, dc / s
        B = np.empty(self.n_features)
        _ki.bispectrum_values(c, self.n_eff, self.triples, *self.cg, B)
        return unscale(s, 3, B, dc @ self._jacobian(c).T)

    def hessian(self, c, dc, d2c):
        """``B``, ``dB`` (N, 3, F), ``d2B`` (N, 3, N, 3, F) of one environment."""
        s = power_of_two_scale(COEFFICIENT_SCALE_ABOVE, c, dc, d2c)
        if s != 1.0:
            return unscale(s, 3, *self.hessian(c / s, dc / s, d2c / s))
        N, dim, F = dc.shape[0], self.dim, self.n_features
        jac = self.jacobian(c)
        M = 3 * N
        flat = np.ascontiguousarray(dc.reshape(M, dim))
        d2B = np.zeros((M, M, F))
        if N:
            w = 2 * self.l_max + 1
            _ki.bispectrum_hessian_pairs(c, flat, self.n_eff, self.triples, *self.cg,
                                         np.empty((w, w)), np.empty((M, w)), d2B)
        d2B = d2B.reshape(N, 3, N, 3, F)
        idx = np.arange(N)
        d2B[idx, :, idx, :, :] += d2c @ jac.T
        return self.values(c), dc @ jac.T, d2B
