"""Neighbour lists within a cutoff: an O(N) cell list for periodic and open cells.

The cell convention is ase's: lattice vectors are the *rows* of ``cell``, ``pbc`` is
a per-axis flag, and a neighbour of atom ``i`` is an image ``r_j + S @ cell`` of atom
``j`` (``S`` an integer shift, zero along open axes) with

    vector = r_j + S @ cell - r_i,      |vector|^2 < r_cut^2.

Self-pairs ``(i, i, S = 0)`` are excluded unless ``self_interaction=True``; images of
atom ``i`` itself at a non-zero shift *are* neighbours (cells smaller than ``r_cut``).

Positions need not lie inside the cell: they are binned after wrapping, and the
returned shifts and vectors refer to the positions exactly as given.

Algorithm.  The periodic lattice vectors are completed to a basis of R^3 by an
orthonormal complement (the open axes' rows of ``cell`` play no role and may be zero).
Atoms are sorted into bins in fractional coordinates of that basis, with about
``r_cut / 2`` or ``r_cut / 3`` of plane spacing per bin (whichever makes the search
cheaper) where the cell is large enough; two atoms closer than ``r_cut`` differ by at
most ``reach[k] = ceil(r_cut / bin thickness)`` bins along axis ``k``, because
``|Delta s_k| <= |Delta r| / d_k`` for the plane spacing ``d_k``.  For a periodic axis
thinner than ``r_cut`` the reach exceeds the number of bins, and wrapping the bin index
yields every needed image shift.  The number of bins is capped at about twice the number
of atoms, so sparse open systems stay O(N); bin counts and extents are formed without
integer or floating-point overflow (an atom 1e300 away gives coarse bins, not a wrong or
failed search).  Before the search, the number of candidate pairs it would test is
estimated and a request beyond ``rstref.limits.NEIGHBOR_MAX_CANDIDATES`` is refused.  The
search visits the atoms in order and writes each atom's pairs sorted by (j, shift) (a
sort of that atom's pairs only), so the list needs no global sort.  With one thread
the pair arrays start at an estimate (from the density for a fully periodic cell) and
grow, every allocation checked against ``rstref.limits.MAX_ALLOCATION_BYTES``; with
several numba threads and at least 4096 atoms a counting pass gives the exact size,
checked before the one allocation, and a writing pass fills it.  The vectors are formed
as ``(r_j + S @ cell) - r_i`` in the same order of operations as the brute-force
reference, so both agree bit for bit.  Open systems of at most 64 atoms use a direct
all-pairs loop instead (same output).
"""

from typing import NamedTuple

import numba
import numpy as np

from ._cell_list import PAIR_BYTES, PAIR_REMEDY, completed_basis, search_parallel, search_serial, search_setup
from ._checks import as_array, as_float_array, check_allocation, check_bool, check_choice, check_positive_float
from ._kernels.neighbors import finish_given_pairs, small_open_pairs

#: relative size below which periodic lattice vectors count as linearly dependent
_SINGULAR_CELL_RTOL = 1e-10


class NeighborList(NamedTuple):
    """Pairs ``p`` within the cutoff, sorted by ``i``, then ``j``, then ``shift``.

    Attributes
    ----------
    i, j : (P,) int64
        Centre and neighbour atom indices.
    shift : (P, 3) int64
        Integer cell shift ``S`` of the neighbour's image.
    vector : (P, 3) float64
        ``positions[j] + shift @ cell - positions[i]``.
    distance : (P,) float64
        ``|vector|``.
    """

    i: np.ndarray
    j: np.ndarray
    shift: np.ndarray
    vector: np.ndarray
    distance: np.ndarray


def neighbor_list(positions, r_cut, cell=None, pbc=False, self_interaction=False, backend="rstref"):
    """All pairs of atoms (and periodic images) closer than ``r_cut``.

    Parameters
    ----------
    positions : (N, 3) array_like or ase.Atoms
        Cartesian positions.  An ``ase.Atoms`` supplies its own ``cell`` and ``pbc``
        (then ``cell`` and ``pbc`` must be left at their defaults).
    r_cut : float
        Cutoff radius, > 0.  Pairs with ``|vector|^2 < r_cut^2`` are returned.
    cell : (3, 3) or (3,) array_like, optional
        Lattice vectors as rows (a (3,) array is an orthorhombic cell's lengths).
        Required when any axis is periodic; the rows of open axes are ignored.
    pbc : bool or (3,) sequence of bool
        Periodicity per axis, as in ase.
    self_interaction : bool
        Include the pairs ``(i, i, S = 0)`` (vector 0, distance 0).  Must be a bool.
    backend : {"rstref", "vesin"}
        Who finds the pairs.  ``"rstref"`` (default): the cell list of this module, the
        reference (bit for bit equal to :func:`neighbor_list_brute_force`).  ``"vesin"``:
        the pairs ``(i, j, S)`` found by the optional `vesin` package (``pip install
        vesin``; its threads follow ``OMP_NUM_THREADS``); rstref then forms the vectors
        and distances itself, in the same order of operations, keeps the pairs with
        ``|vector|^2 < r_cut^2`` and sorts them, so the output has the same contract and
        values.  A pair whose distance is within rounding of ``r_cut`` may be missing
        from vesin's search (it tests its own vectors): where that matters, use the
        default.  An independent cross-check rather than a speed-up: with the
        conversion and sort it takes 2-3 times the default's time (one thread).

    Returns
    -------
    NeighborList
        ``(i, j, shift, vector, distance)``, sorted by ``i``, then ``j``, then
        ``shift`` (lexicographically).  The list is symmetric: ``(i, j, S)`` is present
        iff ``(j, i, -S)`` is.

    Raises
    ------
    ValueError
        ``r_cut <= 0``, NaN/inf positions or cell, a periodic cell whose periodic
        lattice vectors are linearly dependent (zero volume), wrong shapes, an atom more
        than 2**52 cells away along a periodic axis; a search that would test more than
        ``rstref.limits.NEIGHBOR_MAX_CANDIDATES`` candidate pairs (r_cut far larger than
        the cell) or whose pairs would need more than ``rstref.limits.MAX_ALLOCATION_BYTES``
        (the message gives the number and what shrinks it).
        ``backend`` not one of the above.
    TypeError
        ``self_interaction`` not a bool, ``pbc`` not bools.
    ImportError
        ``backend="vesin"`` without the vesin package.
    """
    positions, r_cut, cell, periodic = _checked_input(positions, r_cut, cell, pbc)
    self_interaction = check_bool(self_interaction, "self_interaction")
    backend = check_choice(backend, "backend", ("rstref", "vesin"))
    n_atoms = positions.shape[0]
    if n_atoms == 0:
        return _empty_list()
    if backend == "vesin":
        return _vesin_list(positions, r_cut, cell, periodic, self_interaction)
    if n_atoms <= _SMALL_OPEN_ATOMS and not periodic.any():
        return _small_open_list(positions, r_cut, self_interaction)
    args, key_layout, estimate = search_setup(positions, r_cut, cell, periodic, self_interaction)
    if n_atoms >= _PARALLEL_MIN_ATOMS and numba.get_num_threads() > 1:
        out = search_parallel(args, key_layout, r_cut)
    else:
        out = search_serial(args, key_layout, estimate, r_cut)
    nl = NeighborList(*out)
    return nl if key_layout[2] else _sorted(nl)


def neighbor_list_brute_force(positions, r_cut, cell=None, pbc=False, self_interaction=False):
    """Reference for the tests: every pair and every candidate image shift, no binning.

    Same arguments, conventions and output as :func:`neighbor_list`, computed in
    O(N^2 * n_shifts).  With ``b_k`` the dual vectors of the periodic lattice vectors
    (``b_k . a_l = delta_kl``, ``|b_k| = sqrt((G^-1)_kk)`` for the Gram matrix ``G``),
    ``|r_j + S @ cell - r_i| < r_cut`` implies
    ``|S_k + (r_j - r_i) . b_k| < r_cut |b_k|``, so for each pair the shifts along
    periodic axis ``k`` run over a box of half-width ``ceil(r_cut |b_k|) + 1`` around
    ``round(-(r_j - r_i) . b_k)``; every candidate is then tested directly.
    """
    positions, r_cut, cell, periodic = _checked_input(positions, r_cut, cell, pbc)
    self_interaction = check_bool(self_interaction, "self_interaction")
    n_atoms = positions.shape[0]
    if n_atoms == 0:
        return _empty_list()
    axes = np.flatnonzero(periodic)
    dual = np.zeros((3, 3))
    half = np.zeros(3, dtype=np.int64)
    if axes.size:
        lattice = cell[axes]
        dual[axes] = np.linalg.solve(lattice @ lattice.T, lattice)
        half[axes] = np.ceil(r_cut * np.linalg.norm(dual[axes], axis=1)).astype(np.int64) + 1
    grids = np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij")
    box = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    pieces = []
    for i in range(n_atoms):
        for j in range(n_atoms):
            centre = np.rint(-(positions[j] - positions[i]) @ dual.T).astype(np.int64)
            shifts = box + centre
            # r_j + S @ cell - r_i, in the kernel's order of operations
            lattice_shift = (shifts[:, 0, None] * cell[0] + shifts[:, 1, None] * cell[1]
                             + shifts[:, 2, None] * cell[2])
            vectors = (positions[j] + lattice_shift) - positions[i]
            d2 = vectors[:, 0] * vectors[:, 0] + vectors[:, 1] * vectors[:, 1] + vectors[:, 2] * vectors[:, 2]
            keep = d2 < r_cut * r_cut
            if i == j and not self_interaction:
                keep &= np.any(shifts != 0, axis=1)
            k = np.flatnonzero(keep)
            pieces.append((np.full(k.size, i, dtype=np.int64), np.full(k.size, j, dtype=np.int64),
                           shifts[k], vectors[k], np.sqrt(d2[k])))
    out = [np.concatenate([p[k] for p in pieces]) for k in range(5)]
    return _sorted(NeighborList(*out))


def _checked_input(positions, r_cut, cell, pbc):
    if hasattr(positions, "get_positions") and hasattr(positions, "get_pbc"):
        if cell is not None or pbc is not False:
            raise ValueError("cell and pbc must not be given together with an ase.Atoms")
        atoms = positions
        positions = atoms.get_positions()
        cell = np.asarray(atoms.get_cell())
        pbc = atoms.get_pbc()
    positions = as_float_array(positions, "positions", trailing_shape=(3,))
    r_cut = check_positive_float(r_cut, "r_cut")
    periodic = _as_pbc(pbc)
    if cell is None:
        if periodic.any():
            raise ValueError("cell is required when pbc is True along some axis")
        cell = np.zeros((3, 3))
    cell = as_array(cell, "cell")
    if cell.shape == (3,):
        cell = np.diag(as_float_array(cell, "cell", ndim=1))
    cell = as_float_array(cell, "cell", trailing_shape=(3, 3), ndim=2)
    _check_periodic_cell(cell, periodic)
    return positions, r_cut, cell, periodic


def _as_pbc(pbc):
    arr = np.asarray(pbc)
    if arr.dtype.kind not in "bi":
        raise TypeError(f"pbc must be a bool or a sequence of 3 bools, got {pbc!r}")
    if arr.shape == ():
        arr = np.repeat(arr, 3)
    if arr.shape != (3,):
        raise ValueError(f"pbc must be a bool or have shape (3,), got shape {arr.shape}")
    if arr.dtype.kind == "i" and not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"pbc must hold bools (or 0/1), got {arr.tolist()}")
    return arr.astype(bool)


def _check_periodic_cell(cell, periodic):
    lattice = cell[periodic]
    if lattice.shape[0] == 0:
        return
    lengths = np.linalg.norm(lattice, axis=1)
    if np.any(lengths == 0.0):
        raise ValueError(
            f"cell has a zero lattice vector along a periodic axis (pbc={periodic.tolist()}): "
            "a periodic cell needs non-zero volume")
    unit = lattice / lengths[:, None]
    volume = np.sqrt(max(np.linalg.det(unit @ unit.T), 0.0))
    if volume < _SINGULAR_CELL_RTOL:
        raise ValueError(
            f"cell has linearly dependent lattice vectors along the periodic axes "
            f"(pbc={periodic.tolist()}, relative volume {volume:.3g}): zero-volume periodic cell")


#: below this many atoms (or with one numba thread) the pair search runs serially
_PARALLEL_MIN_ATOMS = 4096

#: open systems up to this size skip the binning (an all-pairs loop costs less than its set-up)
_SMALL_OPEN_ATOMS = 64


def _small_open_list(positions, r_cut, self_interaction):
    """Pairs of a small open system, already in (i, j) order (shift is always 0)."""
    return NeighborList(*small_open_pairs(positions, r_cut, self_interaction))


def _vesin_list(positions, r_cut, cell, periodic, self_interaction):
    """Pairs (i, j, S) from vesin; vectors, distances, cutoff test and order from rstref
    (each atom's pairs sorted with the cell list's key, the shift range taken from vesin's)."""
    try:
        import vesin
    except ImportError as err:
        raise ImportError("neighbor_list(backend='vesin') needs the optional vesin package "
                          "(pip install vesin); the default backend='rstref' needs nothing") from err
    search = vesin.NeighborList(cutoff=r_cut, full_list=True, sorted=False)
    # open axes get the orthonormal complement as their rows (no shift is ever along them);
    # copy=False: vesin's buffers are read (converted to int64) while `search` is alive
    i, j, shift = search.compute(positions, completed_basis(cell, periodic), periodic.tolist(), "ijS", copy=False)
    i, j = i.astype(np.int64), j.astype(np.int64)
    shift = np.ascontiguousarray(shift.reshape(-1, 3), dtype=np.int64)
    check_allocation((i.size + positions.shape[0]) * PAIR_BYTES,
                     f"neighbor_list(backend='vesin'): {i.size} pairs within r_cut={r_cut}", PAIR_REMEDY)
    if shift.shape[0]:
        low, high = shift.min(axis=0), shift.max(axis=0)
    else:
        low = high = np.zeros(3, np.int64)
    low, high = np.minimum(low, 0), np.maximum(high, 0)  # the self pairs' zero shift
    width = high - low + 1
    fits = positions.shape[0] * int(width[0]) * int(width[1]) * int(width[2]) < 2**62
    out = finish_given_pairs(positions, cell, r_cut, self_interaction, i, j, shift, low, width, fits)
    return NeighborList(*out) if fits else _sorted(NeighborList(*out))


def _sorted(nl):
    order = np.lexsort((nl.shift[:, 2], nl.shift[:, 1], nl.shift[:, 0], nl.j, nl.i))
    return NeighborList(*(np.ascontiguousarray(a[order]) for a in nl))


def _empty_list():
    return NeighborList(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3), np.int64),
                        np.empty((0, 3), np.float64), np.empty(0, np.float64))
