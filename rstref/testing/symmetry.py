"""Symmetry checkers: rotation invariance and equivariance, permutations, translations.

Each checker evaluates ``func`` at the input and at its transformed copies and compares
entry by entry, with the tolerance :func:`rstref.tolerances.kit_invariance_atol` (round-off
of a float64 featurizer, relative to the output scale) unless ``atol=`` is given.
Rotations act as ``positions @ R.T`` (and ``cell @ R.T``).  A tolerance at least as large
as every output compared makes the check vacuous: such a report fails (see
``docs/testing-kit.md``).
"""

import numpy as np

from rstref import tolerances as tol
from rstref._checks import check_bool, check_int
from rstref.testing import _inputs as inputs
from rstref.testing.report import CheckReport, asserting

__all__ = [
    "check_rotation_invariance", "assert_rotation_invariant",
    "check_equivariance", "assert_equivariant", "block_diagonal_representation",
    "check_permutation_invariance", "assert_permutation_invariant",
    "check_permutation_equivariance", "assert_permutation_equivariant",
    "check_translation_invariance", "assert_translation_invariant",
]


def _deviation(actual, expected):
    """(max abs deviation, flat index of it, scale); NaN deviation if anything is not finite."""
    if actual.shape != expected.shape:
        return np.nan, None, np.nan
    if actual.size == 0:
        return 0.0, None, 0.0
    if not (np.all(np.isfinite(actual)) and np.all(np.isfinite(expected))):
        return np.nan, None, np.nan
    diff = np.abs(actual - expected)
    k = int(np.argmax(diff))
    scale = max(float(np.max(np.abs(actual))), float(np.max(np.abs(expected))))
    return float(diff.flat[k]), k, scale


def _is_identity(description):
    """Whether a trial's transformation (rotation, permutation or translation) is the identity."""
    if "rotation" in description:
        return bool(np.array_equal(description["rotation"], np.eye(3)))
    if "permutation" in description:
        return bool(np.array_equal(description["permutation"], np.arange(len(description["permutation"]))))
    return not np.any(description["translation"])


def _problem_report(name, actual, expected, base_input, description):
    problem = (f"output shapes differ: {actual.shape} vs {expected.shape}"
               if actual.shape != expected.shape else "non-finite output")
    return CheckReport(name, False, float("nan"), float("nan"), dict(base_input, **description),
                       {"problem": problem})


def _symmetry_report(name, trials, n_atoms, atol, base_input, scale=None):
    """Aggregate (actual, expected, transform-description) trials into one report.

    Vacuous (a failure) when the tolerance of a trial is at least the scale it compares
    (the largest |output|, or ``scale`` if larger) while that is > 0: any output of that
    size, even 0, would have passed.
    """
    worst, worst_ratio, worst_dev, worst_tol, worst_scale = None, -1.0, 0.0, 0.0, 0.0
    passed, vacuous = True, False
    for actual, expected, description in trials:
        dev, k, output_scale = _deviation(actual, expected)
        if np.isnan(dev):
            return _problem_report(name, actual, expected, base_input, description)
        if scale is not None:
            output_scale = max(output_scale, float(scale))
        t = atol if atol is not None else tol.kit_invariance_atol(output_scale, n_atoms, actual.size)
        vacuous |= output_scale > 0.0 and t >= output_scale
        passed &= dev <= t
        ratio = dev / t if t > 0 else (np.inf if dev > 0 else 0.0)
        if ratio > worst_ratio:
            worst_ratio, worst_dev, worst_tol, worst_scale = ratio, dev, t, output_scale
            worst = (description, k, actual, expected)
    description, k, actual, expected = worst
    details = {"trials": len(trials)}
    if all(_is_identity(description) for _, _, description in trials):
        details["note"] = "every transformation was the identity: f(x) was compared with itself (nothing tested)"
    if k is not None:
        index = np.unravel_index(k, actual.shape)
        details.update({"output index": tuple(int(i) for i in index),
                        "got": float(actual[index]), "expected": float(expected[index])})
    report = CheckReport(name, bool(passed), worst_dev, worst_tol, dict(base_input, **description), details)
    if vacuous:
        report.mark_vacuous(f"the tolerance {worst_tol:.3e} is not smaller than the outputs compared "
                            f"(output scale {worst_scale:.3e}): any output of that size would pass")
    return report


def _common(func, positions, species, cell, atol, scale):
    """Validate the arguments every symmetry checker has; return (positions, cell)."""
    inputs.function(func, "func")
    inputs.optional_nonnegative(atol, "atol")
    inputs.optional_nonnegative(scale, "scale")
    x, c = inputs.positions(positions), inputs.cell(cell)
    return x, c


def check_rotation_invariance(func, positions, rotations, species=None, cell=None, atol=None, scale=None):
    """Check ``func(x @ R.T) == func(x)`` for each rotation R (and ``cell @ R.T`` if given).

    Parameters
    ----------
    func : callable
        The featurizer (calling convention: ``docs/testing-kit.md``).
    positions : array_like, shape (N, 3)
    rotations : array_like, shape (3, 3) or (k, 3, 3), k >= 1
        Orthogonal matrices (``R^T R = I`` and ``det R = +-1`` to
        ``rstref.limits.ROTATION_ATOL``, checked); improper ones test invariance under O(3).
    species, cell : optional
        Passed on to ``func``; the cell is rotated with the positions.
    atol : float >= 0, optional
        Override the tolerance ``tolerances.kit_invariance_atol(scale, N, size)``.
    scale : float >= 0, optional
        Magnitude of the terms the outputs are computed from.  By default the largest
        |output| of the two evaluations compared; give it when the outputs can cancel to
        (near) zero while their terms do not, e.g. invariants that vanish by symmetry
        (otherwise the round-off of the terms is compared with a tolerance relative to
        the cancelled result).  Same for every symmetry checker.

    Returns
    -------
    CheckReport
        Vacuous (failed) if the tolerance is at least the largest |output| compared.
    """
    x, c = _common(func, positions, species, cell, atol, scale)
    matrices = inputs.rotations(rotations)
    f0 = inputs.output(func, x, species, c)
    trials = []
    for R in matrices:
        rc = None if c is None else c @ R.T
        trials.append((inputs.output(func, x @ R.T, species, rc), f0, {"rotation": R}))
    return _symmetry_report("rotation invariance", trials, len(x), atol, inputs.base_input(x, species, c), scale)


def block_diagonal_representation(*blocks):
    """Representation R -> block-diagonal matrix of the given blocks.

    Each block is a callable ``R -> (d_k, d_k)`` matrix, or a pair ``(callable, multiplicity)``
    repeating it (multiplicity an integer >= 0).  E.g. the real spherical harmonics up to
    l_max transform with
    ``block_diagonal_representation(*[lambda R, l=l: rstref.wigner_D(l, R) for l in range(l_max+1)])``.
    """
    expanded = []
    for k, b in enumerate(blocks):
        if isinstance(b, tuple):
            if len(b) != 2:
                raise ValueError(f"block {k} must be a callable or a (callable, multiplicity) pair, got {b!r}")
            inputs.function(b[0], f"block {k}")
            expanded += [b[0]] * check_int(b[1], f"multiplicity of block {k}", low=0)
        else:
            expanded.append(inputs.function(b, f"block {k}"))

    def representation(R):
        mats = [np.atleast_2d(np.asarray(b(R), dtype=np.float64)) for b in expanded]
        for k, m in enumerate(mats):
            if m.ndim != 2 or m.shape[0] != m.shape[1]:
                raise ValueError(f"block {k} must return a square matrix, got shape {m.shape}")
        n = sum(m.shape[0] for m in mats)
        out = np.zeros((n, n))
        i = 0
        for m in mats:
            out[i:i + m.shape[0], i:i + m.shape[0]] = m
            i += m.shape[0]
        return out

    return representation


def check_equivariance(func, positions, rotations, representation, species=None, cell=None,
                       atol=None, scale=None):
    """Check ``func(x @ R.T) == func(x) @ D(R).T`` (D acts on the output's last axis).

    For an output vector f this is ``f(R x) = D(R) f(x)``; for an output of shape (n, F)
    (e.g. spherical harmonics of n points) each row transforms.

    Parameters
    ----------
    representation : callable
        ``R -> D(R)``, a (F, F) matrix, F = size of the output's last axis (e.g.
        :func:`block_diagonal_representation` of rstref ``wigner_D`` blocks, or your own).
    Other parameters as in :func:`check_rotation_invariance`.
    """
    x, c = _common(func, positions, species, cell, atol, scale)
    inputs.function(representation, "representation")
    matrices = inputs.rotations(rotations)
    f0 = inputs.output(func, x, species, c)
    trials = []
    for R in matrices:
        D = np.asarray(representation(R), dtype=np.float64)
        size = f0.shape[-1] if f0.ndim else 1
        if f0.ndim == 0 or D.shape != (size, size):
            raise ValueError(f"representation(R) must have shape ({size}, {size}) (the size of the "
                             f"output's last axis), got {D.shape} for an output of shape {f0.shape}")
        rc = None if c is None else c @ R.T
        trials.append((inputs.output(func, x @ R.T, species, rc), f0 @ D.T, {"rotation": R}))
    return _symmetry_report("rotation equivariance", trials, len(x), atol, inputs.base_input(x, species, c),
                            scale)


def _permute(x, species, perm):
    return x[perm], (None if species is None else species[perm])


def check_permutation_invariance(func, positions, permutations, species=None, cell=None, atol=None, scale=None):
    """Check ``func(x[perm], species[perm]) == func(x, species)`` for each permutation.

    Parameters
    ----------
    permutations : sequence of int arrays
        Each a permutation of ``range(N)``; a single permutation may be passed directly;
        at least one.
    species : array_like, optional
        One entry per atom (it is permuted with the positions).
    Other parameters as in :func:`check_rotation_invariance`.
    """
    x, c = _common(func, positions, species, cell, atol, scale)
    species = inputs.per_atom_species(species, len(x))
    perms = inputs.permutations(permutations, len(x))
    f0 = inputs.output(func, x, species, c)
    trials = []
    for perm in perms:
        xp, sp = _permute(x, species, perm)
        trials.append((inputs.output(func, xp, sp, c), f0, {"permutation": perm}))
    return _symmetry_report("permutation invariance", trials, len(x), atol, inputs.base_input(x, species, c),
                            scale)


def check_permutation_equivariance(func, positions, permutations, species=None, cell=None,
                                   atol=None, scale=None):
    """Check ``func(x[perm])[k] == func(x)[perm[k]]`` for per-atom outputs (axis 0 = atoms).

    Parameters as in :func:`check_permutation_invariance`.
    """
    x, c = _common(func, positions, species, cell, atol, scale)
    species = inputs.per_atom_species(species, len(x))
    perms = inputs.permutations(permutations, len(x))
    f0 = inputs.output(func, x, species, c)
    if f0.ndim == 0 or f0.shape[0] != len(x):
        raise ValueError(f"per-atom output must have shape (N, ...) with N = {len(x)}, got {f0.shape}")
    trials = []
    for perm in perms:
        xp, sp = _permute(x, species, perm)
        trials.append((inputs.output(func, xp, sp, c), f0[perm], {"permutation": perm}))
    return _symmetry_report("permutation equivariance", trials, len(x), atol,
                            inputs.base_input(x, species, c), scale)


def _wrap(x, cell):
    frac = x @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def _invertible_cell(c):
    """Raise unless the cell's rows span space (wrapping into the cell needs its inverse)."""
    volume = abs(float(np.linalg.det(c)))
    lengths = np.prod(np.linalg.norm(c, axis=1))
    if not volume > 1e-12 * lengths:
        raise ValueError(f"wrap=True needs a cell whose rows span space, got volume {volume:.3e}")


def check_translation_invariance(func, positions, translations, species=None, cell=None,
                                 wrap=False, atol=None, scale=None):
    """Check ``func(x + t) == func(x)`` for each translation t (structure featurizers).

    Environment featurizers (a centre fixed at the origin) are *not* translation invariant;
    this is a property of featurizers of whole structures.  With ``wrap=True`` (needs a
    ``cell`` whose rows span space) the translated positions are wrapped back into the
    cell, which a periodic featurizer must not notice either.

    Parameters
    ----------
    translations : array_like, shape (3,) or (k, 3), k >= 1
        Finite translation vectors.
    wrap : bool
    Other parameters as in :func:`check_rotation_invariance`.
    """
    x, c = _common(func, positions, species, cell, atol, scale)
    wrap = check_bool(wrap, "wrap")
    if wrap and c is None:
        raise ValueError("wrap=True needs a cell")
    if wrap:
        _invertible_cell(c)
    shifts = inputs.vectors(translations, "translations")
    f0 = inputs.output(func, x, species, c)
    trials = []
    for t in shifts:
        xt = x + t
        if wrap:
            xt = _wrap(xt, c)
        trials.append((inputs.output(func, xt, species, c), f0, {"translation": t}))
    return _symmetry_report("translation invariance", trials, len(x), atol, inputs.base_input(x, species, c),
                            scale)


assert_rotation_invariant = asserting(check_rotation_invariance, "assert_rotation_invariant")
assert_equivariant = asserting(check_equivariance, "assert_equivariant")
assert_permutation_invariant = asserting(check_permutation_invariance, "assert_permutation_invariant")
assert_permutation_equivariant = asserting(check_permutation_equivariance, "assert_permutation_equivariant")
assert_translation_invariant = asserting(check_translation_invariance, "assert_translation_invariant")
