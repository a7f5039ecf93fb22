"""Property checkers for any featurizer callable: symmetries, cutoff smoothness, derivatives.

Every checker takes a callable and concrete inputs, evaluates the property, and returns a
:class:`CheckReport` (passed, max deviation, tolerance, worst input, details).  Each has an
``assert_...`` form that raises ``AssertionError`` with the report as message and otherwise
returns the report.  Nothing here depends on hypothesis or on the rest of rstref: drive the
checkers with :mod:`rstref.testing.strategies`, with your own inputs, or both.

Calling convention
------------------
The callable is called as ``func(positions)``, ``func(positions, species)``,
``func(positions, cell)`` or ``func(positions, species, cell)``, depending on which of the
checker's ``species=`` and ``cell=`` arguments are given (positionally, in that order); wrap
it in a ``lambda`` for any other signature.  ``positions`` is an ``(N, 3)`` float64 array,
``cell`` a ``(3, 3)`` array whose rows are lattice vectors.  The output may have any shape;
it is compared entry by entry.  Rotations act as ``positions @ R.T`` (and ``cell @ R.T``).

Derivative layouts
------------------
``func_with_gradients`` returns ``(value, gradient)`` and ``func_with_hessians`` returns
``(value, gradient, hessian)``.  With ``layout='total'`` (an environment or structure
featurizer, rstref's ``compute_with_gradients``):
``gradient[i, a, ...] = d value[...] / d positions[i, a]``, shape ``(N, 3) + value.shape``,
and ``hessian[i, a, j, b, ...]``, shape ``(N, 3, N, 3) + value.shape``.
``layout='blockdiag'`` (hessian only): ``hessian[i, a, b, ...]``, shape
``(N, 3, 3) + value.shape``, the cross-atom blocks being zero (rstref's
``with_peaks_at_with_hessians``).  ``layout='pointwise'`` (a function of each point
separately, e.g. spherical harmonics): ``value`` has shape ``(N,) + rest``,
``gradient[i, a, ...] = d value[i, ...] / d positions[i, a]`` of shape ``(N, 3) + rest`` and
``hessian`` of shape ``(N, 3, 3) + rest``.

Example
-------
A toy featurizer: sorted pair distances of an environment.

>>> import numpy as np
>>> from rstref.testing import assert_rotation_invariant, assert_permutation_invariant
>>> def sorted_distances(positions):
...     d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
...     return np.sort(d[np.triu_indices(len(positions), 1)])
>>> x = np.array([[0.1, 0.2, 0.3], [1.0, -0.5, 0.2], [-0.7, 0.4, 0.9]])
>>> R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
>>> assert_rotation_invariant(sorted_distances, x, R).passed
True
>>> assert_permutation_invariant(sorted_distances, x, [np.array([2, 0, 1])]).passed
True
"""

from dataclasses import dataclass, field
from math import factorial

import numpy as np

from rstref import tolerances as tol

__all__ = [
    "CheckReport",
    "check_rotation_invariance", "assert_rotation_invariant",
    "check_equivariance", "assert_equivariant",
    "check_permutation_invariance", "assert_permutation_invariant",
    "check_permutation_equivariance", "assert_permutation_equivariant",
    "check_translation_invariance", "assert_translation_invariant",
    "check_cutoff_smoothness", "assert_smooth_at_cutoff",
    "check_gradient", "assert_gradient_matches",
    "check_hessian", "assert_hessian_matches",
    "block_diagonal_representation",
]


# ---------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------

def _format_value(value):
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=17, separator=", ", threshold=200)
    return repr(value)


@dataclass
class CheckReport:
    """Outcome of one property check.

    Attributes
    ----------
    check : str
        Name of the property checked.
    passed : bool
        Whether the property holds within ``tolerance``.
    max_deviation : float
        The largest deviation measured (NaN if the output was not finite).
    tolerance : float
        The tolerance it was compared with (the one of the worst input).
    worst_input : dict
        The input (positions, transformation, ...) that gave the largest deviation
        relative to its tolerance, ready to reproduce the failure.
    details : dict
        Check-specific numbers (output index of the worst entry, per-order results of the
        smoothness check, ...).
    """

    check: str
    passed: bool
    max_deviation: float
    tolerance: float
    worst_input: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def summary(self):
        """One line: property, PASS/FAIL, deviation and tolerance."""
        status = "PASS" if self.passed else "FAIL"
        return (f"{self.check}: {status} (max deviation {self.max_deviation:.3e}, "
                f"tolerance {self.tolerance:.3e})")

    def __str__(self):
        lines = [self.summary()]
        for key, value in self.details.items():
            lines.append(f"  {key}: {_format_value(value)}")
        if self.worst_input:
            lines.append("  worst input:")
            for key, value in self.worst_input.items():
                lines.append(f"    {key} = {_format_value(value)}")
        return "\n".join(lines)

    def assert_passed(self):
        """Raise ``AssertionError`` (message: the full report) unless passed; return self."""
        if not self.passed:
            raise AssertionError(str(self))
        return self


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------

def _positions(positions):
    x = np.array(positions, dtype=np.float64, copy=True)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("positions contains NaN or infinite values")
    return x


def _cell(cell):
    if cell is None:
        return None
    c = np.array(cell, dtype=np.float64, copy=True)
    if c.shape != (3, 3):
        raise ValueError(f"cell must have shape (3, 3), got {c.shape}")
    return c


def _call(func, positions, species, cell):
    args = [positions]
    if species is not None:
        args.append(species)
    if cell is not None:
        args.append(cell)
    return func(*args)


def _output(func, positions, species, cell):
    return np.asarray(_call(func, positions, species, cell), dtype=np.float64)


def _matrices(transforms, name):
    arr = np.asarray(transforms, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (3, 3):
        raise ValueError(f"{name} must be a (3, 3) matrix or a sequence of them, got shape {arr.shape}")
    return list(arr)


def _vectors(transforms, name):
    arr = np.asarray(transforms, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must be a (3,) vector or a sequence of them, got shape {arr.shape}")
    return list(arr)


def _permutations(perms, n_atoms):
    if len(perms) and np.ndim(perms[0]) == 0:
        perms = [perms]
    out = []
    for p in perms:
        p = np.asarray(p)
        if p.dtype.kind not in "iu" or sorted(p.tolist()) != list(range(n_atoms)):
            raise ValueError(f"permutations must be permutations of range({n_atoms}), got {p}")
        out.append(p.astype(np.intp))
    return out


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


def _symmetry_report(name, trials, n_atoms, atol, base_input, scale=None):
    """Aggregate (actual, expected, transform-description) trials into one report."""
    worst, worst_ratio, worst_dev, worst_tol = None, -1.0, 0.0, 0.0
    passed = True
    for actual, expected, description in trials:
        dev, k, output_scale = _deviation(actual, expected)
        if np.isnan(dev):
            shape_msg = (f"output shapes differ: {actual.shape} vs {expected.shape}"
                         if actual.shape != expected.shape else "non-finite output")
            return CheckReport(name, False, float("nan"), float("nan"),
                               dict(base_input, **description), {"problem": shape_msg})
        if scale is not None:
            output_scale = max(output_scale, float(scale))
        t = atol if atol is not None else tol.kit_invariance_atol(output_scale, n_atoms, actual.size)
        ok = dev <= t
        passed &= ok
        ratio = dev / t if t > 0 else (np.inf if dev > 0 else 0.0)
        if ratio > worst_ratio:
            worst_ratio, worst_dev, worst_tol = ratio, dev, t
            worst = (description, k, actual, expected)
    if worst is None:
        return CheckReport(name, True, 0.0, 0.0, dict(base_input), {"trials": 0})
    description, k, actual, expected = worst
    details = {"trials": len(trials)}
    if k is not None:
        index = np.unravel_index(k, actual.shape)
        details.update({"output index": tuple(int(i) for i in index),
                        "got": float(actual[index]), "expected": float(expected[index])})
    return CheckReport(name, bool(passed), worst_dev, worst_tol, dict(base_input, **description), details)


def _base_input(positions, species, cell):
    base = {"positions": positions}
    if species is not None:
        base["species"] = np.asarray(species)
    if cell is not None:
        base["cell"] = cell
    return base


# ---------------------------------------------------------------------------------------
# symmetry checks
# ---------------------------------------------------------------------------------------

def check_rotation_invariance(func, positions, rotations, species=None, cell=None, atol=None, scale=None):
    """Check ``func(x @ R.T) == func(x)`` for each rotation R (and ``cell @ R.T`` if given).

    Parameters
    ----------
    func : callable
        The featurizer (see the module docstring for the calling convention).
    positions : array_like, shape (N, 3)
    rotations : array_like, shape (3, 3) or (k, 3, 3)
        Orthogonal matrices; improper ones test invariance under O(3).
    species, cell : optional
        Passed on to ``func``; the cell is rotated with the positions.
    atol : float, optional
        Override the tolerance ``tolerances.kit_invariance_atol(scale, N, size)``.
    scale : float, optional
        Magnitude of the terms the outputs are computed from.  By default the largest
        |output| of the two evaluations compared; give it when the outputs can cancel to
        (near) zero while their terms do not, e.g. invariants that vanish by symmetry
        (otherwise the round-off of the terms is compared with a tolerance relative to
        the cancelled result).  Same for every symmetry checker.

    Returns
    -------
    CheckReport
    """
    x, c = _positions(positions), _cell(cell)
    f0 = _output(func, x, species, c)
    trials = []
    for R in _matrices(rotations, "rotations"):
        rc = None if c is None else c @ R.T
        trials.append((_output(func, x @ R.T, species, rc), f0, {"rotation": R}))
    return _symmetry_report("rotation invariance", trials, len(x), atol, _base_input(x, species, c), scale)


def block_diagonal_representation(*blocks):
    """Representation R -> block-diagonal matrix of the given blocks.

    Each block is a callable ``R -> (d_k, d_k)`` matrix, or a pair ``(callable, multiplicity)``
    repeating it.  E.g. the real spherical harmonics up to l_max transform with
    ``block_diagonal_representation(*[lambda R, l=l: rstref.wigner_D(l, R) for l in range(l_max+1)])``.
    """
    expanded = []
    for b in blocks:
        if isinstance(b, tuple):
            expanded += [b[0]] * int(b[1])
        else:
            expanded.append(b)

    def representation(R):
        mats = [np.atleast_2d(np.asarray(b(R), dtype=np.float64)) for b in expanded]
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
    x, c = _positions(positions), _cell(cell)
    f0 = _output(func, x, species, c)
    trials = []
    for R in _matrices(rotations, "rotations"):
        D = np.asarray(representation(R), dtype=np.float64)
        size = f0.shape[-1] if f0.ndim else 1
        if f0.ndim == 0 or D.shape != (size, size):
            raise ValueError(f"representation(R) must have shape ({size}, {size}) (the size of the "
                             f"output's last axis), got {D.shape} for an output of shape {f0.shape}")
        rc = None if c is None else c @ R.T
        trials.append((_output(func, x @ R.T, species, rc), f0 @ D.T, {"rotation": R}))
    return _symmetry_report("rotation equivariance", trials, len(x), atol, _base_input(x, species, c), scale)


def _permute(x, species, perm):
    return x[perm], (None if species is None else np.asarray(species)[perm])


def check_permutation_invariance(func, positions, permutations, species=None, cell=None, atol=None, scale=None):
    """Check ``func(x[perm], species[perm]) == func(x, species)`` for each permutation.

    Parameters
    ----------
    permutations : sequence of int arrays
        Each a permutation of ``range(N)``; a single permutation may be passed directly.
    """
    x, c = _positions(positions), _cell(cell)
    f0 = _output(func, x, species, c)
    trials = []
    for perm in _permutations(permutations, len(x)):
        xp, sp = _permute(x, species, perm)
        trials.append((_output(func, xp, sp, c), f0, {"permutation": perm}))
    return _symmetry_report("permutation invariance", trials, len(x), atol, _base_input(x, species, c), scale)


def check_permutation_equivariance(func, positions, permutations, species=None, cell=None,
                                   atol=None, scale=None):
    """Check ``func(x[perm])[k] == func(x)[perm[k]]`` for per-atom outputs (axis 0 = atoms)."""
    x, c = _positions(positions), _cell(cell)
    f0 = _output(func, x, species, c)
    if f0.ndim == 0 or f0.shape[0] != len(x):
        raise ValueError(f"per-atom output must have shape (N, ...) with N = {len(x)}, got {f0.shape}")
    trials = []
    for perm in _permutations(permutations, len(x)):
        xp, sp = _permute(x, species, perm)
        trials.append((_output(func, xp, sp, c), f0[perm], {"permutation": perm}))
    return _symmetry_report("permutation equivariance", trials, len(x), atol,
                            _base_input(x, species, c), scale)


def _wrap(x, cell):
    frac = x @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def check_translation_invariance(func, positions, translations, species=None, cell=None,
                                 wrap=False, atol=None, scale=None):
    """Check ``func(x + t) == func(x)`` for each translation t (structure featurizers).

    Environment featurizers (a centre fixed at the origin) are *not* translation invariant;
    this is a property of featurizers of whole structures.  With ``wrap=True`` (needs
    ``cell``) the translated positions are wrapped back into the cell, which a periodic
    featurizer must not notice either.
    """
    x, c = _positions(positions), _cell(cell)
    if wrap and c is None:
        raise ValueError("wrap=True needs a cell")
    f0 = _output(func, x, species, c)
    trials = []
    for t in _vectors(translations, "translations"):
        xt = x + t
        if wrap:
            xt = _wrap(xt, c)
        trials.append((_output(func, xt, species, c), f0, {"translation": t}))
    return _symmetry_report("translation invariance", trials, len(x), atol, _base_input(x, species, c), scale)


# ---------------------------------------------------------------------------------------
# cutoff smoothness
# ---------------------------------------------------------------------------------------

def _one_sided_weights(n_samples, side):
    """Weights w[d, j] with d! a_d = sum_j w[d, j] y_j for the polynomial through (side*j, y_j).

    Nodes are side*1, ..., side*n_samples (in units of the step); row d extrapolates the
    d-th derivative of the interpolating polynomial to 0.
    """
    nodes = side * np.arange(1, n_samples + 1, dtype=np.float64)
    inverse = np.linalg.inv(np.vander(nodes, n_samples, increasing=True))
    return np.array([factorial(d) * inverse[d] for d in range(n_samples)])


def check_cutoff_smoothness(func, path, order, step=None, species=None, cell=None, r_cut=None):
    """Check that ``func`` is C^order across a cutoff crossing at path parameter t = 0.

    For g(t) = func(path(t)) (all outputs), the value and the derivatives d = 0..order at
    t = 0 are estimated from each side separately: the polynomial through the samples
    t = +h, ..., +m h (right) or -h, ..., -m h (left), m = order + 3, extrapolated to 0.
    The exact crossing t = 0, which belongs to one side or the other, is never sampled.
    If g is C^d at 0 and smooth on each side, the left and right estimates of g^(d)(0)
    differ by D_d(h) = O(h^p), p = m - d >= 3; if g^(d) jumps by J, D_d(h) -> J.
    The check therefore evaluates D_d at h, h/2 and h/4 and accepts derivative order d iff

    * ``max|D_d(h/4)|`` is below the round-off floor of the two one-sided estimates
      (:func:`rstref.tolerances.kit_smoothness_noise`), or
    * it is converging to zero at the rate of a smooth function:
      ``max|D_d(h/4)| <= 2^-(p-1) max|D_d(h/2)|`` (a jump gives a ratio near 1, a
      divergence a ratio above 1),

    i.e. iff ``max|D_d(h/4)| <= max(floor, 2^-(p-1) max|D_d(h/2)|)``, the tolerance reported.

    The Richardson extrapolation of D_d to h = 0 is reported as the estimated jump.

    Parameters
    ----------
    func : callable
        Featurizer; may also return a gradient flattened in any shape (check the cutoff
        smoothness of analytic gradients with ``order - 1``).
    path : CutoffCrossing or callable
        ``t -> positions`` with the crossing at t = 0 (a
        :class:`rstref.testing.strategies.CutoffCrossing` carries its ``r_cut``).
    order : int
        Claimed continuity order: 0 (continuous), 1 (C^1), 2 (C^2), ...
    step : float, optional
        Largest step h; default ``tolerances.KIT_SMOOTHNESS_STEP * r_cut``.
    r_cut : float, optional
        Needed for the default step when ``path`` is a plain callable.

    Returns
    -------
    CheckReport
        ``details['orders']`` lists, per derivative order d, the discrepancies at the three
        steps, the round-off floor, the observed ratio, the estimated jump and the verdict;
        ``max_deviation`` and ``tolerance`` are max|D_d(h/4)| and its tolerance for the
        worst order d (``details['worst derivative']``).
    """
    order = int(order)
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    positions_at = getattr(path, "positions_at", path)
    if step is None:
        r_cut = getattr(path, "r_cut", r_cut)
        if r_cut is None:
            raise ValueError("give step= (or r_cut=) when path is a plain callable")
        step = tol.KIT_SMOOTHNESS_STEP * float(r_cut)
    step = float(step)
    c = _cell(cell)
    m = order + 3
    steps = [step, step / 2, step / 4]
    weights = {+1: _one_sided_weights(m, +1), -1: _one_sided_weights(m, -1)}

    def g(t):
        return _output(func, _positions(positions_at(t)), species, c).ravel()

    samples = {}  # (h, side) -> (m, M)
    for h in steps:
        for side in (+1, -1):
            samples[h, side] = np.array([g(side * j * h) for j in range(1, m + 1)])
    base_input = {"positions at t=0": _positions(positions_at(0.0))}
    for attr in ("index", "direction", "r_cut"):
        if hasattr(path, attr):
            base_input[attr] = getattr(path, attr)
    all_values = np.concatenate([s.ravel() for s in samples.values()])
    if not np.all(np.isfinite(all_values)):
        return CheckReport(f"cutoff smoothness (C^{order})", False, float("nan"), float("nan"),
                           base_input, {"problem": "non-finite output near the crossing"})
    value_scale = float(np.max(np.abs(all_values))) if all_values.size else 0.0

    per_order, passed, worst = [], True, None
    for d in range(order + 1):
        p = m - d
        discrepancies, floors = [], []
        for h in steps:
            right = weights[+1][d] @ samples[h, +1] / h ** d
            left = weights[-1][d] @ samples[h, -1] / h ** d
            discrepancies.append(right - left)
            weight_sum = (np.abs(weights[+1][d]).sum() + np.abs(weights[-1][d]).sum()) / 2 / h ** d
            floors.append(tol.kit_smoothness_noise(value_scale, weight_sum))
        sizes = [float(np.max(np.abs(D))) if D.size else 0.0 for D in discrepancies]
        ratio = sizes[2] / sizes[1] if sizes[1] > 0 else 0.0
        threshold = tol.kit_smoothness_ratio(p)
        jump = (2 ** p * discrepancies[2] - discrepancies[1]) / (2 ** p - 1)
        # continuous iff D(h/4) is at the round-off floor or shrinking like h^p, i.e.
        # D(h/4) <= max(floor, threshold * D(h/2)): that maximum is the tolerance reported
        tolerance = max(floors[2], threshold * sizes[1])
        ok = sizes[2] <= tolerance
        k = int(np.argmax(np.abs(jump))) if jump.size else 0
        entry = {"derivative": d, "discrepancy at h, h/2, h/4": sizes, "round-off floor": floors[2],
                 "ratio D(h/4)/D(h/2)": ratio, "ratio threshold": threshold,
                 "tolerance": tolerance,
                 "estimated jump": float(np.abs(jump[k])) if jump.size else 0.0,
                 "output index of the jump": k, "continuous": bool(ok)}
        per_order.append(entry)
        passed &= ok
        badness = sizes[2] / tolerance if tolerance > 0 else (np.inf if sizes[2] > 0 else 0.0)
        if worst is None or badness >= worst[0]:
            worst = (badness, entry)
    failed_orders = [e["derivative"] for e in per_order if not e["continuous"]]
    details = {"steps": steps, "samples per side": m, "value scale": value_scale,
               "first discontinuous derivative": (min(failed_orders) if failed_orders else None),
               "orders": per_order}
    worst = worst[1]
    details["worst derivative"] = worst["derivative"]
    return CheckReport(f"cutoff smoothness (C^{order})", bool(passed),
                       worst["discrepancy at h, h/2, h/4"][2], worst["tolerance"], base_input, details)


# ---------------------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------------------

def _dense_gradient(value, gradient, n_atoms, layout):
    """Total Jacobian J[i, a, k] = d value.flat[k] / d x[i, a] from a gradient in ``layout``."""
    gradient = np.asarray(gradient, dtype=np.float64)
    if layout == "total":
        expected = (n_atoms, 3) + value.shape
        if gradient.shape != expected:
            raise ValueError(f"gradient must have shape {expected} (layout='total'), got {gradient.shape}")
        return gradient.reshape(n_atoms, 3, value.size)
    if layout == "pointwise":
        if value.ndim == 0 or value.shape[0] != n_atoms:
            raise ValueError(f"layout='pointwise' needs value of shape (N, ...), got {value.shape}")
        expected = (n_atoms, 3) + value.shape[1:]
        if gradient.shape != expected:
            raise ValueError(f"gradient must have shape {expected} (layout='pointwise'), got {gradient.shape}")
        rest = value.size // n_atoms if n_atoms else 0
        dense = np.zeros((n_atoms, 3, n_atoms, rest))
        for i in range(n_atoms):
            dense[i, :, i, :] = gradient[i].reshape(3, rest)
        return dense.reshape(n_atoms, 3, value.size)
    raise ValueError(f"layout must be 'total' or 'pointwise', got {layout!r}")


def _dense_hessian(value, hessian, n_atoms, layout):
    """Total Hessian H[i, a, j, b, k] from a Hessian in ``layout``."""
    hessian = np.asarray(hessian, dtype=np.float64)
    if layout == "total":
        expected = (n_atoms, 3, n_atoms, 3) + value.shape
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='total'), got {hessian.shape}")
        return hessian.reshape(n_atoms, 3, n_atoms, 3, value.size)
    if layout == "blockdiag":
        expected = (n_atoms, 3, 3) + value.shape
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='blockdiag'), got {hessian.shape}")
        dense = np.zeros((n_atoms, 3, n_atoms, 3, value.size))
        for i in range(n_atoms):
            dense[i, :, i, :, :] = hessian[i].reshape(3, 3, value.size)
        return dense
    if layout == "pointwise":
        if value.ndim == 0 or value.shape[0] != n_atoms:
            raise ValueError(f"layout='pointwise' needs value of shape (N, ...), got {value.shape}")
        expected = (n_atoms, 3, 3) + value.shape[1:]
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='pointwise'), got {hessian.shape}")
        rest = value.size // n_atoms if n_atoms else 0
        dense = np.zeros((n_atoms, 3, n_atoms, 3, n_atoms, rest))
        for i in range(n_atoms):
            dense[i, :, i, :, i, :] = hessian[i].reshape(3, 3, rest)
        return dense.reshape(n_atoms, 3, n_atoms, 3, value.size)
    raise ValueError(f"layout must be 'total', 'blockdiag' or 'pointwise', got {layout!r}")


def _richardson_fd(function, x, step):
    """Richardson-extrapolated central differences of ``function`` (flat output) at ``x``.

    Returns (derivative[i, a, k], largest |function| evaluated, truncation estimate
    max|D(h) - D(h/2)|).
    """
    n_atoms = len(x)
    result, scale, truncation = None, 0.0, 0.0
    for i in range(n_atoms):
        for a in range(3):
            estimates = []
            for h in (step, step / 2):
                xp, xm = x.copy(), x.copy()
                xp[i, a] += h
                xm[i, a] -= h
                fp, fm = function(xp), function(xm)
                scale = max(scale, float(np.max(np.abs(fp), initial=0.0)), float(np.max(np.abs(fm), initial=0.0)))
                estimates.append((fp - fm) / (2 * h))
            if result is None:
                result = np.zeros((n_atoms, 3) + estimates[0].shape)
            result[i, a] = (4 * estimates[1] - estimates[0]) / 3
            if estimates[0].size:
                truncation = max(truncation, float(np.max(np.abs(estimates[0] - estimates[1]))))
    return result, scale, truncation


def _derivative_report(name, analytic, numeric, value_scale, step, atol, base_input, extra):
    if analytic.size == 0:
        return CheckReport(name, True, 0.0, 0.0, base_input, dict(extra))
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
        return CheckReport(name, False, float("nan"), float("nan"), base_input,
                           dict(extra, problem="non-finite analytic or finite-difference derivative"))
    diff = np.abs(analytic - numeric)
    k = int(np.argmax(diff))
    derivative_scale = float(np.max(np.abs(analytic)))
    t = atol if atol is not None else tol.kit_fd_atol(value_scale, derivative_scale, step)
    index = tuple(int(i) for i in np.unravel_index(k, analytic.shape))
    details = dict(extra)
    details.update({"worst entry": index, "analytic": float(analytic.flat[k]),
                    "finite difference": float(numeric.flat[k]), "step": step,
                    "derivative scale": derivative_scale})
    return CheckReport(name, bool(diff.flat[k] <= t), float(diff.flat[k]), t, base_input, details)


def check_gradient(func_with_gradients, positions, species=None, cell=None, layout="total",
                   step=None, atol=None, value_func=None):
    """Check an analytic gradient against Richardson-extrapolated central differences.

    ``func_with_gradients`` returns ``(value, gradient)`` (see the module docstring for
    the layouts).  The finite differences are taken of the returned value, with steps
    ``step`` and ``step/2`` (default ``tolerances.KIT_FD_STEP``) combined as
    ``(4 D(h/2) - D(h)) / 3`` (error O(h^4)).  Tolerance:
    :func:`rstref.tolerances.kit_fd_atol`.  The worst entry is reported as
    (atom i, direction a, flat output index k) of the total Jacobian.  ``value_func``
    (same signature, value only) is used for the finite differences when given, which
    saves time when the gradient is expensive (e.g. an autograd Jacobian).

    Choose ``step`` about 1e-3 times the shortest length on which the function varies:
    the default suits features that vary on >~ 0.03 position units; angular functions of
    degree l of an atom at distance r from the centre vary on r / l, so scale the step
    with the smallest such r (e.g. ``step=1e-3 * r``) for atoms close to the centre.
    """
    x, c = _positions(positions), _cell(cell)
    step = tol.KIT_FD_STEP if step is None else float(step)
    value, gradient = _call(func_with_gradients, x, species, c)
    value = np.asarray(value, dtype=np.float64)
    analytic = _dense_gradient(value, gradient, len(x), layout)

    def flat_value(xx):
        if value_func is not None:
            return np.asarray(_call(value_func, xx, species, c), dtype=np.float64).ravel()
        return np.asarray(_call(func_with_gradients, xx, species, c)[0], dtype=np.float64).ravel()

    numeric, scale, truncation = _richardson_fd(flat_value, x, step)
    if numeric is None:
        numeric = np.zeros_like(analytic)
    return _derivative_report("gradient vs finite differences", analytic, numeric, scale, step, atol,
                              _base_input(x, species, c), {"FD truncation estimate": truncation})


def check_hessian(func_with_hessians, positions, species=None, cell=None, layout="total",
                  step=None, atol=None, gradient_func=None):
    """Check an analytic Hessian against central differences of the analytic gradient.

    ``func_with_hessians`` returns ``(value, gradient, hessian)``; ``layout`` is that of
    the Hessian (``'total'``, ``'blockdiag'`` or ``'pointwise'``; the gradient is
    ``'pointwise'`` for a pointwise Hessian and ``'total'`` otherwise).  Also checks the
    symmetry ``H[i,a,j,b] == H[j,b,i,a]`` (tolerance
    :func:`rstref.tolerances.kit_symmetry_atol`); the report fails if either fails and
    ``details`` gives the asymmetry.  Cross-atom blocks that a 'blockdiag' or 'pointwise'
    layout declares zero are checked to be zero by the finite differences.
    ``gradient_func`` (same signature, returning ``(value, gradient)``) is used for the
    finite differences when given (cheaper than the Hessian callable).
    """
    x, c = _positions(positions), _cell(cell)
    step = tol.KIT_FD_STEP if step is None else float(step)
    grad_layout = "pointwise" if layout == "pointwise" else "total"
    value, gradient, hessian = _call(func_with_hessians, x, species, c)
    value = np.asarray(value, dtype=np.float64)
    n = len(x)
    analytic = _dense_hessian(value, hessian, n, layout)  # (N, 3, N, 3, M)

    def flat_gradient(xx):
        v, g = _call(gradient_func or func_with_hessians, xx, species, c)[:2]
        return _dense_gradient(np.asarray(v, dtype=np.float64), g, n, grad_layout)

    numeric, scale, truncation = _richardson_fd(flat_gradient, x, step)  # (N, 3)[j, b] + (N, 3, M)[i, a]
    if numeric is None:
        numeric = np.zeros_like(analytic)
    else:
        numeric = numeric.transpose(2, 3, 0, 1, 4)  # H[i, a, j, b] = d/dx[j, b] of J[i, a]
    asymmetry = float(np.max(np.abs(analytic - analytic.transpose(2, 3, 0, 1, 4)), initial=0.0))
    hscale = float(np.max(np.abs(analytic), initial=0.0))
    sym_tol = tol.kit_symmetry_atol(hscale, value.size)
    report = _derivative_report("hessian vs finite differences of the gradient", analytic, numeric,
                                scale, step, atol, _base_input(x, species, c),
                                {"FD truncation estimate": truncation, "asymmetry": asymmetry,
                                 "asymmetry tolerance": sym_tol})
    if not asymmetry <= sym_tol:
        report.passed = False
        report.details["problem"] = "analytic Hessian is not symmetric"
    return report


# ---------------------------------------------------------------------------------------
# assert_ forms
# ---------------------------------------------------------------------------------------

def assert_rotation_invariant(*args, **kwargs):
    """:func:`check_rotation_invariance`, raising AssertionError on failure; returns the report."""
    return check_rotation_invariance(*args, **kwargs).assert_passed()


def assert_equivariant(*args, **kwargs):
    """:func:`check_equivariance`, raising AssertionError on failure; returns the report."""
    return check_equivariance(*args, **kwargs).assert_passed()


def assert_permutation_invariant(*args, **kwargs):
    """:func:`check_permutation_invariance`, raising AssertionError on failure."""
    return check_permutation_invariance(*args, **kwargs).assert_passed()


def assert_permutation_equivariant(*args, **kwargs):
    """:func:`check_permutation_equivariance`, raising AssertionError on failure."""
    return check_permutation_equivariance(*args, **kwargs).assert_passed()


def assert_translation_invariant(*args, **kwargs):
    """:func:`check_translation_invariance`, raising AssertionError on failure."""
    return check_translation_invariance(*args, **kwargs).assert_passed()


def assert_smooth_at_cutoff(*args, **kwargs):
    """:func:`check_cutoff_smoothness`, raising AssertionError on failure."""
    return check_cutoff_smoothness(*args, **kwargs).assert_passed()


def assert_gradient_matches(*args, **kwargs):
    """:func:`check_gradient`, raising AssertionError on failure."""
    return check_gradient(*args, **kwargs).assert_passed()


def assert_hessian_matches(*args, **kwargs):
    """:func:`check_hessian`, raising AssertionError on failure."""
    return check_hessian(*args, **kwargs).assert_passed()
