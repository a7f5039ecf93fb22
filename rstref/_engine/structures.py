"""Ragged batch of per-atom environments -> per-atom invariants with pair-sparse derivatives.

The batch holds one environment per centre atom, its neighbour rows sorted by centre;
``pair_slot[i]`` is the species-sparse output row of neighbour row ``i`` (its (centre,
neighbour atom) entry, -1 for an image of the centre itself) and ``self_gradients[e]`` the
dense (centre, centre) row of environment ``e`` (docs/gradients.md).  Per environment (one
numba thread each): coefficients from the per-atom projection kernel (only the
neighbour's own channel is touched), the invariants (features of channels absent from the
environment are not computed), then per neighbour the invariants' gradient, added to
``pair_gradients[pair_slot]`` over the features involving the neighbour's channel
(``compact`` / ``feature_index``), subtracted from ``self_gradients[e]`` (translation
invariance) and contracted with the neighbour vector into the strain derivative.
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


@njit(parallel=True)
def _power_spectrum_loop(offsets, vectors, channels, weights, n_channels, R, dR, d2R, Y, dY,
                         d2Y, n_max, l_max, normalize, norm_floor, pair_slot, compact,
                         feature_index, features, pair_gradients, self_gradients,
                         write_gradients, strain, write_strain):
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
            for i in range(s, t):
                _kg.power_spectrum_neighbour_gradient(
                    vectors[i], weights[i], channels[i], R[i], dR[i], Y[i], dY[i], c, present,
                    n_max, n_eff, l_max, normalize, norm_floor, A, B, pair_slot[i], compact,
                    pair_gradients, self_gradients[e], write_gradients, strain[e], write_strain)


@njit(parallel=True)
def _jacobian_loop(offsets, vectors, channels, weights, n_channels, R, dR, d2R, Y, dY, d2Y,
                   n_max, l_max, normalize, norm_floor, triples, block_offsets, m1_index,
                   m2_index, M_index, cg, cg_l_max, pair_slot, compact, feature_index, features,
                   pair_gradients, self_gradients, write_gradients, strain, write_strain):
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
            for i in range(s, t):
                _kg.jacobian_neighbour_gradient(jac, dc[i - s], channels[i], n_max, n_eff, l_max,
                                                g)
                _kg.scatter_neighbour_gradient(g, vectors[i], channels[i], pair_slot[i],
                                               feature_index, pair_gradients, self_gradients[e],
                                               write_gradients, strain[e], write_strain)


def structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, sparsity,
                         features, pair_gradients, self_gradients, write_gradients, strain,
                         write_strain):
    """Fill ``features`` (n_env, F), ``pair_gradients`` (G, 3, F_s), ``self_gradients``
    (n_env, 3, F), ``strain`` (n_env, 3, 3, F).

    ``bispectrum``: None for the power spectrum, else a
    :class:`rstref._engine.invariants.BispectrumKernel` over the stacked tensor.
    ``pair_slot`` (P,) int64: the pair row of each neighbour row (-1: an image of the
    centre itself); ``sparsity``: ``(compact, feature_index)``, the (n_channels, F)
    position of each feature in a channel's compact row (-1 where the feature does not
    involve the channel) and its inverse, the (n_channels, F_s) feature-index table.
    ``features`` must be zero on entry (absent channels are not written), and so must
    the gradients and ``strain``.  Weights beyond ``2**64`` in magnitude are divided by a
    power of two first and the outputs multiplied back (exact), so finite weights give
    finite features or ``+-inf`` where the true value exceeds float64, never NaN.
    """
    if batch.n_env == 0:
        return
    scale = power_of_two_scale(WEIGHT_SCALE_ABOVE, batch.weights)
    if scale != 1.0:
        batch = batch._replace(weights=batch.weights / scale)
    _structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, sparsity,
                          features, pair_gradients, self_gradients, write_gradients, strain,
                          write_strain)
    # homogeneous of degree 2 (power spectrum) or 3 (bispectrum) in the weights
    unscale(scale, 2 if bispectrum is None else 3, features, pair_gradients, self_gradients,
            strain)


def _structure_invariants(expansion, batch, normalize, bispectrum, pair_slot, sparsity,
                          features, pair_gradients, self_gradients, write_gradients, strain,
                          write_strain):
    outputs = (pair_slot, *sparsity, features, pair_gradients, self_gradients,
               write_gradients, strain, write_strain)
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
