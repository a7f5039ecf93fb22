"""Flat-index helpers of the packed layouts, callable from numba kernels (CPU and CUDA).

The public size/range/index functions (with argument checks) are those of
:mod:`rstref.layouts` (user guide: ``docs/layouts.md``); these are their unchecked twins
for inner loops (numba inlines them)::

    lm_index(l, m)              = l*l + l + m                      (harmonics, m = -l..l)
    nlm_index(n_max, n, l, m)   = n_max*l*l + n*(2l+1) + (l+m)     (radial-spherical tensor)
    pair_index(n_max, n, n2)    = n*n_max - n*(n-1)//2 + (n2 - n)  (n <= n2, within one l)
    coupling_block_index(l1, l2, L, l_max) = (l1*(l_max+1) + l2)*(l_max+1) + L
                                                                   (Clebsch-Gordan table blocks)

Note the argument order of ``nlm_index`` here (``n_max`` first) differs from the public
``rstref.layouts.nlm_index(n, l, m, n_max)``.
"""

from rstref._numba import njit


@njit(inline="always")
def lm_index(l, m):
    """``l*l + l + m``."""
    return l * l + l + m


@njit(inline="always")
def nlm_index(n_max, n, l, m):
    """``n_max*l*l + n*(2l+1) + (l+m)``."""
    return n_max * l * l + n * (2 * l + 1) + l + m


@njit(inline="always")
def pair_index(n_max, n, n2):
    """Position of ``(n, n2)``, ``n <= n2``, in ``[(a, b) for a in range(n_max) for b in range(a, n_max)]``."""
    return n * n_max - n * (n - 1) // 2 + (n2 - n)


@njit(inline="always")
def coupling_block_index(l1, l2, L, l_max):
    """``(l1*(l_max+1) + l2)*(l_max+1) + L``."""
    n = l_max + 1
    return (l1 * n + l2) * n + L
