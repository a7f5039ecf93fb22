"""Per-environment kernels of the rotation invariants (docs/conventions.md).

Coefficient layout: ``index(n, l, m) = n_max*l*l + n*(2l+1) + (l+m)`` (``layout.nlm_index``);
species channels are radial offsets (``n_max -> n_eff = n_channels * n_max``, composite
radial index ``N = channel * n_max + n``, see :mod:`rstref._kernels.tensor`), so every
formula below serves one density and stacked channels alike.

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

Per-neighbour gradients of the invariants of a ragged batch of structures (pair-sparse,
channel-sparse): :mod:`rstref._kernels.neighbour_gradients`.

Nothing here allocates, raises or prints: numba-cuda kernels may call these functions.
"""

import math

from rstref._kernels.coupling import (
    cg_block_index,
    cg_contract,
    cg_couple,
    cg_couple_first,
    cg_couple_second,
)
from rstref._kernels.layout import nlm_index, pair_index
from rstref._numba import njit


@njit(inline="always")
def _block_dot(x, y, a, b, width):
    """``sum_k x[a + k] y[b + k]`` over one ``(2l+1)``-wide block."""
    acc = 0.0
    for k in range(width):
        acc += x[a + k] * y[b + k]
    return acc


#: the off-diagonal weight of the power spectrum
SQRT2 = math.sqrt(2.0)


@njit(inline="always")
def _pair_weight(scale, n, n2):
    """``w (2l+1)^(-1/2)`` from ``scale = (2l+1)^(-1/2)``: ``w = 1`` if ``n == n2`` else ``sqrt(2)``."""
    return scale if n == n2 else SQRT2 * scale


@njit
def power_spectrum_values(c, n_max, l_max, p):
    """Power spectrum of one coefficient vector ``c`` (dim,) into ``p`` (F,)."""
    f = 0
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for n in range(n_max):
            for n2 in range(n, n_max):
                p[f] = _pair_weight(scale, n, n2) * _block_dot(
                    c, c, nlm_index(n_max, n, l, -l), nlm_index(n_max, n2, l, -l), 2 * l + 1)
                f += 1


@njit
def channels_present(channels, weights, present):
    """``present[a] = True`` iff some neighbour puts a non-zero peak into channel ``a``."""
    for a in range(present.shape[0]):
        present[a] = False
    for p in range(channels.shape[0]):
        if weights[p] != 0.0:
            present[channels[p]] = True


@njit
def power_spectrum_values_channels(c, present, n_max, n_eff, l_max, p):
    """:func:`power_spectrum_values` of a stacked tensor (``n_eff`` radial rows), into ``p``.

    Features of a channel absent from the environment (``present[ch]`` False: its
    coefficients are all zero) are not computed and must be zero in ``p`` on entry.
    """
    pairs_per_l = n_eff * (n_eff + 1) // 2
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for N in range(n_eff):
            if not present[N // n_max]:
                continue
            for N2 in range(N, n_eff):
                if not present[N2 // n_max]:
                    continue
                p[l * pairs_per_l + pair_index(n_eff, N, N2)] = _pair_weight(scale, N, N2) * _block_dot(
                    c, c, nlm_index(n_eff, N, l, -l), nlm_index(n_eff, N2, l, -l), 2 * l + 1)


@njit
def power_spectrum_gradients(c, dc, n_max, l_max, dp):
    """``dp[I] = d p / d x_I`` from ``dc[I] = d c / d x_I``; ``dc`` (M, dim), ``dp`` (M, F)."""
    for i in range(dc.shape[0]):
        f = 0
        for l in range(l_max + 1):
            width = 2 * l + 1
            scale = 1.0 / math.sqrt(width)
            for n in range(n_max):
                a = nlm_index(n_max, n, l, -l)
                for n2 in range(n, n_max):
                    b = nlm_index(n_max, n2, l, -l)
                    acc = 0.0
                    for k in range(width):
                        acc += dc[i, a + k] * c[b + k] + c[a + k] * dc[i, b + k]
                    dp[i, f] = _pair_weight(scale, n, n2) * acc
                    f += 1


@njit
def power_spectrum_hessian_pairs(dc, n_max, l_max, gram, out):
    """Atom-pair term of the power-spectrum Hessian into ``out`` (M, M, F), overwritten.

    ``out[I, J, (l, n, n2)] = w (2l+1)^(-1/2) sum_m (dc[I, nlm] dc[J, n2 lm]
    + dc[J, nlm] dc[I, n2 lm])`` for ``dc`` (M, dim); ``gram`` is scratch (n_max, n_max).
    The term ``delta_IJ``-diagonal in atoms with ``d2c`` is added by the caller.
    """
    M = dc.shape[0]
    for I in range(M):
        for J in range(I, M):
            f = 0
            for l in range(l_max + 1):
                width = 2 * l + 1
                scale = 1.0 / math.sqrt(width)
                for n in range(n_max):
                    a = nlm_index(n_max, n, l, -l)
                    for n2 in range(n_max):
                        b = nlm_index(n_max, n2, l, -l)
                        acc = 0.0
                        for k in range(width):
                            acc += dc[I, a + k] * dc[J, b + k]
                        gram[n, n2] = acc
                for n in range(n_max):
                    for n2 in range(n, n_max):
                        v = _pair_weight(scale, n, n2) * (gram[n, n2] + gram[n2, n])
                        out[I, J, f] = v
                        out[J, I, f] = v
                        f += 1


@njit
def power_spectrum_cross_values(ca, cb, n_max, l_max, p):
    """Cross power spectrum of ``ca``, ``cb`` (dim,) into ``p`` (F,), all ``(n, n2)``."""
    f = 0
    for l in range(l_max + 1):
        scale = 1.0 / math.sqrt(2 * l + 1)
        for n in range(n_max):
            for n2 in range(n_max):
                p[f] = scale * _block_dot(ca, cb, nlm_index(n_max, n, l, -l),
                                          nlm_index(n_max, n2, l, -l), 2 * l + 1)
                f += 1


@njit(inline="always")
def _cross_gradient_rows(dc, c, derivative_of_first, n_max, l_max, out):
    """``out[i, f] = (2l+1)^-1/2 sum_m d(c_a c_b)`` rows, the derivative on factor a or b."""
    for i in range(dc.shape[0]):
        f = 0
        for l in range(l_max + 1):
            width = 2 * l + 1
            scale = 1.0 / math.sqrt(width)
            for n in range(n_max):
                a = nlm_index(n_max, n, l, -l)
                for n2 in range(n_max):
                    b = nlm_index(n_max, n2, l, -l)
                    d0, c0 = (a, b) if derivative_of_first else (b, a)
                    acc = 0.0
                    for k in range(width):
                        acc += dc[i, d0 + k] * c[c0 + k]
                    out[i, f] = scale * acc
                    f += 1


@njit
def power_spectrum_cross_gradients(ca, dca, cb, dcb, n_max, l_max, dpa, dpb):
    """Gradients of the cross power spectrum.

    ``dca`` (Ma, dim) and ``dcb`` (Mb, dim) are derivatives of ``ca`` and ``cb`` with
    respect to independent variables; ``dpa[I] = sum dca[I] * cb``, ``dpb[J] = sum ca * dcb[J]``
    (shapes (Ma, F), (Mb, F)).  When a and b depend on the same variables the total
    derivative is ``dpa + dpb``.
    """
    _cross_gradient_rows(dca, cb, True, n_max, l_max, dpa)
    _cross_gradient_rows(dcb, ca, False, n_max, l_max, dpb)


@njit(inline="always")
def _block_offset(n_max, n, l):
    return nlm_index(n_max, n, l, -l)


@njit
def bispectrum_values(c, n_max, triples, block_offsets, m1_index, m2_index, M_index, cg, cg_l_max, out):
    """``out[t] = sum C^{l1 l2 l3}[m1,m2,m3] c[n1,l1,m1] c[n2,l2,m2] c[n3,l3,m3]``.

    ``triples`` (T, 6) int64 rows ``(n1, l1, n2, l2, n3, l3)``; the table arrays are those of
    :meth:`rstref.coupling.CouplingTable.kernel_arrays` (``cg`` = values).
    """
    for t in range(triples.shape[0]):
        n1 = triples[t, 0]
        l1 = triples[t, 1]
        n2 = triples[t, 2]
        l2 = triples[t, 3]
        n3 = triples[t, 4]
        l3 = triples[t, 5]
        out[t] = cg_contract(l1, l2, l3, c, _block_offset(n_max, n1, l1), c,
                             _block_offset(n_max, n2, l2), c, _block_offset(n_max, n3, l3),
                             block_offsets, m1_index, m2_index, M_index, cg, cg_l_max)


@njit
def bispectrum_jacobian(c, n_max, triples, block_offsets, m1_index, m2_index, M_index, cg, cg_l_max,
                        jac):
    """``jac[t, k] = d B_t / d c_k`` (T, dim); overwritten."""
    for t in range(triples.shape[0]):
        for k in range(jac.shape[1]):
            jac[t, k] = 0.0
        n1 = triples[t, 0]
        l1 = triples[t, 1]
        n2 = triples[t, 2]
        l2 = triples[t, 3]
        n3 = triples[t, 4]
        l3 = triples[t, 5]
        a0 = _block_offset(n_max, n1, l1)
        b0 = _block_offset(n_max, n2, l2)
        c0 = _block_offset(n_max, n3, l3)
        row = jac[t]
        cg_couple_first(l1, l2, l3, c, b0, c, c0, row, a0, block_offsets, m1_index, m2_index,
                        M_index, cg, cg_l_max)
        cg_couple_second(l1, l2, l3, c, a0, c, c0, row, b0, block_offsets, m1_index, m2_index,
                         M_index, cg, cg_l_max)
        cg_couple(l1, l2, l3, c, a0, c, b0, row, c0, block_offsets, m1_index, m2_index,
                  M_index, cg, cg_l_max)


@njit
def _pair_term(l1, l2, l3, which, c, dc, a0, b0, c0, block_offsets, m1_index, m2_index, M_index,
               cg, cg_l_max, kmat, xmat, t, out):
    """Add ``X_I . DB_J + X_J . DB_I`` to ``out[I, J, t]`` for one pair of blocks.

    ``which`` = 0: pair (first, second) with the third block fixed; 1: (first, third);
    2: (second, third).  ``kmat`` (>= w_u, >= w_v) and ``xmat`` (>= M, >= w_v) are scratch.
    """
    bi = cg_block_index(l1, l2, l3, cg_l_max)
    if which == 0:
        wu = 2 * l1 + 1
        wv = 2 * l2 + 1
        u0 = a0
        v0 = b0
    elif which == 1:
        wu = 2 * l1 + 1
        wv = 2 * l3 + 1
        u0 = a0
        v0 = c0
    else:
        wu = 2 * l2 + 1
        wv = 2 * l3 + 1
        u0 = b0
        v0 = c0
    for i in range(wu):
        for j in range(wv):
            kmat[i, j] = 0.0
    for k in range(block_offsets[bi], block_offsets[bi + 1]):
        v = cg[k]
        if which == 0:
            kmat[m1_index[k], m2_index[k]] += v * c[c0 + M_index[k]]
        elif which == 1:
            kmat[m1_index[k], M_index[k]] += v * c[b0 + m2_index[k]]
        else:
            kmat[m2_index[k], M_index[k]] += v * c[a0 + m1_index[k]]
    M = dc.shape[0]
    for I in range(M):
        for j in range(wv):
            acc = 0.0
            for i in range(wu):
                acc += dc[I, u0 + i] * kmat[i, j]
            xmat[I, j] = acc
    for I in range(M):
        for J in range(I, M):
            acc = 0.0
            for j in range(wv):
                acc += xmat[I, j] * dc[J, v0 + j] + xmat[J, j] * dc[I, v0 + j]
            out[I, J, t] += acc
            if J != I:
                out[J, I, t] += acc


@njit
def bispectrum_hessian_pairs(c, dc, n_max, triples, block_offsets, m1_index, m2_index, M_index, cg,
                             cg_l_max, kmat, xmat, out):
    """Add ``sum_kk' d2B_t/dc_k dc_k' dc[I, k] dc[J, k']`` to ``out[I, J, t]`` (M, M, T).

    ``dc`` (M, dim); scratch ``kmat`` (2 l_max + 1, 2 l_max + 1), ``xmat`` (M, 2 l_max + 1).
    """
    for t in range(triples.shape[0]):
        n1 = triples[t, 0]
        l1 = triples[t, 1]
        n2 = triples[t, 2]
        l2 = triples[t, 3]
        n3 = triples[t, 4]
        l3 = triples[t, 5]
        a0 = _block_offset(n_max, n1, l1)
        b0 = _block_offset(n_max, n2, l2)
        c0 = _block_offset(n_max, n3, l3)
        for which in range(3):
            _pair_term(l1, l2, l3, which, c, dc, a0, b0, c0, block_offsets, m1_index, m2_index,
                       M_index, cg, cg_l_max, kmat, xmat, t, out)
