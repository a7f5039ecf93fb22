"""Per-distance kernels for the radial bases (README, "Radial bases").

Every function here evaluates one distance ``r``, writes into caller-provided rows and
never allocates, raises or prints, so that the CPU drivers and numba-cuda kernels can
share it.  Families are identified by an integer code:

* ``FAMILY_COSINE_BUMPS = 0``: ``f_k(r) = cos^2(pi (r - r_k) / (2 delta))`` for
  ``|r - r_k| < delta``, ``r_k = k delta``, ``delta = r_cut / (n - 1)``, ``k = 0..n-1``.
  On the piece ``[r_j, r_{j+1})`` only ``f_j = (1 + cos(pi x)) / 2`` and
  ``f_{j+1} = (1 - cos(pi x)) / 2`` with ``x = (r - r_j) / delta``, ``j = floor(r / delta)``
  are nonzero; at a join the second derivative is therefore the right-hand limit (or the
  left one where ``r / delta`` rounds down).
* ``FAMILY_COSINES = 1``: ``f_k(r) = cos(k pi r / r_cut)``, ``k = 0..n-1``.
* ``FAMILY_SMOOTH_COSINES = 2``: ``f_k(r) = cos(k pi r / r_cut) (1 - r^2/r_cut^2)^3``,
  ``k = 0..n-1``.

An optional envelope ``(r_cut - r)^p`` (``p >= 1``; ``p = 0`` means none) multiplies every
primitive.  All functions are zero, with zero derivatives, for ``r >= r_cut``.
"""

import math

from rstref._numba import njit

FAMILY_COSINE_BUMPS = 0
FAMILY_COSINES = 1
FAMILY_SMOOTH_COSINES = 2


@njit
def _zero_rows(n, f, df, d2f):
    for k in range(n):
        f[k] = 0.0
        df[k] = 0.0
        d2f[k] = 0.0


@njit(inline="always")
def _bump_interval(r, r_cut, n):
    """``(j, x, delta)``: ``r`` lies in bump interval ``j`` at fraction ``x`` of its width ``delta``."""
    delta = r_cut / (n - 1)
    j = int(r / delta)
    if j > n - 2:
        j = n - 2
    return j, (r - j * delta) / delta, delta


@njit
def _cosine_bumps(r, r_cut, n, f, df, d2f):
    j, x, delta = _bump_interval(r, r_cut, n)
    c = math.cos(math.pi * x)
    s = math.sin(math.pi * x)
    a = math.pi / delta
    f[j] = 0.5 * (1.0 + c)
    f[j + 1] = 0.5 * (1.0 - c)
    df[j] = -0.5 * a * s
    df[j + 1] = 0.5 * a * s
    d2f[j] = -0.5 * a * a * c
    d2f[j + 1] = 0.5 * a * a * c


@njit
def _cosines(r, r_cut, n, f, df, d2f):
    w = math.pi / r_cut
    for k in range(n):
        kw = k * w
        c = math.cos(kw * r)
        s = math.sin(kw * r)
        f[k] = c
        df[k] = -kw * s
        d2f[k] = -kw * kw * c


@njit
def _multiply_rows(n, g, dg, d2g, f, df, d2f):
    """Replace (f, f', f'') by the derivatives of g * f (Leibniz rule)."""
    for k in range(n):
        v = f[k]
        d = df[k]
        d2 = d2f[k]
        f[k] = g * v
        df[k] = dg * v + g * d
        d2f[k] = d2g * v + 2.0 * dg * d + g * d2


@njit
def radial_primitives_point(r, family, r_cut, n, envelope_power, f, df, d2f):
    """Primitive values and first/second r-derivatives at one distance.

    Parameters
    ----------
    r : float
        Distance, ``r >= 0`` (the caller validates).
    family : int
        Family code (``FAMILY_*``).
    r_cut : float
        Cutoff radius; everything is zero for ``r >= r_cut``.
    n : int
        Number of primitives (``>= 2`` for the cos^2 bumps).
    envelope_power : int
        ``p`` of the envelope ``(r_cut - r)^p``; 0 for no envelope.
    f, df, d2f : float64[n]
        Output rows: ``f_k(r)``, ``f_k'(r)``, ``f_k''(r)`` for ``k = 0..n-1``.
    """
    _zero_rows(n, f, df, d2f)
    if r >= r_cut:
        return
    if family == FAMILY_COSINE_BUMPS:
        _cosine_bumps(r, r_cut, n, f, df, d2f)
    else:
        _cosines(r, r_cut, n, f, df, d2f)
        if family == FAMILY_SMOOTH_COSINES:
            u = 1.0 - (r / r_cut) ** 2
            du = -2.0 * r / (r_cut * r_cut)
            d2u = -2.0 / (r_cut * r_cut)
            g = u * u * u
            dg = 3.0 * u * u * du
            d2g = 6.0 * u * du * du + 3.0 * u * u * d2u
            _multiply_rows(n, g, dg, d2g, f, df, d2f)
    if envelope_power > 0:
        p = envelope_power
        t = r_cut - r
        g = t ** p
        dg = -p * t ** (p - 1)
        d2g = 0.0
        if p >= 2:
            d2g = p * (p - 1) * t ** (p - 2)
        _multiply_rows(n, g, dg, d2g, f, df, d2f)


@njit
def orthonormal_radial_point(r, family, r_cut, n_prim, envelope_power, coefficients,
                             f, df, d2f, out, dout, d2out):
    """Orthonormal radial functions and their first/second r-derivatives at one distance.

    ``out[n] = sum_k coefficients[n, k] * f_k(r)`` for ``n = 0..n_max-1`` (and likewise
    for the derivatives), with the primitives of :func:`radial_primitives_point`.

    Parameters
    ----------
    r, family, r_cut, n_prim, envelope_power
        As in :func:`radial_primitives_point`.
    coefficients : float64[n_max, n_prim]
        Lower-triangular Gram–Schmidt coefficients (``R = C f``); entries above the
        diagonal are not read.
    f, df, d2f : float64[n_prim]
        Scratch rows (overwritten with the primitives).
    out, dout, d2out : float64[n_max]
        Output rows: ``R_n(r)``, ``R_n'(r)``, ``R_n''(r)``.
    """
    radial_primitives_point(r, family, r_cut, n_prim, envelope_power, f, df, d2f)
    n_max = coefficients.shape[0]
    for i in range(n_max):
        v = 0.0
        d = 0.0
        d2 = 0.0
        for k in range(min(i + 1, n_prim)):  # C is lower triangular (Gram-Schmidt)
            c = coefficients[i, k]
            v += c * f[k]
            d += c * df[k]
            d2 += c * d2f[k]
        out[i] = v
        dout[i] = d
        d2out[i] = d2


@njit
def _cosines_values(r, r_cut, n, f):
    w = math.pi / r_cut
    for k in range(n):
        kw = k * w
        f[k] = math.cos(kw * r)


@njit
def _scale_row(n, g, f):
    for k in range(n):
        f[k] = g * f[k]


@njit
def radial_primitive_values_point(r, family, r_cut, n, envelope_power, f):
    """Values-only :func:`radial_primitives_point`: ``f_k(r)`` into ``f`` (n,).

    The same operations in the same order as there, so the values agree bit for bit.
    """
    for k in range(n):
        f[k] = 0.0
    if r >= r_cut:
        return
    if family == FAMILY_COSINE_BUMPS:
        j, x, _ = _bump_interval(r, r_cut, n)
        c = math.cos(math.pi * x)
        f[j] = 0.5 * (1.0 + c)
        f[j + 1] = 0.5 * (1.0 - c)
    else:
        _cosines_values(r, r_cut, n, f)
        if family == FAMILY_SMOOTH_COSINES:
            u = 1.0 - (r / r_cut) ** 2
            _scale_row(n, u * u * u, f)
    if envelope_power > 0:
        _scale_row(n, (r_cut - r) ** envelope_power, f)


@njit
def orthonormal_radial_values_point(r, family, r_cut, n_prim, envelope_power, coefficients, f,
                                    out):
    """Values-only :func:`orthonormal_radial_point`: ``out[n] = R_n(r)`` (bit for bit the
    same values; no derivatives computed).  ``f``: scratch (n_prim,); ``out``: (n_max,)."""
    radial_primitive_values_point(r, family, r_cut, n_prim, envelope_power, f)
    n_max = coefficients.shape[0]
    for i in range(n_max):
        v = 0.0
        for k in range(min(i + 1, n_prim)):  # C is lower triangular (Gram-Schmidt)
            v += coefficients[i, k] * f[k]
        out[i] = v
