"""Flattened layouts of rstref's arrays: one size / range / index trio for each.

Every packed axis of rstref (spherical-harmonic components, tensor coefficients,
invariants, Clebsch-Gordan blocks) has three functions with one meaning each:

``X_size(sizes)``
    the length of the axis;
``X_range(sizes)``
    the list of labels in flat order, written in each docstring as the comprehension
    that generates it (``X_range(...)[k]`` is the label of entry ``k``);
``X_index(label..., sizes)``
    the flat position of one label, ``X_range(...).index(label)`` without building the
    list.

Slices of one block of an axis are ``X_block(...)`` (a ``slice``, never a "range").
Sizes are closed formulas (or counts without building the list), so they are cheap for
any arguments; a ``X_range`` whose list would be larger than
``rstref.limits.MAX_ALLOCATION_BYTES`` is refused with its size.  Every argument is
checked: integers only (``TypeError`` otherwise), sizes non-negative and labels inside
the layout (``ValueError`` otherwise).  The user guide with every layout is
``docs/layouts.md``.

Layouts
-------
``lm``                 real spherical harmonics (:mod:`rstref.harmonics`), ``l*l + l + m``
``nlm``                radial-spherical tensor coefficients (:mod:`rstref.tensor`, e3nn
                       irreps ``n_max x l``), ``n_max*l*l + n*(2l+1) + (l+m)``
``power_spectrum``     invariants ``(l, n, n2)``, ``n <= n2`` (:mod:`rstref.invariants`)
``power_spectrum_cross``  invariants ``(l, n, n2)`` of two densities
``bispectrum``         invariants ``(n1, l1, n2, l2, n3, l3)`` (:class:`rstref.Bispectrum`)
``coupling_block``     blocks ``(l1, l2, L)`` of a Clebsch-Gordan table (:mod:`rstref.coupling`)

The unchecked twins for numba kernels are in :mod:`rstref._kernels.layout`.
"""

from rstref import limits
from rstref._checks import check_allocation, check_choice, check_int
from rstref._layout_counts import (
    check_sorted as _check_sorted,
)
from rstref._layout_counts import (
    kept as _kept,
)
from rstref._layout_counts import (
    l1l2_blocks_before as _l1l2_blocks_before,
)
from rstref._layout_counts import (
    l3_blocks as _l3_blocks,
)
from rstref._layout_counts import (
    n_prefix as _n_prefix,
)
from rstref._layout_counts import (
    tri as _tri,
)
from rstref.tables._format import block_index as _coupling_block_number

__all__ = [
    "lm_size",
    "lm_range",
    "lm_index",
    "lm_block",
    "nlm_size",
    "nlm_range",
    "nlm_index",
    "nlm_block",
    "power_spectrum_size",
    "power_spectrum_range",
    "power_spectrum_index",
    "power_spectrum_cross_size",
    "power_spectrum_cross_range",
    "power_spectrum_cross_index",
    "BISPECTRUM_PARITIES",
    "bispectrum_size",
    "bispectrum_range",
    "bispectrum_index",
    "coupling_block_size",
    "coupling_block_range",
    "coupling_block_index",
]

#: parity filters of the bispectrum layout
BISPECTRUM_PARITIES = ("all", "even", "odd")


# ----------------------------------------------------------------------------- checks
def _degree(value, name="l_max"):
    return check_int(value, name, low=0)


def _count(value, name="n_max"):
    return check_int(value, name, low=0)


def _labels_fit(count, width, name, **sizes):
    """Refuse a list of ``count`` labels (tuples of ``width`` ints) above the memory limit.

    Estimate per label: 8 (list slot) + 40 + 8*width (tuple) + 32*width (int objects).
    """
    arguments = ", ".join(f"{k}={v}" for k, v in sizes.items())
    stem = name[:-len("_range")]
    check_allocation(count * (48 + 40 * width), f"{name}({arguments}) ({count} labels)",
                     f"pass smaller {' or '.join(sizes)}, or use {stem}_size and "
                     f"{stem}_index, which do not build the list")


# ----------------------------------------------------------------------------- lm
def lm_size(l_max):
    """Number of real spherical harmonics of degree ``l <= l_max``: ``(l_max + 1)**2``.

    Parameters
    ----------
    l_max : int
        Largest degree, ``>= 0``.
    """
    l_max = _degree(l_max)
    return (l_max + 1) ** 2


def lm_range(l_max):
    """Labels ``(l, m)`` of the spherical-harmonic axis, in flat order::

        [(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]

    Parameters
    ----------
    l_max : int
        Largest degree, ``>= 0``.

    Returns
    -------
    list of tuple (l, m)
    """
    l_max = _degree(l_max)
    _labels_fit(lm_size(l_max), 2, "lm_range", l_max=l_max)
    return [(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]


def lm_index(l, m):
    """Flat index of ``(l, m)``: ``l*l + l + m`` (position in :func:`lm_range`).

    Parameters
    ----------
    l : int
        Degree, ``>= 0``.
    m : int
        Order, ``-l <= m <= l``.
    """
    l = _degree(l, "l")
    m = check_int(m, "m", low=-l, high=l)
    return l * l + l + m


def lm_block(l):
    """``slice`` of the components of degree l: ``slice(l*l, (l + 1)**2)``.

    ``range(lm_size(l_max))[lm_block(l)] == [lm_index(l, m) for m in range(-l, l + 1)]``.

    Parameters
    ----------
    l : int
        Degree, ``>= 0``.
    """
    l = _degree(l, "l")
    return slice(l * l, (l + 1) * (l + 1))


# ----------------------------------------------------------------------------- nlm
def nlm_size(n_max, l_max):
    """Number of radial-spherical tensor coefficients: ``n_max * (l_max + 1)**2``.

    Parameters
    ----------
    n_max : int
        Number of radial functions, ``>= 0``.
    l_max : int
        Largest degree, ``>= 0``.
    """
    n_max = _count(n_max)
    l_max = _degree(l_max)
    return n_max * (l_max + 1) ** 2


def nlm_range(n_max, l_max):
    """Labels ``(n, l, m)`` of the tensor coefficients (e3nn irreps ``n_max x l``)::

        [(n, l, m) for l in range(l_max + 1) for n in range(n_max) for m in range(-l, l + 1)]

    Parameters
    ----------
    n_max, l_max : int
        Number of radial functions and largest degree, both ``>= 0``.

    Returns
    -------
    list of tuple (n, l, m)
    """
    size = nlm_size(n_max, l_max)
    _labels_fit(size, 3, "nlm_range", n_max=n_max, l_max=l_max)
    return [(n, l, m) for l in range(l_max + 1) for n in range(n_max) for m in range(-l, l + 1)]


def nlm_index(n, l, m, n_max):
    """Flat index of ``(n, l, m)``: ``n_max*l*l + n*(2l+1) + (l+m)`` (see :func:`nlm_range`).

    Parameters
    ----------
    n : int
        Radial index, ``0 <= n < n_max``.
    l : int
        Degree, ``>= 0``.
    m : int
        Order, ``-l <= m <= l``.
    n_max : int
        Number of radial functions.
    """
    n_max = _count(n_max)
    n = check_int(n, "n", low=0, high=n_max - 1)
    l = _degree(l, "l")
    m = check_int(m, "m", low=-l, high=l)
    return n_max * l * l + n * (2 * l + 1) + l + m


def nlm_block(l, n_max):
    """``slice`` of the degree-l coefficients: ``slice(n_max*l*l, n_max*(l + 1)**2)``.

    ``c[nlm_block(l, n_max)].reshape(n_max, 2*l + 1)[n, l + m]`` is ``c[nlm_index(n, l, m, n_max)]``.
    """
    l = _degree(l, "l")
    n_max = _count(n_max)
    return slice(n_max * l * l, n_max * (l + 1) * (l + 1))


# ----------------------------------------------------------------------------- power spectrum
def power_spectrum_size(n_max, l_max):
    """Number of power-spectrum invariants: ``(l_max + 1) * n_max*(n_max + 1)/2``.

    Parameters
    ----------
    n_max, l_max : int
        Number of radial functions and largest degree, both ``>= 0``.
    """
    n_max = _count(n_max)
    l_max = _degree(l_max)
    return (l_max + 1) * (n_max * (n_max + 1) // 2)


def power_spectrum_range(n_max, l_max):
    """Labels ``(l, n, n2)`` of the power spectrum, in flat order::

        [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n, n_max)]

    Parameters
    ----------
    n_max, l_max : int
        Number of radial functions and largest degree, both ``>= 0``.

    Returns
    -------
    list of tuple (l, n, n2)
    """
    size = power_spectrum_size(n_max, l_max)
    _labels_fit(size, 3, "power_spectrum_range", n_max=n_max, l_max=l_max)
    return [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n, n_max)]


def power_spectrum_index(l, n, n2, n_max):
    """Flat index of ``(l, n, n2)``, ``0 <= n <= n2 < n_max`` (see :func:`power_spectrum_range`).

    ``l*n_max*(n_max+1)/2 + n*n_max - n*(n-1)/2 + (n2 - n)``.
    """
    n_max = _count(n_max)
    l = _degree(l, "l")
    n = check_int(n, "n", low=0, high=n_max - 1)
    n2 = check_int(n2, "n2", low=n, high=n_max - 1)
    return l * (n_max * (n_max + 1) // 2) + n * n_max - n * (n - 1) // 2 + (n2 - n)


def power_spectrum_cross_size(n_max, l_max):
    """Number of cross power-spectrum invariants: ``(l_max + 1) * n_max**2``."""
    n_max = _count(n_max)
    l_max = _degree(l_max)
    return (l_max + 1) * n_max * n_max


def power_spectrum_cross_range(n_max, l_max):
    """Labels ``(l, n, n2)`` of the cross power spectrum, in flat order::

        [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n_max)]

    Parameters
    ----------
    n_max, l_max : int
        Number of radial functions and largest degree, both ``>= 0``.

    Returns
    -------
    list of tuple (l, n, n2)
    """
    size = power_spectrum_cross_size(n_max, l_max)
    _labels_fit(size, 3, "power_spectrum_cross_range", n_max=n_max, l_max=l_max)
    return [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n_max)]


def power_spectrum_cross_index(l, n, n2, n_max):
    """Flat index ``l*n_max**2 + n*n_max + n2`` (see :func:`power_spectrum_cross_range`)."""
    n_max = _count(n_max)
    l = _degree(l, "l")
    n = check_int(n, "n", low=0, high=n_max - 1)
    n2 = check_int(n2, "n2", low=0, high=n_max - 1)
    return l * n_max * n_max + n * n_max + n2


# ----------------------------------------------------------------------------- bispectrum
def _bispectrum_arguments(n_max, l_max, parity):
    n_max = _count(n_max)
    l_max = check_int(l_max, "l_max", low=0, high=limits.BISPECTRUM_L_MAX)
    return n_max, l_max, check_choice(parity, "parity", BISPECTRUM_PARITIES)


def bispectrum_size(n_max, l_max, parity="all"):
    """Number of bispectrum invariants, ``len(bispectrum_range(n_max, l_max, parity))``.

    Counted block by block from closed formulas (nothing is built): cheap for any
    ``n_max``; ``l_max <= rstref.limits.BISPECTRUM_L_MAX``.
    """
    n_max, l_max, parity = _bispectrum_arguments(n_max, l_max, parity)
    return _l1l2_blocks_before(l_max, l_max + 1, l_max, n_max, parity)


def bispectrum_range(n_max, l_max, parity="all"):
    """Labels ``(n1, l1, n2, l2, n3, l3)`` of the bispectrum invariants, in order::

        [(n1, l1, n2, l2, n3, l3)
         for l1 in range(l_max + 1)
         for l2 in range(l1, l_max + 1)
         for l3 in range(l2, min(l1 + l2, l_max) + 1)
         for n1 in range(n_max)
         for n2 in range(n1 if l2 == l1 else 0, n_max)
         for n3 in range(n2 if l3 == l2 else 0, n_max)
         if parity_ok(l1 + l2 + l3)
         and not ((l1 + l2 + l3) % 2 == 1 and ((n1, l1) == (n2, l2) or (n2, l2) == (n3, l3)))]

    i.e. the blocks ``(n, l)`` of one triple are sorted by ``(l, n)``; ``parity_ok`` keeps
    every sum ('all'), only even sums ('even') or only odd sums ('odd').  See
    :class:`rstref.invariants.Bispectrum` for why this set is free of trivial redundancy.
    """
    size = bispectrum_size(n_max, l_max, parity)
    _labels_fit(size, 6, "bispectrum_range", n_max=n_max, l_max=l_max)
    out = []
    for l1 in range(l_max + 1):
        for l2 in range(l1, l_max + 1):
            for l3 in range(l2, min(l1 + l2, l_max) + 1):
                odd = (l1 + l2 + l3) % 2 == 1
                if not _kept(parity, odd):
                    continue
                for n1 in range(n_max):
                    for n2 in range(n1 if l2 == l1 else 0, n_max):
                        for n3 in range(n2 if l3 == l2 else 0, n_max):
                            if odd and ((n1, l1) == (n2, l2) or (n2, l2) == (n3, l3)):
                                continue
                            out.append((n1, l1, n2, l2, n3, l3))
    return out


def bispectrum_index(n1, l1, n2, l2, n3, l3, n_max, l_max, parity="all"):
    """Flat index of ``(n1, l1, n2, l2, n3, l3)`` in :func:`bispectrum_range`.

    Computed from closed formulas (the list is not built).  A label that is not in the
    layout (blocks not sorted by ``(l, n)``, triangle rule broken, parity filtered out,
    an odd triple with two equal blocks, an index out of range) raises ``ValueError``.
    """
    n_max, l_max, parity = _bispectrum_arguments(n_max, l_max, parity)
    l1 = check_int(l1, "l1", low=0, high=l_max)
    l2 = check_int(l2, "l2", low=l1, high=l_max)
    l3 = check_int(l3, "l3", low=l2, high=min(l1 + l2, l_max))
    odd = (l1 + l2 + l3) % 2 == 1
    if not _kept(parity, odd):
        raise ValueError(f"(l1, l2, l3) = ({l1}, {l2}, {l3}) has an {'odd' if odd else 'even'} "
                         f"sum, which parity={parity!r} leaves out")
    s = int(odd)
    e12, e23 = l1 == l2, l2 == l3
    n1 = check_int(n1, "n1", low=0, high=n_max - 1)
    n2 = check_int(n2, "n2", low=0, high=n_max - 1)
    n3 = check_int(n3, "n3", low=0, high=n_max - 1)
    _check_sorted("n2", n2, "n1", n1, e12, s)
    _check_sorted("n3", n3, "n2", n2, e23, s)
    N = n_max
    index = _l1l2_blocks_before(l1, l2, l_max, N, parity) + _l3_blocks(l1, l2, l3, N, parity)
    index += _n_prefix(n1, N, e12, e23, s)
    start2 = n1 + s if e12 else 0
    if e23:
        index += _tri(N - s - start2) - _tri(N - s - n2)
        return index + n3 - (n2 + s)
    return index + (n2 - start2) * N + n3


# ----------------------------------------------------------------------------- Clebsch-Gordan blocks
def coupling_block_size(l_max):
    """Number of ``(l1, l2, L)`` blocks of a Clebsch-Gordan table: ``(l_max + 1)**3``.

    Blocks that break the triangle rule are present and empty (see
    :class:`rstref.coupling.CouplingTable`).
    """
    l_max = _degree(l_max)
    return (l_max + 1) ** 3


def coupling_block_range(l_max):
    """Labels ``(l1, l2, L)`` of the table blocks, in flat order::

        [(l1, l2, L) for l1 in range(l_max + 1) for l2 in range(l_max + 1) for L in range(l_max + 1)]

    Parameters
    ----------
    l_max : int
        Largest degree of the table, ``>= 0``.

    Returns
    -------
    list of tuple (l1, l2, L)
    """
    size = coupling_block_size(l_max)
    _labels_fit(size, 3, "coupling_block_range", l_max=l_max)
    n = range(l_max + 1)
    return [(l1, l2, L) for l1 in n for l2 in n for L in n]


def coupling_block_index(l1, l2, L, l_max):
    """Flat block number of ``(l1, l2, L)``: ``(l1*(l_max+1) + l2)*(l_max+1) + L``."""
    l_max = _degree(l_max)
    l1 = check_int(l1, "l1", low=0, high=l_max)
    l2 = check_int(l2, "l2", low=0, high=l_max)
    L = check_int(L, "L", low=0, high=l_max)
    return _coupling_block_number(l1, l2, L, l_max)
