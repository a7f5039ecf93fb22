"""Per-atom kernels of the cell-list neighbour search (driven by :mod:`rstref._cell_list`).

The driver sorts the atoms into bins of a (possibly triclinic, possibly completed)
cell so that every bin is at least ``r_cut / reach[k]`` thick along axis ``k``; the
neighbours of atom ``i`` are then in the bins ``bin(i) + delta`` with
``|delta[k]| <= reach[k]``.  Along a periodic axis the bin index wraps around and the
number of wraps becomes the integer cell shift (looked up in wrap tables, no division
per bin).  :func:`atom_pairs` visits those bins for one atom and either only counts its
pairs (``write == False``) or also writes them from position ``start`` on; it never
allocates.  :func:`sort_atom_pairs` puts one atom's pairs in (j, shift) order in place;
:func:`fill_pairs` (serial, resumable when the arrays are full) and the threaded
:func:`count_pairs_parallel` / :func:`write_pairs_parallel` drive them over all atoms.
"""

import math

import numba
import numpy as np

from rstref._numba import njit


@njit(inline="always")
def _write_pair(p, i, j, s0, s1, s2, vx, vy, vz, d2sq, out_i, out_j, out_shift, out_vector, out_distance):
    """Store the pair ``(i, j, S = (s0, s1, s2))`` with vector ``(vx, vy, vz)`` and squared
    length ``d2sq`` in row ``p`` of the ``out_*`` arrays (the distance is ``sqrt(d2sq)``)."""
    out_i[p] = i
    out_j[p] = j
    out_shift[p, 0] = s0
    out_shift[p, 1] = s1
    out_shift[p, 2] = s2
    out_vector[p, 0] = vx
    out_vector[p, 1] = vy
    out_vector[p, 2] = vz
    out_distance[p] = math.sqrt(d2sq)


@njit
def atom_pairs(i, positions, cell, atom_bin, offsets, n_bins, reach,
               bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, write, start, stop,
               out_i, out_j, out_shift, out_vector, out_distance):
    """Count (and, if ``write``, store) the pairs ``(i, j, S)`` with
    ``|r_j + S @ cell - r_i|^2 < r_cut^2``.

    Parameters
    ----------
    i : int
        The centre atom.
    positions : (N, 3) float64
        Cartesian positions as given (not wrapped).
    cell : (3, 3) float64
        Lattice vectors as rows; only the rows of periodic axes are ever multiplied
        by a non-zero shift.
    atom_bin : (N, 3) int64
        Bin of each atom along each axis, ``0 <= atom_bin[:, k] < n_bins[k]``.
    offsets : (N, 3) int64
        ``floor`` of each atom's fractional coordinate along the periodic axes
        (0 along the others): the wrapped atom is ``r - offsets @ cell``.
    n_bins, reach : (3,) int64
        Number of bins per axis and the bin reach of the search per axis.
    bin_start : (n_bins.prod() + 1,) int64
        ``bin_atoms[bin_start[b]:bin_start[b + 1]]`` are the atoms of the flat bin
        ``b = (b0 * n_bins[1] + b1) * n_bins[2] + b2``.
    bin_atoms : (N,) int64
    wrap_bin, wrap_shift : (3, E) int64
        For the bin ``c = e - reach[k]`` along axis ``k``: the bin it wraps to (-1: none,
        along an open axis) and the number of cells crossed (0 along open axes);
        ``E >= n_bins[k] + 2 reach[k]``.
    bin_positions, bin_offsets : (N, 3)
        ``positions[bin_atoms]`` and ``offsets[bin_atoms]`` (contiguous per bin).
    r_cut : float
    self_interaction : bool
        Whether the pair ``(i, i, 0)`` is included.
    write : bool
        Store the pairs in the ``out_*`` arrays from index ``start`` on.
    stop : int
        With ``write``: the pairs must end before index ``stop``; if they do not fit,
        -1 is returned (what was written before ``stop`` is then meaningless).
    out_i, out_j : (P,) int64
    out_shift : (P, 3) int64
    out_vector : (P, 3) float64
    out_distance : (P,) float64

    Returns
    -------
    int
        The number of pairs of atom ``i`` (in the order the bins are visited), or -1
        if they did not fit before ``stop``.
    """
    r_cut2 = r_cut * r_cut
    n1 = n_bins[1]
    n2 = n_bins[2]
    xi = positions[i, 0]
    yi = positions[i, 1]
    zi = positions[i, 2]
    c00, c01, c02 = cell[0, 0], cell[0, 1], cell[0, 2]
    c10, c11, c12 = cell[1, 0], cell[1, 1], cell[1, 2]
    c20, c21, c22 = cell[2, 0], cell[2, 1], cell[2, 2]
    q0 = atom_bin[i, 0]
    q1 = atom_bin[i, 1]
    q2 = atom_bin[i, 2]
    count = 0
    for e0 in range(q0, q0 + 2 * reach[0] + 1):
        b0 = wrap_bin[0, e0]
        if b0 < 0:
            continue
        t0 = wrap_shift[0, e0] + offsets[i, 0]
        for e1 in range(q1, q1 + 2 * reach[1] + 1):
            b1 = wrap_bin[1, e1]
            if b1 < 0:
                continue
            t1 = wrap_shift[1, e1] + offsets[i, 1]
            row = (b0 * n1 + b1) * n2
            for e2 in range(q2, q2 + 2 * reach[2] + 1):
                b2 = wrap_bin[2, e2]
                if b2 < 0:
                    continue
                t2 = wrap_shift[2, e2] + offsets[i, 2]
                flat = row + b2
                for k in range(bin_start[flat], bin_start[flat + 1]):
                    s0 = t0 - bin_offsets[k, 0]
                    s1 = t1 - bin_offsets[k, 1]
                    s2 = t2 - bin_offsets[k, 2]
                    j = bin_atoms[k]
                    if j == i and s0 == 0 and s1 == 0 and s2 == 0 and not self_interaction:
                        continue
                    vx = bin_positions[k, 0] + (s0 * c00 + s1 * c10 + s2 * c20) - xi
                    vy = bin_positions[k, 1] + (s0 * c01 + s1 * c11 + s2 * c21) - yi
                    vz = bin_positions[k, 2] + (s0 * c02 + s1 * c12 + s2 * c22) - zi
                    d2sq = vx * vx + vy * vy + vz * vz
                    if d2sq < r_cut2:
                        if write:
                            p = start + count
                            if p >= stop:
                                return -1
                            _write_pair(p, i, j, s0, s1, s2, vx, vy, vz, d2sq,
                                        out_i, out_j, out_shift, out_vector, out_distance)
                        count += 1
    return count


@njit
def open_atom_pairs(i, positions, r_cut, self_interaction, write, start,
                    out_i, out_j, out_shift, out_vector, out_distance):
    """All-pairs search for atom ``i`` of a small open system (no periodic axis).

    Visits ``j = 0..N-1`` in order, so the pairs come out sorted; the shift is 0 and
    ``vector = r_j - r_i``.  Same outputs and return value as :func:`atom_pairs`.
    """
    r_cut2 = r_cut * r_cut
    count = 0
    for j in range(positions.shape[0]):
        if j == i and not self_interaction:
            continue
        vx = positions[j, 0] - positions[i, 0]
        vy = positions[j, 1] - positions[i, 1]
        vz = positions[j, 2] - positions[i, 2]
        d2sq = vx * vx + vy * vy + vz * vz
        if d2sq < r_cut2:
            if write:
                p = start + count
                _write_pair(p, i, j, 0, 0, 0, vx, vy, vz, d2sq,
                            out_i, out_j, out_shift, out_vector, out_distance)
            count += 1
    return count


#: up to this many pairs per atom an insertion sort (the pairs come in runs sorted by j,
#: one per bin) beats numba's quicksort by about 2x; above it, quicksort (n log n)
_INSERTION_SORT_MAX = 128


@njit
def _insertion_sort(a, n):
    for q in range(1, n):
        v = a[q]
        r = q - 1
        while r >= 0 and a[r] > v:
            a[r + 1] = a[r]
            r -= 1
        a[r + 1] = v


@njit
def sort_atom_pairs(start, count, base, width, n_atoms, out_j, out_shift, out_vector, out_distance,
                    keys, tmp_int, tmp_float):
    """Sort the ``count`` pairs from ``start`` on (all of one centre atom) by ``j``, then
    ``shift``, in place.

    The order is that of the integer key
    ``((j * width[0] + u0) * width[1] + u1) * width[2] + u2`` with ``u = shift - base``,
    where the caller guarantees ``0 <= u[k] < width[k]``, ``0 <= j < n_atoms`` and that
    ``n_atoms * prod(width)`` fits in int64.
    ``keys`` (>= count) and ``tmp_int``, ``tmp_float`` (>= (count, 4)) are scratch.
    """
    w0 = width[0]
    w1 = width[1]
    w2 = width[2]
    ordered = True
    previous = -1
    for q in range(count):
        p = start + q
        key = (((out_j[p] * w0 + (out_shift[p, 0] - base[0])) * w1 + (out_shift[p, 1] - base[1])) * w2
               + (out_shift[p, 2] - base[2]))
        keys[q] = key
        if key < previous:
            ordered = False
        previous = key
    if ordered:
        return
    # pack the position into the low bits and sort the keys directly (faster than argsort)
    bits = 1
    while (1 << bits) < count:
        bits += 1
    key_space = n_atoms * w0 * w1 * w2  # > every key (j < n_atoms); fits in int64 (caller)
    packed = key_space < (1 << (62 - bits))
    if packed:
        for q in range(count):
            keys[q] = (keys[q] << bits) | q
        if count <= _INSERTION_SORT_MAX:
            _insertion_sort(keys, count)
        else:
            keys[:count].sort()
    else:
        keys[:count] = np.argsort(keys[:count])
    mask = (1 << bits) - 1
    for q in range(count):
        p = start + ((keys[q] & mask) if packed else keys[q])
        tmp_int[q, 0] = out_j[p]
        tmp_int[q, 1] = out_shift[p, 0]
        tmp_int[q, 2] = out_shift[p, 1]
        tmp_int[q, 3] = out_shift[p, 2]
        tmp_float[q, 0] = out_vector[p, 0]
        tmp_float[q, 1] = out_vector[p, 1]
        tmp_float[q, 2] = out_vector[p, 2]
        tmp_float[q, 3] = out_distance[p]
    for q in range(count):
        p = start + q
        out_j[p] = tmp_int[q, 0]
        out_shift[p, 0] = tmp_int[q, 1]
        out_shift[p, 1] = tmp_int[q, 2]
        out_shift[p, 2] = tmp_int[q, 3]
        out_vector[p, 0] = tmp_float[q, 0]
        out_vector[p, 1] = tmp_float[q, 1]
        out_vector[p, 2] = tmp_float[q, 2]
        out_distance[p] = tmp_float[q, 3]


@njit
def fill_pairs(first, written, positions, cell, atom_bin, offsets, n_bins, reach,
               bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, key_low, key_width, sort,
               out_i, out_j, out_shift, out_vector, out_distance):
    """Serial search: append the pairs of atoms ``first, first + 1, ...`` from index
    ``written`` on, each atom's pairs sorted by (j, shift) if ``sort``.

    Stops at the first atom whose pairs do not fit in the ``out_*`` arrays.  Returns
    ``(next_atom, written)``: the atom to resume with (``N`` when all are done) and the
    number of pairs stored so far.
    """
    n = positions.shape[0]
    stop = out_i.shape[0]
    keys = np.empty(0, np.int64)
    tmp_int = np.empty((0, 4), np.int64)
    tmp_float = np.empty((0, 4), np.float64)
    base = np.empty(3, np.int64)
    for i in range(first, n):
        count = atom_pairs(i, positions, cell, atom_bin, offsets, n_bins, reach,
                           bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, True, written, stop,
                           out_i, out_j, out_shift, out_vector, out_distance)
        if count < 0:
            return i, written
        if sort and count > 1:
            if keys.shape[0] < count:
                size = max(count, 2 * keys.shape[0])
                keys = np.empty(size, np.int64)
                tmp_int = np.empty((size, 4), np.int64)
                tmp_float = np.empty((size, 4), np.float64)
            for k in range(3):
                base[k] = offsets[i, k] + key_low[k]
            sort_atom_pairs(written, count, base, key_width, n, out_j, out_shift, out_vector,
                            out_distance, keys, tmp_int, tmp_float)
        written += count
    return n, written


@njit(parallel=True)
def count_pairs_parallel(positions, cell, atom_bin, offsets, n_bins, reach,
                         bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, counts):
    """Threaded counting pass: ``counts[i]`` = number of pairs of atom ``i``."""
    e_i = np.empty(0, np.int64)
    e_s = np.empty((0, 3), np.int64)
    e_v = np.empty((0, 3), np.float64)
    e_d = np.empty(0, np.float64)
    for i in numba.prange(positions.shape[0]):
        counts[i] = atom_pairs(i, positions, cell, atom_bin, offsets, n_bins, reach,
                               bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, False, 0, 0,
                               e_i, e_i, e_s, e_v, e_d)


@njit(parallel=True)
def write_pairs_parallel(positions, cell, atom_bin, offsets, n_bins, reach,
                         bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, key_low, key_width, sort,
                         starts, counts, out_i, out_j, out_shift, out_vector, out_distance):
    """Threaded writing pass: the ``counts[i]`` pairs of atom ``i`` from ``starts[i]`` on,
    sorted by (j, shift) if ``sort``."""
    for i in numba.prange(positions.shape[0]):
        start = starts[i]
        count = counts[i]
        atom_pairs(i, positions, cell, atom_bin, offsets, n_bins, reach,
                   bin_start, bin_atoms, wrap_bin, wrap_shift, bin_positions, bin_offsets,
               r_cut, self_interaction, True, start, start + count,
                   out_i, out_j, out_shift, out_vector, out_distance)
        if sort and count > 1:
            base = np.empty(3, np.int64)
            for k in range(3):
                base[k] = offsets[i, k] + key_low[k]
            sort_atom_pairs(start, count, base, key_width, positions.shape[0], out_j, out_shift, out_vector,
                            out_distance, np.empty(count, np.int64), np.empty((count, 4), np.int64),
                            np.empty((count, 4), np.float64))


@njit
def small_open_pairs(positions, r_cut, self_interaction):
    """All pairs of an open system by the direct loop, in (i, j) order (shift 0)."""
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


@njit
def finish_given_pairs(positions, cell, r_cut, self_interaction, pair_i, pair_j, pair_shift,
                       key_low, key_width, sort):
    """The list of the given candidate pairs ``(i, j, S)`` (another library's search):
    vectors and distances formed as in :func:`atom_pairs`, the pairs with
    ``|vector|^2 < r_cut^2`` kept (plus ``(i, i, 0)`` if ``self_interaction``), grouped
    by ``i`` in order and, if ``sort``, each group sorted by (j, shift) with the key of
    :func:`sort_atom_pairs` (``key_low`` the lowest shift, ``key_width`` the shift range).
    """
    n = positions.shape[0]
    total = pair_i.shape[0] + (n if self_interaction else 0)
    keep = np.zeros(total, np.bool_)
    starts = np.zeros(n + 1, np.int64)
    r_cut2 = r_cut * r_cut
    for p in range(total):
        i, j, s0, s1, s2 = _given_pair(p, n, pair_i, pair_j, pair_shift)
        vx, vy, vz = _given_vector(positions, cell, i, j, s0, s1, s2)
        if vx * vx + vy * vy + vz * vz < r_cut2:
            keep[p] = True
            starts[i + 1] += 1
    for a in range(n):
        starts[a + 1] += starts[a]
    kept = starts[n]
    out_i = np.empty(kept, np.int64)
    out_j = np.empty(kept, np.int64)
    out_shift = np.empty((kept, 3), np.int64)
    out_vector = np.empty((kept, 3), np.float64)
    out_distance = np.empty(kept, np.float64)
    fill = starts[:n].copy()
    for p in range(total):
        if not keep[p]:
            continue
        i, j, s0, s1, s2 = _given_pair(p, n, pair_i, pair_j, pair_shift)
        q = fill[i]
        fill[i] += 1
        vx, vy, vz = _given_vector(positions, cell, i, j, s0, s1, s2)
        _write_pair(q, i, j, s0, s1, s2, vx, vy, vz, vx * vx + vy * vy + vz * vz,
                    out_i, out_j, out_shift, out_vector, out_distance)
    if sort:
        longest = 0
        for a in range(n):
            longest = max(longest, starts[a + 1] - starts[a])
        keys = np.empty(longest, np.int64)
        tmp_int = np.empty((longest, 4), np.int64)
        tmp_float = np.empty((longest, 4), np.float64)
        for a in range(n):
            sort_atom_pairs(starts[a], starts[a + 1] - starts[a], key_low, key_width, n, out_j, out_shift,
                            out_vector, out_distance, keys, tmp_int, tmp_float)
    return out_i, out_j, out_shift, out_vector, out_distance


@njit
def _given_pair(p, n, pair_i, pair_j, pair_shift):
    """Pair ``p`` of the given list, or the self pair ``(p - P, p - P, 0)`` after it."""
    if p < pair_i.shape[0]:
        return pair_i[p], pair_j[p], pair_shift[p, 0], pair_shift[p, 1], pair_shift[p, 2]
    a = p - pair_i.shape[0]
    return a, a, 0, 0, 0


@njit(inline="always")
def _given_vector(positions, cell, i, j, s0, s1, s2):
    """``r_j + S @ cell - r_i`` in :func:`atom_pairs`' order of operations."""
    vx = positions[j, 0] + (s0 * cell[0, 0] + s1 * cell[1, 0] + s2 * cell[2, 0]) - positions[i, 0]
    vy = positions[j, 1] + (s0 * cell[0, 1] + s1 * cell[1, 1] + s2 * cell[2, 1]) - positions[i, 1]
    vz = positions[j, 2] + (s0 * cell[0, 2] + s1 * cell[1, 2] + s2 * cell[2, 2]) - positions[i, 2]
    return vx, vy, vz


@njit
def first_coincident_pair(i, j, shift, distance, atol):
    """First pair ``p`` with ``distance[p] < atol`` other than a self-pair ``(i, i, S = 0)``;
    -1 if none (the features' check for coincident atoms and periodic images)."""
    for p in range(i.shape[0]):
        if distance[p] < atol:
            if i[p] != j[p] or shift[p, 0] != 0 or shift[p, 1] != 0 or shift[p, 2] != 0:
                return p
    return -1
