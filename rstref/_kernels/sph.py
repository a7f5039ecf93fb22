"""Per-point kernels for real spherical harmonics by Cartesian recurrences.

Mathematics
-----------
For ``0 <= m <= l`` write the real solid harmonics (polynomials in x, y, z) as

    Z_{l,+m} = q_l^m(z, r^2) * C_m(x, y),     Z_{l,-m} = q_l^m(z, r^2) * S_m(x, y),

with ``C_m + i S_m = (x + i y)^m`` and ``q_l^m = M_lm Q_l^m`` where ``Q_l^m`` is the
polynomial ``r^(l-m) P_l^(m)(z/r)`` (m-th derivative of the Legendre polynomial, no
Condon-Shortley phase) and ``M_lm`` the normalisation prefactor (``sqrt(2)`` included
for ``m > 0``).  The unnormalised polynomials satisfy

    Q_m^m = (2m-1) Q_{m-1}^{m-1},   Q_{m+1}^m = (2m+1) z Q_m^m,
    (l-m) Q_l^m = (2l-1) z Q_{l-1}^m - (l+m-1) r^2 Q_{l-2}^m,
    dQ_l^m/dx = -x Q_{l-1}^{m+1},  dQ_l^m/dy = -y Q_{l-1}^{m+1},  dQ_l^m/dz = (l+m) Q_{l-1}^m,

so every first and second derivative of ``q`` is a combination of lower ``q`` with
coefficients that are square roots of rationals; the host-side builder
:func:`rstref._sph_tables.sph_tables` evaluates them once (exactly, then rounded once)
and the kernels below only multiply and add.

``Y_lm(r) = Z_lm(u)`` with ``u = r/|r|``.  With ``s = 1/|r|``, ``G = grad Z(u)``,
``H = Hess Z(u)`` and Euler's relation for the degree-l homogeneous ``Z``:

    grad Y = s (G - l Z u)
    Hess Y = s^2 (H - l (u G^T + G u^T) - l Z I + l (l+2) Z u u^T)

Conventions of the kernels
--------------------------
* ``sph_*_points(xyz, start, stop, ...)`` loop over the rows ``start:stop`` of ``xyz``
  (n, 3) and write the same rows of the outputs; ``sph_*_point(xyz, i, ...)`` do one row
  (the entry a CUDA thread calls).  The loop lives inside the kernel because numba
  reference-counts array arguments on every call.
  ``sph_values_blocks`` (the CPU driver's values kernel) does the same rows a block of
  points at a time (directions first, see :mod:`rstref._kernels.sph_point`), with the
  same numbers, and returns the (nonfinite, subnormal) counts of the input.
  ``axes`` is an int array (3,): the standard-frame coordinate k is read from
  ``xyz[i, axes[k]]`` and its derivative written to output axis ``axes[k]``.
  ``axes = (0, 1, 2)`` is the standard convention, ``(2, 0, 1)`` the e3nn one
  (standard harmonics evaluated at (z, x, y)).
* ``coef`` is the table from :func:`rstref._sph_tables.sph_tables` (shape ``(7, l_max+1, l_max+1)``).
* ``q`` is scratch of shape ``(l_max+1, l_max+5)``, ``cs`` scratch of shape
  ``(4, l_max+1)``; neither needs initialisation (see :func:`sph_scratch_shapes`).
* Outputs: ``out_val`` (n, L), ``out_grad`` (n, 3, L), ``out_hess`` (n, 3, 3, L) with
  ``L = (l_max+1)**2`` and flat index ``l*l + l + m``.  Every entry is written.
* ``solid`` True: the polynomials ``Z_lm(r)`` themselves (derivatives of the polynomial,
  also at the origin).  ``solid`` False: ``Y_lm(r/|r|)``; at the zero vector
  ``Y_00`` keeps its value and every other value and derivative is exactly 0 (``1/|r|``
  is replaced by 0 there, which makes every l >= 1 term vanish).  Derivatives of
  ``Y(r/|r|)`` are formed on the unit sphere and multiplied by ``s = 1/|r|`` last, so an
  entry that is 0 there stays 0 however large ``s`` is (never ``inf * 0``).
* Huge solid input (``max |r_k| > 2^(900/l_max)``) is evaluated at ``r/p``, ``p`` a power
  of two, and degree block l is multiplied back by ``p^l`` (gradients ``p^(l-1)``,
  Hessians ``p^(l-2)``): exact, and what overflows becomes ``±inf``, never NaN.

No function here allocates, raises or prints, so numba-cuda kernels may call them.
"""

from rstref._kernels.layout import lm_index
from rstref._kernels.sph_head import (
    L_HEAD,
    L_HEAD_VALUES,
    sph_gradients_head,
    sph_values_head,
)
from rstref._kernels.sph_point import (
    _LARGEST,
    BLOCK,
    _direction,
    _hessian_of_direction,
    _rescale_gradients,
    _rescale_hessians,
    _rescale_values,
    _solid_hessian_threshold,
    _solid_point,
    _solid_scale_threshold,
    unit_block,
)
from rstref._numba import njit

#: largest supported degree
L_MAX_SUPPORTED = 64


# ----------------------------------------------------------------------------- scratch
def sph_scratch_shapes(l_max):
    """Shapes of the scratch arrays ``q`` and ``cs`` the kernels need."""
    return (l_max + 1, l_max + 5), (4, l_max + 1)


# ----------------------------------------------------------------------------- kernels
@njit
def sph_values_points(xyz, start, stop, axes, l_max, solid, coef, q, cs, out_val):
    """Values at the points ``xyz[start:stop]`` into the same rows of ``out_val``.

    Degrees <= ``L_HEAD_VALUES`` by straight-line code, then degree by degree (l outer,
    m inner: the m columns are independent recurrences, which the processor overlaps),
    keeping the last two degrees in rows ``l % 2`` of ``q``; the operations are those
    of the module docstring, in the same order.
    """
    a0 = axes[0]
    a1 = axes[1]
    a2 = axes[2]
    limit = _solid_scale_threshold(l_max)
    for i in range(start, stop):
        x = xyz[i, a0]
        y = xyz[i, a1]
        z = xyz[i, a2]
        p = 1.0
        if solid:
            x, y, z, p = _solid_point(x, y, z, limit)
        else:
            # zero vector: s = 0 gives u = 0, where every l >= 1 polynomial vanishes
            x, y, z, s = _direction(x, y, z)
        r2 = x * x + y * y + z * z
        sph_values_head(i, x, y, z, r2, l_max, coef, q, cs, out_val)
        for l in range(L_HEAD_VALUES + 1, l_max + 1):
            _values_degree(out_val, i, l, x, y, z, r2, coef, q, cs)
        if p != 1.0:
            _rescale_values(out_val, i, l_max, p)


@njit
def sph_values_blocks(xyz, start, stop, axes, l_max, solid, coef, q, cs, u, out_val):
    """:func:`sph_values_points` with the points taken a block at a time (CPU).

    The directions of a block come first, from
    :func:`rstref._kernels.sph_point.unit_block` (a vectorised loop; scratch ``u`` of
    ``BLOCK_ROWS * BLOCK`` floats), so that no point waits on its own square root.
    Returns ``(nonfinite, subnormal)`` as the kernels of :mod:`rstref._kernels.sph_low`.
    Same numbers as :func:`sph_values_points`.
    """
    a0 = axes[0]
    a1 = axes[1]
    a2 = axes[2]
    limit = min(_solid_scale_threshold(l_max), _LARGEST)
    nonfinite = 0
    subnormal = 0
    for b0 in range(start, stop, BLOCK):
        b1 = min(b0 + BLOCK, stop)
        bad, tiny = unit_block(xyz, b0, b1, a0, a1, a2, solid, limit, u)
        nonfinite += bad
        subnormal += tiny
        for j in range(b1 - b0):
            i = b0 + j
            x = u[4 * j]
            y = u[4 * j + 1]
            z = u[4 * j + 2]
            p = u[4 * j + 3] if solid else 1.0
            # the same lines as sph_values_points (a shared inline function is slower)
            r2 = x * x + y * y + z * z
            sph_values_head(i, x, y, z, r2, l_max, coef, q, cs, out_val)
            for l in range(L_HEAD_VALUES + 1, l_max + 1):
                _values_degree(out_val, i, l, x, y, z, r2, coef, q, cs)
            if p != 1.0:
                _rescale_values(out_val, i, l_max, p)
    return nonfinite, subnormal


@njit(inline="always")
def _values_degree(out_val, i, l, x, y, z, r2, coef, q, cs):
    """Row i of the values of degree l, from degrees l - 1 and l - 2 in rows of ``q``.

    ``q[l % 2]`` holds ``q_{l-2}^m`` on entry and ``q_l^m`` on exit; ``cs`` gains
    ``C_l, S_l``.
    """
    cur = l % 2
    prv = 1 - cur
    c = cs[0, l - 1]
    sn = cs[1, l - 1]
    cs[0, l] = x * c - y * sn
    cs[1, l] = x * sn + y * c
    base = l * l + l
    qv = coef[0, l, 0] * z * q[prv, 0] - coef[1, l, 0] * r2 * q[cur, 0]
    q[cur, 0] = qv
    out_val[i, base] = qv
    for m in range(1, l - 1):
        qv = coef[0, l, m] * z * q[prv, m] - coef[1, l, m] * r2 * q[cur, m]
        q[cur, m] = qv
        out_val[i, base + m] = qv * cs[0, m]
        out_val[i, base - m] = qv * cs[1, m]
    qd = q[prv, l - 1]
    qv = coef[0, l, l - 1] * z * qd
    q[cur, l - 1] = qv
    out_val[i, base + l - 1] = qv * cs[0, l - 1]
    out_val[i, base - l + 1] = qv * cs[1, l - 1]
    qv = coef[0, l, l] * qd
    q[cur, l] = qv
    out_val[i, base + l] = qv * cs[0, l]
    out_val[i, base - l] = qv * cs[1, l]


@njit
def sph_gradients_points(xyz, start, stop, axes, l_max, solid, coef, q, cs, out_val, out_grad):
    """Values and gradients at ``xyz[start:stop]`` into the same rows of the outputs."""
    a0 = axes[0]
    a1 = axes[1]
    a2 = axes[2]
    limit = _solid_scale_threshold(l_max)
    for i in range(start, stop):
        x = xyz[i, a0]
        y = xyz[i, a1]
        z = xyz[i, a2]
        s = 1.0
        p = 1.0
        if solid:
            x, y, z, p = _solid_point(x, y, z, limit)
        else:
            # zero vector: s = 0 makes every l >= 1 value and derivative exactly 0
            x, y, z, s = _direction(x, y, z)
        r2 = x * x + y * y + z * z
        l_first = 1
        if l_max > L_HEAD:
            # degrees <= L_HEAD by straight-line code; it leaves rows L_HEAD - 1 and
            # L_HEAD of q and the columns 0..L_HEAD of cs as the loop below would
            sph_gradients_head(i, x, y, z, r2, s, solid, coef, q, cs, out_val, out_grad,
                               a0, a1, a2)
            l_first = L_HEAD + 1
        else:
            q[0, 0] = coef[0, 0, 0]
            for k in range(1, 5):
                q[0, k] = 0.0
            cs[0, 0] = 1.0
            cs[1, 0] = 0.0
            out_val[i, 0] = q[0, 0]
            out_grad[i, 0, 0] = 0.0
            out_grad[i, 1, 0] = 0.0
            out_grad[i, 2, 0] = 0.0
        for l in range(l_first, l_max + 1):
            for m in range(l - 1):
                q[l, m] = coef[0, l, m] * z * q[l - 1, m] - coef[1, l, m] * r2 * q[l - 2, m]
            q[l, l - 1] = coef[0, l, l - 1] * z * q[l - 1, l - 1]
            q[l, l] = coef[0, l, l] * q[l - 1, l - 1]
            for k in range(l + 1, l + 5):
                q[l, k] = 0.0
            c = cs[0, l - 1]
            sn = cs[1, l - 1]
            cs[0, l] = x * c - y * sn
            cs[1, l] = x * sn + y * c
            cs[2, l] = l * c  # m C_{m-1} at m = l
            cs[3, l] = l * sn
            # Y(r/|r|): grad = s (G - l Z u); solid (s = 1, t = 0): grad = G.  s is applied
            # last, to bounded numbers: s * (0) stays 0 where s * (...) parts would be inf
            t = 0.0 if solid else float(l)
            base = lm_index(l, 0)
            qv = q[l, 0]
            A = coef[2, l, 0] * q[l - 1, 1]
            tz = t * qv
            out_val[i, base] = qv
            out_grad[i, a0, base] = s * (-x * (A + tz))
            out_grad[i, a1, base] = s * (-y * (A + tz))
            out_grad[i, a2, base] = s * (coef[3, l, 0] * q[l - 1, 0] - tz * z)
            for m in range(1, l + 1):
                # with T = C_m or S_m: grad Z = (T dq/dx + q dT/dx, T dq/dy + q dT/dy, T dq/dz)
                # and dq/dx = -x E q', dq/dy = -y E q'; the chain-rule term -t Z u has the
                # same factor T, so  grad Z - t Z u = (q dT/dx - x T p, q dT/dy - y T p,
                # T w) with p = E q' + t q and w = F q_{l-1}^m - t q z
                qv = q[l, m]
                tq = t * qv
                pm = coef[2, l, m] * q[l - 1, m + 1] + tq
                w = coef[3, l, m] * q[l - 1, m] - tq * z
                c = cs[0, m]
                sn = cs[1, m]
                mc = qv * cs[2, m]  # q dC_m/dx = q dS_m/dy
                ms = qv * cs[3, m]  # q dS_m/dx = -q dC_m/dy
                pc = pm * c
                ps = pm * sn
                k = base + m
                out_val[i, k] = qv * c
                out_grad[i, a0, k] = s * (mc - x * pc)
                out_grad[i, a1, k] = s * (-ms - y * pc)
                out_grad[i, a2, k] = s * (w * c)
                k = base - m
                out_val[i, k] = qv * sn
                out_grad[i, a0, k] = s * (ms - x * ps)
                out_grad[i, a1, k] = s * (mc - y * ps)
                out_grad[i, a2, k] = s * (w * sn)
        if p != 1.0:
            _rescale_values(out_val, i, l_max, p)
            _rescale_gradients(out_grad, i, l_max, p)


@njit
def sph_hessians_points(
    xyz, start, stop, axes, l_max, solid, coef, q, cs, out_val, out_grad, out_hess
):
    """Values, gradients and Hessians at ``xyz[start:stop]`` into the same output rows."""
    a0 = axes[0]
    a1 = axes[1]
    a2 = axes[2]
    limit = _solid_hessian_threshold(l_max)
    for i in range(start, stop):
        x = xyz[i, a0]
        y = xyz[i, a1]
        z = xyz[i, a2]
        s = 1.0
        p = 1.0
        if solid:
            x, y, z, p = _solid_point(x, y, z, limit)
        else:
            # zero vector: s = 0 makes every l >= 1 value and derivative exactly 0
            x, y, z, s = _direction(x, y, z)
        r2 = x * x + y * y + z * z
        q[0, 0] = coef[0, 0, 0]
        for k in range(1, 5):
            q[0, k] = 0.0
        cs[0, 0] = 1.0
        cs[1, 0] = 0.0
        out_val[i, 0] = q[0, 0]
        for a in range(3):
            out_grad[i, a, 0] = 0.0
            for b in range(3):
                out_hess[i, a, b, 0] = 0.0
        for l in range(1, l_max + 1):
            for m in range(l - 1):
                q[l, m] = coef[0, l, m] * z * q[l - 1, m] - coef[1, l, m] * r2 * q[l - 2, m]
            q[l, l - 1] = coef[0, l, l - 1] * z * q[l - 1, l - 1]
            q[l, l] = coef[0, l, l] * q[l - 1, l - 1]
            for k in range(l + 1, l + 5):
                q[l, k] = 0.0
            c = cs[0, l - 1]
            sn = cs[1, l - 1]
            cs[0, l] = x * c - y * sn
            cs[1, l] = x * sn + y * c
            base = lm_index(l, 0)
            lf = float(l)
            l2 = l - 2 if l >= 2 else 0
            for m in range(l + 1):
                # derivatives of q_l^m (as a polynomial) at (x, y, z)
                qv = q[l, m]
                A = coef[2, l, m] * q[l - 1, m + 1]
                qx = -x * A
                qy = -y * A
                qz = coef[3, l, m] * q[l - 1, m]
                EE = coef[4, l, m] * q[l2, m + 2]
                EF = coef[5, l, m] * q[l2, m + 1]
                qxx = x * x * EE - A
                qyy = y * y * EE - A
                qxy = x * y * EE
                qxz = -x * EF
                qyz = -y * EF
                qzz = coef[6, l, m] * q[l2, m]
                for sign in range(2 if m > 0 else 1):
                    if m == 0:
                        # T = 1
                        Zv = qv
                        Gx, Gy, Gz = qx, qy, qz
                        Hxx, Hyy, Hzz, Hxy, Hxz, Hyz = qxx, qyy, qzz, qxy, qxz, qyz
                        k = base
                    else:
                        m1 = m - 1
                        m2 = m - 2 if m >= 2 else 0
                        mm = float(m * (m - 1))
                        if sign == 0:
                            # T = C_m: Tx = m C_{m-1}, Ty = -m S_{m-1},
                            # Txx = -Tyy = m(m-1) C_{m-2}, Txy = -m(m-1) S_{m-2}
                            T = cs[0, m]
                            Tx = m * cs[0, m1]
                            Ty = -m * cs[1, m1]
                            Txx = mm * cs[0, m2]
                            Txy = -mm * cs[1, m2]
                            k = base + m
                        else:
                            # T = S_m: Tx = m S_{m-1}, Ty = m C_{m-1},
                            # Txx = -Tyy = m(m-1) S_{m-2}, Txy = m(m-1) C_{m-2}
                            T = cs[1, m]
                            Tx = m * cs[1, m1]
                            Ty = m * cs[0, m1]
                            Txx = mm * cs[1, m2]
                            Txy = mm * cs[0, m2]
                            k = base - m
                        Zv = qv * T
                        Gx = qx * T + qv * Tx
                        Gy = qy * T + qv * Ty
                        Gz = qz * T
                        Hxx = qxx * T + 2.0 * qx * Tx + qv * Txx
                        Hyy = qyy * T + 2.0 * qy * Ty - qv * Txx
                        Hzz = qzz * T
                        Hxy = qxy * T + qx * Ty + qy * Tx + qv * Txy
                        Hxz = qxz * T + qz * Tx
                        Hyz = qyz * T + qz * Ty
                    if not solid:
                        Gx, Gy, Gz, Hxx, Hyy, Hzz, Hxy, Hxz, Hyz = _hessian_of_direction(
                            lf, s, x, y, z, Zv, Gx, Gy, Gz, Hxx, Hyy, Hzz, Hxy, Hxz, Hyz
                        )
                    out_val[i, k] = Zv
                    out_grad[i, a0, k] = Gx
                    out_grad[i, a1, k] = Gy
                    out_grad[i, a2, k] = Gz
                    out_hess[i, a0, a0, k] = Hxx
                    out_hess[i, a1, a1, k] = Hyy
                    out_hess[i, a2, a2, k] = Hzz
                    out_hess[i, a0, a1, k] = Hxy
                    out_hess[i, a1, a0, k] = Hxy
                    out_hess[i, a0, a2, k] = Hxz
                    out_hess[i, a2, a0, k] = Hxz
                    out_hess[i, a1, a2, k] = Hyz
                    out_hess[i, a2, a1, k] = Hyz
        if p != 1.0:
            _rescale_values(out_val, i, l_max, p)
            _rescale_gradients(out_grad, i, l_max, p)
            _rescale_hessians(out_hess, i, l_max, p)


# ----------------------------------------------------------------------------- one point
@njit
def sph_values_point(xyz, i, axes, l_max, solid, coef, q, cs, out_val):
    """:func:`sph_values_points` for the single point i (the CUDA per-thread entry)."""
    sph_values_points(xyz, i, i + 1, axes, l_max, solid, coef, q, cs, out_val)


@njit
def sph_gradients_point(xyz, i, axes, l_max, solid, coef, q, cs, out_val, out_grad):
    """:func:`sph_gradients_points` for the single point i (the CUDA per-thread entry)."""
    sph_gradients_points(xyz, i, i + 1, axes, l_max, solid, coef, q, cs, out_val, out_grad)


@njit
def sph_hessians_point(xyz, i, axes, l_max, solid, coef, q, cs, out_val, out_grad, out_hess):
    """:func:`sph_hessians_points` for the single point i (the CUDA per-thread entry)."""
    sph_hessians_points(
        xyz, i, i + 1, axes, l_max, solid, coef, q, cs, out_val, out_grad, out_hess
    )
