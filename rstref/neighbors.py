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
Atoms are sorted into bins in fractional coordinates of that basis, with at least
``r_cut / 2`` of plane spacing per bin where the cell is large enough; two atoms closer
than ``r_cut`` differ by at most ``reach[k] = ceil(r_cut / bin thickness)`` bins along
axis ``k``, because ``|Delta s_k| <= |Delta r| / d_k`` for the plane spacing ``d_k``.
For a periodic axis thinner than ``r_cut`` the reach exceeds the number of bins, and
wrapping the bin index yields every needed image shift.  The number of bins is
capped at about twice the number of atoms, so sparse open systems stay O(N).  Open
systems of at most 64 atoms use a direct all-pairs loop instead (same output).
"""

from typing import NamedTuple

import numba
import numpy as np

from rstref._numba import njit

from ._checks import as_float_array, check_positive_float
from ._kernels.neighbors import atom_pairs, open_atom_pairs

#: relative size below which periodic lattice vectors count as linearly dependent
_SINGULAR_CELL_RTOL = 1e-10
#: a cell needing more image shifts than this per direction is refused (r_cut / plane spacing)
_MAX_REACH = 100_000


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


def neighbor_list(positions, r_cut, cell=None, pbc=False, self_interaction=False):
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
        Include the pairs ``(i, i, S = 0)`` (vector 0, distance 0).

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
        lattice vectors are linearly dependent (zero volume), wrong shapes.
    """
    positions, r_cut, cell, periodic = _checked_input(positions, r_cut, cell, pbc)
    self_interaction = bool(self_interaction)
    n_atoms = positions.shape[0]
    if n_atoms == 0:
        return _empty_list()
    if n_atoms <= _SMALL_OPEN_ATOMS and not periodic.any():
        return _small_open_list(positions, r_cut, self_interaction)
    atom_bin, offsets, n_bins, reach = _bins(positions, r_cut, cell, periodic)
    flat = (atom_bin[:, 0] * n_bins[1] + atom_bin[:, 1]) * n_bins[2] + atom_bin[:, 2]
    bin_atoms = np.argsort(flat, kind="stable").astype(np.int64)
    bin_start = np.zeros(int(np.prod(n_bins)) + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=bin_start.size - 1), out=bin_start[1:])
    args = (positions, cell, periodic, atom_bin, offsets, n_bins, reach,
            bin_start, bin_atoms, r_cut, self_interaction)
    counts = np.zeros(n_atoms, dtype=np.int64)
    _count_pairs(args, counts)
    starts = np.zeros(n_atoms, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    total = int(counts.sum())
    out = (np.empty(total, np.int64), np.empty(total, np.int64), np.empty((total, 3), np.int64),
           np.empty((total, 3), np.float64), np.empty(total, np.float64))
    _write_pairs(args, starts, out)
    return _sorted(NeighborList(*out))


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
    cell = np.asarray(cell)
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


def _completed_basis(cell, periodic):
    """Periodic rows of ``cell`` completed by an orthonormal complement (rows)."""
    basis = np.array(cell, dtype=np.float64)
    axes = np.flatnonzero(periodic)
    open_axes = np.flatnonzero(~periodic)
    if open_axes.size == 0:
        return basis
    if axes.size == 0:
        return np.eye(3)
    q, _ = np.linalg.qr(cell[axes].T, mode="complete")
    basis[open_axes] = q[:, axes.size:].T
    return basis


def _bins(positions, r_cut, cell, periodic):
    """Bin of each atom, fractional offsets, bins per axis and search reach per axis."""
    basis = _completed_basis(cell, periodic)
    inverse = np.linalg.inv(basis)
    frac = positions @ inverse
    spacing = 1.0 / np.linalg.norm(inverse, axis=0)  # distance between lattice planes
    offsets = np.zeros(frac.shape, dtype=np.int64)
    offsets[:, periodic] = np.floor(frac[:, periodic]).astype(np.int64)
    frac = frac - offsets
    low = np.where(periodic, 0.0, frac.min(axis=0))
    extent = np.where(periodic, 1.0, frac.max(axis=0) - low)
    # bins of about r_cut / 2 (reach 2): a search volume ~(2.5 r_cut)^3 instead of (3 r_cut)^3
    n_bins = np.maximum(1, np.floor(extent * spacing / (0.5 * r_cut))).astype(np.int64)
    cap = max(64, 2 * positions.shape[0])
    while np.prod(n_bins) > cap:
        k = int(np.argmax(n_bins))
        n_bins[k] = max(1, n_bins[k] // 2)
    width = np.where(extent > 0.0, extent / n_bins, 1.0)
    atom_bin = np.floor((frac - low) / width).astype(np.int64)
    atom_bin = np.clip(atom_bin, 0, n_bins - 1)
    thickness = width * spacing
    # the 1e-9 margin keeps pairs at exactly r_cut / thickness bins from rounding away;
    # clipped in floating point (a thin open extent gives a huge ratio: no int overflow)
    with np.errstate(divide="ignore", over="ignore"):
        reach = np.ceil(r_cut / thickness * (1.0 + 1e-9))
    reach = np.where(periodic, reach, np.minimum(reach, n_bins - 1))
    reach = np.where(~periodic & (extent == 0.0), 0.0, reach)
    if np.any(reach > _MAX_REACH):
        k = int(np.argmax(reach))
        raise ValueError(
            f"cell: lattice planes {spacing[k]:.3g} apart along periodic axis {k} need more than "
            f"{_MAX_REACH} periodic images per direction for r_cut={r_cut}")
    return atom_bin, offsets, n_bins, reach.astype(np.int64)


#: below this many atoms the pair search runs serially (thread start-up costs more)
_PARALLEL_MIN_ATOMS = 4096


def _pair_loop(*args):
    if args[0].shape[0] >= _PARALLEL_MIN_ATOMS:
        _pair_loop_parallel(*args)
    else:
        _pair_loop_serial(*args)


def _count_pairs(args, counts):
    dummy_i = np.empty(0, np.int64)
    dummy_s = np.empty((0, 3), np.int64)
    dummy_v = np.empty((0, 3), np.float64)
    dummy_d = np.empty(0, np.float64)
    _pair_loop(*args, False, counts, counts, dummy_i, dummy_i, dummy_s, dummy_v, dummy_d)


def _write_pairs(args, starts, out):
    counts = np.empty_like(starts)
    _pair_loop(*args, True, starts, counts, *out)


def _pair_loop_body(positions, cell, periodic, atom_bin, offsets, n_bins, reach, bin_start,
               bin_atoms, r_cut, self_interaction, write, starts, counts,
               out_i, out_j, out_shift, out_vector, out_distance):
    for i in numba.prange(positions.shape[0]):
        start = starts[i] if write else 0
        counts[i] = atom_pairs(i, positions, cell, periodic, atom_bin, offsets, n_bins, reach,
                               bin_start, bin_atoms, r_cut, self_interaction, write, start,
                               out_i, out_j, out_shift, out_vector, out_distance)


_pair_loop_parallel = njit(parallel=True)(_pair_loop_body)
_pair_loop_serial = njit(_pair_loop_body)


#: open systems up to this size skip the binning (an all-pairs loop costs less than its set-up)
_SMALL_OPEN_ATOMS = 64


@njit
def _small_open_pairs(positions, r_cut, self_interaction):
    n = positions.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    e_i = np.empty(0, np.int64)
    e_s = np.empty((0, 3), np.int64)
    e_v = np.empty((0, 3), np.float64)
    e_d = np.empty(0, np.float64)
    total = 0
    for i in range(n):
        counts[i] = open_atom_pairs(i, positions, r_cut, self_interaction, False, 0,
                                    e_i, e_i, e_s, e_v, e_d)
        total += counts[i]
    out_i = np.empty(total, np.int64)
    out_j = np.empty(total, np.int64)
    out_shift = np.empty((total, 3), np.int64)
    out_vector = np.empty((total, 3), np.float64)
    out_distance = np.empty(total, np.float64)
    start = 0
    for i in range(n):
        open_atom_pairs(i, positions, r_cut, self_interaction, True, start,
                        out_i, out_j, out_shift, out_vector, out_distance)
        start += counts[i]
    return out_i, out_j, out_shift, out_vector, out_distance


def _small_open_list(positions, r_cut, self_interaction):
    """Pairs of a small open system, already in (i, j) order (shift is always 0)."""
    return NeighborList(*_small_open_pairs(positions, r_cut, self_interaction))


def _sorted(nl):
    order = np.lexsort((nl.shift[:, 2], nl.shift[:, 1], nl.shift[:, 0], nl.j, nl.i))
    return NeighborList(*(np.ascontiguousarray(a[order]) for a in nl))


def _empty_list():
    return NeighborList(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 3), np.int64),
                        np.empty((0, 3), np.float64), np.empty(0, np.float64))
