"""High-precision (mpmath) real spherical harmonics, independent of rstref's kernels.

Used only when exporting conformance data (mpmath is a test extra: imported here,
inside the functions).  Standard real form, 'integral' normalisation::

    Y_lm = sqrt2 N_lm Q_l^|m|(z/r) Re[((x + i y)/r)^m]        m > 0
    Y_l0 = N_l0 Q_l^0(z/r)
    Y_lm = sqrt2 N_l|m| Q_l^|m|(z/r) Im[((x + i y)/r)^|m|]    m < 0

with ``N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)`` and ``Q_l^m = P_l^m / sin^m`` the
polynomial part of the associated Legendre function (no Condon-Shortley phase):
``Q_m^m = (2m-1)!!``, ``Q_{m+1}^m = (2m+1) t Q_m^m``,
``(l-m) Q_l^m = (2l-1) t Q_{l-1}^m - (l+m-1) Q_{l-2}^m``.  No angles, so poles are
exact.  Derivatives are central differences in mpmath at a step ``|r| * 10^-(dps/3)``
(second: ``10^-(dps/4)``), far below float64 resolution.
"""

def _harmonics_mp(mp, x, y, z, l_max):
    """All Y_lm (flat, standard order) at one point given as mpf, |r| > 0."""
    r = mp.sqrt(x * x + y * y + z * z)
    t = z / r
    w = mp.mpc(x, y) / r
    powers = [mp.mpc(1)]
    for _ in range(l_max):
        powers.append(powers[-1] * w)
    out = [mp.mpf(0)] * ((l_max + 1) ** 2)
    sqrt2 = mp.sqrt(2)
    for m in range(l_max + 1):
        q_prev, q = None, mp.fac2(2 * m - 1) if m > 0 else mp.mpf(1)
        for l in range(m, l_max + 1):
            if l == m + 1:
                q_prev, q = q, (2 * m + 1) * t * q
            elif l > m + 1:
                q_prev, q = q, ((2 * l - 1) * t * q - (l + m - 1) * q_prev) / (l - m)
            norm = mp.sqrt((2 * l + 1) / (4 * mp.pi) * mp.factorial(l - m) / mp.factorial(l + m))
            base = l * l + l
            if m == 0:
                out[base] = norm * q
            else:
                out[base + m] = sqrt2 * norm * q * powers[m].real
                out[base - m] = sqrt2 * norm * q * powers[m].imag
    return out


def real_harmonics(point, l_max, dps=50, derivatives=2):
    """Values, gradients and Hessians at one float point, as nested lists of mpf.

    Returns
    -------
    values : list, length L
    gradients : list, [3][L] (None if ``derivatives < 1``)
    hessians : list, [3][3][L] (None if ``derivatives < 2``)
        At the zero vector the documented values (Y_00 kept, everything else 0).
    """
    import mpmath

    mp = mpmath.MPContext()
    mp.dps = dps
    L = (l_max + 1) ** 2
    p = [mp.mpf(float(c)) for c in point]
    if all(c == 0 for c in p):
        values = [mp.mpf(0)] * L
        values[0] = 1 / mp.sqrt(4 * mp.pi)
        zeros = [mp.mpf(0)] * L
        return values, [zeros] * 3 if derivatives >= 1 else None, \
            [[zeros] * 3 for _ in range(3)] if derivatives >= 2 else None
    r = mp.sqrt(sum(c * c for c in p))

    def at(*shifts):
        q = list(p)
        for axis, h in shifts:
            q[axis] += h
        return _harmonics_mp(mp, q[0], q[1], q[2], l_max)

    values = at()
    gradients = hessians = None
    if derivatives >= 1:
        h = r * mp.mpf(10) ** (-(dps // 3))
        gradients = []
        for a in range(3):
            plus, minus = at((a, h)), at((a, -h))
            gradients.append([(u - v) / (2 * h) for u, v in zip(plus, minus)])
    if derivatives >= 2:
        h = r * mp.mpf(10) ** (-(dps // 4))
        hessians = [[None] * 3 for _ in range(3)]
        for a in range(3):
            plus, minus = at((a, h)), at((a, -h))
            hessians[a][a] = [(u - 2 * c + v) / (h * h) for u, c, v in zip(plus, values, minus)]
            for b in range(a + 1, 3):
                pp, pm = at((a, h), (b, h)), at((a, h), (b, -h))
                mp_, mm = at((a, -h), (b, h)), at((a, -h), (b, -h))
                hessians[a][b] = [(s - t - u + v) / (4 * h * h) for s, t, u, v in zip(pp, pm, mp_, mm)]
                hessians[b][a] = hessians[a][b]
    return values, gradients, hessians


def to_float(values):
    """Nested lists of mpf -> nested lists of Python floats (correctly rounded)."""
    if isinstance(values, list):
        return [to_float(v) for v in values]
    return float(values) if not isinstance(values, float) else values


def versions():
    """Versions of the high-precision libraries (None where not installed)."""
    out = {}
    for name in ("mpmath", "sympy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


__all__ = ["real_harmonics", "to_float", "versions"]
