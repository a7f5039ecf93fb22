"""Cell-list search behind :func:`rstref.neighbors.neighbor_list`: binning, size checks,
search drivers.

See the module docstring of :mod:`rstref.neighbors` for the algorithm and its guarantees.
Each atom's pairs are written sorted by (j, shift) by the kernels, so the list comes out
in the order of the contract (by i, then j, then shift) without a global sort, except
where the per-atom sort key would not fit in int64 (``fits`` of :func:`pair_key_layout`).
"""

import math

import numpy as np

from . import limits
from ._checks import check_allocation
from ._kernels.neighbors import count_pairs_parallel, fill_pairs, write_pairs_parallel

#: a cell needing more image shifts than this per direction is refused (r_cut / plane spacing)
_MAX_REACH = 100_000


def search_setup(positions, r_cut, cell, periodic, self_interaction):
    """Bins, their atom lists and wrap tables (the kernels' arguments), the sort-key
    layout and the estimated number of pairs."""
    atom_bin, offsets, n_bins, reach, estimate = atom_bins(positions, r_cut, cell, periodic)
    flat = (atom_bin[:, 0] * n_bins[1] + atom_bin[:, 1]) * n_bins[2] + atom_bin[:, 2]
    bin_atoms = np.argsort(flat, kind="stable").astype(np.int64)
    bin_start = np.zeros(int(np.prod(n_bins)) + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=bin_start.size - 1), out=bin_start[1:])
    wrap_bin, wrap_shift = _wrap_tables(n_bins, reach, periodic)
    args = (positions, cell, atom_bin, offsets, n_bins, reach, bin_start, bin_atoms, wrap_bin, wrap_shift,
            positions[bin_atoms], offsets[bin_atoms], r_cut, self_interaction)
    return args, pair_key_layout(offsets, n_bins, reach, periodic), estimate


#: bytes per pair: i, j (int64), shift (3 int64), vector (3 float64), distance (float64),
#: twice (the arrays and, while they grow or are sorted, their copies)
PAIR_BYTES = 2 * (8 + 8 + 24 + 24 + 8)


def _check_pair_memory(n_pairs, r_cut, about=""):
    count = f"{n_pairs}" if isinstance(n_pairs, int) else f"{n_pairs:.4g}"  # exact, or an estimate
    check_allocation(n_pairs * PAIR_BYTES, f"neighbor_list: {about}{count} pairs within r_cut={r_cut}",
                     PAIR_REMEDY)


PAIR_REMEDY = "use a smaller r_cut (or fewer atoms, or a larger cell)"


def _wrap_tables(n_bins, reach, periodic):
    """Bin and cell wrap of the bin ``c = e - reach[k]`` along axis ``k`` (``e >= 0``).

    ``wrap_bin[k, e]`` is ``c mod n_bins[k]`` along a periodic axis (and ``wrap_shift``
    is ``c // n_bins[k]``, the number of cells crossed); along an open axis it is ``c``
    inside ``[0, n_bins[k])`` and -1 outside (no bin), with no shift.
    """
    e = np.arange(int(np.max(n_bins + 2 * reach)), dtype=np.int64)
    c = e[None, :] - reach[:, None]
    n = n_bins[:, None]
    wrap_bin = np.where(periodic[:, None], c % n, np.where((c >= 0) & (c < n), c, -1))
    wrap_shift = np.where(periodic[:, None], c // n, 0)
    return wrap_bin, wrap_shift


def pair_key_layout(offsets, n_bins, reach, periodic):
    """Integer sort key of the pairs of one atom: lowest shift and shift range per axis.

    For centre ``i`` the shift is ``t - offsets[j] + offsets[i]`` with the bin wrap
    ``t`` in ``[floor(-reach / n_bins), (n_bins - 1 + reach) // n_bins]`` (0 along open
    axes), so ``shift - offsets[i] - low`` lies in ``[0, width)``.  Returns ``(low, width,
    fits)``; ``fits`` is False when ``N * prod(width)`` would not fit in int64 (atoms
    very far outside the cell): the pairs are then sorted afterwards with lexsort.
    """
    t_low = np.where(periodic, (-reach) // n_bins, 0)
    t_high = np.where(periodic, (n_bins - 1 + reach) // n_bins, 0)
    off_low, off_high = offsets.min(axis=0), offsets.max(axis=0)
    low = (t_low - off_high).astype(np.int64)
    width = ((t_high - t_low) + (off_high - off_low) + 1).astype(np.int64)
    fits = offsets.shape[0] * int(width[0]) * int(width[1]) * int(width[2]) < 2**62
    return low, width, fits


def search_serial(args, key_layout, estimate, r_cut):
    """One pass, each atom's pairs sorted as they are written; the arrays start at the
    estimated size and grow (each growth checked against the allocation limit)."""
    n_atoms = args[0].shape[0]
    capacity = min(max(int(estimate), 64), _allowed_pairs())
    out = (np.empty(capacity, np.int64), np.empty(capacity, np.int64), np.empty((capacity, 3), np.int64),
           np.empty((capacity, 3), np.float64), np.empty(capacity, np.float64))
    first = written = 0
    while True:
        first, written = fill_pairs(first, written, *args, *key_layout, *out)
        if first == n_atoms:
            break
        capacity = _grown_capacity(capacity, r_cut)
        _resize(out, capacity)
    _resize(out, written)
    return out


def _allowed_pairs():
    return max(int(limits.MAX_ALLOCATION_BYTES // PAIR_BYTES), 0)


def _grown_capacity(capacity, r_cut):
    grown = min(max(2 * capacity, capacity + 1024), _allowed_pairs())
    if grown <= capacity:  # at the limit and more pairs to come
        check_allocation((capacity + 1) * PAIR_BYTES,
                         f"neighbor_list: more than {capacity} pairs within r_cut={r_cut}", PAIR_REMEDY)
    return grown


def _resize(arrays, size):
    # in place: no copy when shrinking; the arrays own their data and have no views
    for a in arrays:
        a.resize((size,) + a.shape[1:], refcheck=False)


def search_parallel(args, key_layout, r_cut):
    """Threaded: a counting pass, one allocation of the exact size, a writing pass."""
    n_atoms = args[0].shape[0]
    counts = np.zeros(n_atoms, dtype=np.int64)
    count_pairs_parallel(*args, counts)
    starts = np.zeros(n_atoms, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    total = int(counts.sum())
    _check_pair_memory(total, r_cut)
    out = (np.empty(total, np.int64), np.empty(total, np.int64), np.empty((total, 3), np.int64),
           np.empty((total, 3), np.float64), np.empty(total, np.float64))
    write_pairs_parallel(*args, *key_layout, starts, counts, *out)
    return out


def completed_basis(cell, periodic):
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


def atom_bins(positions, r_cut, cell, periodic):
    """Bin of each atom, fractional offsets, bins per axis and search reach per axis.

    Every quantity is formed so that it cannot overflow: the extent of an open axis is
    taken on halved coordinates (``max/2 - min/2`` is finite for any finite positions),
    the bins per axis are capped in floating point before the cast to int64, and their
    product is reduced with Python integers.
    """
    basis = completed_basis(cell, periodic)
    inverse = np.linalg.inv(basis)
    with np.errstate(over="ignore", invalid="ignore"):
        frac = positions @ inverse
    spacing = 1.0 / np.linalg.norm(inverse, axis=0)  # distance between lattice planes
    _check_fractional(frac, periodic)
    offsets = np.zeros(frac.shape, dtype=np.int64)
    offsets[:, periodic] = np.floor(frac[:, periodic]).astype(np.int64)
    half = 0.5 * (frac - offsets)  # halved: open extents of +-1e308 stay finite
    low = np.where(periodic, 0.0, half.min(axis=0))
    extent = np.where(periodic, 0.5, half.max(axis=0) - low)  # halved extent
    n_bins = _bin_counts(extent, spacing, r_cut, positions.shape[0], periodic)
    width = np.where(extent > 0.0, extent / n_bins, 1.0)  # halved bin width
    atom_bin = np.floor((half - low) / width).astype(np.int64)
    atom_bin = np.clip(atom_bin, 0, n_bins - 1)
    # the 1e-9 margin keeps pairs at exactly r_cut / thickness bins from rounding away;
    # in floating point (a thin open extent gives a huge ratio, a huge one underflows to 0:
    # at least one bin of reach is always searched)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        thickness = (2.0 * width) * spacing
        reach = np.maximum(np.ceil(r_cut / thickness * (1.0 + 1e-9)), 1.0)
    reach = np.where(periodic, reach, np.minimum(reach, n_bins - 1))
    reach = np.where(~periodic & (extent == 0.0), 0.0, reach)
    if np.any(reach > _MAX_REACH):
        k = int(np.argmax(reach))
        raise ValueError(
            f"cell: lattice planes {spacing[k]:.3g} apart along periodic axis {k} need more than "
            f"{_MAX_REACH} periodic images per direction for r_cut={r_cut}")
    reach = reach.astype(np.int64)
    estimate = _check_search_size(positions.shape[0], n_bins, reach, r_cut, spacing, periodic, cell)
    return atom_bin, offsets, n_bins, reach, estimate


#: a periodic fractional coordinate beyond this is refused: its integer cell shift would not
#: be exact in float64 (and wrapping it would keep no digit of its position within the cell)
_MAX_CELL_OFFSET = 2.0**52


def _check_fractional(frac, periodic):
    if not np.all(np.isfinite(frac)):
        raise ValueError("positions: coordinates too large to express in the cell's basis "
                         "(overflow to inf); bring the atoms closer to the cell")
    far = np.abs(frac[:, periodic]) >= _MAX_CELL_OFFSET
    if np.any(far):
        atom, axis = np.argwhere(far)[0]
        axis = int(np.flatnonzero(periodic)[axis])
        raise ValueError(
            f"positions: atom {atom} lies {abs(frac[atom, axis]):.3g} cells away along periodic axis "
            f"{axis} (more than {_MAX_CELL_OFFSET:.3g}); wrap the positions into the cell first")


def _bin_counts(extent, spacing, r_cut, n_atoms, periodic):
    """Bins per axis, at most ``max(64, 2 n_atoms)`` in all: about ``r_cut / 2`` or
    ``r_cut / 3`` thick, whichever search is cheaper.

    Bins of ``r_cut / m`` give a search volume of about ``((2m + 1) / m r_cut)^3``; finer
    bins test fewer candidates but visit more bins.  A cell of a few ``r_cut`` loses much
    to rounding with ``m = 2`` (e.g. 2 bins of 0.71 r_cut), so both are costed as
    candidates plus bin visits per atom (measured to cost about the same).
    """
    choices = [_bins_of_thickness(extent, spacing, r_cut, n_atoms, m) for m in (2, 3)]
    costs = [_search_cost(counts, extent, spacing, r_cut, n_atoms, periodic) for counts in choices]
    return choices[1] if costs[1] < costs[0] else choices[0]


def _bins_of_thickness(extent, spacing, r_cut, n_atoms, m):
    cap = max(64, 2 * n_atoms)
    counts = []
    for k in range(3):
        # Python floats (3 values: cheaper than numpy); extent is halved and finite >= 0,
        # so the ratio is finite, inf or 0, never NaN; clipped before the cast
        ratio = (float(extent[k]) / r_cut) * (2.0 * m * float(spacing[k]))
        counts.append(int(math.floor(min(max(ratio, 1.0), float(cap)))))
    while counts[0] * counts[1] * counts[2] > cap:
        k = counts.index(max(counts))
        counts[k] = max(1, counts[k] // 2)
    return np.array(counts, dtype=np.int64)


def _search_cost(counts, extent, spacing, r_cut, n_atoms, periodic):
    """Bin visits per atom times (1 + atoms per bin); inf where the reach overflows."""
    visits = 1.0
    for k in range(3):
        if not periodic[k] and extent[k] == 0.0:
            continue  # one bin, reach 0
        thickness = 2.0 * float(extent[k]) / int(counts[k]) * float(spacing[k])
        ratio = r_cut / thickness if thickness > 0.0 else math.inf
        span = 2.0 * max(math.ceil(ratio), 1) + 1.0 if ratio < 1e18 else math.inf
        visits *= span if periodic[k] else min(span, float(counts[k]))
    return visits * (1.0 + n_atoms / float(int(counts[0]) * int(counts[1]) * int(counts[2])))


def _check_search_size(n_atoms, n_bins, reach, r_cut, spacing, periodic, cell):
    """Refuse, before the search, one that would test more than ``NEIGHBOR_MAX_CANDIDATES``
    candidate pairs or (for a fully periodic cell) whose estimated pairs would need more
    than ``MAX_ALLOCATION_BYTES``.  Returns an estimate of the number of pairs (from the
    density for a fully periodic cell, else the number of candidates)."""
    visits = 1.0
    for k in range(3):
        span = 2.0 * float(reach[k]) + 1.0
        visits *= span if periodic[k] else min(span, float(n_bins[k]))
    candidates = float(n_atoms) * visits * (n_atoms / float(np.prod(n_bins.astype(np.float64))))
    estimate = ""
    if periodic.all():
        with np.errstate(over="ignore"):
            pairs = n_atoms * n_atoms * (4.0 / 3.0 * np.pi * r_cut**3) / abs(np.linalg.det(cell))
        estimate = f"~{pairs:.3g} pairs (~{pairs * PAIR_BYTES / 2**30:.3g} GiB) and "
        _check_pair_memory(pairs, r_cut, about="~")
    if candidates > limits.NEIGHBOR_MAX_CANDIDATES:
        k = int(np.argmax(np.where(periodic, reach, 0)))
        thin = (f"; the lattice planes along periodic axis {k} are {spacing[k]:.3g} apart"
                if periodic.any() else "")
        raise ValueError(
            f"neighbor_list: r_cut={r_cut} would give {estimate}test ~{candidates:.3g} candidate pairs "
            f"(more than rstref.limits.NEIGHBOR_MAX_CANDIDATES = {limits.NEIGHBOR_MAX_CANDIDATES:.3g})"
            f"{thin}; use a smaller r_cut or a larger cell (or raise the limit)")
    # a little above the density estimate (its fluctuation), plus the self pairs
    return 1.1 * pairs + 64 + n_atoms if periodic.all() else candidates
