"""Neighbour pairs of structures -> the engine's ragged batch (one environment per atom).

Pairs ``(i, j, S)`` with ``r_ij = r_j + S @ cell - r_i``, ``|r_ij| < r_cut``
(:func:`rstref.neighbors.neighbor_list`), all structures of a batch concatenated with
global atom indices, sorted by centre ``i``: environment ``i`` is the rows of its pairs.
"""

from typing import NamedTuple

import numpy as np

from rstref import limits
from rstref._checks import as_float_array, coincident_atoms_message
from rstref._engine import RaggedBatch
from rstref._kernels.neighbors import first_coincident_pair, small_open_pairs

#: open structures up to this many atoms use the all-pairs kernel directly (as
#: :func:`rstref.neighbors.neighbor_list` does below the same size)
SMALL_OPEN_ATOMS = 64


class StructurePairs(NamedTuple):
    """Neighbour pairs of a batch of structures (global atom indices)."""

    centers: np.ndarray         # (P,) int64, sorted
    neighbors: np.ndarray       # (P,) int64
    vectors: np.ndarray         # (P, 3) float64
    channels: np.ndarray        # (P,) int64, channel of the neighbour
    weights: np.ndarray         # (P,) float64, peak height of the neighbour
    atom_offsets: np.ndarray    # (n_structures + 1,) int64
    atomic_numbers: np.ndarray  # (n_atoms,) int64

    @property
    def n_atoms(self):
        return int(self.atom_offsets[-1])

    def ragged_batch(self, n_channels):
        """The engine's batch: one environment per atom, its pairs as neighbour rows."""
        offsets = np.zeros(self.n_atoms + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.centers, minlength=self.n_atoms), out=offsets[1:])
        return RaggedBatch(offsets, self.vectors, self.channels, self.weights, int(n_channels))

    def gradient_slots(self):
        """``(centers, neighbors, channels, pair_slot)`` of the sparse gradient rows.

        One row per (centre, neighbour atom != centre), all periodic images of a neighbour
        summed, sorted by centre, then neighbour; ``pair_slot`` -1 for the centre's own
        images (their terms go to the centre's own dense row, see
        :func:`rstref.features.sparsity.pair_rows`).
        """
        from rstref.features.sparsity import pair_rows

        return pair_rows(self.centers, self.neighbors, self.channels, self.n_atoms)


def structure_arrays(atoms, index):
    """Checked ``positions``, ``numbers``, ``cell``, ``pbc`` of structure ``index``."""
    where = f"structure {index}"
    if not (hasattr(atoms, "get_positions") and hasattr(atoms, "get_atomic_numbers")):
        raise TypeError(f"{where}: expected an ase.Atoms, got {type(atoms).__name__}")
    positions = as_float_array(atoms.get_positions(), f"positions of {where}", trailing_shape=(3,))
    numbers_ = np.asarray(atoms.get_atomic_numbers(), dtype=np.int64)
    cell = as_float_array(np.asarray(atoms.get_cell()), f"cell of {where}", trailing_shape=(3, 3), ndim=2)
    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    return positions, numbers_, cell, pbc


def _check_coincident(nl, index):
    """Two atoms (or an atom and a periodic image) closer than the coincident-atoms limit."""
    p = first_coincident_pair(nl.i, nl.j, nl.shift, nl.distance, limits.COINCIDENT_ATOMS_ATOL)
    if p >= 0:
        message = coincident_atoms_message(int(nl.i[p]), int(nl.j[p]), float(nl.distance[p]),
                                           f"structure {index}")
        if np.any(nl.shift[p] != 0):
            message += f" (periodic image shift {nl.shift[p].tolist()})"
        raise ValueError(message)


def _neighbours(positions, r_cut, cell, pbc, include_center, index):
    """The neighbour list of one structure (checked for coincident atoms).

    Small open structures go straight to the all-pairs kernel that
    :func:`rstref.neighbors.neighbor_list` itself uses for them (same pairs, same order;
    the positions are already checked): a molecule then costs no set-up.
    """
    from rstref.neighbors import NeighborList, neighbor_list

    if positions.shape[0] <= SMALL_OPEN_ATOMS and not pbc.any():
        nl = NeighborList(*small_open_pairs(positions, r_cut, include_center))
    else:
        try:
            nl = neighbor_list(positions, r_cut, cell, pbc, self_interaction=include_center)
        except ValueError as err:
            raise ValueError(f"structure {index}: {err}") from None
    _check_coincident(nl, index)
    return nl


def structure_pairs(structures, first_index, r_cut, include_center, assign):
    """Neighbour pairs of ``structures`` (structure numbers start at ``first_index``).

    ``assign(numbers, where)`` gives the channel and peak height of every atom
    (:class:`rstref.features.species.SpeciesAssignment`).
    """
    pieces, atom_offsets, numbers_all = [], [0], []
    for k, atoms in enumerate(structures):
        index = first_index + k
        positions, numbers_, cell, pbc = structure_arrays(atoms, index)
        channel, weight = assign(numbers_, f"structure {index}")
        nl = _neighbours(positions, r_cut, cell, pbc, include_center, index)
        shift = atom_offsets[-1]
        pieces.append((nl.i + shift if shift else nl.i, nl.j + shift if shift else nl.j, nl.vector,
                       channel[nl.j], weight[nl.j]))
        atom_offsets.append(shift + positions.shape[0])
        numbers_all.append(numbers_)
    if len(pieces) == 1:
        cols = list(pieces[0])
    elif pieces:
        cols = [np.concatenate([p[c] for p in pieces]) for c in range(5)]
    else:
        cols = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)),
                np.zeros(0, np.int64), np.zeros(0)]
    i, j, vectors, channels, weights = cols
    numbers_all = (numbers_all[0] if len(numbers_all) == 1 else np.concatenate(numbers_all)
                   if numbers_all else np.zeros(0, np.int64))
    return StructurePairs(np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64),
                          np.ascontiguousarray(vectors, dtype=np.float64),
                          np.ascontiguousarray(channels, dtype=np.int64),
                          np.ascontiguousarray(weights, dtype=np.float64),
                          np.array(atom_offsets, dtype=np.int64), np.asarray(numbers_all, dtype=np.int64))
