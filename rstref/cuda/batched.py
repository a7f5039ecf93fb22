"""Ragged batches of environments on the GPU (see :mod:`rstref.batched` for the layout).

Pipeline, each step one thread per item and the CPU's per-item kernels (the same
ones :class:`rstref.RadialSphericalTensor` and :mod:`rstref.batched` use on the CPU):

1. per environment: the coincident-atoms check (``closest_pair_below``);
2. per neighbour: 'component' spherical harmonics with derivatives
   (:mod:`rstref.cuda.harmonics`);
3. per environment: ``project_environment_radial`` on the environment's rows (the
   radial basis is evaluated per atom inside it, scratch in thread-local memory) when
   the radial basis gives kernel arguments (an :class:`rstref.OrthonormalRadialBasis`);
   for any other basis with ``with_derivatives(r)``, ``R, dR, d2R`` are tabulated on
   the host at the neighbour distances, copied to the device, and
   ``project_environment`` reads them (as the CPU path does);
4. per environment: ``power_spectrum_values`` / ``power_spectrum_gradients``.

The tensor ``rst`` is used through public, duck-typed attributes only: ``n_max``,
``l_max``, ``dim``, ``radial_basis`` (its ``with_derivatives`` for tabulated bases) and
``kernel_arguments()`` (see :meth:`rstref.RadialSphericalTensor.kernel_arguments`).
Input checks follow :mod:`rstref.batched` (``rstref._checks``), on the device where the
data are.
"""

import functools

import numpy as np

from rstref import limits
from rstref._checks import check_bool, check_offsets, coincident_atoms_message
from rstref._kernels import invariants as _ki
from rstref._kernels import tensor as _kt
from rstref._kernels.layout import pair_index
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

_closest_pair_below = device_function(_kt.closest_pair_below)
_project_environment_radial = device_function(_kt.project_environment_radial)
_project_environment = device_function(_kt.project_environment)
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
def _project_tabulated_kernel(positions, values, offsets, R, dR, d2R, Y, dY, d2Y, n_max, l_max,
                              normalize, order, norm_floor, c, dc, d2c):
    for e in range(cuda.grid(1), offsets.shape[0] - 1, cuda.gridsize(1)):
        s = offsets[e]
        t = offsets[e + 1]
        _project_environment(positions[s:t], values[s:t], R[s:t], dR[s:t], d2R[s:t], Y[s:t],
                             dY[s:t], d2Y[s:t], n_max, l_max, normalize, order, norm_floor,
                             c[e], dc[s:t], d2c[s:t])


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


def _tensor_arguments(rst):
    """``rst.kernel_arguments()`` of a RadialSphericalTensor (duck-typed), or TypeError."""
    if not callable(getattr(rst, "kernel_arguments", None)) or not hasattr(rst, "radial_basis"):
        raise TypeError("rst must be a RadialSphericalTensor (an object with kernel_arguments() "
                        f"and radial_basis), got {type(rst).__name__}")
    return rst.kernel_arguments()


def _check_inputs(positions, values, offsets, normalize):
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
        _check_no_coincident_neighbours(positions, offsets, host_offsets)
    return positions, values, offsets, n_env, normalize


def _check_no_coincident_neighbours(positions, offsets, host_offsets):
    """The coincident-atoms check of :mod:`rstref._checks`, one thread per environment."""
    n_env = host_offsets.shape[0] - 1
    pairs = cuda.to_device(np.full((n_env, 2), -1, dtype=np.int64))
    launch(_closest_pairs_kernel, n_env, positions, offsets, limits.COINCIDENT_ATOMS_ATOL, pairs)
    pairs = pairs.copy_to_host()
    bad = np.nonzero(pairs[:, 0] >= 0)[0]
    if bad.size:
        e = int(bad[0])
        i, j = (int(host_offsets[e] + k) for k in pairs[e])
        host = positions.copy_to_host()
        d = float(np.linalg.norm(host[i] - host[j]))
        raise ValueError(coincident_atoms_message(i, j, d, "positions", environment=e))


def _tabulated_radial(radial_basis, positions, n_max):
    """``R, dR, d2R`` (N, n_max) of any radial basis at the neighbour distances, on the device.

    The basis is a host object (``with_derivatives(r)`` on NumPy distances), so the
    positions are copied to the host once and the three tables back to the device.
    """
    host = positions.copy_to_host()
    tables = radial_basis.with_derivatives(np.linalg.norm(host, axis=1))
    n = host.shape[0]
    out = []
    for name, table in zip(("R", "dR", "d2R"), tables):
        table = np.ascontiguousarray(table, dtype=np.float64)
        if table.shape != (n, n_max):
            raise ValueError(f"rst.radial_basis.with_derivatives(r) must return R, dR, d2R of "
                             f"shape ({n}, {n_max}), got {name} of shape {table.shape}")
        out.append(cuda.to_device(table))
    return out


def _power_spectrum_size(n_max, l_max):
    """Features of one power spectrum: ``l_max + 1`` blocks of the ``n <= n2`` pairs."""
    return (l_max + 1) * (pair_index(n_max, n_max - 1, n_max - 1) + 1)


def expansions(rst, positions, offsets, values=None, normalize=True, order=0):
    """GPU twin of :func:`rstref.batched.expansions_with_hessians` up to derivative ``order``.

    Returns
    -------
    c : device array (n_env, dim); dc : (N, 3, dim) or (N, 0, 0) below order 1;
    d2c : (N, 3, 3, dim) or (N, 0, 0, 0) below order 2
    """
    return _expansions(rst, positions, offsets, values, normalize, order)[:3]


def _expansions(rst, positions, offsets, values, normalize, order):
    arguments = _tensor_arguments(rst)
    positions, values, offsets, n_env, normalize = _check_inputs(
        positions, values, offsets, normalize)
    n = positions.shape[0]
    n_max, l_max, dim = arguments["n_max"], arguments["l_max"], arguments["dim"]
    c = zeros((n_env, dim))
    dc = zeros((n, 3, dim) if order >= 1 else (n, 0, 0))
    d2c = zeros((n, 3, 3, dim) if order >= 2 else (n, 0, 0, 0))
    if n == 0 or n_env == 0:
        return c, dc, d2c, offsets
    sh = gpu_harmonics.evaluate_on_device(arguments["harmonics"], positions, order)
    Y = sh[0]
    dY = sh[1] if order >= 1 else empty((n, 0, 0))
    d2Y = sh[2] if order >= 2 else empty((n, 0, 0, 0))
    tail = (l_max, normalize, order, limits.KERNEL_NORM_FLOOR, c, dc, d2c)
    if arguments["radial"] is not None:
        family, r_cut, n_prim, p, coefficients = arguments["radial"]
        coefficients = device_table(np.ascontiguousarray(coefficients, dtype=np.float64))
        launch(_project_kernel(int(n_prim), n_max), n_env, positions, values, offsets,
               int(family), float(r_cut), int(p), coefficients, Y, dY, d2Y, *tail)
    else:  # any radial basis with with_derivatives(r): tabulated on the host first
        R, dR, d2R = _tabulated_radial(rst.radial_basis, positions, n_max)
        launch(_project_tabulated_kernel, n_env, positions, values, offsets, R, dR, d2R,
               Y, dY, d2Y, n_max, *tail)
    return c, dc, d2c, offsets


def power_spectra(rst, positions, offsets, values=None, normalize=True, gradients=False):
    """GPU twin of :func:`rstref.batched.power_spectra` (``gradients=True``: with ``dp``).

    Returns
    -------
    (p,) or (p, dp) : device arrays (n_env, F) and (N, 3, F)
    """
    order = 1 if gradients else 0
    c, dc, _, offsets = _expansions(rst, positions, offsets, values, normalize, order)
    n_max, l_max = int(rst.n_max), int(rst.l_max)
    n_env = c.shape[0]
    n = dc.shape[0]
    F = _power_spectrum_size(n_max, l_max)
    p = zeros((n_env, F))
    launch(_power_spectra_kernel, n_env, c, n_max, l_max, p)
    if not gradients:
        return (p,)
    dp = zeros((n, 3, F))
    if n:
        launch(_power_spectra_gradients_kernel, n_env, c, dc.reshape(3 * n, c.shape[1]),
               offsets, n_max, l_max, dp.reshape(3 * n, F))
    return p, dp
