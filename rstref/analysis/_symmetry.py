"""Point-group symmetry of an environment and the null directions it forces.

At a configuration with a symmetry ``g`` (with an atom permutation), the Jacobian of any
invariant vanishes on every displacement that ``g`` maps to its negative, and on the
infinitesimal rotations (README, "The seed experiment").
"""

import numpy as np

from rstref._checks import as_float_array, as_positions_and_values, check_bool, check_float

#: largest relative tolerance of :func:`symmetry_operations`: beyond it distinct atoms of
#: an environment would start to match each other
SYMMETRY_TOL_MAX = 0.1


def check_symmetry_tol(tol, name="tol"):
    """``tol`` as a float in ``(0, SYMMETRY_TOL_MAX]``, else ``TypeError``/``ValueError``."""
    return check_float(tol, name, 0.0, SYMMETRY_TOL_MAX, low_open=True)


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
    positions = as_float_array(positions, "positions", trailing_shape=(3,))
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

    Parameters
    ----------
    positions : array_like, shape (N, 3)
    values : array_like, shape (N,), optional
        Peak heights; an operation may only exchange atoms of equal value.
    include_improper : bool
        Also return improper operations (det -1: mirrors, inversion, rotoreflections).
    tol : float
        Relative tolerance, in ``(0, 0.1]``.

    Candidates are built from two reference atoms ``a``, ``b`` (non-collinear with
    the origin): every pair ``(a', b')`` with the same values, radii and angle fixes
    one proper and one improper candidate, which is kept if it maps the whole set onto
    itself.  For environments whose atoms are all collinear with the origin the group
    is continuous; only the identity is returned (the continuous part is a rotation,
    already counted by :func:`rotation_generators`).

    Returns
    -------
    list of (ndarray (3, 3), ndarray (N,) of int)
        The identity first, each operation once; the matrices are orthogonal to rounding.
    """
    positions, values = as_positions_and_values(positions, values)
    include_improper = check_bool(include_improper, "include_improper")
    tol = check_symmetry_tol(tol)
    return _symmetry_operations(positions, values, include_improper, tol)


def _nearest_orthogonal(g):
    """The orthogonal matrix closest to ``g`` (polar factor)."""
    u, _, vt = np.linalg.svd(g)
    return u @ vt


def _symmetry_operations(positions, values, include_improper, tol):
    """:func:`symmetry_operations` of checked input."""
    n = len(positions)
    identity = [(np.eye(3), np.arange(n))]
    if n == 0:
        return identity
    # work in units of the environment's size: no overflow (or underflow) for huge (or
    # tiny) coordinates in the products below, and tolerances relative to the size
    size = float(np.max(np.abs(positions)))
    if size == 0.0:
        return identity
    positions = positions / size
    atol = tol
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
    ops, seen = [], set()
    orthogonality_tol = min(1e3 * tol, SYMMETRY_TOL_MAX)
    signs = (1.0, -1.0) if include_improper else (1.0,)
    for a2 in np.flatnonzero((values == values[a]) & (np.abs(radii - radii[a]) < atol)):
        for b2 in np.flatnonzero((values == values[b]) & (np.abs(radii - radii[b]) < atol)):
            if a2 == b2 or abs(positions[a2] @ positions[b2] - dot_ab) > atol:
                continue
            for sign in signs:
                frame2 = np.column_stack(
                    [positions[a2], positions[b2], sign * np.cross(positions[a2], positions[b2])]
                )
                g = frame2 @ frame_inv
                if np.max(np.abs(g.T @ g - np.eye(3))) > orthogonality_tol:
                    continue
                g = _nearest_orthogonal(g)
                perm = _match_atoms(positions @ g.T, positions, values, atol)
                # the permutation and the handedness determine the operation
                key = (tuple(perm), sign) if perm is not None else None
                if key is not None and key not in seen:
                    seen.add(key)
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
    include_improper = check_bool(include_improper, "include_improper")
    tol = check_symmetry_tol(tol)
    return _symmetry_forced_subspace(positions, values, include_improper, tol)


def _symmetry_forced_subspace(positions, values, include_improper, tol):
    """:func:`symmetry_forced_subspace` of checked input."""
    rotations = rotation_generators(positions)
    ops = _symmetry_operations(positions, values, include_improper, tol)
    pieces = [rotations]
    for g, perm in ops:
        t = _displacement_action(g, perm)
        _, s, vt = np.linalg.svd(t + np.eye(len(t)))
        pieces.append(vt[s < 1e-8].T)
    forced = _orthonormal_columns(np.concatenate(pieces, axis=1))
    return rotations, forced, ops
