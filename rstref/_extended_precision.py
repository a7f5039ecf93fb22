"""Extended-precision (``numpy.longdouble``) helpers for building radial bases on the host.

The Gram matrix of a radial family and its Cholesky inverse are computed in longdouble
(80-bit on x86-64) and rounded to float64 once (see :mod:`rstref.radial`): Gauss–Legendre
nodes refined by Newton steps, a plain Cholesky factorisation and a triangular inverse.
"""

import numpy as np

PI_EXTENDED = np.longdouble("3.14159265358979323846264338327950288")


def linspace_extended(stop, pieces):
    """``[stop * j / pieces for j in 0..pieces]`` in longdouble."""
    return np.longdouble(stop) * np.arange(pieces + 1, dtype=np.longdouble) / pieces


def gauss_legendre_extended(m):
    """Gauss–Legendre nodes and weights on [-1, 1] in longdouble.

    numpy's float64 rule refined by Newton steps on ``P_m`` (three-term recurrence);
    ``w = 2 / ((1 - x^2) P_m'(x)^2)``.
    """
    x = np.polynomial.legendre.leggauss(m)[0].astype(np.longdouble)
    for _ in range(3):
        p0, p1 = np.ones_like(x), x.copy()
        for k in range(2, m + 1):
            p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
        dp = m * (x * p1 - p0) / (x * x - 1)
        x = x - p1 / dp
    p0, p1 = np.ones_like(x), x.copy()
    for k in range(2, m + 1):
        p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
    dp = m * (x * p1 - p0) / (x * x - 1)
    return x, 2 / ((1 - x * x) * dp * dp)


def cholesky_extended(gram):
    """Lower Cholesky factor of a symmetric positive-definite longdouble matrix."""
    n = gram.shape[0]
    lower = np.zeros_like(gram)
    for j in range(n):
        d = gram[j, j] - np.dot(lower[j, :j], lower[j, :j])
        if not d > 0:
            raise np.linalg.LinAlgError("Gram matrix is not positive definite")
        lower[j, j] = np.sqrt(d)
        lower[j + 1:, j] = (gram[j + 1:, j] - lower[j + 1:, :j] @ lower[j, :j]) / lower[j, j]
    return lower


def inverse_lower_extended(lower):
    """Inverse of a lower-triangular longdouble matrix by forward substitution."""
    n = lower.shape[0]
    inv = np.zeros_like(lower)
    for i in range(n):
        inv[i, i] = 1 / lower[i, i]
        for j in range(i):
            inv[i, j] = -np.dot(lower[i, j:i], inv[j:i, j]) / lower[i, i]
    return inv
