"""Per-atom / per-environment kernels of the radial-spherical tensor (DESIGN section 2.5).

Layout of one coefficient vector (e3nn irreps ``n_max x l`` for ``l = 0..l_max``)::

    index(n, l, m) = n_max * l * l + n * (2 l + 1) + (l + m)

The basis function is ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)`` with 'component'
spherical harmonics.  The kernels receive the radial values ``R_n, R_n', R_n''`` at
``rho = |r|`` and ``Y_lm, dY_lm/dr_a, d2Y_lm/dr_a dr_b`` (Cartesian derivatives of
``Y(r / |r|)``, flat index ``l*l + l + m``) computed by the caller, and assemble

* ``d_a phi = R' u_a Y + R dY_a`` with ``u = r / rho``;
* ``d_ab phi = H_ab Y + R' (u_a dY_b + u_b dY_a) + R d2Y_ab`` with the radial Hessian
  ``H_ab = R'' u_a u_b + R' (delta_ab - u_a u_b) / rho``.

At ``rho = 0`` the unit vector is taken as 0 and ``H_ab = R''(0) delta_ab``: the exact
limit when ``R'(0) = 0`` (cosine bumps, cosines); for a basis with ``R'(0) != 0`` the
derivatives of ``R(|r|)`` do not exist at the centre and this is the direction average.

Kernel normalisation (``normalize=True``) divides by
``s(r) = ||phi(r)||^2 = (l_max+1)^2 sum_n R_n(rho)^2`` ('component' normalisation:
``sum_m Y_lm^2 = 2l+1``), with

* ``d_a s = 2 K sum_n R R' u_a``,
* ``d_ab s = 2 K sum_n (R'^2 u_a u_b + R H_ab)``, ``K = (l_max+1)^2``,

and ``g = phi / s``, ``d_a g = d_a phi / s - phi d_a s / s^2``,
``d_ab g = d_ab phi / s - (d_a phi d_b s + d_b phi d_a s) / s^2
- phi d_ab s / s^2 + 2 phi d_a s d_b s / s^3``.
An atom with ``s <= norm_floor`` contributes 0 (values and derivatives).

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

from rstref._kernels.radial import orthonormal_radial_point
from rstref._numba import njit


@njit
def nlm_flat_index(n_max, n, l, m):
    """``n_max*l*l + n*(2l+1) + (l+m)``."""
    return n_max * l * l + n * (2 * l + 1) + l + m


@njit
def _radial_hessian(rho, u0, u1, u2, dR, d2R, a, b):
    """``H_ab`` of ``R(|r|)`` (see the module docstring) from ``R'``, ``R''``."""
    ua = u0 if a == 0 else (u1 if a == 1 else u2)
    ub = u0 if b == 0 else (u1 if b == 1 else u2)
    delta = 1.0 if a == b else 0.0
    if rho == 0.0:
        return d2R * delta
    return d2R * ua * ub + dR * (delta - ua * ub) / rho


@njit
def project_atom(xyz, value, R, dR, d2R, Y, dY, d2Y, n_max, l_max, normalize, order,
                 norm_floor, c, dc, d2c):
    """Add one atom's contribution to ``c`` and write its derivatives.

    Parameters
    ----------
    xyz : float64[3]
        Atom position relative to the centre.
    value : float
        Peak height ``v``.
    R, dR, d2R : float64[n_max]
        ``R_n(rho)`` and its first and second ``rho``-derivatives.
    Y : float64[L]; dY : float64[3, L]; d2Y : float64[3, 3, L]
        'component' spherical harmonics of ``xyz`` and their Cartesian derivatives
        (only read up to ``order``).
    n_max, l_max : int
    normalize : bool
        Kernel normalisation ``phi / ||phi||^2`` (True) or raw ``phi`` (False).
    order : int
        0: values; 1: and ``dc``; 2: and ``d2c``.
    norm_floor : float
        With ``normalize``, atoms with ``||phi||^2 <= norm_floor`` contribute 0.
    c : float64[dim]
        Accumulated: ``c += v g(xyz)``.
    dc : float64[3, dim]
        Written (order >= 1): ``dc[a] = v d_a g(xyz)``.
    d2c : float64[3, 3, dim]
        Written (order >= 2): ``d2c[a, b] = v d_a d_b g(xyz)``.
    """
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
    dim = n_max * (l_max + 1) * (l_max + 1)

    # kernel normalisation s, its gradient ds_a = s1 u_a and Hessian d2s_ab
    inv_s = 1.0
    s1 = 0.0
    s00 = 0.0
    s01 = 0.0
    s02 = 0.0
    s11 = 0.0
    s12 = 0.0
    s22 = 0.0
    if normalize:
        k = float((l_max + 1) * (l_max + 1))
        s = 0.0
        for n in range(n_max):
            s += R[n] * R[n]
        s *= k
        if not s > norm_floor:
            if order >= 1:
                for a in range(3):
                    for j in range(dim):
                        dc[a, j] = 0.0
            if order >= 2:
                for a in range(3):
                    for b in range(3):
                        for j in range(dim):
                            d2c[a, b, j] = 0.0
            return
        inv_s = 1.0 / s
        if order >= 1:
            for n in range(n_max):
                s1 += R[n] * dR[n]
            s1 *= 2.0 * k
        if order >= 2:
            for n in range(n_max):
                q = dR[n] * dR[n]
                s00 += q * u0 * u0 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 0, 0)
                s01 += q * u0 * u1 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 0, 1)
                s02 += q * u0 * u2 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 0, 2)
                s11 += q * u1 * u1 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 1, 1)
                s12 += q * u1 * u2 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 1, 2)
                s22 += q * u2 * u2 + R[n] * _radial_hessian(rho, u0, u1, u2, dR[n], d2R[n], 2, 2)
            s00 *= 2.0 * k
            s01 *= 2.0 * k
            s02 *= 2.0 * k
            s11 *= 2.0 * k
            s12 *= 2.0 * k
            s22 *= 2.0 * k

    for l in range(l_max + 1):
        for n in range(n_max):
            r0 = R[n]
            r1 = dR[n]
            r2 = d2R[n]
            for m in range(-l, l + 1):
                j = n_max * l * l + n * (2 * l + 1) + l + m
                lm = l * l + l + m
                yv = Y[lm]
                phi = r0 * yv
                c[j] += value * phi * inv_s
                if order < 1:
                    continue
                # gradient of phi, then of g = phi / s
                g0 = r1 * u0 * yv + r0 * dY[0, lm]
                g1 = r1 * u1 * yv + r0 * dY[1, lm]
                g2 = r1 * u2 * yv + r0 * dY[2, lm]
                if normalize:
                    t = phi * s1 * inv_s * inv_s
                    dc[0, j] = value * (g0 * inv_s - t * u0)
                    dc[1, j] = value * (g1 * inv_s - t * u1)
                    dc[2, j] = value * (g2 * inv_s - t * u2)
                else:
                    dc[0, j] = value * g0
                    dc[1, j] = value * g1
                    dc[2, j] = value * g2
                if order < 2:
                    continue
                for a in range(3):
                    ua = u0 if a == 0 else (u1 if a == 1 else u2)
                    ga = g0 if a == 0 else (g1 if a == 1 else g2)
                    for b in range(a, 3):
                        ub = u0 if b == 0 else (u1 if b == 1 else u2)
                        gb = g0 if b == 0 else (g1 if b == 1 else g2)
                        h = (_radial_hessian(rho, u0, u1, u2, r1, r2, a, b) * yv
                             + r1 * (ua * dY[b, lm] + ub * dY[a, lm]) + r0 * d2Y[a, b, lm])
                        if normalize:
                            if a == 0:
                                sab = s00 if b == 0 else (s01 if b == 1 else s02)
                            elif a == 1:
                                sab = s11 if b == 1 else s12
                            else:
                                sab = s22
                            sa = s1 * ua
                            sb = s1 * ub
                            h = (h * inv_s - (ga * sb + gb * sa) * inv_s * inv_s
                                 - phi * sab * inv_s * inv_s
                                 + 2.0 * phi * sa * sb * inv_s * inv_s * inv_s)
                        d2c[a, b, j] = value * h
                        d2c[b, a, j] = value * h


@njit
def project_environment(positions, values, R, dR, d2R, Y, dY, d2Y, n_max, l_max, normalize,
                        order, norm_floor, c, dc, d2c):
    """Coefficients of one environment: ``c = sum_i v_i g(r_i)``; ``dc[i]``, ``d2c[i]`` per atom.

    ``R, dR, d2R``: ``(N, n_max)``; ``Y``: ``(N, L)``; ``dY``: ``(N, 3, L)``;
    ``d2Y``: ``(N, 3, 3, L)``; ``c``: ``(dim,)`` (zeroed here); ``dc``: ``(N, 3, dim)``;
    ``d2c``: ``(N, 3, 3, dim)``.  See :func:`project_atom`.
    """
    for j in range(c.shape[0]):
        c[j] = 0.0
    for i in range(positions.shape[0]):
        project_atom(positions[i], values[i], R[i], dR[i], d2R[i], Y[i], dY[i], d2Y[i],
                     n_max, l_max, normalize, order, norm_floor, c, dc[i], d2c[i])


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
            base = n_max * l * l + n * (2 * l + 1) + l
            for m in range(-l, l + 1):
                f += c[base + m] * rn * Y[l * l + l + m]
    return f


@njit
def project_environment_radial(positions, values, family, r_cut, n_prim, envelope_power,
                               radial_coefficients, Y, dY, d2Y, n_max, l_max, normalize, order,
                               norm_floor, f, df, d2f, R, dR, d2R, c, dc, d2c):
    """As :func:`project_environment`, evaluating the radial basis per atom.

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
        project_atom(xyz, values[i], R, dR, d2R, Y[i], dY[i], d2Y[i], n_max, l_max, normalize,
                     order, norm_floor, c, dc[i], d2c[i])
