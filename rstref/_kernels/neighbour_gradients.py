"""Per-neighbour gradients of the invariants of a ragged batch (pair- and channel-sparse).

A neighbour of channel ``ch`` only moves the rows ``N = ch*n_max + n`` of its
environment's stacked coefficients (:mod:`rstref._kernels.tensor`), and a channel absent
from the environment has zero coefficients, so a neighbour's gradient only touches the
features whose channels are all present and include ``ch``.
:func:`power_spectrum_neighbour_gradient` (factored form, for the power spectrum) and
:func:`jacobian_neighbour_gradient` (any invariant with a Jacobian ``dB/dc``) visit only
those; the results go to the sparse per-(centre, neighbour) row, the centre's own row and
the strain derivative (:func:`scatter_neighbour_gradient`).

Sparse rows (docs/gradients.md): a centre's own row ``self_row`` (3, k_s) holds the
features whose channels are all present in its environment (``env``), in ascending
order; the row of a neighbour of channel ``ch``, ``pair_row`` (3, k), those of them that
involve ``ch``.  ``pair_row`` receives ``+g`` (``d features / d r_neighbour``),
``self_row`` ``-g`` (``r_ij = r_j + S cell - r_i``); ``own_image`` marks a periodic image of
the centre itself (or the centre with ``include_center``): its ``+g`` goes to the centre's
own row.

Feature order of the power spectrum over ``n_eff`` radial rows::

    [(l, N, N2) for l in range(l_max + 1) for N in range(n_eff) for N2 in range(N, n_eff)]

The features present in an environment are those of the power spectrum of its present
channels alone (``rank[ch]``: position of channel ``ch`` among them), in the same order:
that gives a feature's column in ``self_row`` and ``pair_row`` in closed form.

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

from rstref._kernels.layout import lm_index, nlm_index, pair_index
from rstref._kernels.tensor import kernel_norm, normalized_radial
from rstref._numba import njit


@njit(inline="always")
def present_feature_column(l, lo, hi, n_local):
    """Column of power-spectrum feature ``(l, lo, hi)`` (``lo <= hi``, radial rows numbered
    among the present channels' ``n_local`` rows) in a centre's own row."""
    return l * (n_local * (n_local + 1) // 2) + pair_index(n_local, lo, hi)


@njit(inline="always")
def neighbour_feature_column(l, lo, hi, block, n_max, n_local):
    """Column of power-spectrum feature ``(l, lo, hi)`` (present rows, ``lo <= hi``, one of
    them in the neighbour's channel, whose rows start at ``block``) in a pair row.

    Per ``l`` the row holds ``n_max * n_local - n_max (n_max - 1) / 2`` features: for each
    ``lo`` before the block the ``n_max`` partners ``hi`` in it, then for each ``lo`` in the
    block every ``hi >= lo``.
    """
    per_l = n_max * n_local - n_max * (n_max - 1) // 2
    if lo < block:
        column = lo * n_max + (hi - block)
    else:
        inside = lo - block
        column = (block * n_max + inside * n_local - (lo - 1 + block) * inside // 2
                  + (hi - lo))
    return l * per_l + column


@njit
def power_spectrum_neighbour_gradient(xyz, value, channel, R, dR, Y, dY, c, present, rank,
                                      n_present, n_max, n_eff, l_max, normalize, norm_floor, A,
                                      B, pair_row, own_image, self_row, write_gradients, strain,
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

    and only those entries are visited: ``pair_row[a, q(f)] += g[a, f]`` (``self_row[a,
    s(f)] += g[a, f]`` when ``own_image``), ``self_row[a, s(f)] -= g[a, f]`` (if
    ``write_gradients``) and ``strain[a, b, f] += g[a, f] * xyz[b]`` (if ``write_strain``).
    Channels with ``present[ch]`` False are skipped (zero coefficients).  ``rank``
    (n_channels,): position of each channel among the ``n_present`` channels of the rows'
    layout (those present, -1 for the others; a superset of ``present``); ``s(f)`` and
    ``q(f)`` are ``f``'s columns in the rows (:func:`present_feature_column`,
    :func:`neighbour_feature_column`).  ``R, dR`` (n_max,) raw radial values at ``|xyz|``;
    scratch ``A`` (l_max+1, n_eff), ``B`` (3, l_max+1, n_eff).
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
    n_local = n_present * n_max
    block = rank[channel] * n_max
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for n in range(n_max):
            g0r, g1r, _ = normalized_radial(R[n], dR[n], 0.0, inv_s, s1, s2)
            r0 = value * g0r
            r1 = value * g1r
            if r1 == 0.0 and r0 == 0.0:
                continue
            N = base + n
            N_local = block + n
            for N2 in range(n_eff):
                if not present[N2 // n_max]:
                    continue
                lo = min(N, N2)
                hi = max(N, N2)
                N2_local = rank[N2 // n_max] * n_max + N2 % n_max
                lo_local = min(N_local, N2_local)
                hi_local = max(N_local, N2_local)
                coef = 2.0 * scale if N2 == N else sqrt2 * scale
                f = l * pairs_per_l + pair_index(n_eff, lo, hi)
                av = r1 * A[l, N2]
                g0 = coef * (av * u0 + r0 * B[0, l, N2])
                g1 = coef * (av * u1 + r0 * B[1, l, N2])
                g2 = coef * (av * u2 + r0 * B[2, l, N2])
                if write_gradients:
                    k_s = present_feature_column(l, lo_local, hi_local, n_local)
                    if own_image:
                        self_row[0, k_s] += g0
                        self_row[1, k_s] += g1
                        self_row[2, k_s] += g2
                    else:
                        k = neighbour_feature_column(l, lo_local, hi_local, block, n_max,
                                                     n_local)
                        pair_row[0, k] += g0
                        pair_row[1, k] += g1
                        pair_row[2, k] += g2
                    self_row[0, k_s] -= g0
                    self_row[1, k_s] -= g1
                    self_row[2, k_s] -= g2
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
def scatter_neighbour_gradient(g, vector, channel, table, env, pair_row, own_image, self_row,
                               write_gradients, strain, write_strain):
    """Add one neighbour's gradient ``g`` (3, F) to the sparse rows and the strain.

    ``table`` (F, k): the channels of each feature; ``env`` (n_channels,) bool: the
    channels present around the centre.  Over the features whose channels are all present
    (ascending; column ``s`` of ``self_row``, and column ``q`` of ``pair_row`` for those that
    involve ``channel``): ``pair_row[a, q] += g[a, f]`` (derivative w.r.t. the neighbour
    atom; to ``self_row`` instead when ``own_image``), ``self_row[a, s] -= g[a, f]``
    (w.r.t. the centre: ``r_ij = r_j + S cell - r_i``); and ``strain[a, b] += g[a] *
    vector[b]`` (homogeneous deformation ``r -> (I + eps) r``).
    """
    F = g.shape[1]
    if write_gradients:
        s = 0
        q = 0
        for f in range(F):
            inside = True
            involves = False
            for t in range(table.shape[1]):
                ch = table[f, t]
                if not env[ch]:
                    inside = False
                if ch == channel:
                    involves = True
            if not inside:
                continue
            for a in range(3):
                if own_image:
                    self_row[a, s] += g[a, f]
                elif involves:
                    pair_row[a, q] += g[a, f]
                self_row[a, s] -= g[a, f]
            if involves:
                q += 1
            s += 1
    if write_strain:
        for a in range(3):
            for b in range(3):
                vb = vector[b]
                for f in range(F):
                    strain[a, b, f] += g[a, f] * vb
