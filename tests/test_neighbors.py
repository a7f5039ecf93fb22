"""Neighbour list (rstref.neighbors): cell list against brute force and ase."""

import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rstref.neighbors import neighbor_list, neighbor_list_brute_force
from rstref.tolerances import EPS

FIELDS = ("i", "j", "shift", "vector", "distance")


@st.composite
def periodic_systems(draw, max_atoms=8):
    """A (possibly skewed, possibly tiny) cell, pbc flags, atoms and a cutoff.

    Positions are drawn in fractional coordinates [-0.5, 1.5) so that atoms outside
    the cell are exercised; the cutoff runs from a tenth of the smallest lattice
    vector to 2.5 times it, so cells smaller than r_cut (many images) are common.
    """
    lengths = np.array(draw(st.lists(st.floats(0.5, 3.0), min_size=3, max_size=3)))
    skew = np.array(draw(st.lists(st.floats(-0.9, 0.9), min_size=3, max_size=3)))
    cell = np.diag(lengths)
    cell[1, 0] = skew[0] * lengths[1]
    cell[2, 0] = skew[1] * lengths[2]
    cell[2, 1] = skew[2] * lengths[2]
    angle = draw(st.floats(0.0, 2 * np.pi))
    c, s = np.cos(angle), np.sin(angle)
    cell = cell @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    pbc = np.array(draw(st.lists(st.booleans(), min_size=3, max_size=3)))
    n = draw(st.integers(0, max_atoms))
    frac = np.array(draw(st.lists(st.lists(st.floats(-0.5, 1.5), min_size=3, max_size=3),
                                  min_size=n, max_size=n))).reshape(n, 3)
    r_cut = draw(st.floats(0.1, 2.5)) * lengths.min()
    return frac @ cell, cell, pbc, r_cut


def assert_lists_equal(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, (name, x.shape, y.shape)
        assert x.dtype == y.dtype, (name, x.dtype, y.dtype)
        np.testing.assert_array_equal(x, y, err_msg=name)


@given(periodic_systems(), st.booleans())
def test_cell_list_equals_brute_force(system, self_interaction):
    positions, cell, pbc, r_cut = system
    fast = neighbor_list(positions, r_cut, cell, pbc, self_interaction=self_interaction)
    slow = neighbor_list_brute_force(positions, r_cut, cell, pbc, self_interaction=self_interaction)
    # exact: same pair set, same integer shifts, same floating-point vectors
    assert_lists_equal(fast, slow)


@given(periodic_systems())
def test_list_is_symmetric_sorted_and_consistent(system):
    positions, cell, pbc, r_cut = system
    nl = neighbor_list(positions, r_cut, cell, pbc)
    keys = np.column_stack([nl.i, nl.j, nl.shift])
    assert np.all(np.diff(np.lexsort(keys.T[::-1])) == 1)  # already sorted
    assert len({tuple(k) for k in keys}) == len(keys)  # no duplicates
    assert np.all(nl.shift[:, ~pbc] == 0)
    # (j, i, -S) is present for every (i, j, S), except where |vector| is within round-off
    # of r_cut: r_j + S a - r_i and r_i - S a - r_j may round to different sides of it
    everything = {tuple(k) for k in keys.tolist()}
    clear = nl.distance < r_cut * (1 - 1e-12)
    assert {(j, i, -a, -b, -c) for i, j, a, b, c in keys[clear].tolist()} <= everything
    expected = positions[nl.j] + nl.shift @ cell - positions[nl.i]
    np.testing.assert_allclose(nl.vector, expected, rtol=0, atol=1e-12 * (1 + np.abs(cell).max()))
    np.testing.assert_allclose(nl.distance, np.linalg.norm(nl.vector, axis=1), rtol=4 * EPS, atol=0)
    assert np.all(nl.distance < r_cut)
    assert not np.any((nl.i == nl.j) & np.all(nl.shift == 0, axis=1))


def test_self_interaction_adds_exactly_the_zero_pairs():
    rng = np.random.default_rng(1)
    positions = rng.uniform(0, 4, (10, 3))
    without = neighbor_list(positions, 2.0, np.eye(3) * 4, True)
    with_self = neighbor_list(positions, 2.0, np.eye(3) * 4, True, self_interaction=True)
    assert len(with_self.i) == len(without.i) + 10
    zero = (with_self.i == with_self.j) & np.all(with_self.shift == 0, axis=1)
    np.testing.assert_array_equal(with_self.i[zero], np.arange(10))
    assert np.all(with_self.distance[zero] == 0.0)


@pytest.mark.parametrize("case", ["cu_rattled", "tiny_triclinic", "slab", "molecule", "wire"])
def test_pair_sets_equal_ase(case):
    from ase.build import bulk, fcc111, molecule
    from ase.neighborlist import primitive_neighbor_list

    if case == "cu_rattled":
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))
        atoms.rattle(0.05, seed=3)
        r_cut = 5.0
    elif case == "tiny_triclinic":
        atoms = bulk("Cu", "fcc", a=3.61)  # 1-atom primitive cell, far smaller than r_cut
        r_cut = 7.5
    elif case == "slab":
        atoms = fcc111("Al", size=(2, 2, 3), vacuum=4.0)
        r_cut = 6.0
    elif case == "molecule":
        atoms = molecule("C6H6")
        r_cut = 3.0
    else:
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
        atoms.pbc = (False, False, True)
        r_cut = 4.0
    nl = neighbor_list(atoms, r_cut)
    i, j, shift = primitive_neighbor_list("ijS", atoms.pbc, atoms.cell, atoms.positions, r_cut)
    ours = {(a, b, *s) for a, b, s in zip(nl.i.tolist(), nl.j.tolist(), nl.shift.tolist())}
    theirs = {(a, b, *s) for a, b, s in zip(i.tolist(), j.tolist(), shift.tolist())}
    assert ours == theirs
    assert len(ours) == len(nl.i)


def test_rewrapping_atoms_changes_only_the_shifts():
    rng = np.random.default_rng(2)
    cell = np.array([[3.0, 0.0, 0.0], [1.2, 2.8, 0.0], [0.4, -0.7, 2.5]])
    frac = rng.uniform(0, 1, (6, 3))
    moved = rng.integers(-3, 4, (6, 3))
    a = neighbor_list(frac @ cell, 3.3, cell, True)
    b = neighbor_list((frac + moved) @ cell, 3.3, cell, True)
    # image S of j seen from i becomes S - moved_j + moved_i
    key_a = {(i, j, *(s - moved[j] + moved[i])): v for i, j, s, v in zip(a.i, a.j, a.shift, a.vector)}
    key_b = {(i, j, *s): v for i, j, s, v in zip(b.i, b.j, b.shift, b.vector)}
    assert key_a.keys() == key_b.keys()
    for k in key_a:
        np.testing.assert_allclose(key_a[k], key_b[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pbc", [(False, False, False), (True, False, False), (True, True, True)])
def test_binned_path_for_larger_systems_equals_brute_force(pbc):
    # more than 64 atoms: open systems go through the cell list too (small ones do not)
    rng = np.random.default_rng(8)
    cell = np.array([[7.0, 0.0, 0.0], [2.5, 6.0, 0.0], [-1.0, 1.5, 6.5]])
    positions = rng.uniform(-0.2, 1.2, (90, 3)) @ cell
    positions[:5] += 40.0  # a far cluster: sparse bins
    fast = neighbor_list(positions, 2.2, cell, pbc)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, 2.2, cell, pbc))
    assert fast.i.size > 0


def test_extreme_extents():
    # a 1e-300 open extent (once an integer overflow) and a needle-thin periodic cell
    positions = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1e-300]])
    cell = np.eye(3)
    for pbc in ((False, True, False), (False, False, False)):
        assert_lists_equal(neighbor_list(positions, 1.0, cell, pbc),
                           neighbor_list_brute_force(positions, 1.0, cell, pbc))
    big = np.vstack([positions, np.random.default_rng(0).uniform(0, 1, (70, 3))])
    assert_lists_equal(neighbor_list(big, 0.3, cell, (False, True, False)),
                       neighbor_list_brute_force(big, 0.3, cell, (False, True, False)))
    with pytest.raises(ValueError, match="periodic images"):
        neighbor_list(positions, 1.0, np.diag([1.0, 1e-9, 1.0]), True)


def test_sparse_open_system_stays_small():
    positions = np.array([[0.0, 0.0, 0.0], [1e4, 0.0, 0.0], [1e4, 1e4, 1e4], [1e4 + 0.5, 1e4, 1e4]])
    nl = neighbor_list(positions, 1.0)
    assert nl.i.tolist() == [2, 3] and nl.j.tolist() == [3, 2]
    np.testing.assert_array_equal(nl.vector[0], [0.5, 0.0, 0.0])


def test_open_axes_ignore_their_cell_rows():
    rng = np.random.default_rng(4)
    positions = rng.uniform(0, 5, (12, 3))
    cell = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    nl = neighbor_list(positions, 2.5, cell, (True, True, False))
    ref = neighbor_list_brute_force(positions, 2.5, cell, (True, True, False))
    assert_lists_equal(nl, ref)
    other = neighbor_list(positions, 2.5, np.array([[5.0, 0, 0], [0, 5.0, 0], [1.0, 2.0, 7.0]]),
                          (True, True, False))
    assert_lists_equal(nl, other)


def test_empty_structure_gives_shaped_empty_arrays():
    for nl in (neighbor_list(np.zeros((0, 3)), 2.0), neighbor_list(np.zeros((0, 3)), 2.0, np.eye(3), True)):
        assert nl.i.shape == (0,) and nl.j.shape == (0,) and nl.shift.shape == (0, 3)
        assert nl.vector.shape == (0, 3) and nl.distance.shape == (0,)
        assert nl.i.dtype == np.int64 and nl.vector.dtype == np.float64


def test_single_isolated_atom_has_no_neighbours():
    nl = neighbor_list(np.zeros((1, 3)), 2.0)
    assert nl.i.size == 0


@pytest.mark.parametrize("r_cut", [0.0, -1.0, np.nan, np.inf])
def test_bad_cutoff(r_cut):
    with pytest.raises(ValueError, match="r_cut"):
        neighbor_list(np.zeros((2, 3)), r_cut)


def test_bad_positions_and_cells():
    with pytest.raises(ValueError, match="positions contains NaN"):
        neighbor_list(np.array([[0.0, np.nan, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="positions must have shape"):
        neighbor_list(np.zeros((3, 2)), 1.0)
    with pytest.raises(TypeError, match="positions"):
        neighbor_list(np.zeros((3, 3), dtype=complex), 1.0)
    with pytest.raises(ValueError, match="zero-volume"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1.0]]), True)
    with pytest.raises(ValueError, match="zero lattice vector"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.diag([1.0, 1.0, 0.0]), True)
    with pytest.raises(ValueError, match="cell is required"):
        neighbor_list(np.zeros((2, 3)), 1.0, None, True)
    with pytest.raises(ValueError, match="cell contains NaN"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.diag([1.0, np.nan, 1.0]), True)
    with pytest.raises(ValueError, match="pbc"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.eye(3), (True, False))
    # a degenerate cell is fine when no axis is periodic
    assert neighbor_list(np.zeros((2, 3)), 1.0, np.zeros((3, 3)), False).i.tolist() == [0, 1]


# ----------------------------------------------------------------------------- extreme inputs
# One test per class: tiny cutoffs (bin counts once overflowed int64: segfault / "negative
# dimensions"), runaway pair counts (refused before the work, with the number), open systems
# with one atom very far away (bins from an overflowing extent: 0 pairs), bool arguments.

@given(st.integers(-323, -8), st.floats(1.0, 9.99), st.sampled_from([(True,) * 3, (True, False, True),
                                                                      (False,) * 3]),
       st.sampled_from([2, 9, 66]))
@settings(max_examples=12)
def test_tiny_cutoffs_bin_safely_and_equal_brute_force(exponent, mantissa, pbc, n_atoms):
    r_cut = mantissa * 10.0**exponent
    assume(r_cut > 0.0)
    rng = np.random.default_rng(n_atoms)
    positions = rng.uniform(0.0, 3.0, (n_atoms, 3))
    positions[0] = 0.0
    positions[1] = [0.4 * r_cut, 0.0, 0.0]  # one pair inside the cutoff
    fast = neighbor_list(positions, r_cut, 3.0 * np.eye(3), pbc)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, r_cut, 3.0 * np.eye(3), pbc))
    if r_cut > 1e-150:  # below, |vector|^2 < r_cut^2 underflows to 0 < 0 (for any pair)
        assert {(0, 1), (1, 0)} <= set(zip(fast.i.tolist(), fast.j.tolist()))


def test_issue_examples_of_tiny_cutoffs():
    for r_cut in (1e-19, 1e-18, 5e-324):
        nl = neighbor_list([[0, 0, 0], [1, 0, 0]], r_cut, cell=3 * np.eye(3), pbc=True)
        assert nl.i.size == 0


def test_runaway_pair_count_is_refused_before_the_work_with_the_number():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"~4\.189e\+09 pairs within r_cut=1\.0 needs about 603 GB.*smaller r_cut"):
        neighbor_list([[0, 0, 0]], 1.0, cell=1e-3 * np.eye(3), pbc=True)
    assert time.perf_counter() - start < 5.0
    # a smaller request of the same kind is computed (and agrees with the density estimate)
    nl = neighbor_list([[0, 0, 0]], 1.0, cell=0.1 * np.eye(3), pbc=True)
    assert abs(nl.i.size - 4 / 3 * np.pi * 1e3) < 0.02 * 4 / 3 * np.pi * 1e3


def test_candidate_and_memory_limits_are_read_at_call_time(monkeypatch):
    from rstref import limits

    positions = np.random.default_rng(0).uniform(0, 6, (100, 3))
    assert neighbor_list(positions, 2.0, 6 * np.eye(3), (True, True, False)).i.size > 0
    monkeypatch.setattr(limits, "NEIGHBOR_MAX_CANDIDATES", 1000.0)
    with pytest.raises(ValueError, match=r"candidate pairs.*NEIGHBOR_MAX_CANDIDATES"):
        neighbor_list(positions, 2.0, 6 * np.eye(3), (True, True, False))
    monkeypatch.undo()
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 1000)
    with pytest.raises(ValueError, match=r"pairs within r_cut=2\.0 needs about .*MAX_ALLOCATION_BYTES"):
        neighbor_list(positions, 2.0, 6 * np.eye(3), (True, True, False))


@given(st.integers(3, 300), st.floats(1.0, 9.99), st.sampled_from([1.0, -1.0]), st.integers(0, 2),
       st.integers(65, 80))
@settings(max_examples=12)
def test_far_atom_in_a_large_open_system(exponent, mantissa, sign, axis, n_atoms):
    positions = np.random.default_rng(n_atoms).uniform(0.0, 5.0, (n_atoms, 3))
    positions[0, axis] = sign * mantissa * 10.0**exponent
    fast = neighbor_list(positions, 2.0)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, 2.0))
    near = neighbor_list(positions[1:], 2.0)  # the far atom has no neighbours
    assert fast.i.size == near.i.size > 0


def test_far_atom_pair_set_equals_ase():
    from ase.neighborlist import primitive_neighbor_list

    positions = np.random.default_rng(0).uniform(0.0, 5.0, (80, 3))
    for far in (1e18, 1e100, 1e300):
        positions[0] = far
        nl = neighbor_list(positions, 2.0)
        with np.errstate(all="ignore"):
            i, j = primitive_neighbor_list("ij", [False] * 3, np.zeros((3, 3)), positions, 2.0)
        assert set(zip(nl.i.tolist(), nl.j.tolist())) == set(zip(i.tolist(), j.tolist()))
        assert nl.i.size > 0


def test_positions_far_outside_a_periodic_cell_are_refused():
    with pytest.raises(ValueError, match="cells away along periodic axis 0"):
        neighbor_list([[1e300, 0, 0], [0, 0, 0]], 1.0, np.eye(3), True)
    # far along an open axis is fine
    positions = np.array([[0, 0, 1e300], [0.5, 0, 0]])
    nl = neighbor_list(positions, 1.2, np.eye(3), (True, True, False))
    assert nl.i.size == 8  # each atom sees its own 4 images at distance 1
    assert_lists_equal(nl, neighbor_list_brute_force(positions, 1.2, np.eye(3), (True, True, False)))


@pytest.mark.parametrize("value", ["no", 1, 0, None, 1.0])
def test_self_interaction_must_be_a_bool(value):
    for function in (neighbor_list, neighbor_list_brute_force):
        with pytest.raises(TypeError, match="self_interaction must be a bool"):
            function(np.zeros((2, 3)), 1.0, self_interaction=value)
    assert neighbor_list(np.zeros((1, 3)), 1.0, self_interaction=np.True_).i.tolist() == [0]


def test_pbc_must_be_bools():
    with pytest.raises(ValueError, match="pbc must hold bools"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.eye(3), 2)
    with pytest.raises(TypeError, match="pbc"):
        neighbor_list(np.zeros((2, 3)), 1.0, np.eye(3), "yes")
    assert neighbor_list(np.zeros((1, 3)), 0.6, np.eye(3), (1, 0, 0)).i.size == 0


# ----------------------------------------------------------------------------- the fast paths
# The search writes each atom's pairs sorted in the kernel (insertion sort of packed keys up
# to 128 pairs, quicksort above, argsort where the packed key would not fit, a global lexsort
# where even the plain key would not), into arrays that start at an estimate and grow.

def _clustered_periodic_system(n_atoms=150):
    # a dense blob in a large periodic cell: the density estimate of the pair count is far
    # too low, so the pair arrays must grow several times
    positions = np.random.default_rng(5).uniform(10.0, 13.0, (n_atoms, 3))
    return positions, 2.0, 40.0 * np.eye(3)


def test_pair_arrays_grow_beyond_the_estimate_and_equal_brute_force():
    positions, r_cut, cell = _clustered_periodic_system()
    fast = neighbor_list(positions, r_cut, cell, True)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, r_cut, cell, True))
    estimate = positions.shape[0] ** 2 * 4 / 3 * np.pi * r_cut**3 / 40.0**3
    assert fast.i.size > 20 * estimate  # growth was needed
    assert all(a.flags.c_contiguous and a.flags.owndata for a in fast)


def test_growth_stops_exactly_at_the_memory_limit(monkeypatch):
    from rstref import limits
    from rstref._cell_list import PAIR_BYTES

    positions, r_cut, cell = _clustered_periodic_system()
    total = neighbor_list(positions, r_cut, cell, True).i.size
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", total * PAIR_BYTES)
    assert neighbor_list(positions, r_cut, cell, True).i.size == total  # just fits
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", (total - 1) * PAIR_BYTES)
    with pytest.raises(ValueError, match=rf"more than {total - 1} pairs within r_cut=2\.0 .*MAX_ALLOCATION_BYTES"):
        neighbor_list(positions, r_cut, cell, True)


@pytest.mark.parametrize("pbc", [(True, True, True), (True, False, True)])
def test_atoms_with_hundreds_of_pairs_equal_brute_force(pbc):
    # hundreds of pairs per atom: the quicksort branch of the per-atom sort
    rng = np.random.default_rng(6)
    cell = np.array([[2.0, 0.0, 0.0], [0.3, 1.8, 0.0], [0.2, -0.4, 2.1]])
    positions = rng.uniform(-0.3, 1.3, (12, 3)) @ cell
    fast = neighbor_list(positions, 4.5, cell, pbc)
    assert np.bincount(fast.i).min() > 128
    assert_lists_equal(fast, neighbor_list_brute_force(positions, 4.5, cell, pbc))


@pytest.mark.parametrize("cells_away", [3, 2**18, 2**23])
def test_atoms_far_outside_the_cell_use_every_sort_and_equal_brute_force(cells_away):
    # the shift range (and so the sort key) grows with the spread of the cell offsets:
    # 3: packed keys; 2**18: keys too wide to pack (argsort); 2**23: keys beyond int64
    # (global lexsort afterwards)
    from rstref._cell_list import atom_bins, pair_key_layout

    rng = np.random.default_rng(7)
    cell = np.array([[3.0, 0.0, 0.0], [0.5, 2.5, 0.0], [0.0, 0.4, 2.8]])
    frac = rng.uniform(0, 1, (16, 3))
    frac[:4] += cells_away * np.array([[1, 0, 0], [0, -1, 0], [0, 0, 1], [-1, 1, -1]])
    positions = frac @ cell
    fast = neighbor_list(positions, 2.5, cell, True)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, 2.5, cell, True))
    atom_bin, offsets, n_bins, reach, _ = atom_bins(positions, 2.5, cell, np.ones(3, bool))
    _, width, fits = pair_key_layout(offsets, n_bins, reach, np.ones(3, bool))
    key_bits = np.log2(16 * np.prod(width.astype(float)))
    assert fits == (cells_away < 2**23)
    if cells_away == 2**18:  # no room in int64 for the pair's position beside the key
        assert 2.0 ** (62 - key_bits) < np.bincount(fast.i).min()


def test_threaded_search_equals_serial_search():
    import numba
    from ase.build import bulk

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread")
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat((8, 8, 8))  # 4096 atoms
    atoms.rattle(0.05, seed=1)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        threaded = neighbor_list(atoms, 4.0)
        numba.set_num_threads(1)
        serial = neighbor_list(atoms, 4.0)
    finally:
        numba.set_num_threads(threads)
    assert_lists_equal(threaded, serial)
    keys = np.column_stack([serial.i, serial.j, serial.shift])
    assert np.all(np.diff(np.lexsort(keys.T[::-1])) == 1)  # sorted


@given(periodic_systems(max_atoms=40), st.booleans())
@settings(max_examples=15, deadline=None)
def test_cell_list_equals_brute_force_with_more_atoms(system, self_interaction):
    # more atoms per bin and per atom, so each atom's pairs come from several bins to sort;
    # bins of r_cut/3 instead of r_cut/2 are chosen in about a quarter of these draws
    positions, cell, pbc, r_cut = system
    fast = neighbor_list(positions, r_cut, cell, pbc, self_interaction=self_interaction)
    assert_lists_equal(fast, neighbor_list_brute_force(positions, r_cut, cell, pbc,
                                                       self_interaction=self_interaction))


def test_small_cell_gets_finer_bins_and_equals_brute_force():
    # a 7.1 A cell with r_cut = 5: bins of r_cut/2 round down to 2 per axis (3.6 A thick,
    # ~1000 candidates per atom); bins of r_cut/3 (4 per axis, ~340 candidates) are chosen
    from ase.build import bulk

    from rstref._cell_list import atom_bins

    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=2)
    cell = np.asarray(atoms.get_cell())
    n_bins, reach = atom_bins(atoms.positions, 5.0, cell, np.ones(3, bool))[2:4]
    assert n_bins.tolist() == [4, 4, 4] and reach.tolist() == [3, 3, 3]
    assert_lists_equal(neighbor_list(atoms, 5.0), neighbor_list_brute_force(atoms, 5.0))


# ----------------------------------------------------------------------------- optional vesin backend

def _backend_systems():
    from ase.build import bulk, fcc111, molecule

    diamond = bulk("C", "diamond", a=3.567, cubic=True).repeat((3, 3, 3))
    diamond.rattle(0.05, seed=4)
    yield diamond.positions, 5.0, np.asarray(diamond.cell), True
    yield np.asarray(bulk("Cu", "fcc", a=3.61).positions), 7.5, np.asarray(bulk("Cu", "fcc", a=3.61).cell), True
    slab = fcc111("Al", size=(2, 2, 3), vacuum=4.0)
    yield slab.positions, 6.0, np.asarray(slab.cell), slab.pbc
    benzene = molecule("C6H6")
    yield benzene.positions, 3.0, None, False
    rng = np.random.default_rng(9)
    for seed in range(4):
        cell = np.array([[3.0, 0.0, 0.0], [0.9, 2.7, 0.0], [-0.5, 0.6, 2.9]]) * (1 + 0.2 * seed)
        frac = rng.uniform(-0.5, 1.5, (7 + 5 * seed, 3))  # atoms outside the cell too
        pbc = [(True, True, True), (True, False, True), (False, True, False), (True, True, False)][seed]
        yield frac @ cell, 2.0 + 1.5 * seed, cell, pbc


@pytest.mark.parametrize("self_interaction", [False, True])
def test_vesin_backend_equals_the_default(self_interaction):
    pytest.importorskip("vesin")
    for positions, r_cut, cell, pbc in _backend_systems():
        ours = neighbor_list(positions, r_cut, cell, pbc, self_interaction=self_interaction)
        theirs = neighbor_list(positions, r_cut, cell, pbc, self_interaction=self_interaction, backend="vesin")
        assert ours.i.size > 0
        assert_lists_equal(theirs, ours)


def test_backend_argument(monkeypatch):
    import sys

    with pytest.raises(ValueError, match="backend must be one of"):
        neighbor_list(np.zeros((2, 3)), 1.0, backend="ase")
    monkeypatch.setitem(sys.modules, "vesin", None)  # as if vesin were not installed
    with pytest.raises(ImportError, match="pip install vesin"):
        neighbor_list(np.zeros((2, 3)), 1.0, backend="vesin")
