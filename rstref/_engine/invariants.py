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

from rstref._kernels import invariants as _ki
from rstref._numba import njit

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
    """``p`` (k, F) of the rows of ``c`` (k, dim)."""
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
        _ki.power_spectrum_gradients(c, dc, n_max, l_max, dp)
    return dp


def power_spectra_gradients(c, dc, offsets, n_max, l_max):
    """Per-neighbour ``dp`` (P, 3, F) of a batch: ``c`` (n_env, dim), ``dc`` (P, 3, dim)."""
    n, dim = dc.shape[0], c.shape[1]
    F = power_spectrum_size(n_max, l_max)
    dp = np.zeros((n, 3, F))
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
        _ki.power_spectrum_cross_values(ca[i], cb[i], n_max, l_max, out[i])
    return out


def power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max):
    """``dpa`` (Ma, F), ``dpb`` (Mb, F) from ``dca`` (Ma, dim), ``dcb`` (Mb, dim)."""
    F = (l_max + 1) * n_max * n_max
    dpa = np.empty((dca.shape[0], F))
    dpb = np.empty((dcb.shape[0], F))
    _ki.power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max, dpa, dpb)
    return dpa, dpb


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
        out = np.empty(self.n_features)
        _ki.bispectrum_values(c, self.n_eff, self.triples, *self.cg, out)
        return out

    def jacobian(self, c):
        """``dB/dc`` (F, dim) at ``c`` (dim,)."""
        jac = np.empty((self.n_features, self.dim))
        _ki.bispectrum_jacobian(c, self.n_eff, self.triples, *self.cg, jac)
        return jac

    def hessian(self, c, dc, d2c):
        """``B``, ``dB`` (N, 3, F), ``d2B`` (N, 3, N, 3, F) of one environment."""
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
