"""Registration: the best rotation (proper and improper) and atom correspondence.

Environments are expansions about a fixed centre, so alignments are about the origin
and no translation is fitted (README, "The seed experiment").
"""

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from rstref._checks import as_float_array, as_positions_and_values

#: above this many atoms :func:`register` only refines from the identity correspondence
MAX_ATOMS_EXHAUSTIVE_REGISTRATION = 40


@dataclass
class RegistrationResult:
    """Outcome of :func:`register`.

    ``aligned = positions[permutation] @ rotation.T`` best matches ``reference``
    (atom ``k`` of ``aligned`` corresponds to atom ``k`` of ``reference``).

    Attributes
    ----------
    rotation : ndarray (3, 3)
        Best proper rotation (det +1).
    aligned : ndarray (N, 3)
    rmsd : float
    permutation : ndarray (N,) of int
        Identity unless ``values`` allowed equal-valued atoms to be exchanged.
    improper_rotation, improper_aligned, improper_rmsd, improper_permutation :
        The same for the best improper orthogonal map (det -1): the invariants of
        an O(3)-invariant descriptor cannot tell mirror images apart.
    """

    rotation: np.ndarray
    aligned: np.ndarray
    rmsd: float
    permutation: np.ndarray
    improper_rotation: np.ndarray
    improper_aligned: np.ndarray
    improper_rmsd: float
    improper_permutation: np.ndarray


def _kabsch(moving, reference, proper):
    """Orthogonal Q with det = +1 (proper) or -1 minimising ||moving Q^T - reference||."""
    u, _, vt = np.linalg.svd(moving.T @ reference)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    if not proper:
        d = -d
    return (u @ np.diag([1.0, 1.0, d]) @ vt).T


def _rmsd(a, b):
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1)))) if len(a) else 0.0


def _best_assignment(aligned, reference, values):
    """Permutation perm (equal values only) minimising sum |aligned[perm[k]] - reference[k]|^2."""
    perm = np.arange(len(reference))
    for v in np.unique(values):
        idx = np.flatnonzero(values == v)
        cost = np.sum((reference[idx, None, :] - aligned[None, idx, :]) ** 2, axis=2)
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        perm[idx[rows]] = idx[cols]
    return perm


def _refine_correspondence(positions, reference, values, proper, rot):
    perm = np.arange(len(positions))
    for _ in range(50):
        new_perm = _best_assignment(positions @ rot.T, reference, values)
        rot = _kabsch(positions[new_perm], reference, proper)
        if np.array_equal(new_perm, perm):
            break
        perm = new_perm
    aligned = positions[perm] @ rot.T
    return rot, aligned, _rmsd(aligned, reference), perm


def _candidate_rotations(positions, reference, values, proper):
    """Starting rotations: the identity correspondence, and, for small environments,
    one per pair of equal-valued atoms matched to two reference atoms."""
    yield _kabsch(positions, reference, proper)
    if values is None or len(positions) > MAX_ATOMS_EXHAUSTIVE_REGISTRATION:
        return
    radii = np.linalg.norm(reference, axis=1)
    order = np.argsort(-radii)
    a = order[0]
    others = order[1:]
    if len(others) == 0:
        return
    cross = np.linalg.norm(np.cross(reference[a], reference[others]), axis=1)
    b = others[np.argmax(cross)]
    for a2 in np.flatnonzero(values == values[a]):
        for b2 in np.flatnonzero(values == values[b]):
            if a2 != b2:
                yield _kabsch(positions[[a2, b2]], reference[[a, b]], proper)


def _register_one(positions, reference, values, proper):
    if values is None:
        rot = _kabsch(positions, reference, proper)
        aligned = positions @ rot.T
        return rot, aligned, _rmsd(aligned, reference), np.arange(len(positions))
    best = None
    for rot in _candidate_rotations(positions, reference, values, proper):
        candidate = _refine_correspondence(positions, reference, values, proper, rot)
        if best is None or candidate[2] < best[2] - 1e-12:
            best = candidate
    return best


def register(positions, reference, values=None):
    """Kabsch/SVD alignment about the origin (the environment's centre).

    Environments are expansions about a fixed centre, so no translation is fitted.

    Parameters
    ----------
    positions : array_like, shape (N, 3)
        Positions to move.
    reference : array_like, shape (N, 3)
    values : array_like, shape (N,), optional
        If given, atoms with equal values may be exchanged: the correspondence is
        refined by alternating Kabsch and optimal assignment (Hungarian algorithm)
        within each group of equal values, started from the identity correspondence
        and, for up to ``MAX_ATOMS_EXHAUSTIVE_REGISTRATION`` atoms, from every
        rotation that maps two equal-valued atoms onto two reference atoms; the best
        result is returned (a global search for small environments, a local one
        beyond).

    Returns
    -------
    RegistrationResult
    """
    positions = as_float_array(positions, "positions", trailing_shape=(3,))
    reference = as_float_array(reference, "reference", trailing_shape=(3,))
    if positions.shape != reference.shape:
        raise ValueError(
            f"positions and reference must have the same shape, got {positions.shape} and {reference.shape}"
        )
    if values is not None:
        _, values = as_positions_and_values(positions, values)
    # in units of the larger extent: Kabsch's products cannot overflow for huge coordinates
    scale = max(float(np.max(np.abs(positions), initial=0.0)),
                float(np.max(np.abs(reference), initial=0.0))) or 1.0
    positions, reference = positions / scale, reference / scale
    proper = _register_one(positions, reference, values, True)
    improper = _register_one(positions, reference, values, False)
    return RegistrationResult(proper[0], proper[1] * scale, proper[2] * scale, proper[3],
                              improper[0], improper[1] * scale, improper[2] * scale, improper[3])
