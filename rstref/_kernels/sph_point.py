"""Per-point helpers of the spherical-harmonic kernels: the direction, scaling, checks.

What every kernel of :mod:`rstref._kernels.sph`, :mod:`rstref._kernels.sph_low` and
:mod:`rstref._kernels.sph_head` does to a point before the recurrences and after them:

* :func:`_direction`: ``r/|r|`` and ``1/|r|``, exact to rounding for every finite input
  (scaled first where ``x^2+y^2+z^2`` would under- or overflow; 0 for the zero vector);
* huge solid input: evaluation at ``r/p`` (``p`` a power of two) and the exact rescaling
  of degree block ``l`` by ``p^l`` afterwards (:func:`_solid_point`, ``_rescale_*``);
* the checked variants, which also report NaN/inf and all-subnormal points, so that no
  separate pass over the input is needed;
* :func:`unit_block`: the same for a block of points at once, in a branch-free loop the
  compiler vectorises (the square root and division are most of the work at low
  ``l_max``), with the careful per-point path only for blocks that need it.

No function here raises or prints (numba-cuda kernels may call them); only
:func:`unit_block` takes scratch arrays, which the CPU drivers allocate.
"""

import math

from rstref._kernels.layout import lm_index
from rstref._numba import njit

# squared norms outside this range are recomputed with scaling (avoids under/overflow)
_R2_LOW = 1e-280
_R2_HIGH = 1e280


# ----------------------------------------------------------------------------- helpers
# Helpers take and return scalars only: numba reference-counts every array passed to a
# function call, which would cost more than the arithmetic here.  The row recurrence is
# therefore written out in each kernel.
@njit
def _direction(x, y, z):
    """(ux, uy, uz, s): the unit vector r/|r| and s = 1/|r|; (0, 0, 0, 0) for r = 0.

    Scaled by max |r_k| first when x^2+y^2+z^2 would under- or overflow, so the direction
    is exact to rounding for every finite input (s itself overflows only for subnormal |r|).
    """
    r2 = x * x + y * y + z * z
    if r2 >= _R2_LOW and r2 <= _R2_HIGH:
        s = 1.0 / math.sqrt(r2)
        return x * s, y * s, z * s, s
    big = max(abs(x), abs(y), abs(z))
    if big == 0.0:
        return 0.0, 0.0, 0.0, 0.0
    xs = x / big
    ys = y / big
    zs = z / big
    n = math.sqrt(xs * xs + ys * ys + zs * zs)
    return xs / n, ys / n, zs / n, 1.0 / (big * n)


@njit
def _hessian_of_direction(lf, s, x, y, z, Zv, Gx, Gy, Gz, Hxx, Hyy, Hzz, Hxy, Hxz, Hyz):
    """Gradient and Hessian of Y(r) = Z(r/|r|) from those of the degree-l polynomial Z at u.

    ``s = 1/|r|``, (x, y, z) = u.  Returns (gx, gy, gz, hxx, hyy, hzz, hxy, hxz, hyz).
    """
    # s * (s * h) rather than (s * s) * h: for |r| < ~1e-154, s * s overflows and
    # inf * 0 would give NaN where the Hessian entry is exactly 0.
    lz = lf * Zv
    c2 = (lf + 2.0) * lz
    tl = 2.0 * lf
    return (
        s * (Gx - lz * x),
        s * (Gy - lz * y),
        s * (Gz - lz * z),
        s * (s * (Hxx - tl * x * Gx - lz + c2 * x * x)),
        s * (s * (Hyy - tl * y * Gy - lz + c2 * y * y)),
        s * (s * (Hzz - tl * z * Gz - lz + c2 * z * z)),
        s * (s * (Hxy - lf * (x * Gy + y * Gx) + c2 * x * y)),
        s * (s * (Hxz - lf * (x * Gz + z * Gx) + c2 * x * z)),
        s * (s * (Hyz - lf * (y * Gz + z * Gy) + c2 * y * z)),
    )


# ----------------------------------------------------------------------------- huge solid input
# Solid harmonics are homogeneous polynomials: Z_l(r) = p^l Z_l(r/p).  For inputs so large
# that p^l would overflow inside the recurrences (inf - inf = NaN), the kernels evaluate at
# r/p with p a power of two (exact scaling) and multiply each degree block back by p^l
# (gradients p^(l-1), Hessians p^(l-2)).  Entries that are exactly 0 stay 0, never inf * 0.
@njit
def _solid_scale_threshold(l_max):
    """|r_k| above which a solid evaluation to degree l_max is scaled (p^l_max < 2^900)."""
    if l_max <= 0:
        return math.inf
    return 2.0 ** (900.0 / l_max)


@njit
def _solid_hessian_threshold(l_max):
    """:func:`_solid_scale_threshold` for the Hessians kernels, at most 2^450.

    The Hessians multiply squares of the coordinates into polynomials that may be
    structurally 0 (``x * x * EE`` with ``EE = 0`` at degree 1): the squares must stay
    finite (``inf * 0`` is NaN), so points are also scaled when ``|r_k| > 2^450``.
    """
    return min(_solid_scale_threshold(l_max), 2.0**450)


@njit
def _power_of_two_below(big):
    """Largest power of two ``p <= big`` (``big >= 1``), built exactly by doubling."""
    p = 1.0
    while p * 65536.0 <= big:
        p *= 65536.0
    while p * 2.0 <= big:
        p *= 2.0
    return p


@njit
def _keep_zero_times(v, f):
    """``v * f``, but 0 for ``v == 0`` even when ``f`` overflowed to inf."""
    return v * f if v != 0.0 else v


@njit
def _rescale_values(out_val, i, l_max, p):
    """Row i of the values: block l times ``p^l``."""
    f = 1.0
    for l in range(1, l_max + 1):
        f *= p
        for k in range(lm_index(l, -l), lm_index(l, l) + 1):
            out_val[i, k] = _keep_zero_times(out_val[i, k], f)


@njit
def _rescale_gradients(out_grad, i, l_max, p):
    """Row i of the gradients: block l times ``p^(l-1)``."""
    f = 1.0
    for l in range(2, l_max + 1):
        f *= p
        for a in range(3):
            for k in range(lm_index(l, -l), lm_index(l, l) + 1):
                out_grad[i, a, k] = _keep_zero_times(out_grad[i, a, k], f)


@njit
def _rescale_hessians(out_hess, i, l_max, p):
    """Row i of the Hessians: block l times ``p^(l-2)``."""
    f = 1.0
    for l in range(3, l_max + 1):
        f *= p
        for a in range(3):
            for b in range(3):
                for k in range(lm_index(l, -l), lm_index(l, l) + 1):
                    out_hess[i, a, b, k] = _keep_zero_times(out_hess[i, a, b, k], f)


@njit
def _solid_point(x, y, z, limit):
    """(x, y, z, p): the point divided by p, a power of two, when max |r_k| > limit; else p = 1."""
    big = max(abs(x), abs(y), abs(z))
    if big <= limit:
        return x, y, z, 1.0
    p = _power_of_two_below(big)
    inv = 1.0 / p
    return x * inv, y * inv, z * inv, p


# ----------------------------------------------------------------------------- checked entry
# Variants of _direction / _solid_point that also report whether the point was fit to
# evaluate: (nonfinite, subnormal) flags, 0 or 1.  Only the rare path (|r|^2 outside the
# safe range, which NaN and inf always are) tests anything, so the common point costs
# nothing extra; kernels that use them return the counts instead of the caller scanning
# the input in a separate pass.
_LARGEST = 1.7976931348623157e308
_SMALLEST_NORMAL = 2.2250738585072014e-308


@njit
def _all_finite(x, y, z):
    return abs(x) <= _LARGEST and abs(y) <= _LARGEST and abs(z) <= _LARGEST


@njit
def _direction_checked(x, y, z):
    """``_direction(x, y, z) + (nonfinite, subnormal)``; a non-finite point gives u = 0."""
    r2 = x * x + y * y + z * z
    if r2 >= _R2_LOW and r2 <= _R2_HIGH:
        s = 1.0 / math.sqrt(r2)
        return x * s, y * s, z * s, s, 0, 0
    if not _all_finite(x, y, z):
        return 0.0, 0.0, 0.0, 0.0, 1, 0
    ux, uy, uz, s = _direction(x, y, z)
    big = max(abs(x), abs(y), abs(z))
    return ux, uy, uz, s, 0, 1 if (big > 0.0 and big < _SMALLEST_NORMAL) else 0


@njit
def _solid_point_checked(x, y, z, limit):
    """``_solid_point(x, y, z, limit) + (nonfinite,)``; needs ``limit <= _LARGEST``."""
    if abs(x) <= limit and abs(y) <= limit and abs(z) <= limit:
        return x, y, z, 1.0, 0
    if not _all_finite(x, y, z):
        return 0.0, 0.0, 0.0, 1.0, 1
    xs, ys, zs, p = _solid_point(x, y, z, limit)
    return xs, ys, zs, p, 0




# ----------------------------------------------------------------------------- blocks of points
#: points per block of :func:`unit_block`
BLOCK = 256
#: scratch floats per point of a block: ux, uy, uz and s = 1/|r| (solid: x, y, z and p)
BLOCK_ROWS = 4


@njit(inline="always")
def _pick(c0, c1, c2, a):
    """Column ``a`` of (c0, c1, c2): selects, which keep the loops below branch-free."""
    return c0 if a == 0 else (c1 if a == 1 else c2)


@njit(error_model="numpy")
def _fast_units(xyz, b0, b1, a0, a1, a2, u):
    """Scratch ``u`` for the points ``b0:b1`` by the common formula, branch-free.

    Returns how many points need the careful path (``|r|^2`` outside the safe range,
    which NaN/inf and the zero vector always are); their entries are then unspecified.
    The loop has no branch and counts from 0 over a contiguous slice (so that numba's
    negative-index handling folds away): it is vectorised, square root and division
    included.  The standard axes get their own copy of the loop (no selects).
    """
    flat = xyz.reshape(xyz.size)[3 * b0:3 * b1]
    if a0 == 0 and a1 == 1 and a2 == 2:
        return _fast_units_loop(flat, b1 - b0, 0, 1, 2, u)
    return _fast_units_loop(flat, b1 - b0, a0, a1, a2, u)


@njit(error_model="numpy", inline="always")
def _fast_units_loop(flat, n, a0, a1, a2, u):
    bad = 0
    for j in range(n):
        col0 = flat[3 * j]
        col1 = flat[3 * j + 1]
        col2 = flat[3 * j + 2]
        x = _pick(col0, col1, col2, a0)
        y = _pick(col0, col1, col2, a1)
        z = _pick(col0, col1, col2, a2)
        r2 = x * x + y * y + z * z
        bad += (r2 < _R2_LOW) | (r2 > _R2_HIGH) | (r2 != r2)
        s = 1.0 / math.sqrt(r2)
        u[4 * j] = x * s
        u[4 * j + 1] = y * s
        u[4 * j + 2] = z * s
        u[4 * j + 3] = s
    return bad


@njit(error_model="numpy")
def _fast_solid(xyz, b0, b1, a0, a1, a2, limit, u):
    """:func:`_fast_units` for solid harmonics: the point itself and p = 1.

    Points with an entry above ``limit`` in magnitude (or NaN) need the careful path.
    """
    flat = xyz.reshape(xyz.size)[3 * b0:3 * b1]
    bad = 0
    for j in range(b1 - b0):
        c0 = flat[3 * j]
        c1 = flat[3 * j + 1]
        c2 = flat[3 * j + 2]
        bad += not ((abs(c0) <= limit) & (abs(c1) <= limit) & (abs(c2) <= limit))
        u[4 * j] = _pick(c0, c1, c2, a0)
        u[4 * j + 1] = _pick(c0, c1, c2, a1)
        u[4 * j + 2] = _pick(c0, c1, c2, a2)
        u[4 * j + 3] = 1.0
    return bad


@njit
def _careful_units(xyz, b0, b1, a0, a1, a2, solid, limit, u):
    """Scratch ``u`` point by point with the checked helpers: (nonfinite, subnormal)."""
    nonfinite = 0
    subnormal = 0
    for i in range(b0, b1):
        j = i - b0
        x = xyz[i, a0]
        y = xyz[i, a1]
        z = xyz[i, a2]
        if solid:
            x, y, z, w, bad = _solid_point_checked(x, y, z, limit)
            tiny = 0
        else:
            x, y, z, w, bad, tiny = _direction_checked(x, y, z)
        nonfinite += bad
        subnormal += tiny
        u[4 * j] = x
        u[4 * j + 1] = y
        u[4 * j + 2] = z
        u[4 * j + 3] = w
    return nonfinite, subnormal


@njit
def unit_block(xyz, b0, b1, a0, a1, a2, solid, limit, u):
    """What the kernels evaluate at the points ``xyz[b0:b1]`` (``b1 - b0 <= BLOCK``).

    ``u`` is flat scratch of ``BLOCK_ROWS * BLOCK`` floats; for point ``b0 + j``, read
    through the axes ``a0, a1, a2``, it receives at ``u[4j:4j+4]`` the unit vector
    ``r/|r|`` and ``s = 1/|r|`` (as :func:`_direction_checked`: 0 for the zero vector),
    or for ``solid`` the point, divided by ``p`` when it is huge, and ``p`` (as
    :func:`_solid_point_checked`).  ``limit`` is
    ``min(_solid_scale_threshold(l_max), _LARGEST)``.  Returns ``(nonfinite, subnormal)``
    counts as the checked helpers do.  The block is done by the branch-free formula and
    redone point by point only when one of its points needs it; both give the same
    numbers for a point the formula serves.
    """
    if solid:
        bad = _fast_solid(xyz, b0, b1, a0, a1, a2, limit, u)
    else:
        bad = _fast_units(xyz, b0, b1, a0, a1, a2, u)
    if bad == 0:
        return 0, 0
    return _careful_units(xyz, b0, b1, a0, a1, a2, solid, limit, u)


@njit
def count_nonfinite(xyz, start, stop):
    """How many entries of ``xyz[start:stop]`` are NaN or infinite (one vectorised pass)."""
    flat = xyz.reshape(xyz.size)[3 * start:3 * stop]
    count = 0
    for k in range(flat.size):
        count += not (abs(flat[k]) <= _LARGEST)
    return count


@njit
def count_bad_rows(xyz, start, stop):
    """(nonfinite, subnormal) rows of ``xyz[start:stop]``, in one vectorised pass.

    ``nonfinite``: rows with a NaN or inf entry; ``subnormal``: finite non-zero rows whose
    entries are all subnormal (where ``1/|r|`` overflows).
    """
    flat = xyz.reshape(xyz.size)[3 * start:3 * stop]
    nonfinite = 0
    subnormal = 0
    for j in range(stop - start):
        a = abs(flat[3 * j])
        b = abs(flat[3 * j + 1])
        c = abs(flat[3 * j + 2])
        finite = (a <= _LARGEST) & (b <= _LARGEST) & (c <= _LARGEST)
        nonfinite += not finite
        big = max(a, b, c)
        subnormal += finite & (big > 0.0) & (big < _SMALLEST_NORMAL)
    return nonfinite, subnormal
