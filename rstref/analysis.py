"""Inversion of invariants, registration and degeneracy analysis (DESIGN section 1).

A *descriptor* here is any object with the interface of
:class:`rstref.invariants.PowerSpectrum` / :class:`rstref.invariants.Bispectrum`:

- ``compute(positions, values)`` -> ``p`` of shape ``(F,)``,
- ``compute_with_gradients(positions, values)`` -> ``p, dp`` with ``dp`` of shape ``(N, 3, F)``,
- ``compute_with_hessians(positions, values)`` -> ``p, dp, d2p`` with ``d2p`` of shape
  ``(N, 3, N, 3, F)``.

Extra keyword arguments given to the functions below as ``descriptor_kwargs`` (for
example ``normalize=True``) are passed through to those calls.

Displacements of ``N`` atoms are flattened atom-major: ``u.reshape(N, 3)[i] = u_i``.

The loss is the mean squared difference of the invariants, as in the seed notebook:
``loss(x) = (1/F) * sum_f (p_f(x) - p*_f)**2``, with gradient ``(2/F) J^T r`` and
Hessian ``(2/F) (J^T J + sum_f r_f Hess p_f)``, where ``r = p(x) - p*`` and
``J = dp/dx`` of shape ``(F, 3N)``.  At a zero-loss point the Hessian is ``(2/F) J^T J``.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from rstref._checks import as_float_array, as_positions_and_values, check_choice

__all__ = [
    "loss_with_derivatives",
    "reconstruct",
    "register",
    "rotation_generators",
    "symmetry_operations",
    "symmetry_forced_subspace",
    "degeneracy",
    "loss_along",
    "homometric_pair",
    "ReconstructionResult",
    "RegistrationResult",
    "DegeneracyResult",
]


# --------------------------------------------------------------------------- loss


def loss_with_derivatives(x, target, values, descriptor, order=1, descriptor_kwargs=None):
    """Mean-squared invariant loss and its derivatives at flattened positions ``x``.

    Parameters
    ----------
    x : ndarray, shape (3N,)
        Flattened positions (atom-major).
    target : ndarray, shape (F,)
        Target invariants.
    values : ndarray, shape (N,)
        Peak heights.
    descriptor : object
        See the module docstring.
    order : {0, 1, 2}
        0: loss only; 1: loss and gradient; 2: loss, gradient and Hessian.

    Returns
    -------
    tuple
        ``(loss,)``, ``(loss, grad (3N,))`` or ``(loss, grad (3N,), hess (3N, 3N))``.
    """
    kwargs = descriptor_kwargs or {}
    positions = np.asarray(x, dtype=np.float64).reshape(-1, 3)
    n_flat = positions.size
    if order == 0:
        r = descriptor.compute(positions, values, **kwargs) - target
        return (float(r @ r) / r.size,)
    if order == 1:
        p, dp = descriptor.compute_with_gradients(positions, values, **kwargs)
        r = p - target
        jac = dp.reshape(n_flat, -1)  # (3N, F)
        return float(r @ r) / r.size, (2.0 / r.size) * (jac @ r)
    p, dp, d2p = descriptor.compute_with_hessians(positions, values, **kwargs)
    r = p - target
    jac = dp.reshape(n_flat, -1)
    hess_p = d2p.reshape(n_flat, n_flat, -1)
    hess = (2.0 / r.size) * (jac @ jac.T + hess_p @ r)
    return float(r @ r) / r.size, (2.0 / r.size) * (jac @ r), hess


# ------------------------------------------------------------------ reconstruction


@dataclass
class ReconstructionResult:
    """Outcome of :func:`reconstruct`.

    Attributes
    ----------
    positions : ndarray, shape (N, 3)
    loss : float
        Final mean-squared invariant loss.
    iterations : int
        Total optimiser iterations over all stages.
    history : list of float
        Loss after each iteration (all stages concatenated).
    stages : list of dict
        Per stage: method, iterations, loss, scipy message.
    """

    positions: np.ndarray
    loss: float
    iterations: int
    history: list = field(default_factory=list)
    stages: list = field(default_factory=list)


_METHODS = {"first-order", "newton", "first-order+newton"}


def reconstruct(
    target_invariants,
    start_positions,
    values,
    descriptor,
    method="first-order+newton",
    max_iterations=2000,
    descriptor_kwargs=None,
):
    """Find positions whose invariants match ``target_invariants``.

    Parameters
    ----------
    target_invariants : array_like, shape (F,)
    start_positions : array_like, shape (N, 3)
    values : array_like, shape (N,) or None
        Peak heights (None: all ones).
    descriptor : object
        See the module docstring.
    method : {'first-order', 'newton', 'first-order+newton'}
        'first-order': L-BFGS-B with the explicit gradient (the seed notebook's
        route, up to the optimiser); 'newton': scipy's trust-region exact method
        with the explicit Hessian; 'first-order+newton' (default): the first, then
        the second as a refinement, which tells a true zero-loss solution from a
        local minimum with non-zero loss.
    max_iterations : int
        Per stage.

    Returns
    -------
    ReconstructionResult
    """
    check_choice(method, "method", _METHODS)
    positions, values = as_positions_and_values(start_positions, values)
    target = as_float_array(target_invariants, "target_invariants", ndim=1)
    x = positions.ravel().copy()
    history, stages = [], []
    kwargs = descriptor_kwargs

    def fun_grad(z):
        return loss_with_derivatives(z, target, values, descriptor, 1, kwargs)

    def fun_grad_hess(z):
        return loss_with_derivatives(z, target, values, descriptor, 2, kwargs)

    def record(z, *args):
        history.append(loss_with_derivatives(z, target, values, descriptor, 0, kwargs)[0])

    if method in ("first-order", "first-order+newton"):
        res = scipy.optimize.minimize(
            fun_grad, x, jac=True, method="L-BFGS-B", callback=record,
            options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-13, "maxcor": 30},
        )
        x = res.x
        stages.append({"method": "L-BFGS-B", "iterations": int(res.nit),
                       "loss": float(res.fun), "message": str(res.message)})
    if method in ("newton", "first-order+newton"):
        cache = {}

        def cached(z):
            key = z.tobytes()
            if key not in cache:
                cache.clear()
                cache[key] = fun_grad_hess(z)
            return cache[key]

        res = scipy.optimize.minimize(
            lambda z: cached(z)[0], x, jac=lambda z: cached(z)[1], hess=lambda z: cached(z)[2],
            method="trust-exact", callback=lambda z, *a: record(z),
            options={"maxiter": max_iterations, "gtol": 1e-15},
        )
        x = res.x
        stages.append({"method": "trust-exact", "iterations": int(res.nit),
                       "loss": float(res.fun), "message": str(res.message)})
    loss = loss_with_derivatives(x, target, values, descriptor, 0, kwargs)[0]
    return ReconstructionResult(
        positions=x.reshape(-1, 3), loss=loss,
        iterations=sum(s["iterations"] for s in stages), history=history, stages=stages,
    )


# ------------------------------------------------------------------- registration


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


#: above this many atoms :func:`register` only refines from the identity correspondence
MAX_ATOMS_EXHAUSTIVE_REGISTRATION = 40


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
    proper = _register_one(positions, reference, values, True)
    improper = _register_one(positions, reference, values, False)
    return RegistrationResult(*proper[:3], proper[3], *improper[:3], improper[3])


# ---------------------------------------------------------------------- symmetry


def rotation_generators(positions):
    """Orthonormal basis of infinitesimal rotations about the origin.

    Parameters
    ----------
    positions : ndarray, shape (N, 3)

    Returns
    -------
    ndarray, shape (3N, k)
        Columns span ``{(omega x r_i)_i : omega in R^3}``; ``k = 3`` for a
        non-linear environment, 2 for a linear one through the origin, 0 if all atoms
        sit at the origin.
    """
    positions = np.asarray(positions, dtype=np.float64)
    gens = np.stack([np.cross(axis, positions).ravel() for axis in np.eye(3)], axis=1)
    return _orthonormal_columns(gens)


def _orthonormal_columns(vectors, rtol=1e-8):
    if vectors.size == 0:
        return np.zeros((vectors.shape[0], 0))
    u, s, _ = np.linalg.svd(vectors, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        return np.zeros((vectors.shape[0], 0))
    return u[:, s > rtol * s[0]]


def _match_atoms(mapped, positions, values, tol):
    """perm with mapped[i] ~ positions[perm[i]] and equal values, or None."""
    perm = np.empty(len(positions), dtype=np.int64)
    used = np.zeros(len(positions), dtype=bool)
    for i, y in enumerate(mapped):
        d = np.linalg.norm(positions - y, axis=1)
        candidates = np.flatnonzero((d < tol) & (values == values[i]) & ~used)
        if len(candidates) != 1:
            return None
        perm[i] = candidates[0]
        used[candidates[0]] = True
    return perm


def symmetry_operations(positions, values=None, include_improper=False, tol=1e-6):
    """Point-group operations about the origin that map the environment onto itself.

    An operation is an orthogonal matrix ``g`` with a permutation ``perm`` such that
    ``g @ positions[i] == positions[perm[i]]`` and ``values[perm[i]] == values[i]``
    for every atom (within ``tol`` times the environment's size).

    Candidates are built from two reference atoms ``a``, ``b`` (non-collinear with
    the origin): every pair ``(a', b')`` with the same values, radii and angle fixes
    one proper and one improper candidate, which is kept if it maps the whole set onto
    itself.  For environments whose atoms are all collinear with the origin the group
    is continuous; only the identity is returned (the continuous part is a rotation,
    already counted by :func:`rotation_generators`).

    Returns
    -------
    list of (ndarray (3, 3), ndarray (N,) of int)
        The identity first.
    """
    positions, values = as_positions_and_values(positions, values)
    n = len(positions)
    identity = [(np.eye(3), np.arange(n))]
    if n == 0:
        return identity
    scale = max(1.0, float(np.max(np.linalg.norm(positions, axis=1))))
    atol = tol * scale
    radii = np.linalg.norm(positions, axis=1)
    nonzero = np.flatnonzero(radii > atol)
    if len(nonzero) == 0:
        return identity
    a = nonzero[0]
    cross = np.linalg.norm(np.cross(positions[a], positions[nonzero]), axis=1)
    cross = cross / (radii[a] * radii[nonzero])
    if cross.max() < 1e-6:
        return identity
    b = nonzero[np.argmax(cross)]
    frame = np.column_stack([positions[a], positions[b], np.cross(positions[a], positions[b])])
    frame_inv = np.linalg.inv(frame)
    dot_ab = positions[a] @ positions[b]
    ops = []
    signs = (1.0, -1.0) if include_improper else (1.0,)
    for a2 in np.flatnonzero((values == values[a]) & (np.abs(radii - radii[a]) < atol)):
        for b2 in np.flatnonzero((values == values[b]) & (np.abs(radii - radii[b]) < atol)):
            if a2 == b2 or abs(positions[a2] @ positions[b2] - dot_ab) > atol * scale:
                continue
            for sign in signs:
                frame2 = np.column_stack(
                    [positions[a2], positions[b2], sign * np.cross(positions[a2], positions[b2])]
                )
                g = frame2 @ frame_inv
                if np.max(np.abs(g.T @ g - np.eye(3))) > 1e3 * tol:
                    continue
                perm = _match_atoms(positions @ g.T, positions, values, atol)
                if perm is not None:
                    ops.append((g, perm))
    ops.sort(key=lambda op: (not np.array_equal(op[1], np.arange(n)), np.linalg.det(op[0]) < 0))
    return ops


def _displacement_action(g, perm):
    """Matrix T with (T u)_{perm[i]} = g u_i on flattened displacements (3N, 3N)."""
    n = len(perm)
    t = np.zeros((3 * n, 3 * n))
    for i, j in enumerate(perm):
        t[3 * j:3 * j + 3, 3 * i:3 * i + 3] = g
    return t


def symmetry_forced_subspace(positions, values=None, include_improper=False, tol=1e-6):
    """Displacements on which the Jacobian of every invariant must vanish.

    If ``g`` (with permutation) maps the environment onto itself and the descriptor
    is invariant under ``g``, then ``p(x + u) = p(x + T_g u)``; for ``T_g u = -u`` this
    gives ``p(x + u) = p(x - u)``, so ``J u = 0``.  The Jacobian is linear, so it also
    vanishes on the span of these antisymmetric subspaces and of the infinitesimal
    rotations.

    Returns
    -------
    rotations : ndarray, shape (3N, k_rot)
        Orthonormal basis of the infinitesimal rotations.
    forced : ndarray, shape (3N, k_forced)
        Orthonormal basis of the span of the rotations and of every ``{u : T_g u = -u}``.
    operations : list
        The symmetry operations used (see :func:`symmetry_operations`).
    """
    positions, values = as_positions_and_values(positions, values)
    rotations = rotation_generators(positions)
    ops = symmetry_operations(positions, values, include_improper, tol)
    pieces = [rotations]
    for g, perm in ops:
        t = _displacement_action(g, perm)
        _, s, vt = np.linalg.svd(t + np.eye(len(t)))
        pieces.append(vt[s < 1e-8].T)
    forced = _orthonormal_columns(np.concatenate(pieces, axis=1))
    return rotations, forced, ops


# -------------------------------------------------------------------- degeneracy


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
        Null directions outside the forced subspace: genuine degeneracy of the
        descriptor at this configuration.
    genuine_directions : ndarray (3N, n_genuine)
    operations : list
        Symmetry operations found (see :func:`symmetry_operations`).
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
    configuration's point-group symmetry (see :func:`symmetry_forced_subspace`), and
    the rest: genuine degeneracy of the descriptor.

    Parameters
    ----------
    positions : array_like (N, 3)
    values : array_like (N,) or None
    descriptor : object
        See the module docstring.
    rtol : float
        Relative eigenvalue threshold for the nullity.
    include_improper : bool
        Count improper symmetry operations too (only valid for descriptors invariant
        under inversion, such as the power spectrum).

    Returns
    -------
    DegeneracyResult
    """
    positions, values = as_positions_and_values(positions, values)
    kwargs = descriptor_kwargs or {}
    _, dp = descriptor.compute_with_gradients(positions, values, **kwargs)
    jac = dp.reshape(positions.size, -1)
    n_features = jac.shape[1]
    hessian = (2.0 / n_features) * (jac @ jac.T)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    threshold = rtol * max(float(eigenvalues[0]), 0.0) if eigenvalues.size else 0.0
    null_mask = eigenvalues <= threshold
    null_space = vectors[:, null_mask]
    rotations, forced, ops = symmetry_forced_subspace(positions, values, include_improper, symmetry_tol)
    genuine = _subspace_excess(null_space, forced)
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
    )


def loss_along(positions, values, descriptor, direction, steps=(1e-2, 3e-3, 1e-3, 3e-4),
               descriptor_kwargs=None):
    """Loss ``(1/F)||p(x + eps v) - p(x)||^2`` along a unit direction, and its growth order.

    Returns
    -------
    losses : ndarray (len(steps),)
    order : float
        Least-squares slope of log(loss) against log(eps): 2 for a direction the
        Hessian sees, 4 (or more) along symmetry-forced null directions.
    """
    positions, values = as_positions_and_values(positions, values)
    kwargs = descriptor_kwargs or {}
    direction = np.asarray(direction, dtype=np.float64).reshape(positions.shape)
    direction = direction / np.linalg.norm(direction)
    p0 = descriptor.compute(positions, values, **kwargs)
    losses = []
    for eps in steps:
        r = descriptor.compute(positions + eps * direction, values, **kwargs) - p0
        losses.append(float(r @ r) / r.size)
    losses = np.asarray(losses)
    positive = losses > 0
    order = float("inf")
    if positive.sum() >= 2:
        order = float(np.polyfit(np.log(np.asarray(steps)[positive]), np.log(losses[positive]), 1)[0])
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

    Returns
    -------
    a, b : ndarray, shape (5, 3)
    """
    def ring(ks):
        angles = 2 * np.pi * np.asarray(ks) / 8
        points = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros(len(ks))], axis=1)
        return np.vstack([points, [[0.0, 0.0, apex]]])

    return ring([0, 1, 2, 5]), ring([0, 1, 3, 4])
