"""The Gram matrix of the radial primitives, in extended precision, and its conditioning.

``G_ij = int_0^r_cut f_i f_j 4 pi r^2 dr`` by Gauss–Legendre quadrature with nodes,
weights, primitive values and sums in ``numpy.longdouble`` (80-bit on x86-64); the
primitives here are the closed formulas of :mod:`rstref.radial` evaluated in longdouble
(values only, ``0 <= r < r_cut``).  :class:`rstref.radial.OrthonormalRadialBasis`
factorises the result.
"""

import math

import numpy as np

from rstref._extended_precision import PI_EXTENDED, gauss_legendre_extended, linspace_extended
from rstref._kernels.radial import FAMILY_COSINE_BUMPS, FAMILY_SMOOTH_COSINES


def gram_extended(family_code, n, r_cut, p):
    """Gram matrix ``(n, n)`` in longdouble of the ``n`` primitives of ``family_code``
    (``rstref._kernels.radial.FAMILY_*``) with envelope power ``p`` (0: none).

    ``[0, r_cut]`` is split into ``max(n - 1, 1)`` equal pieces (the joins of
    'cosine_bumps'; for the cosines about one period of the highest product frequency
    per piece) and each is integrated with ``40 + p`` Gauss–Legendre nodes.
    """
    n_pieces = max(n - 1, 1)
    edges = linspace_extended(r_cut, n_pieces)
    x, w = gauss_legendre_extended(40 + p)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = (0.5 * (b - a) * x + 0.5 * (b + a)).ravel()
    weights = (0.5 * (b - a) * w).ravel() * 4 * PI_EXTENDED * nodes ** 2
    f = primitives_extended(nodes, family_code, n, r_cut, p)
    return (f * weights[:, None]).T @ f


def primitives_extended(r, family_code, n, r_cut, p):
    """Primitive values ``(len(r), n)`` at ``0 <= r < r_cut`` in longdouble."""
    rc = np.longdouble(r_cut)
    if family_code == FAMILY_COSINE_BUMPS:
        delta = rc / (n - 1)
        x = (r[:, None] - np.arange(n, dtype=np.longdouble) * delta) / delta
        f = np.where(np.abs(x) < 1, np.cos(PI_EXTENDED * x / 2) ** 2, np.longdouble(0))
    else:
        f = np.cos(np.outer(r, np.arange(n, dtype=np.longdouble)) * (PI_EXTENDED / rc))
        if family_code == FAMILY_SMOOTH_COSINES:
            f *= ((1 - (r / rc) ** 2) ** 3)[:, None]
    if p:
        f *= ((rc - r) ** p)[:, None]
    return f


def scaled_condition_number(gram):
    """2-norm condition number of ``D^-1/2 G D^-1/2`` (``D = diag G``); inf if singular."""
    d = np.sqrt(np.diag(gram))
    eig = np.linalg.eigvalsh(gram / np.outer(d, d))
    return math.inf if eig[0] <= 0.0 else float(eig[-1] / eig[0])
