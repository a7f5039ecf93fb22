"""Per-atom / per-environment kernels of the radial-spherical tensor (docs/conventions.md).

Layout of one coefficient vector: ``n_eff`` radial functions (``n_eff = n_max`` for one
density; ``n_channels * n_max`` for species channels stacked as radial offsets, composite
radial index ``N = channel * n_max + n``), e3nn irreps ``n_eff x l`` for ``l = 0..l_max``::

    index(N, l, m) = n_eff * l * l + N * (2 l + 1) + (l + m)        (layout.nlm_index)

A neighbour of channel ``ch`` only touches the ``N = ch*n_max + n`` rows; its derivatives
are stored in the one-channel layout ``index(n, l, m)`` with ``n_max`` (``dim = n_max *
(l_max+1)**2``), which for one channel is the coefficient layout itself.

The basis function is ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)`` with 'component'
spherical harmonics.  The kernels receive the radial values ``R_n, R_n', R_n''`` at
``rho = |r|`` and ``Y_lm, dY_lm/dr_a, d2Y_lm/dr_a dr_b`` (Cartesian derivatives of
``Y(r / |r|)``, flat index ``layout.lm_index(l, m)``) and assemble, for a radial factor
``G_n(rho)``,

* ``d_a (G Y) = G' u_a Y + G dY_a`` with ``u = r / rho``;
* ``d_ab (G Y) = H_ab Y + G' (u_a dY_b + u_b dY_a) + G d2Y_ab`` with the radial Hessian
  ``H_ab = G'' u_a u_b + G' (delta_ab - u_a u_b) / rho``.

At ``rho = 0`` the unit vector is taken as 0 and ``H_ab = G''(0) delta_ab``: the exact
limit when ``G'(0) = 0`` (cosine bumps, cosines); for a basis with ``G'(0) != 0`` the
derivatives of ``G(|r|)`` do not exist at the centre and this is the direction average.

Raw projection: ``G = R``.  Kernel normalisation (``normalize=True``) divides by
``s(rho) = ||phi(r)||^2 = K sum_n R_n(rho)^2``, ``K = (l_max+1)^2`` ('component'
normalisation: ``sum_m Y_lm^2 = 2l+1``).  ``s`` depends on ``rho`` only, so the
normalised basis is the raw one with the radial factor ``G = R / s``::

    s' = 2 K sum_n R R',   s'' = 2 K sum_n (R'^2 + R R'')
    G' = R'/s - R s'/s^2,  G'' = R''/s - 2 R' s'/s^2 - R s''/s^2 + 2 R s'^2/s^3

(at ``rho = 0`` the terms in ``s'`` and ``R'^2``, which the Cartesian formulas multiply
by ``u = 0``, are dropped).  An atom with ``s <= norm_floor`` contributes 0 (values and
derivatives).  :func:`kernel_norm` and :func:`normalized_radial` are the one place of
this formula; :func:`project_atom` is the one per-atom projection (its values-only part
:func:`add_atom_values`); the environment loops :func:`project_environment_channels`,
:func:`project_environment` (one density) and :func:`project_environment_radial` (one
density, radial basis evaluated per atom) only call it.

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

from rstref._kernels.layout import lm_index, nlm_index
from rstref._kernels.radial import orthonormal_radial_point
from rstref._numba import njit


@njit
def _radial_hessian(rho, u0, u1, u2, dR, d2R, a, b):
    """``H_ab`` of ``G(|r|)`` (see the module docstring) from ``G'``, ``G''``."""
    ua = u0 if a == 0 else (u1 if a == 1 else u2)
    ub = u0 if b == 0 else (u1 if b == 1 else u2)
    delta = 1.0 if a == b else 0.0
    if rho == 0.0:
        return d2R * delta
    return d2R * ua * ub + dR * (delta - ua * ub) / rho


@njit
def kernel_norm(R, dR, d2R, rho, n_max, l_max, normalize, order, norm_floor):
    """``(inv_s, s1, s2, contributes)`` of one atom: ``1/s``, ``s'``, ``s''`` (module docstring).

    Raw projection (``normalize`` False): ``(1, 0, 0, True)``.  ``s'`` is computed for
    ``order >= 1`` and ``s''`` for ``order >= 2`` (else 0).  ``contributes`` is False when
    ``s <= norm_floor``.
    """
    if not normalize:
        return 1.0, 0.0, 0.0, True
    k = float((l_max + 1) * (l_max + 1))
    s = 0.0
    for n in range(n_max):
        s += R[n] * R[n]
    s *= k
    if not s > norm_floor:
        return 0.0, 0.0, 0.0, False
    s1 = 0.0
    s2 = 0.0
    if order >= 1 and rho > 0.0:
        for n in range(n_max):
            s1 += R[n] * dR[n]
        s1 *= 2.0 * k
    if order >= 2:
        for n in range(n_max):
            q = R[n] * d2R[n]
            if rho > 0.0:
                q += dR[n] * dR[n]
            s2 += q
        s2 *= 2.0 * k
    return 1.0 / s, s1, s2, True


@njit(inline="always")
def normalized_radial(r0, r1, r2, inv_s, s1, s2):
    """``(G, G', G'')`` of ``G = R / s`` from ``R, R', R''`` and :func:`kernel_norm`'s output.

    With ``inv_s = 1, s1 = s2 = 0`` (raw projection) this returns ``(r0, r1, r2)`` exactly.
    """
    g0 = r0 * inv_s
    g1 = r1 * inv_s - r0 * s1 * inv_s * inv_s
    g2 = (r2 * inv_s - 2.0 * r1 * s1 * inv_s * inv_s - r0 * s2 * inv_s * inv_s
          + 2.0 * r0 * s1 * s1 * inv_s * inv_s * inv_s)
    return g0, g1, g2


@njit
def _zero_derivatives(dc, d2c, order):
    if order >= 1:
        for a in range(3):
            for j in range(dc.shape[1]):
                dc[a, j] = 0.0
    if order >= 2:
        for a in range(3):
            for b in range(3):
                for j in range(d2c.shape[2]):
                    d2c[a, b, j] = 0.0


@njit
def add_atom_values(value, channel, R, Y, n_max, n_eff, l_max, normalize, norm_floor, c):
    """Values-only :func:`project_atom` (``order = 0``): ``c[index(N, l, m)] += v G_n Y_lm``.

    ``N = channel * n_max + n``; ``G = R`` (raw) or ``R / s`` (``normalize``; 0 when
    ``s <= norm_floor``).  ``R`` (n_max,), ``Y`` (L,), ``c`` (n_eff * L,).
    """
    inv_s, _, _, contributes = kernel_norm(R, R, R, 0.0, n_max, l_max, normalize, 0, norm_floor)
    if not contributes:
        return
    base = channel * n_max
    for l in range(l_max + 1):
        y = lm_index(l, -l)
        for n in range(n_max):
            w = value * (R[n] * inv_s)
            if w == 0.0:
                continue
            j = nlm_index(n_eff, base + n, l, -l)
            for k in range(2 * l + 1):
                c[j + k] += w * Y[y + k]


@njit
def project_atom(xyz, value, channel, R, dR, d2R, Y, dY, d2Y, n_max, n_eff, l_max, normalize,
                 order, norm_floor, c, dc, d2c):
    """Add one atom's contribution to ``c`` and write its derivatives.

    Parameters
    ----------
    xyz : float64[3]
        Atom position relative to the centre.
    value : float
        Peak height ``v``.
    channel : int
        Density channel (0 for one density): the atom adds to the rows
        ``N = channel * n_max + n`` of ``c``.
    R, dR, d2R : float64[n_max]
        ``R_n(rho)`` and its first and second ``rho``-derivatives.
    Y : float64[L]; dY : float64[3, L]; d2Y : float64[3, 3, L]
        'component' spherical harmonics of ``xyz`` and their Cartesian derivatives
        (only read up to ``order``).
    n_max, n_eff, l_max : int
        Radial functions per channel, in ``c`` (``n_channels * n_max``), and degree.
    normalize : bool
        Kernel normalisation ``phi / ||phi||^2`` (True) or raw ``phi`` (False).
    order : int
        0: values; 1: and ``dc``; 2: and ``d2c``.
    norm_floor : float
        With ``normalize``, atoms with ``||phi||^2 <= norm_floor`` contribute 0.
    c : float64[n_eff * L]
        Accumulated: ``c[index(N, l, m)] += v g_nlm(xyz)`` (stacked layout).
    dc : float64[3, n_max * L]
        Written (order >= 1): ``dc[a, index(n, l, m)] = v d_a g_nlm(xyz)`` (one channel).
    d2c : float64[3, 3, n_max * L]
        Written (order >= 2): ``d2c[a, b, index(n, l, m)] = v d_a d_b g_nlm(xyz)``.
    """
    if order == 0:
        add_atom_values(value, channel, R, Y, n_max, n_eff, l_max, normalize, norm_floor, c)
        return
    x = xyz[0]
    y = xyz[1]
    z = xyz[2]
    rho = math.sqrt(x * x + y * y + z * z)
    u0 = 0.0
    u1 = 0.0
    u2 = 0.0
    if rho > 0.0:
        u0 = x / rho
        u1 = y / rho
        u2 = z / rho
    inv_s, s1, s2, contributes = kernel_norm(R, dR, d2R, rho, n_max, l_max, normalize, order,
                                             norm_floor)
    if not contributes:
        _zero_derivatives(dc, d2c, order)
        return
    base = channel * n_max
    for n in range(n_max):
        r0, r1, r2 = normalized_radial(R[n], dR[n], d2R[n], inv_s, s1, s2)
        w = value * r0
        for l in range(l_max + 1):
            for m in range(-l, l + 1):
                j = nlm_index(n_eff, base + n, l, m)
                k = nlm_index(n_max, n, l, m)
                lm = lm_index(l, m)
                yv = Y[lm]
                c[j] += w * yv
                dc[0, k] = value * (r1 * u0 * yv + r0 * dY[0, lm])
                dc[1, k] = value * (r1 * u1 * yv + r0 * dY[1, lm])
                dc[2, k] = value * (r1 * u2 * yv + r0 * dY[2, lm])
                if order < 2:
                    continue
                for a in range(3):
                    ua = u0 if a == 0 else (u1 if a == 1 else u2)
                    for b in range(a, 3):
                        ub = u0 if b == 0 else (u1 if b == 1 else u2)
                        h = (_radial_hessian(rho, u0, u1, u2, r1, r2, a, b) * yv
                             + r1 * (ua * dY[b, lm] + ub * dY[a, lm]) + r0 * d2Y[a, b, lm])
                        d2c[a, b, k] = value * h
                        d2c[b, a, k] = value * h


@njit
def project_environment_channels(positions, values, channels, R, dR, d2R, Y, dY, d2Y, n_max,
                                 n_eff, l_max, normalize, order, norm_floor, c, dc, d2c):
    """Coefficients of one environment: ``c = sum_i v_i g(r_i)``; ``dc[i]``, ``d2c[i]`` per atom.

    ``channels`` (N,) int64; ``R, dR, d2R``: ``(N, n_max)``; ``Y``: ``(N, L)``; ``dY``:
    ``(N, 3, L)``; ``d2Y``: ``(N, 3, 3, L)``; ``c``: ``(n_eff * L,)`` (zeroed here); ``dc``:
    ``(N, 3, n_max * L)``; ``d2c``: ``(N, 3, 3, n_max * L)``.  See :func:`project_atom`.
    """
    for j in range(c.shape[0]):
        c[j] = 0.0
    for i in range(positions.shape[0]):
        if order == 0:
            add_atom_values(values[i], channels[i], R[i], Y[i], n_max, n_eff, l_max, normalize,
                            norm_floor, c)
            continue
        project_atom(positions[i], values[i], channels[i], R[i], dR[i], d2R[i], Y[i], dY[i],
                     d2Y[i], n_max, n_eff, l_max, normalize, order, norm_floor, c, dc[i], d2c[i])


@njit
def project_environment(positions, values, R, dR, d2R, Y, dY, d2Y, n_max, l_max, normalize,
                        order, norm_floor, c, dc, d2c):
    """:func:`project_environment_channels` of one density (every atom in channel 0).

    ``R, dR, d2R``: ``(N, n_max)``; ``Y``: ``(N, L)``; ``dY``: ``(N, 3, L)``; ``d2Y``:
    ``(N, 3, 3, L)``; ``c``: ``(dim,)`` (zeroed here); ``dc``: ``(N, 3, dim)``; ``d2c``:
    ``(N, 3, 3, dim)``.
    """
    for j in range(c.shape[0]):
        c[j] = 0.0
    for i in range(positions.shape[0]):
        project_atom(positions[i], values[i], 0, R[i], dR[i], d2R[i], Y[i], dY[i], d2Y[i],
                     n_max, n_max, l_max, normalize, order, norm_floor, c, dc[i], d2c[i])


@njit
def project_environment_radial(positions, values, family, r_cut, n_prim, envelope_power,
                               radial_coefficients, Y, dY, d2Y, n_max, l_max, normalize, order,
                               norm_floor, f, df, d2f, R, dR, d2R, c, dc, d2c):
    """As :func:`project_environment` for one density, evaluating the radial basis per atom.

    Radial arguments as in :func:`rstref._kernels.radial.orthonormal_radial_point`
    (``f, df, d2f``: scratch (n_prim,); ``R, dR, d2R``: scratch (n_max,)); the
    'component' harmonics ``Y`` (N, L), ``dY`` (N, 3, L), ``d2Y`` (N, 3, 3, L) of the
    atoms are inputs (``dY``/``d2Y`` only read for ``order >= 1`` / ``order >= 2``).
    """
    for j in range(c.shape[0]):
        c[j] = 0.0
    for i in range(positions.shape[0]):
        xyz = positions[i]
        rho = math.sqrt(xyz[0] * xyz[0] + xyz[1] * xyz[1] + xyz[2] * xyz[2])
        orthonormal_radial_point(rho, family, r_cut, n_prim, envelope_power, radial_coefficients,
                                 f, df, d2f, R, dR, d2R)
        project_atom(xyz, values[i], 0, R, dR, d2R, Y[i], dY[i], d2Y[i], n_max, n_max, l_max,
                     normalize, order, norm_floor, c, dc[i], d2c[i])


@njit
def closest_pair_below(positions, tolerance):
    """First pair ``(i, j)``, ``i < j``, with ``|r_i - r_j| < tolerance``; ``(-1, -1)`` if none."""
    n = positions.shape[0]
    t2 = tolerance * tolerance
    for i in range(n):
        for j in range(i + 1, n):
            dx = positions[i, 0] - positions[j, 0]
            dy = positions[i, 1] - positions[j, 1]
            dz = positions[i, 2] - positions[j, 2]
            if dx * dx + dy * dy + dz * dz < t2:
                return i, j
    return -1, -1


@njit
def signal_point(R, Y, c, n_max, l_max):
    """``f(r) = sum_nlm c_nlm R_n(|r|) Y_lm(r_hat)`` at one point from its ``R`` and ``Y`` rows."""
    f = 0.0
    for l in range(l_max + 1):
        for n in range(n_max):
            rn = R[n]
            if rn == 0.0:
                continue
            for m in range(-l, l + 1):
                f += c[nlm_index(n_max, n, l, m)] * rn * Y[lm_index(l, m)]
    return f
