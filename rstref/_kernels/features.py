"""Per-environment kernels of structure featurization (used by :mod:`rstref.features`).

An environment is one centre atom and its neighbour pairs ``p`` (rows of flat per-pair
arrays).  Pair ``p`` puts a peak of height ``weight[p]`` into density channel
``channel[p]`` (one channel in 'values' mode, one per species in 'channels' mode).
The channels are stacked into one radial-spherical tensor with the composite radial
index ``N = channel * n_max + n`` (``n_eff = n_channels * n_max`` radial functions)::

    index(N, l, m) = n_eff * l * l + N * (2 l + 1) + (l + m)

so that the invariants of the stacked tensor are the single-channel formulas of
:mod:`rstref._kernels.invariants` with ``n_max -> n_eff``.

Per-pair inputs are computed by the caller: ``R, dR`` (P, n_max) radial values and
``rho``-derivatives at ``|r_p|``, ``Y`` (P, L) and ``dY`` (P, 3, L) 'component' spherical
harmonics of the pair vector and their Cartesian gradients, ``u`` (P, 3) the unit
vector (0 for a zero vector).  The gradient of pair ``p``'s basis function is
``d_a phi = R'(rho) u_a Y + R dY_a``.

Nothing here allocates, raises or prints.
"""

import math

from rstref._numba import njit


@njit
def stacked_density(start, stop, channel, weight, R, Y, n_max, l_max, n_eff, c):
    """``c[index(ch*n_max + n, l, m)] = sum_p weight[p] R[p, n] Y[p, lm]`` over pairs ``start..stop-1``.

    ``c``: (n_eff * (l_max+1)**2,), overwritten.
    """
    for k in range(c.shape[0]):
        c[k] = 0.0
    for p in range(start, stop):
        base_n = channel[p] * n_max
        w = weight[p]
        for l in range(l_max + 1):
            width = 2 * l + 1
            for n in range(n_max):
                rn = w * R[p, n]
                if rn == 0.0:
                    continue
                j = n_eff * l * l + (base_n + n) * width
                for k in range(width):
                    c[j + k] += rn * Y[p, l * l + k]


@njit
def channels_present(start, stop, channel, weight, present):
    """``present[a] = True`` iff some pair ``start..stop-1`` puts a non-zero peak into channel ``a``."""
    for a in range(present.shape[0]):
        present[a] = False
    for p in range(start, stop):
        if weight[p] != 0.0:
            present[channel[p]] = True


@njit
def stacked_power_spectrum(c, present, n_max, l_max, n_eff, out):
    """Power spectrum of the stacked tensor ``c`` into ``out`` (F,), which must be zero on entry.

    Same formula and order as :func:`rstref._kernels.invariants.power_spectrum_values` with
    ``n_max -> n_eff``; features of a channel absent from the environment (``present[a]``
    False, its coefficients all zero) are left at 0 without being computed.
    """
    sqrt2 = math.sqrt(2.0)
    pairs_per_l = n_eff * (n_eff + 1) // 2
    for l in range(l_max + 1):
        width = 2 * l + 1
        scale = 1.0 / math.sqrt(width)
        for N in range(n_eff):
            if not present[N // n_max]:
                continue
            a = n_eff * l * l + N * width
            for N2 in range(N, n_eff):
                if not present[N2 // n_max]:
                    continue
                b = n_eff * l * l + N2 * width
                acc = 0.0
                for k in range(width):
                    acc += c[a + k] * c[b + k]
                w = scale if N == N2 else sqrt2 * scale
                out[l * pairs_per_l + N * n_eff - N * (N - 1) // 2 + (N2 - N)] = w * acc


@njit
def power_spectrum_pair_gradient(p, c, present, channel, weight, R, dR, Y, dY, u, n_max, l_max,
                                 n_eff, A, B, vector, pair_slot, self_slot, gradients,
                                 write_gradients, strain, write_strain):
    """Add the gradient of the stacked power spectrum with respect to pair ``p``'s vector.

    With ``g[a, f] = d p_f / d r_{p,a}``, ``f`` in the order
    ``[(l, N, N2) for l in range(l_max+1) for N in range(n_eff) for N2 in range(N, n_eff)]``
    and ``p_f = w (2l+1)^(-1/2) sum_m c[N,l,m] c[N2,l,m]`` (``w = 1`` on the diagonal,
    ``sqrt(2)`` off it), only ``N`` (or ``N2``) in pair ``p``'s channel get a derivative::

        g[a, f] = w (2l+1)^(-1/2) ([N in ch] G_a(l, n(N), N2) + [N2 in ch] G_a(l, n(N2), N))
        G_a(l, n, N') = weight (R'_n u_a A[l, N'] + R_n B[a, l, N'])
        A[l, N'] = sum_m Y_lm c[N', l, m],   B[a, l, N'] = sum_m dY_a,lm c[N', l, m]

    and only those entries are visited: ``gradients[pair_slot] += g``,
    ``gradients[self_slot] -= g`` (if ``write_gradients``) and ``strain[a, b] += g[a] *
    vector[b]`` (if ``write_strain``).  Channels with ``present[a]`` False have zero
    coefficients, hence zero ``A``, ``B`` and no contribution: they are skipped.  Scratch
    ``A`` (l_max+1, n_eff), ``B`` (3, l_max+1, n_eff).
    """
    for l in range(l_max + 1):
        width = 2 * l + 1
        for N2 in range(n_eff):
            if not present[N2 // n_max]:
                continue
            j = n_eff * l * l + N2 * width
            s = 0.0
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for k in range(width):
                cv = c[j + k]
                lm = l * l + k
                s += Y[p, lm] * cv
                s0 += dY[p, 0, lm] * cv
                s1 += dY[p, 1, lm] * cv
                s2 += dY[p, 2, lm] * cv
            A[l, N2] = s
            B[0, l, N2] = s0
            B[1, l, N2] = s1
            B[2, l, N2] = s2
    sqrt2 = math.sqrt(2.0)
    pairs_per_l = n_eff * (n_eff + 1) // 2
    w = weight[p]
    base_n = channel[p] * n_max
    u0 = u[p, 0]
    u1 = u[p, 1]
    u2 = u[p, 2]
    v0 = vector[0]
    v1 = vector[1]
    v2 = vector[2]
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for n in range(n_max):
            N = base_n + n
            r1 = w * dR[p, n]
            r0 = w * R[p, n]
            if r1 == 0.0 and r0 == 0.0:
                continue
            for N2 in range(n_eff):
                if not present[N2 // n_max]:
                    continue
                if N2 == N:
                    lo = N
                    hi = N
                    coef = 2.0 * scale
                elif N2 > N:
                    lo = N
                    hi = N2
                    coef = sqrt2 * scale
                else:
                    lo = N2
                    hi = N
                    coef = sqrt2 * scale
                f = l * pairs_per_l + lo * n_eff - lo * (lo - 1) // 2 + (hi - lo)
                av = r1 * A[l, N2]
                g0 = coef * (av * u0 + r0 * B[0, l, N2])
                g1 = coef * (av * u1 + r0 * B[1, l, N2])
                g2 = coef * (av * u2 + r0 * B[2, l, N2])
                if write_gradients:
                    gradients[pair_slot, 0, f] += g0
                    gradients[pair_slot, 1, f] += g1
                    gradients[pair_slot, 2, f] += g2
                    gradients[self_slot, 0, f] -= g0
                    gradients[self_slot, 1, f] -= g1
                    gradients[self_slot, 2, f] -= g2
                if write_strain:
                    strain[0, 0, f] += g0 * v0
                    strain[0, 1, f] += g0 * v1
                    strain[0, 2, f] += g0 * v2
                    strain[1, 0, f] += g1 * v0
                    strain[1, 1, f] += g1 * v1
                    strain[1, 2, f] += g1 * v2
                    strain[2, 0, f] += g2 * v0
                    strain[2, 1, f] += g2 * v1
                    strain[2, 2, f] += g2 * v2


@njit
def jacobian_pair_gradient(p, jac, channel, weight, R, dR, Y, dY, u, n_max, l_max, n_eff, g):
    """``g[a, f] = sum_k jac[f, k] d c_k / d r_{p,a}`` for any invariant with Jacobian ``jac`` (F, dim).

    ``d c[index(ch*n_max + n, l, m)] / d r_a = weight (R'_n u_a Y_lm + R_n dY_a,lm)``;
    output ``g`` (3, F), overwritten.
    """
    for a in range(3):
        for f in range(g.shape[1]):
            g[a, f] = 0.0
    w = weight[p]
    base_n = channel[p] * n_max
    for l in range(l_max + 1):
        width = 2 * l + 1
        for n in range(n_max):
            r1 = w * dR[p, n]
            r0 = w * R[p, n]
            if r1 == 0.0 and r0 == 0.0:
                continue
            j = n_eff * l * l + (base_n + n) * width
            for k in range(width):
                lm = l * l + k
                y = r1 * Y[p, lm]
                d0 = y * u[p, 0] + r0 * dY[p, 0, lm]
                d1 = y * u[p, 1] + r0 * dY[p, 1, lm]
                d2 = y * u[p, 2] + r0 * dY[p, 2, lm]
                for f in range(g.shape[1]):
                    jv = jac[f, j + k]
                    g[0, f] += jv * d0
                    g[1, f] += jv * d1
                    g[2, f] += jv * d2


@njit
def scatter_pair_gradient(g, vector, pair_slot, self_slot, gradients, write_gradients,
                          strain, write_strain):
    """Add pair gradient ``g`` (3, F) to the outputs.

    ``gradients[pair_slot] += g`` (derivative w.r.t. the neighbour atom),
    ``gradients[self_slot] -= g`` (w.r.t. the centre: ``r_ij = r_j + S cell - r_i``),
    ``strain[a, b] += g[a] * vector[b]`` (homogeneous deformation ``r -> (I + eps) r``).
    """
    F = g.shape[1]
    if write_gradients:
        for a in range(3):
            for f in range(F):
                gradients[pair_slot, a, f] += g[a, f]
                gradients[self_slot, a, f] -= g[a, f]
    if write_strain:
        for a in range(3):
            for b in range(3):
                vb = vector[b]
                for f in range(F):
                    strain[a, b, f] += g[a, f] * vb
