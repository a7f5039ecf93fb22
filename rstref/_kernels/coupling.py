"""Per-item Clebsch-Gordan coupling kernels on the sparse table (docs/conventions.md).

All functions read the table arrays of :class:`rstref.coupling.CouplingTable`
(``table.kernel_arrays()`` returns them in the order used here)::

    block_offsets : int64 ((l_max+1)**3 + 1,)   entries of block (l1, l2, L) are
                                                block_offsets[b]:block_offsets[b+1],
                                                b = cg_block_index(l1, l2, L, l_max)
    m1_index, m2_index, M_index : int32 (size,) m1 + l1, m2 + l2, M + L
    values : float64 (size,)                    C^{l1 l2 L}[m1, m2, M]
    l_max : int

Blocks live inside flat arrays at a start offset (``a[a0 + m1 + l1]`` is
component m1 of block a), so callers pass whole coefficient vectors and offsets
instead of slices.  The kernels never allocate, raise or check arguments: the
caller guarantees ``|l1 - l2| <= L <= l1 + l2``, all degrees ``<= l_max`` and
offsets inside the arrays.  They use only loops, indexing and scalar maths, so a
numba-cuda kernel can call them.
"""

from rstref._kernels.layout import coupling_block_index
from rstref._numba import njit

#: flat block number ``(l1*(l_max+1) + l2)*(l_max+1) + L`` (the layout helper, inlined)
cg_block_index = coupling_block_index


# inlined at numba-IR level: as a plain call it ran the coupling loops ~1.6x slower
@njit(inline="always")
def _accumulate(start, stop, values, x, x0, x_index, y, y0, y_index, out, o0, out_index):
    """``out[o0 + out_index[k]] += values[k] x[x0 + x_index[k]] y[y0 + y_index[k]]`` for k in start..stop-1.

    The one loop behind :func:`cg_couple`, :func:`cg_couple_first` and
    :func:`cg_couple_second`: each couples two of the three blocks of a table block into
    the third, so each passes the index arrays in its own order.
    """
    for k in range(start, stop):
        out[o0 + out_index[k]] += values[k] * x[x0 + x_index[k]] * y[y0 + y_index[k]]


@njit
def cg_couple(l1, l2, L, a, a0, b, b0, out, o0, block_offsets, m1_index, m2_index, M_index, values, l_max):
    """Accumulate the coupled block: ``out[o0 + M+L] += sum C[m1,m2,M] a[a0 + m1+l1] b[b0 + m2+l2]``.

    ``a`` holds a degree-l1 block at ``a0`` (2*l1+1 entries), ``b`` a degree-l2
    block at ``b0``; ``out`` receives the degree-L block at ``o0`` (added to, not
    overwritten).  ``a``, ``b`` and ``out`` may be the same array at
    non-overlapping offsets.
    """
    bi = cg_block_index(l1, l2, L, l_max)
    _accumulate(block_offsets[bi], block_offsets[bi + 1], values,
                a, a0, m1_index, b, b0, m2_index, out, o0, M_index)


@njit
def cg_contract(l1, l2, L, a, a0, b, b0, c, c0, block_offsets, m1_index, m2_index, M_index, values, l_max):
    """Return the scalar ``sum C[m1,m2,M] a[a0 + m1+l1] b[b0 + m2+l2] c[c0 + M+L]``.

    With ``c`` a degree-L block this is the bispectrum-type triple contraction.
    """
    bi = cg_block_index(l1, l2, L, l_max)
    total = 0.0
    for k in range(block_offsets[bi], block_offsets[bi + 1]):
        total += values[k] * a[a0 + m1_index[k]] * b[b0 + m2_index[k]] * c[c0 + M_index[k]]
    return total


@njit
def cg_couple_first(l1, l2, L, b, b0, c, c0, out, o0, block_offsets, m1_index, m2_index, M_index, values, l_max):
    """Accumulate ``out[o0 + m1+l1] += sum_{m2,M} C[m1,m2,M] b[b0 + m2+l2] c[c0 + M+L]``.

    The gradient of :func:`cg_contract` with respect to block ``a``.
    """
    bi = cg_block_index(l1, l2, L, l_max)
    _accumulate(block_offsets[bi], block_offsets[bi + 1], values,
                b, b0, m2_index, c, c0, M_index, out, o0, m1_index)


@njit
def cg_couple_second(l1, l2, L, a, a0, c, c0, out, o0, block_offsets, m1_index, m2_index, M_index, values, l_max):
    """Accumulate ``out[o0 + m2+l2] += sum_{m1,M} C[m1,m2,M] a[a0 + m1+l1] c[c0 + M+L]``.

    The gradient of :func:`cg_contract` with respect to block ``b``.
    """
    bi = cg_block_index(l1, l2, L, l_max)
    _accumulate(block_offsets[bi], block_offsets[bi + 1], values,
                a, a0, m1_index, c, c0, M_index, out, o0, m2_index)
