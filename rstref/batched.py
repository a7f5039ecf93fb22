"""Expansions and power spectra of many environments at once, on the CPU or the GPU.

A batch of environments is *ragged*: the neighbours of all environments are stored
flat and ``offsets`` (length ``n_env + 1``, ``offsets[0] = 0``, non-decreasing,
``offsets[-1] = N``) delimits them; environment ``e`` is the rows
``offsets[e]:offsets[e+1]`` of ``positions`` (relative to its centre) and ``values``::

    neighbours of environment e = [i for i in range(offsets[e], offsets[e + 1])]

Per-neighbour derivatives are stored flat in the same order: ``dc[i, a]`` is the
derivative of the coefficients of the environment that owns neighbour ``i`` with
respect to that neighbour's coordinate ``a`` (a neighbour moves only its own
environment's density).  Empty environments give zero coefficients and invariants.

Every function equals, environment by environment,
:meth:`RadialSphericalTensor.with_peaks_at` (and its derivative variants) and
:class:`PowerSpectrum`, with the same per-atom and per-environment kernels
(:mod:`rstref._kernels.tensor`, :mod:`rstref._kernels.invariants`).

``device``: None runs on the GPU when ``positions`` is a device array
(``__cuda_array_interface__``), 'cuda' forces the GPU (outputs are numba device
arrays), 'cpu' the CPU; see :mod:`rstref.cuda`.
"""

import numba
import numpy as np

from rstref import limits
from rstref._checks import (
    as_positions_and_values,
    check_bool,
    check_no_coincident_atoms,
    check_offsets,
)
from rstref._dispatch import wants_gpu
from rstref._kernels import invariants as _ki
from rstref._kernels import tensor as _kt
from rstref._numba import njit
from rstref.harmonics import SphericalHarmonics
from rstref.invariants import power_spectrum_size
from rstref.radial import OrthonormalRadialBasis
from rstref.tensor import RadialSphericalTensor

__all__ = [
    "expansions",
    "expansions_with_gradients",
    "expansions_with_hessians",
    "power_spectra",
    "power_spectra_with_gradients",
]


# ----------------------------------------------------------------------------- checks


def check_tensor(rst):
    if not isinstance(rst, RadialSphericalTensor):
        raise TypeError(f"rst must be a RadialSphericalTensor, got {type(rst).__name__}")
    return rst


def _check_inputs(rst, positions, values, offsets, normalize):
    check_tensor(rst)
    normalize = check_bool(normalize, "normalize")
    positions, values = as_positions_and_values(positions, values)
    offsets = check_offsets(offsets, positions.shape[0])
    check_no_coincident_atoms(positions, offsets)
    return positions, values, offsets, normalize


# ----------------------------------------------------------------------------- CPU loops


#: environments per chunk of the parallel loop (each chunk owns one scratch set)
_CHUNK = 64


@njit
def _project_range(positions, values, offsets, start, stop, family, r_cut, n_prim, p,
                   coefficients, Y, dY, d2Y, n_max, l_max, normalize, order, norm_floor,
                   c, dc, d2c):
    f = np.empty(n_prim)
    df = np.empty(n_prim)
    d2f = np.empty(n_prim)
    R = np.empty(n_max)
    dR = np.empty(n_max)
    d2R = np.empty(n_max)
    for e in range(start, stop):
        s = offsets[e]
        t = offsets[e + 1]
        _kt.project_environment_radial(positions[s:t], values[s:t], family, r_cut, n_prim, p,
                                       coefficients, Y[s:t], dY[s:t], d2Y[s:t], n_max, l_max,
                                       normalize, order, norm_floor, f, df, d2f, R, dR, d2R,
                                       c[e], dc[s:t], d2c[s:t])


@njit(parallel=True)
def _project_all(positions, values, offsets, family, r_cut, n_prim, p, coefficients, Y, dY,
                 d2Y, n_max, l_max, normalize, order, norm_floor, c, dc, d2c):
    n_env = offsets.shape[0] - 1
    for k in numba.prange((n_env + _CHUNK - 1) // _CHUNK):
        _project_range(positions, values, offsets, k * _CHUNK, min(n_env, (k + 1) * _CHUNK),
                       family, r_cut, n_prim, p, coefficients, Y, dY, d2Y, n_max, l_max,
                       normalize, order, norm_floor, c, dc, d2c)


@njit(parallel=True)
def _project_all_tabulated(positions, values, offsets, R, dR, d2R, Y, dY, d2Y, n_max, l_max,
                           normalize, order, norm_floor, c, dc, d2c):
    for e in numba.prange(offsets.shape[0] - 1):
        s = offsets[e]
        t = offsets[e + 1]
        _kt.project_environment(positions[s:t], values[s:t], R[s:t], dR[s:t], d2R[s:t],
                                Y[s:t], dY[s:t], d2Y[s:t], n_max, l_max, normalize, order,
                                norm_floor, c[e], dc[s:t], d2c[s:t])


@njit(parallel=True)
def _power_spectra_all(c, n_max, l_max, p):
    for e in numba.prange(c.shape[0]):
        _ki.power_spectrum_values(c[e], n_max, l_max, p[e])


@njit(parallel=True)
def _power_spectra_gradients_all(c, dc_rows, offsets, n_max, l_max, dp_rows):
    for e in numba.prange(c.shape[0]):
        s = 3 * offsets[e]
        t = 3 * offsets[e + 1]
        if t > s:
            _ki.power_spectrum_gradients(c[e], dc_rows[s:t], n_max, l_max, dp_rows[s:t])


def _expansions_cpu(rst, positions, values, offsets, normalize, order):
    positions, values, offsets, normalize = _check_inputs(rst, positions, values, offsets, normalize)
    n = positions.shape[0]
    n_env = offsets.shape[0] - 1
    c = np.zeros((n_env, rst.dim))
    dc = np.zeros((n, 3, rst.dim) if order >= 1 else (n, 0, 0))
    d2c = np.zeros((n, 3, 3, rst.dim) if order >= 2 else (n, 0, 0, 0))
    if n:
        sph = SphericalHarmonics(rst.l_max, "component", rst.convention)
        sh = (sph.compute, sph.compute_with_gradients, sph.compute_with_hessians)[order](positions)
        sh = sh if order else (sh,)
        Y = np.ascontiguousarray(sh[0])
        dY = np.ascontiguousarray(sh[1]) if order >= 1 else np.zeros((n, 0, 0))
        d2Y = np.ascontiguousarray(sh[2]) if order >= 2 else np.zeros((n, 0, 0, 0))
        tail = (rst.n_max, rst.l_max, normalize, order, limits.KERNEL_NORM_FLOOR, c, dc, d2c)
        if isinstance(rst.radial_basis, OrthonormalRadialBasis):
            # the radial basis is evaluated per atom inside the environment kernel, as in
            # RadialSphericalTensor (and on the GPU)
            family, r_cut, n_prim, p, coefficients = rst.radial_basis.kernel_arguments()
            _project_all(positions, values, offsets, family, float(r_cut), int(n_prim), int(p),
                         np.ascontiguousarray(coefficients), Y, dY, d2Y, *tail)
        else:  # any object with with_derivatives(r): tabulate it first
            R, dR, d2R = (np.ascontiguousarray(a) for a in
                          rst.radial_basis.with_derivatives(np.linalg.norm(positions, axis=1)))
            _project_all_tabulated(positions, values, offsets, R, dR, d2R, Y, dY, d2Y, *tail)
    return c, dc, d2c, offsets


# ----------------------------------------------------------------------------- public


def _gpu():
    from rstref.cuda import batched

    return batched


def expansions(rst, positions, offsets, values=None, normalize=True, device=None):
    """Coefficients of every environment of a ragged batch.

    Parameters
    ----------
    rst : RadialSphericalTensor
    positions : array_like, shape (N, 3)
        Neighbour positions relative to their environment's centre, all environments
        concatenated.
    offsets : array_like of int, shape (n_env + 1,)
        Environment ``e`` is ``positions[offsets[e]:offsets[e+1]]``.
    values : array_like, shape (N,), optional
        Peak heights (default ones).
    normalize : bool
        Kernel-normalised (True) or raw (False) projection, as in
        :meth:`RadialSphericalTensor.with_peaks_at`.
    device : {None, 'cpu', 'cuda'}

    Returns
    -------
    c : ndarray or device array, shape (n_env, rst.dim)
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=0)[0]
    return _expansions_cpu(rst, positions, values, offsets, normalize, 0)[0]


def expansions_with_gradients(rst, positions, offsets, values=None, normalize=True, device=None):
    """Coefficients ``c`` (n_env, dim) and per-neighbour gradients ``dc`` (N, 3, dim).

    ``dc[i, a] = d c[e] / d positions[i, a]`` for the environment ``e`` owning ``i``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=1)[:2]
    return _expansions_cpu(rst, positions, values, offsets, normalize, 1)[:2]


def expansions_with_hessians(rst, positions, offsets, values=None, normalize=True, device=None):
    """``c`` (n_env, dim), ``dc`` (N, 3, dim) and per-neighbour Hessians ``d2c`` (N, 3, 3, dim).

    ``d2c[i, a, b] = d^2 c[e] / d positions[i, a] d positions[i, b]`` (neighbours
    contribute independently, so these diagonal blocks are the whole Hessian).
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=2)
    return _expansions_cpu(rst, positions, values, offsets, normalize, 2)[:3]


def power_spectra(rst, positions, offsets, values=None, normalize=True, device=None):
    """Power spectrum of every environment: shape ``(n_env, F)``.

    Feature order as :class:`rstref.PowerSpectrum`:
    ``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in range(n, n_max)]``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().power_spectra(rst, positions, offsets, values, normalize, gradients=False)[0]
    c = _expansions_cpu(rst, positions, values, offsets, normalize, 0)[0]
    p = np.zeros((c.shape[0], power_spectrum_size(rst.n_max, rst.l_max)))
    if c.shape[0]:
        _power_spectra_all(c, rst.n_max, rst.l_max, p)
    return p


def power_spectra_with_gradients(rst, positions, offsets, values=None, normalize=True, device=None):
    """Power spectra ``p`` (n_env, F) and per-neighbour gradients ``dp`` (N, 3, F).

    ``dp[i, a] = d p[e] / d positions[i, a]`` for the environment ``e`` owning ``i``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().power_spectra(rst, positions, offsets, values, normalize, gradients=True)
    c, dc, _, offsets = _expansions_cpu(rst, positions, values, offsets, normalize, 1)
    F = power_spectrum_size(rst.n_max, rst.l_max)
    n = dc.shape[0]
    p = np.zeros((c.shape[0], F))
    dp = np.zeros((n, 3, F))
    if c.shape[0]:
        _power_spectra_all(c, rst.n_max, rst.l_max, p)
        _power_spectra_gradients_all(c, dc.reshape(3 * n, rst.dim), offsets, rst.n_max,
                                     rst.l_max, dp.reshape(3 * n, F))
    return p, dp
