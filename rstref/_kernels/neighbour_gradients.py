"""Per-neighbour gradients of the invariants of a ragged batch (pair- and species-sparse).

A neighbour of channel ``ch`` only moves the rows ``N = ch*n_max + n`` of its
environment's stacked coefficients (:mod:`rstref._kernels.tensor`), so its gradient only
touches the features containing them.  :func:`power_spectrum_neighbour_gradient` (factored
form, for the power spectrum) and :func:`jacobian_neighbour_gradient` (any invariant with a
Jacobian ``dB/dc``) visit only those; the results go to species-sparse per-(centre,
neighbour) rows, the centre's own dense row and the strain derivative
(:func:`scatter_neighbour_gradient`).

Species-sparse rows (docs/gradients.md): the features a neighbour of channel ``ch`` touches
are ``feature_index[ch]`` (an (n_channels, F_s) table); ``compact[ch, f]`` is the position
of feature ``f`` in that row (-1 where ``f`` does not involve ``ch``).  A pair's row
``pair_gradients[pair_slot]`` (3, F_s) holds ``d features / d r_neighbour`` over those
features; the centre's own row ``self_gradients`` (3, F) is dense and receives ``-g``
(``r_ij = r_j + S cell - r_i``).  ``pair_slot < 0`` marks a periodic image of the centre
itself (or the centre with ``include_center``): its ``+g`` goes to the centre's own row.

Feature order of the power spectrum over ``n_eff`` radial rows::

    [(l, N, N2) for l in range(l_max + 1) for N in range(n_eff) for N2 in range(N, n_eff)]

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

from rstref._kernels.layout import lm_index, nlm_index, pair_index
from rstref._kernels.tensor import kernel_norm, normalized_radial
from rstref._numba import njit


@njit
def power_spectrum_neighbour_gradient(xyz, value, channel, R, dR, Y, dY, c, present, n_max, n_eff,
                                      l_max, normalize, norm_floor, A, B, pair_slot, compact,
                                      pair_gradients, self_gradients, write_gradients, strain,
                                      write_strain):
    """Add the gradient of the stacked power spectrum with respect to one neighbour's vector.

    With ``g[a, f] = d p_f / d r_a``, ``f`` in the order
    ``[(l, N, N2) for l in range(l_max+1) for N in range(n_eff) for N2 in range(N, n_eff)]``
    and ``p_f = w (2l+1)^(-1/2) sum_m c[N,l,m] c[N2,l,m]``, only ``N`` (or ``N2``) in the
    neighbour's channel get a derivative.  ``d_a c[N,l,m] = v (G'_n u_a Y_lm + G_n dY_a,lm)``
    (:func:`rstref._kernels.tensor.project_atom`, the same radial factor ``G``) is
    contracted over ``m`` before the radial factor is applied::

        g[a, f] = w (2l+1)^(-1/2) ([N in ch] G_a(l, n(N), N2) + [N2 in ch] G_a(l, n(N2), N))
        G_a(l, n, N') = v (G'_n u_a A[l, N'] + G_n B[a, l, N'])
        A[l, N'] = sum_m Y_lm c[N', l, m],   B[a, l, N'] = sum_m dY_a,lm c[N', l, m]

    and only those entries are visited: ``pair_gradients[pair_slot, a, compact[channel, f]]
    += g[a, f]`` (``self_gradients[a, f] += g[a, f]`` when ``pair_slot < 0``),
    ``self_gradients[a, f] -= g[a, f]`` (if ``write_gradients``) and ``strain[a, b] +=
    g[a] * xyz[b]`` (if ``write_strain``).  Channels with ``present[ch]`` False are skipped (zero
    coefficients).  ``R, dR`` (n_max,) raw radial values at ``|xyz|``; scratch ``A``
    (l_max+1, n_eff), ``B`` (3, l_max+1, n_eff).
    """
    x0 = xyz[0]
    x1 = xyz[1]
    x2 = xyz[2]
    rho = math.sqrt(x0 * x0 + x1 * x1 + x2 * x2)
    inv_s, s1, s2, contributes = kernel_norm(R, dR, R, rho, n_max, l_max, normalize, 1, norm_floor)
    if not contributes:
        return
    u0 = 0.0
    u1 = 0.0
    u2 = 0.0
    if rho > 0.0:
        u0 = x0 / rho
        u1 = x1 / rho
        u2 = x2 / rho
    for l in range(l_max + 1):
        y0 = lm_index(l, -l)
        for N2 in range(n_eff):
            if not present[N2 // n_max]:
                continue
            j0 = nlm_index(n_eff, N2, l, -l)
            s = 0.0
            t0 = 0.0
            t1 = 0.0
            t2 = 0.0
            for k in range(2 * l + 1):
                cv = c[j0 + k]
                lm = y0 + k
                s += Y[lm] * cv
                t0 += dY[0, lm] * cv
                t1 += dY[1, lm] * cv
                t2 += dY[2, lm] * cv
            A[l, N2] = s
            B[0, l, N2] = t0
            B[1, l, N2] = t1
            B[2, l, N2] = t2
    pairs_per_l = n_eff * (n_eff + 1) // 2
    sqrt2 = math.sqrt(2.0)
    base = channel * n_max
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for n in range(n_max):
            g0r, g1r, _ = normalized_radial(R[n], dR[n], 0.0, inv_s, s1, s2)
            r0 = value * g0r
            r1 = value * g1r
            if r1 == 0.0 and r0 == 0.0:
                continue
            N = base + n
            for N2 in range(n_eff):
                if not present[N2 // n_max]:
                    continue
                lo = min(N, N2)
                hi = max(N, N2)
                coef = 2.0 * scale if N2 == N else sqrt2 * scale
                f = l * pairs_per_l + pair_index(n_eff, lo, hi)
                av = r1 * A[l, N2]
                g0 = coef * (av * u0 + r0 * B[0, l, N2])
                g1 = coef * (av * u1 + r0 * B[1, l, N2])
                g2 = coef * (av * u2 + r0 * B[2, l, N2])
                if write_gradients:
                    if pair_slot >= 0:
                        k = compact[channel, f]
                        pair_gradients[pair_slot, 0, k] += g0
                        pair_gradients[pair_slot, 1, k] += g1
                        pair_gradients[pair_slot, 2, k] += g2
                    else:
                        self_gradients[0, f] += g0
                        self_gradients[1, f] += g1
                        self_gradients[2, f] += g2
                    self_gradients[0, f] -= g0
                    self_gradients[1, f] -= g1
                    self_gradients[2, f] -= g2
                if write_strain:
                    strain[0, 0, f] += g0 * x0
                    strain[0, 1, f] += g0 * x1
                    strain[0, 2, f] += g0 * x2
                    strain[1, 0, f] += g1 * x0
                    strain[1, 1, f] += g1 * x1
                    strain[1, 2, f] += g1 * x2
                    strain[2, 0, f] += g2 * x0
                    strain[2, 1, f] += g2 * x1
                    strain[2, 2, f] += g2 * x2


@njit
def jacobian_neighbour_gradient(jac, dc, channel, n_max, n_eff, l_max, g):
    """``g[a, f] = sum_k jac[f, k] d c_k / d r_a`` for one neighbour, any invariant.

    ``jac`` (F, n_eff * L) is the invariant's Jacobian ``dB/dc`` (stacked layout); ``dc``
    (3, n_max * L) the neighbour's coefficient gradient in the one-channel layout
    (:func:`rstref._kernels.tensor.project_atom`), which only touches the rows
    ``N = channel * n_max + n``.  ``g`` (3, F) is overwritten.
    """
    for a in range(3):
        for f in range(g.shape[1]):
            g[a, f] = 0.0
    base = channel * n_max
    for n in range(n_max):
        for l in range(l_max + 1):
            for m in range(-l, l + 1):
                j = nlm_index(n_eff, base + n, l, m)
                k = nlm_index(n_max, n, l, m)
                d0 = dc[0, k]
                d1 = dc[1, k]
                d2 = dc[2, k]
                if d0 == 0.0 and d1 == 0.0 and d2 == 0.0:
                    continue
                for f in range(g.shape[1]):
                    jv = jac[f, j]
                    g[0, f] += jv * d0
                    g[1, f] += jv * d1
                    g[2, f] += jv * d2


@njit
def scatter_neighbour_gradient(g, vector, channel, pair_slot, feature_index, pair_gradients,
                               self_gradients, write_gradients, strain, write_strain):
    """Add one neighbour's gradient ``g`` (3, F) to the species-sparse outputs.

    ``pair_gradients[pair_slot, a, k] += g[a, feature_index[channel, k]]`` (derivative
    w.r.t. the neighbour atom, only the features involving its channel; to
    ``self_gradients`` instead when ``pair_slot < 0``), ``self_gradients -= g`` (w.r.t.
    the centre: ``r_ij = r_j + S cell - r_i``), ``strain[a, b] += g[a] * vector[b]``
    (homogeneous deformation ``r -> (I + eps) r``).
    """
    F = g.shape[1]
    if write_gradients:
        if pair_slot >= 0:
            for a in range(3):
                for k in range(feature_index.shape[1]):
                    pair_gradients[pair_slot, a, k] += g[a, feature_index[channel, k]]
        else:
            for a in range(3):
                for f in range(F):
                    self_gradients[a, f] += g[a, f]
        for a in range(3):
            for f in range(F):
                self_gradients[a, f] -= g[a, f]
    if write_strain:
        for a in range(3):
            for b in range(3):
                vb = vector[b]
                for f in range(F):
                    strain[a, b, f] += g[a, f] * vb
