"""Degeneracy: the Hessian null space of the invariant loss, split by cause.

Null directions are split into the infinitesimal rotations, the directions forced by
the configuration's point-group symmetry, the displacements of atoms that the
invariants do not see (e.g. atoms at or beyond r_cut: the loss is flat along them
because nothing depends on those atoms), and the rest, genuine degeneracy of the
descriptor (README, "The seed experiment"; Pozdnyakov et al., PRL 125, 166001, 2020).
"""

from dataclasses import dataclass, field

import numpy as np

from rstref._checks import (
    as_float_array,
    as_positions_and_values,
    check_bool,
    check_float,
    check_no_coincident_atoms,
    check_positive_float,
)
from rstref.analysis._evaluation import CheckedDescriptor, check_descriptor_kwargs
from rstref.analysis._symmetry import (
    _orthonormal_columns,
    _symmetry_forced_subspace,
    check_symmetry_tol,
    rotation_generators,
)

#: smallest accepted ``rtol`` of :func:`degeneracy`, per Hessian dimension 3N, in units of
#: the float64 epsilon: eigenvalues of the symmetric (3N, 3N) Hessian are computed with an
#: absolute error of order 3N * eps * (largest eigenvalue), so a smaller relative threshold
#: would count rounding noise as stiffness (100x margin)
RTOL_MIN_PER_DIMENSION = 100 * float(np.finfo(np.float64).eps)


@dataclass
class DegeneracyResult:
    """Outcome of :func:`degeneracy`.

    Attributes
    ----------
    hessian : ndarray (3N, 3N)
        ``(2/F) J^T J``: the Hessian of the mean-squared loss at the reference.
    eigenvalues : ndarray (3N,)
        Its eigenvalues (= singular values, the matrix is positive semi-definite),
        descending.
    threshold : float
        ``rtol * eigenvalues[0]``.
    nullity : int
        Number of eigenvalues below the threshold.
    null_space : ndarray (3N, nullity)
        Orthonormal eigenvectors of those eigenvalues.
    n_rotations : int
        Dimension of the infinitesimal rotations (3 unless the environment is linear).
    n_rotations_in_null : int
        How many rotation directions lie in the null space (always all of them for a
        rotation-invariant descriptor).
    n_symmetry_forced : int
        Dimension of the symmetry-forced subspace beyond the rotations.
    n_forced_outside_null : int
        Forced directions the numerical null space misses (0 unless the threshold is
        too tight).
    n_genuine : int
        Null directions outside the forced subspace and outside the displacements of
        unseen atoms: genuine degeneracy of the descriptor at this configuration.
    genuine_directions : ndarray (3N, n_genuine)
    rotation_directions : ndarray (3N, n_rotations)
    forced_directions : ndarray (3N, n_rotations + n_symmetry_forced)
    operations : list
        Symmetry operations found (see :func:`symmetry_operations`), of the atoms the
        invariants see (unseen atoms are ignored and left in place by ``perm``).
    unseen_atoms : ndarray of int
        Atoms the invariants do not see: moving one of them alone changes the loss by
        less than the threshold in every direction (e.g. atoms at or beyond r_cut).
    n_unseen : int
        Null directions that move unseen atoms, beyond the forced subspace: the loss
        is flat along them because nothing depends on those atoms.
    unseen_directions : ndarray (3N, 3 len(unseen_atoms))
        The displacements of each unseen atom along x, y, z (the loss is flat along them).
    """

    hessian: np.ndarray
    eigenvalues: np.ndarray
    threshold: float
    nullity: int
    null_space: np.ndarray
    n_rotations: int
    n_rotations_in_null: int
    n_symmetry_forced: int
    n_forced_outside_null: int
    n_genuine: int
    genuine_directions: np.ndarray
    rotation_directions: np.ndarray
    forced_directions: np.ndarray
    operations: list
    unseen_atoms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_unseen: int = 0
    unseen_directions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def _subspace_excess(vectors, basis):
    """Orthonormal basis of the part of span(vectors) outside span(basis)."""
    residual = vectors - basis @ (basis.T @ vectors)
    if residual.size == 0:
        return np.zeros((vectors.shape[0], 0))
    u, s, _ = np.linalg.svd(residual, full_matrices=False)
    return u[:, s > 0.5]


def degeneracy(positions, values, descriptor, rtol=1e-6, include_improper=False,
               symmetry_tol=1e-6, descriptor_kwargs=None):
    """Hessian null space of the invariant loss at a configuration, split by cause.

    The null space is split into the infinitesimal rotations, directions forced by the
    configuration's point-group symmetry (see :func:`symmetry_forced_subspace`), the
    displacements of atoms that the invariants do not see, and the rest: genuine
    degeneracy of the descriptor.

    Parameters
    ----------
    positions : array_like (N, 3)
    values : array_like (N,) or None
    descriptor : object
        See :mod:`rstref.analysis`.
    rtol : float
        Relative eigenvalue threshold for the nullity, in ``[3N * RTOL_MIN_PER_DIMENSION, 1)``
        (a smaller one is below the round-off of the eigenvalues).
    include_improper : bool
        Count improper symmetry operations too (only valid for descriptors invariant
        under inversion, such as the power spectrum).
    symmetry_tol : float
        Relative tolerance of :func:`symmetry_operations`, in ``(0, 0.1]``.
    descriptor_kwargs : dict, optional
        Passed to the descriptor's calls.

    Returns
    -------
    DegeneracyResult
    """
    positions, values = as_positions_and_values(positions, values)
    check_no_coincident_atoms(positions)
    rtol = check_float(rtol, "rtol", 0.0, 1.0, low_open=True, high_open=True)
    if rtol < positions.size * RTOL_MIN_PER_DIMENSION:
        raise ValueError(f"rtol must be >= {positions.size * RTOL_MIN_PER_DIMENSION:.1e} for "
                         f"{len(positions)} atoms (below it the threshold is smaller than the "
                         f"round-off of the Hessian's eigenvalues), got {rtol}")
    include_improper = check_bool(include_improper, "include_improper")
    symmetry_tol = check_symmetry_tol(symmetry_tol, "symmetry_tol")
    evaluate = CheckedDescriptor(descriptor, values, check_descriptor_kwargs(descriptor_kwargs), 1)
    p, dp, _ = evaluate(positions, 1)
    jac = dp.reshape(positions.size, p.size)
    hessian = (2.0 / p.size) * (jac @ jac.T)
    if not np.all(np.isfinite(hessian)):
        raise ValueError("values: the loss Hessian of these peak heights is beyond float64 "
                         f"(max |value| = {np.abs(values).max():.3g}); scale the values down")
    eigenvalues, vectors = np.linalg.eigh(hessian)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    threshold = rtol * max(float(eigenvalues[0]), 0.0) if eigenvalues.size else 0.0
    null_mask = eigenvalues <= threshold
    null_space = vectors[:, null_mask]
    unseen_atoms = _unseen_atoms(hessian, threshold)
    rotations, forced, ops = _forced_on_seen_atoms(positions, values, unseen_atoms,
                                                   include_improper, symmetry_tol)
    unseen = _atom_displacements(unseen_atoms, len(positions))
    explained = _orthonormal_columns(np.concatenate([forced, unseen], axis=1))
    genuine = _subspace_excess(null_space, explained)
    return DegeneracyResult(
        hessian=hessian,
        eigenvalues=eigenvalues,
        threshold=threshold,
        nullity=int(null_mask.sum()),
        null_space=null_space,
        n_rotations=rotations.shape[1],
        n_rotations_in_null=rotations.shape[1] - _subspace_excess(rotations, null_space).shape[1],
        n_symmetry_forced=forced.shape[1] - rotations.shape[1],
        n_forced_outside_null=_subspace_excess(forced, null_space).shape[1],
        n_genuine=genuine.shape[1],
        genuine_directions=genuine,
        rotation_directions=rotations,
        forced_directions=forced,
        operations=ops,
        unseen_atoms=unseen_atoms,
        n_unseen=explained.shape[1] - forced.shape[1],
        unseen_directions=unseen,
    )


def _forced_on_seen_atoms(positions, values, unseen_atoms, include_improper, tol):
    """Rotations, forced subspace and symmetry operations, ignoring the unseen atoms.

    The point group is that of the atoms the invariants see; the forced subspace is the
    rotations of all atoms plus the symmetry-forced directions of the seen atoms (zero on
    the unseen ones).  Operations permute the seen atoms and leave the unseen in place.
    """
    if len(unseen_atoms) == 0:
        return _symmetry_forced_subspace(positions, values, include_improper, tol)
    n = len(positions)
    seen = np.setdiff1d(np.arange(n), unseen_atoms)
    rotations = rotation_generators(positions)
    if len(seen) == 0:
        return rotations, rotations, [(np.eye(3), np.arange(n))]
    rot_seen, forced_seen, ops_seen = _symmetry_forced_subspace(
        positions[seen], values[seen], include_improper, tol)
    symmetric_part = _subspace_excess(forced_seen, rot_seen)
    k = symmetric_part.shape[1]
    embedded = np.zeros((3 * n, k))
    embedded.reshape(n, 3, k)[seen] = symmetric_part.reshape(len(seen), 3, k)
    forced = _orthonormal_columns(np.concatenate([rotations, embedded], axis=1))
    ops = []
    for g, perm_seen in ops_seen:
        perm = np.arange(n)
        perm[seen] = seen[perm_seen]
        ops.append((g, perm))
    return rotations, forced, ops


def _unseen_atoms(hessian, threshold):
    """Atoms whose 3x3 diagonal Hessian block has no eigenvalue above ``threshold``."""
    n = hessian.shape[0] // 3
    blocks = hessian.reshape(n, 3, n, 3)[np.arange(n), :, np.arange(n), :]
    return np.flatnonzero(np.linalg.eigvalsh(blocks)[:, -1] <= threshold) if n else \
        np.zeros(0, dtype=np.int64)


def _atom_displacements(atoms, n_atoms):
    """Orthonormal basis (3N, 3 len(atoms)) of the displacements of ``atoms`` only."""
    basis = np.zeros((3 * n_atoms, 3 * len(atoms)))
    for k, i in enumerate(atoms):
        basis[3 * i:3 * i + 3, 3 * k:3 * k + 3] = np.eye(3)
    return basis


def check_steps(steps):
    """``steps`` as a float64 array of at least two distinct finite values > 0."""
    steps = as_float_array(steps, "steps", ndim=1)
    if np.any(steps <= 0) or len(np.unique(steps)) < 2:
        raise ValueError(f"steps must hold at least two distinct finite numbers > 0, got {steps}")
    return steps


def _unit_direction(direction, shape):
    direction = np.asarray(direction)
    if direction.size != shape[0] * shape[1]:
        raise ValueError(f"direction must have shape {shape} or ({shape[0] * shape[1]},) to match "
                         f"positions, got {direction.shape}")
    direction = as_float_array(direction.reshape(shape), "direction", trailing_shape=(3,))
    norm = float(np.linalg.norm(direction))
    if norm == 0.0:
        raise ValueError("direction must not be zero")
    return np.ascontiguousarray(direction / norm)


def loss_along(positions, values, descriptor, direction, steps=(1e-2, 3e-3, 1e-3, 3e-4),
               descriptor_kwargs=None):
    """Loss ``(1/F)||p(x + eps v) - p(x)||^2`` along a unit direction, and its growth order.

    Parameters
    ----------
    positions : array_like (N, 3)
    values : array_like (N,) or None
    descriptor : object
        See :mod:`rstref.analysis`.
    direction : array_like (N, 3) or (3N,)
        Non-zero; normalised here.
    steps : array_like
        At least two distinct step lengths ``eps > 0``.
    descriptor_kwargs : dict, optional
        Passed to the descriptor's calls.

    Returns
    -------
    losses : ndarray (len(steps),)
    order : float
        Least-squares slope of log(loss) against log(eps): 2 for a direction the
        Hessian sees, 4 (or more) along symmetry-forced null directions; ``inf`` when
        fewer than two losses are non-zero (the loss is flat along ``direction``).
    """
    positions, values = as_positions_and_values(positions, values)
    check_no_coincident_atoms(positions)
    direction = _unit_direction(direction, positions.shape)
    steps = check_steps(steps)
    evaluate = CheckedDescriptor(descriptor, values, check_descriptor_kwargs(descriptor_kwargs), 0)
    p0 = evaluate(positions, 0)[0]
    losses = []
    for eps in steps:
        # a trial point where two atoms meet is evaluated like any other (see
        # rstref.analysis._evaluation): the loss is smooth there
        r = evaluate(positions + eps * direction, 0)[0] - p0
        losses.append(float(r @ r) / r.size)
    losses = np.asarray(losses)
    positive = losses > 0
    order = float("inf")
    if positive.sum() >= 2:
        order = float(np.polyfit(np.log(steps[positive]), np.log(losses[positive]), 1)[0])
    return losses, order


# ------------------------------------------------------------ degenerate example


def homometric_pair(radius=1.2, apex=0.8):
    """Two 5-atom environments with identical power spectra that are not congruent.

    The power spectrum of a delta density is a function of the multiset of
    ``(|r_i|, |r_j|, r_i . r_j)`` over all ordered pairs (the expansion of
    ``sum_m c_nlm c_n'lm`` by the addition theorem).  Points ``{0, 1, 2, 5}`` and
    ``{0, 1, 3, 4}`` of a regular octagon (angles ``k * 45`` degrees on a circle of
    ``radius`` in the xy plane) are homometric: both have cyclic differences
    ``{1, 1, 2, 3, 3, 4}``, but their gap sequences ``(1, 1, 3, 3)`` and ``(1, 2, 1, 4)``
    differ, so no rotation or reflection maps one onto the other.  An apex at height
    ``apex`` on the z axis has dot product 0 with every ring point, so the sets stay
    homometric and become non-planar.  Their bispectra differ (triangles differ).

    Parameters
    ----------
    radius : float
        Ring radius, > 0.
    apex : float
        Height of the apex on the z axis (finite).

    Returns
    -------
    a, b : ndarray, shape (5, 3)
    """
    radius = check_positive_float(radius, "radius")
    apex = check_float(apex, "apex")

    def ring(ks):
        angles = 2 * np.pi * np.asarray(ks) / 8
        points = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(len(ks))], axis=1)
        return np.vstack([points, [[0.0, 0.0, apex]]])

    return ring([0, 1, 2, 5]), ring([0, 1, 3, 4])
