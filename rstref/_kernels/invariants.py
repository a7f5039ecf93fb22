"""Per-environment kernels of the rotation invariants (DESIGN section 2.6).

Coefficient layout: ``index(n, l, m) = n_max*l*l + n*(2l+1) + (l+m)``.

Power spectrum order (e3nn ``ReducedTensorProducts('ij=ji')`` with 0e outputs)::

    [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n, n_max)]
    p = w (2l+1)^(-1/2) sum_m c[n,l,m] c[n2,l,m],  w = 1 if n == n2 else sqrt(2)

Cross power spectrum order (two densities a and b, all pairs)::

    [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n_max)]
    p = (2l+1)^(-1/2) sum_m a[n,l,m] b[n2,l,m]

Derivative arrays are flattened over their leading axes: ``dc`` of shape ``(M, dim)``
(``M = 3N`` for atom gradients) gives ``dp`` of shape ``(M, F)``.

Bispectrum: a list of triples ``(j1, j2, j3)`` of flat offsets of the ``(n, l)`` blocks
(``n_max*l*l + n*(2l+1)``) with their degrees, and a sparse real Clebsch-Gordan table
``C[l1, l2, l3][m1, m2, m3]`` stored as entries; ``B = sum C a[m1] b[m2] c[m3]``.

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

import numba


@numba.njit(cache=True)
def power_spectrum_values(c, n_max, l_max, p):
    """Power spectrum of one coefficient vector ``c`` (dim,) into ``p`` (F,)."""
    f = 0
    sqrt2 = math.sqrt(2.0)
    for l in range(l_max + 1):
        width = 2 * l + 1
        scale = 1.0 / math.sqrt(width)
        for n in range(n_max):
            a = n_max * l * l + n * width
            for n2 in range(n, n_max):
                b = n_max * l * l + n2 * width
                acc = 0.0
                for k in range(width):
                    acc += c[a + k] * c[b + k]
                w = scale if n == n2 else sqrt2 * scale
                p[f] = w * acc
                f += 1


@numba.njit(cache=True)
def power_spectrum_gradients(c, dc, n_max, l_max, dp):
    """``dp[I] = d p / d x_I`` from ``dc[I] = d c / d x_I``; ``dc`` (M, dim), ``dp`` (M, F)."""
    sqrt2 = math.sqrt(2.0)
    for i in range(dc.shape[0]):
        f = 0
        for l in range(l_max + 1):
            width = 2 * l + 1
            scale = 1.0 / math.sqrt(width)
            for n in range(n_max):
                a = n_max * l * l + n * width
                for n2 in range(n, n_max):
                    b = n_max * l * l + n2 * width
                    acc = 0.0
                    for k in range(width):
                        acc += dc[i, a + k] * c[b + k] + c[a + k] * dc[i, b + k]
                    w = scale if n == n2 else sqrt2 * scale
                    dp[i, f] = w * acc
                    f += 1


@numba.njit(cache=True)
def power_spectrum_cross_values(ca, cb, n_max, l_max, p):
    """Cross power spectrum of ``ca``, ``cb`` (dim,) into ``p`` (F,), all ``(n, n2)``."""
    f = 0
    for l in range(l_max + 1):
        width = 2 * l + 1
        scale = 1.0 / math.sqrt(width)
        for n in range(n_max):
            a = n_max * l * l + n * width
            for n2 in range(n_max):
                b = n_max * l * l + n2 * width
                acc = 0.0
                for k in range(width):
                    acc += ca[a + k] * cb[b + k]
                p[f] = scale * acc
                f += 1


@numba.njit(cache=True)
def power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max, dpa, dpb):
    """Gradients of the cross power spectrum.

    ``dca`` (Ma, dim) and ``dcb`` (Mb, dim) are derivatives of ``ca`` and ``cb`` with
    respect to independent variables; ``dpa[I] = sum dca[I] * cb``, ``dpb[J] = sum ca * dcb[J]``
    (shapes (Ma, F), (Mb, F)).  When a and b depend on the same variables the total
    derivative is ``dpa + dpb``.
    """
    for i in range(dca.shape[0]):
        f = 0
        for l in range(l_max + 1):
            width = 2 * l + 1
            scale = 1.0 / math.sqrt(width)
            for n in range(n_max):
                a = n_max * l * l + n * width
                for n2 in range(n_max):
                    b = n_max * l * l + n2 * width
                    acc = 0.0
                    for k in range(width):
                        acc += dca[i, a + k] * cb[b + k]
                    dpa[i, f] = scale * acc
                    f += 1
    for i in range(dcb.shape[0]):
        f = 0
        for l in range(l_max + 1):
            width = 2 * l + 1
            scale = 1.0 / math.sqrt(width)
            for n in range(n_max):
                a = n_max * l * l + n * width
                for n2 in range(n_max):
                    b = n_max * l * l + n2 * width
                    acc = 0.0
                    for k in range(width):
                        acc += ca[a + k] * dcb[i, b + k]
                    dpb[i, f] = scale * acc
                    f += 1
