"""Ragged batches of environments on the GPU (see :mod:`rstref.batched` for the layout).

Pipeline, each step one thread per item and the CPU's per-item kernels (the same
ones :class:`rstref.RadialSphericalTensor` and :mod:`rstref.batched` use on the CPU):

1. per environment: the coincident-atoms check (``closest_pair_below``);
2. per neighbour: 'component' spherical harmonics with derivatives
   (:mod:`rstref.cuda.harmonics`);
3. per environment: ``project_environment_radial`` on the environment's rows (the
   radial basis is evaluated per atom inside it, scratch in thread-local memory);
4. per environment: ``power_spectrum_values`` / ``power_spectrum_gradients``.
"""

import functools

import numpy as np

from rstref import limits
from rstref._checks import check_bool, check_offsets, coincident_atoms_message
from rstref._kernels import invariants as _ki
from rstref._kernels import tensor as _kt
from rstref.batched import check_tensor
from rstref.cuda import harmonics as gpu_harmonics
from rstref.cuda.driver import (
    as_float64_device,
    cuda,
    device_function,
    device_table,
    empty,
    launch,
    require,
    to_device_array,
    zeros,
)
from rstref.invariants import power_spectrum_size
from rstref.radial import OrthonormalRadialBasis

_closest_pair_below = device_function(_kt.closest_pair_below)
_project_environment_radial = device_function(_kt.project_environment_radial)
_power_spectrum_values = device_function(_ki.power_spectrum_values)
_power_spectrum_gradients = device_function(_ki.power_spectrum_gradients)


@cuda.jit
def _closest_pairs_kernel(positions, offsets, tolerance, pairs):
    for e in range(cuda.grid(1), offsets.shape[0] - 1, cuda.gridsize(1)):
        i, j = _closest_pair_below(positions[offsets[e]:offsets[e + 1]], tolerance)
        pairs[e, 0] = i
        pairs[e, 1] = j


@functools.lru_cache(maxsize=None)
def _project_kernel(n_prim, n_max):
    """Projection kernel for ``n_prim`` primitives and ``n_max`` radial functions (scratch
    sizes are compile-time constants)."""

    @cuda.jit
    def project(positions, values, offsets, family, r_cut, p, coefficients, Y, dY, d2Y, l_max,
                normalize, order, norm_floor, c, dc, d2c):
        f = cuda.local.array(n_prim, np.float64)
        df = cuda.local.array(n_prim, np.float64)
        d2f = cuda.local.array(n_prim, np.float64)
        R = cuda.local.array(n_max, np.float64)
        dR = cuda.local.array(n_max, np.float64)
        d2R = cuda.local.array(n_max, np.float64)
        for e in range(cuda.grid(1), offsets.shape[0] - 1, cuda.gridsize(1)):
            s = offsets[e]
            t = offsets[e + 1]
            _project_environment_radial(positions[s:t], values[s:t], family, r_cut, n_prim, p,
                                        coefficients, Y[s:t], dY[s:t], d2Y[s:t], n_max, l_max,
                                        normalize, order, norm_floor, f, df, d2f, R, dR, d2R,
                                        c[e], dc[s:t], d2c[s:t])

    return project


@cuda.jit
def _power_spectra_kernel(c, n_max, l_max, p):
    for e in range(cuda.grid(1), c.shape[0], cuda.gridsize(1)):
        _power_spectrum_values(c[e], n_max, l_max, p[e])


@cuda.jit
def _power_spectra_gradients_kernel(c, dc_rows, offsets, n_max, l_max, dp_rows):
    for e in range(cuda.grid(1), c.shape[0], cuda.gridsize(1)):
        s = 3 * offsets[e]
        t = 3 * offsets[e + 1]
        if t > s:
            _power_spectrum_gradients(c[e], dc_rows[s:t], n_max, l_max, dp_rows[s:t])


def _device_offsets(offsets, n):
    """Offsets checked on the host (they are small: one per environment) and put on the device."""
    if hasattr(offsets, "copy_to_host"):
        host = offsets.copy_to_host()
    elif hasattr(offsets, "__cuda_array_interface__"):
        host = to_device_array(offsets).copy_to_host()
    else:
        host = offsets
    host = check_offsets(host, n)
    return host, cuda.to_device(host)


def _check_inputs(rst, positions, values, offsets, normalize):
    check_tensor(rst)
    if not isinstance(rst.radial_basis, OrthonormalRadialBasis):
        raise TypeError("the GPU path needs rst.radial_basis to be an OrthonormalRadialBasis, "
                        f"got {type(rst.radial_basis).__name__}")
    normalize = check_bool(normalize, "normalize")
    require()
    positions = as_float64_device(positions, "positions", trailing_shape=(3,))
    n = positions.shape[0]
    if values is None:
        values = cuda.to_device(np.ones(n))
    else:
        values = as_float64_device(values, "values", ndim=1)
        if values.shape != (n,):
            raise ValueError(f"values must have shape ({n},) to match positions "
                             f"{tuple(positions.shape)}, got {tuple(values.shape)}")
    host_offsets, offsets = _device_offsets(offsets, n)
    n_env = host_offsets.shape[0] - 1
    if n_env and n:
        pairs = cuda.to_device(np.full((n_env, 2), -1, dtype=np.int64))
        launch(_closest_pairs_kernel, n_env, positions, offsets,
                limits.COINCIDENT_ATOMS_ATOL, pairs)
        pairs = pairs.copy_to_host()
        bad = np.nonzero(pairs[:, 0] >= 0)[0]
        if bad.size:
            e = int(bad[0])
            i, j = (int(host_offsets[e] + k) for k in pairs[e])
            host = positions.copy_to_host()
            d = float(np.linalg.norm(host[i] - host[j]))
            raise ValueError(coincident_atoms_message(i, j, d, "positions", environment=e))
    return positions, values, offsets, n_env, normalize


def _harmonics_on_device(positions, l_max, convention, order):
    """'component' harmonics of device positions with derivatives up to ``order``."""
    args = (positions, l_max, "component", convention, False)
    if order == 0:
        return (gpu_harmonics.spherical_harmonics(*args),)
    if order == 1:
        return gpu_harmonics.spherical_harmonics_with_gradients(*args)
    return gpu_harmonics.spherical_harmonics_with_hessians(*args)


def expansions(rst, positions, offsets, values=None, normalize=True, order=0):
    """GPU twin of :func:`rstref.batched.expansions_with_hessians` up to derivative ``order``.

    Returns
    -------
    c : device array (n_env, dim); dc : (N, 3, dim) or (N, 0, 0) below order 1;
    d2c : (N, 3, 3, dim) or (N, 0, 0, 0) below order 2
    """
    return _expansions(rst, positions, offsets, values, normalize, order)[:3]


def _expansions(rst, positions, offsets, values, normalize, order):
    positions, values, offsets, n_env, normalize = _check_inputs(
        rst, positions, values, offsets, normalize)
    n = positions.shape[0]
    dim = rst.dim
    c = zeros((n_env, dim))
    dc = zeros((n, 3, dim) if order >= 1 else (n, 0, 0))
    d2c = zeros((n, 3, 3, dim) if order >= 2 else (n, 0, 0, 0))
    if n == 0 or n_env == 0:
        return c, dc, d2c, offsets
    sh = _harmonics_on_device(positions, rst.l_max, rst.convention, order)
    Y = sh[0]
    dY = sh[1] if order >= 1 else empty((n, 0, 0))
    d2Y = sh[2] if order >= 2 else empty((n, 0, 0, 0))
    family, r_cut, n_prim, p, coefficients = rst.radial_basis.kernel_arguments()
    coefficients = device_table(np.ascontiguousarray(coefficients))
    launch(_project_kernel(int(n_prim), rst.n_max), n_env, positions, values, offsets,
            family, float(r_cut), int(p), coefficients, Y, dY, d2Y, rst.l_max, normalize,
            order, limits.KERNEL_NORM_FLOOR, c, dc, d2c)
    return c, dc, d2c, offsets


def power_spectra(rst, positions, offsets, values=None, normalize=True, gradients=False):
    """GPU twin of :func:`rstref.batched.power_spectra` (``gradients=True``: with ``dp``).

    Returns
    -------
    (p,) or (p, dp) : device arrays (n_env, F) and (N, 3, F)
    """
    order = 1 if gradients else 0
    c, dc, _, offsets = _expansions(rst, positions, offsets, values, normalize, order)
    n_env = c.shape[0]
    n = dc.shape[0]
    F = power_spectrum_size(rst.n_max, rst.l_max)
    p = zeros((n_env, F))
    launch(_power_spectra_kernel, n_env, c, rst.n_max, rst.l_max, p)
    if not gradients:
        return (p,)
    dp = zeros((n, 3, F))
    if n:
        launch(_power_spectra_gradients_kernel, n_env, c, dc.reshape(3 * n, rst.dim),
                offsets, rst.n_max, rst.l_max, dp.reshape(3 * n, F))
    return p, dp
