"""Values-only power spectrum of a ragged batch: no derivative arrays, one fused loop.

The featurizer's common case (features without gradients or strain) needs neither the
radial derivatives nor the harmonics' gradients.  Per environment this loop evaluates
the radial values of each neighbour (:func:`rstref._kernels.radial.orthonormal_radial_values_point`),
adds ``v G_n Y_lm`` to the coefficients of the neighbour's channel and then writes the
power spectrum of the channels present.  The harmonics are computed once for the whole
batch by the injected calculator (values only).

Same numbers, bit for bit, as the general loop of :mod:`rstref._engine.structures`
(projection :func:`rstref._kernels.tensor.add_atom_values`, invariants
:func:`rstref._kernels.invariants.power_spectrum_values_channels`): every coefficient
receives the same products in the same neighbour order, and every feature is the same
dot product in the same ``m`` order.  Only the storage differs: the coefficients of one
environment are kept compact and ``lm``-major, ``c[lm_index(l, m) * n_rows + row]`` over the
``n_rows = n_present * n_max`` radial rows of the channels present (row ``slot * n_max + n``
for the channel's slot among those present), so that adding a neighbour is a contiguous
run of ``n_max`` products per ``lm``, and the power spectrum per ``l`` is the Gram matrix
of the rows accumulated ``m`` by ``m`` over contiguous rows (many independent sums instead
of one dependency chain per feature; each sum in the same ``m`` order).
"""

import math

import numba
import numpy as np

from rstref import limits
from rstref._kernels.invariants import SQRT2, channels_present
from rstref._kernels.layout import pair_index
from rstref._kernels.radial import orthonormal_radial_values_point
from rstref._kernels.tensor import kernel_norm
from rstref._numba import njit

#: environments per task of the parallel loop (scratch arrays are allocated per task)
_ENV_CHUNK = 32


@njit
def _present_rows(channels, weights, n_channels, n_max, present, slot, rows):
    """Channels present (``present``), their compact slots (``slot[a]``, -1 if absent) and
    the stacked radial index ``N`` of each compact row (``rows``); returns the row count."""
    channels_present(channels, weights, present)
    n_rows = 0
    for a in range(n_channels):
        slot[a] = -1
        if present[a]:
            slot[a] = n_rows // n_max
            for n in range(n_max):
                rows[n_rows] = a * n_max + n
                n_rows += 1
    return n_rows


@njit
def _add_neighbours(vectors, weights, channels, Y, s, t, family, r_cut, n_prim, power,
                    coefficients, n_max, l_max, normalize, norm_floor, slot, n_rows, f, R, g, c):
    """Add neighbours ``s..t`` to the compact coefficients ``c[lm * n_rows + row]``."""
    L = Y.shape[1]
    for i in range(s, t):
        value = weights[i]
        if value == 0.0:
            continue
        x = vectors[i]
        rho = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
        orthonormal_radial_values_point(rho, family, r_cut, n_prim, power, coefficients, f, R)
        inv_s, _, _, contributes = kernel_norm(R, R, R, 0.0, n_max, l_max, normalize, 0,
                                               norm_floor)
        if not contributes:
            continue
        nonzero = False
        for n in range(n_max):
            g[n] = value * (R[n] * inv_s)
            nonzero |= g[n] != 0.0
        if not nonzero:
            continue
        y = Y[i]
        base = slot[channels[i]] * n_max
        # c starts at +0 and only gains finite products, so it is never -0: adding the
        # products of the g[n] == 0 (skipped by add_atom_values) changes nothing
        for lm in range(L):
            yv = y[lm]
            row = lm * n_rows + base
            cr = c[row:row + n_max]  # a view: lets the compiler vectorise this loop
            for n in range(n_max):
                cr[n] += g[n] * yv


@njit
def _power_spectrum_rows(c, rows, n_rows, n_eff, l_max, gram, p):
    """Power spectrum of the compact coefficients ``c`` into ``p`` (stacked layout).

    Per ``l`` the Gram matrix of the rows, ``gram[r, r2] = sum_m c[lm, r] c[lm, r2]``,
    accumulated ``m`` by ``m`` (each entry summed in the ``m`` order of
    :func:`rstref._kernels.invariants.power_spectrum_values_channels`); ``gram`` is
    scratch of at least ``n_rows * n_rows``.
    """
    pairs_per_l = n_eff * (n_eff + 1) // 2
    size = n_rows * n_rows
    for l in range(l_max + 1):
        width = 2 * l + 1
        scale = 1.0 / math.sqrt(width)
        off = SQRT2 * scale
        first = l * l
        g = gram[:size]
        for j in range(size):
            g[j] = 0.0
        for k in range(width):
            cr = c[(first + k) * n_rows:(first + k + 1) * n_rows]
            for r in range(n_rows):
                ca = cr[r]
                gr = g[r * n_rows:(r + 1) * n_rows]
                for r2 in range(n_rows):
                    gr[r2] += ca * cr[r2]
        for r in range(n_rows):
            N = rows[r]
            out = l * pairs_per_l + pair_index(n_eff, N, N) - N
            p[out + N] = scale * g[r * n_rows + r]
            for r2 in range(r + 1, n_rows):
                p[out + rows[r2]] = off * g[r * n_rows + r2]


@njit
def _environments(offsets, vectors, channels, weights, n_channels, family, r_cut, n_prim, power,
                  coefficients, Y, n_max, l_max, normalize, norm_floor, start, stop, features):
    L = Y.shape[1]
    n_eff = n_channels * n_max
    c = np.empty(n_eff * L)
    present = np.empty(n_channels, dtype=np.bool_)
    slot = np.empty(n_channels, dtype=np.int64)
    rows = np.empty(n_eff, dtype=np.int64)
    gram = np.empty(n_eff * n_eff)
    f = np.empty(n_prim)
    R = np.empty(n_max)
    g = np.empty(n_max)
    for e in range(start, stop):
        s = offsets[e]
        t = offsets[e + 1]
        n_rows = _present_rows(channels[s:t], weights[s:t], n_channels, n_max, present, slot,
                               rows)
        for j in range(n_rows * L):
            c[j] = 0.0
        _add_neighbours(vectors, weights, channels, Y, s, t, family, r_cut, n_prim, power,
                        coefficients, n_max, l_max, normalize, norm_floor, slot, n_rows, f, R,
                        g, c)
        _power_spectrum_rows(c, rows, n_rows, n_eff, l_max, gram, features[e])


@njit(parallel=True)
def _power_spectrum_values_loop(offsets, vectors, channels, weights, n_channels, family, r_cut,
                                n_prim, power, coefficients, Y, n_max, l_max, normalize,
                                norm_floor, features):
    n_env = offsets.shape[0] - 1
    for k in numba.prange((n_env + _ENV_CHUNK - 1) // _ENV_CHUNK):
        _environments(offsets, vectors, channels, weights, n_channels, family, r_cut, n_prim,
                      power, coefficients, Y, n_max, l_max, normalize, norm_floor,
                      k * _ENV_CHUNK, min(n_env, (k + 1) * _ENV_CHUNK), features)


def power_spectrum_values(expansion, batch, normalize, features):
    """Fill ``features`` (n_env, F) with the power spectrum of ``batch``, values only.

    ``features`` must be zero on entry (features of absent channels are not written).
    Returns False, doing nothing, when the expansion's radial basis has no radial kernel
    (``kernel_arguments()``); the caller then takes the general path.
    """
    radial = expansion.radial_kernel_arguments
    if radial is None:
        return False
    if batch.n_neighbours == 0:
        return True
    Y = expansion.harmonics.compute(batch.vectors)
    _power_spectrum_values_loop(batch.offsets, batch.vectors, batch.channels, batch.weights,
                                int(batch.n_channels), *radial, Y, expansion.n_max,
                                expansion.l_max, bool(normalize), limits.KERNEL_NORM_FLOOR,
                                features)
    return True
