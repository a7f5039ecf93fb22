"""Ragged batch of per-atom environments -> per-atom invariants with sparse derivatives.

The batch holds one environment per centre atom, its neighbour rows sorted by centre;
``pair_slot[i]`` is the sparse output row of neighbour row ``i`` (its (centre, neighbour
atom) entry, -1 for an image of the centre itself).  The gradient rows are flat
(docs/gradients.md): row ``g`` is ``pair_values[pair_offsets[g]:pair_offsets[g + 1]]`` as
(3, k), the own row of environment ``e`` ``self_values[self_offsets[e]:self_offsets[e + 1]]``
as (3, k_s); ``env_channels[e]`` are the channels present in environment ``e`` (the rows'
layout) and ``feature_channels`` (F, k) the channels of each feature.  Per environment (one
numba thread each): coefficients from the per-atom projection kernel (only the
neighbour's own channel is touched), the invariants (features of channels absent from the
environment are not computed), then per neighbour the invariants' gradient, added to its
pair row over the features present that involve its channel, subtracted from the centre's
own row (translation invariance) and contracted with the neighbour vector into the strain
derivative.
"""

import numba
import numpy as np

from rstref import limits
from rstref._engine.expansion import WEIGHT_SCALE_ABOVE, power_of_two_scale, unscale
from rstref._engine.values import power_spectrum_values
from rstref._kernels import invariants as _ki
from rstref._kernels import neighbour_gradients as _kg
from rstref._kernels import tensor as _kt
from rstref._numba import njit


@njit(inline="always")
def _flat_row(values, offsets, row):
    """Row ``row`` of a flat sparse-row array as a (3, k) view."""
    start = offsets[row]
    stop = offsets[row + 1]
    return values[start:stop].reshape((3, (stop - start) // 3))


@njit(inline="always")
def _channel_ranks(present, rank):
    """``rank[ch]``: position of channel ``ch`` among the present ones (-1: absent);
    returns their number."""
    n = 0
    for ch in range(present.shape[0]):
        if present[ch]:
            rank[ch] = n
            n += 1
        else:
            rank[ch] = -1
    return n


@njit(parallel=True)
def _power_spectrum_loop(offsets, vectors, channels, weights, n_channels, R, dR, d2R, Y, dY,
                         d2Y, n_max, l_max, normalize, norm_floor, pair_slot, env_channels,
                         feature_channels, features, pair_values, pair_offsets, self_values,
                         self_offsets, write_gradients, strain, write_strain):
    n_eff = n_channels * n_max
    dim = n_eff * (l_max + 1) * (l_max + 1)
    no_dc = np.empty((vectors.shape[0], 0, 0))
    no_d2c = np.empty((vectors.shape[0], 0, 0, 0))
    for e in numba.prange(offsets.shape[0] - 1):
        s = offsets[e]
        t = offsets[e + 1]
        c = np.empty(dim)
        present = np.empty(n_channels, dtype=np.bool_)
        _kt.project_environment_channels(vectors[s:t], weights[s:t], channels[s:t], R[s:t], dR[s:t],
                                d2R[s:t], Y[s:t], dY[s:t], d2Y[s:t], n_max, n_eff, l_max,
                                normalize, 0, norm_floor, c, no_dc[s:t], no_d2c[s:t])
        _ki.channels_present(channels[s:t], weights[s:t], present)
        _ki.power_spectrum_values_channels(c, present, n_max, n_eff, l_max, features[e])
        if write_gradients or write_strain:
            A = np.empty((l_max + 1, n_eff))
            B = np.empty((3, l_max + 1, n_eff))
            rank = np.empty(n_channels, dtype=np.int64)
            n_present = _channel_ranks(env_channels[e], rank)
            self_row = _flat_row(self_values, self_offsets, e)
            for i in range(s, t):
                own_image = pair_slot[i] < 0
                pair_row = self_row if own_image else _flat_row(pair_values, pair_offsets,
                                                                pair_slot[i])
                _kg.power_spectrum_neighbour_gradient(
                    vectors[i], weights[i], channels[i], R[i], dR[i], Y[i], dY[i], c, present,
                    rank, n_present, n_max, n_eff, l_max, normalize, norm_floor, A, B,
                    pair_row, own_image, self_row, write_gradients, strain[e], write_strain)


@njit(parallel=True)
def _jacobian_loop(offsets, vectors, channels, weights, n_channels, R, dR, d2R, Y, dY, d2Y,
                   n_max, l_max, normalize, norm_floor, triples, block_offsets, m1_index,
                   m2_index, M_index, cg, cg_l_max, pair_slot, env_channels, feature_channels,
                   features, pair_values, pair_offsets, self_values, self_offsets,
                   write_gradients, strain, write_strain):
    n_eff = n_channels * n_max
    L = (l_max + 1) * (l_max + 1)
    dim = n_eff * L
    F = features.shape[1]
    derivatives = write_gradients or write_strain
    order = 1 if derivatives else 0
    no_d2c = np.empty((vectors.shape[0], 0, 0, 0))
    for e in numba.prange(offsets.shape[0] - 1):
        s = offsets[e]
        t = offsets[e + 1]
        c = np.empty(dim)
        dc = np.empty((t - s, 3, n_max * L) if derivatives else (t - s, 0, 0))
        _kt.project_environment_channels(vectors[s:t], weights[s:t], channels[s:t], R[s:t], dR[s:t],
                                d2R[s:t], Y[s:t], dY[s:t], d2Y[s:t], n_max, n_eff, l_max,
                                normalize, order, norm_floor, c, dc, no_d2c[s:t])
        _ki.bispectrum_values(c, n_eff, triples, block_offsets, m1_index, m2_index, M_index, cg,
                              cg_l_max, features[e])
        if derivatives:
            jac = np.empty((F, dim))
            _ki.bispectrum_jacobian(c, n_eff, triples, block_offsets, m1_index, m2_index,
                                    M_index, cg, cg_l_max, jac)
            g = np.empty((3, F))
            self_row = _flat_row(self_values, self_offsets, e)
            for i in range(s, t):
                own_image = pair_slot[i] < 0
                pair_row = self_row if own_image else _flat_row(pair_values, pair_offsets,
                                                                pair_slot[i])
                _kg.jacobian_neighbour_gradient(jac, dc[i - s], channels[i], n_max, n_eff, l_max,
                                                g)
                _kg.scatter_neighbour_gradient(g, vectors[i], channels[i], feature_channels,
                                               env_channels[e], pair_row, own_image, self_row,
                                               write_gradients, strain[e], write_strain)


def structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, layout,
                         features, pair_values, self_values, write_gradients, strain,
                         write_strain):
    """Fill ``features`` (n_env, F), the flat gradient rows ``pair_values`` and
    ``self_values``, ``strain`` (n_env, 3, 3, F).

    ``bispectrum``: None for the power spectrum, else a
    :class:`rstref._engine.invariants.BispectrumKernel` over the stacked tensor.
    ``pair_slot`` (P,) int64: the pair row of each neighbour row (-1: an image of the
    centre itself); ``layout``: ``(env_channels, feature_channels, pair_offsets,
    self_offsets)``, the (n_env, n_channels) bool channels present in each environment
    (at least those with a non-zero weight), the (F, k) channels of each feature and the
    rows' offsets (module docstring).  ``features`` must be zero on entry (absent channels
    are not written), and so must the gradients and ``strain``.  Weights beyond ``2**64`` in magnitude are divided by a
    power of two first and the outputs multiplied back (exact), so finite weights give
    finite features or ``+-inf`` where the true value exceeds float64, never NaN.
    """
    if batch.n_env == 0:
        return
    scale = power_of_two_scale(WEIGHT_SCALE_ABOVE, batch.weights)
    if scale != 1.0:
        batch = batch._replace(weights=batch.weights / scale)
    _structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, layout,
                          features, pair_values, self_values, write_gradients, strain,
                          write_strain)
    # homogeneous of degree 2 (power spectrum) or 3 (bispectrum) in the weights
    unscale(scale, 2 if bispectrum is None else 3, features, pair_values, self_values, strain)


def _structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, layout,
                          features, pair_values, self_values, write_gradients, strain,
                          write_strain):
    env_channels, feature_channels, pair_offsets, self_offsets = layout
    outputs = (pair_slot, env_channels, feature_channels, features, pair_values, pair_offsets,
               self_values, self_offsets, write_gradients, strain, write_strain)
    order = 1 if (write_gradients or write_strain) else 0
    if order == 0 and bispectrum is None and power_spectrum_values(expansion, batch, normalize, features):
        return
    factors = expansion.factors(batch.vectors, order)
    common = (batch.offsets, batch.vectors, batch.channels, batch.weights, batch.n_channels,
              *factors, expansion.n_max, expansion.l_max, bool(normalize),
              limits.KERNEL_NORM_FLOOR)
    if bispectrum is None:
        _power_spectrum_loop(*common, *outputs)
    else:
        _jacobian_loop(*common, bispectrum.triples, *bispectrum.cg, *outputs)
