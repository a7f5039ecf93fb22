"""Host-side tables of the spherical-harmonic kernels (exact arithmetic, built once).

The per-point kernels of :mod:`rstref._kernels.sph` only multiply and add; the
recurrence and derivative coefficients they read are square roots of rationals,
evaluated here exactly with :class:`fractions.Fraction`, correctly rounded at 40
digits with :mod:`decimal`, then rounded once to float64.  This runs on the host, in
plain Python, which is why it lives outside ``rstref/_kernels`` (whose functions also
compile for the GPU).  See :mod:`rstref._kernels.sph` for the mathematics.
"""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

# indices into the coefficient table
_A, _B, _E, _F, _EE, _EF, _FF = range(7)


def _norm_sq(l, m, normalization):
    """Exact rational M_lm^2 / c, with c the l-independent constant (4 pi or 1)."""
    g = Fraction(1) if normalization == "norm" else Fraction(2 * l + 1)
    ratio = Fraction(math.factorial(l - m), math.factorial(l + m))
    return g * ratio * (2 if m > 0 else 1)


def _sqrt(fr):
    """float(sqrt(fr)) for a non-negative Fraction, correctly rounded at 40 digits first."""
    with localcontext() as ctx:
        ctx.prec = 40
        return float((Decimal(fr.numerator) / Decimal(fr.denominator)).sqrt())


def sph_tables(l_max, normalization="integral"):
    """Recurrence and derivative coefficients for the kernels of this module.

    Parameters
    ----------
    l_max : int
        Largest degree, 0..64.
    normalization : {'integral', 'component', 'norm'}

    Returns
    -------
    coef : ndarray, shape (7, l_max+1, l_max+1), float64
        ``coef[0][l, m]`` (A): recurrence factor of ``z q_{l-1}^m`` (for ``l == m`` the
        factor of ``q_{m-1}^{m-1}``; ``coef[0][0, 0]`` is ``q_0^0`` itself);
        ``coef[1]`` (B): factor of ``r^2 q_{l-2}^m``;
        ``coef[2]`` (E), ``coef[3]`` (F): ``dq_l^m/dx = -x E q_{l-1}^{m+1}``,
        ``dq_l^m/dz = F q_{l-1}^m``;
        ``coef[4..6]`` (EE, EF, FF): the products for second derivatives,
        ``q_{l-2}^{m+2}``, ``q_{l-2}^{m+1}``, ``q_{l-2}^m``.
        Entries that multiply a structurally zero ``q`` are exactly 0.
    """
    nsq = lambda l, m: _norm_sq(l, m, normalization)  # noqa: E731
    coef = np.zeros((7, l_max + 1, l_max + 1))
    # q_0^0 = M_00: 1/sqrt(4 pi) for 'integral', 1 for 'component' and 'norm'
    coef[_A, 0, 0] = 1.0 / math.sqrt(4.0 * math.pi) if normalization == "integral" else 1.0
    for l in range(l_max + 1):
        for m in range(l + 1):
            if l == m and m >= 1:
                coef[_A, l, m] = _sqrt((2 * m - 1) ** 2 * nsq(m, m) / nsq(m - 1, m - 1))
            elif l == m + 1:
                coef[_A, l, m] = _sqrt((2 * m + 1) ** 2 * nsq(m + 1, m) / nsq(m, m))
            elif l >= m + 2:
                coef[_A, l, m] = _sqrt(
                    Fraction(2 * l - 1, l - m) ** 2 * nsq(l, m) / nsq(l - 1, m)
                )
                coef[_B, l, m] = _sqrt(
                    Fraction(l + m - 1, l - m) ** 2 * nsq(l, m) / nsq(l - 2, m)
                )
            if m + 1 <= l - 1:
                coef[_E, l, m] = _sqrt(nsq(l, m) / nsq(l - 1, m + 1))
            if m <= l - 1:
                coef[_F, l, m] = _sqrt((l + m) ** 2 * nsq(l, m) / nsq(l - 1, m))
            if m + 2 <= l - 2:
                coef[_EE, l, m] = _sqrt(nsq(l, m) / nsq(l - 2, m + 2))
            if m + 1 <= l - 2:
                coef[_EF, l, m] = _sqrt((l + m) ** 2 * nsq(l, m) / nsq(l - 2, m + 1))
            if m <= l - 2:
                coef[_FF, l, m] = _sqrt(
                    ((l + m) * (l + m - 1)) ** 2 * nsq(l, m) / nsq(l - 2, m)
                )
    return coef
