"""Cutoff smoothness: is a featurizer C^k where an atom crosses the cutoff sphere?

The check compares one-sided (left / right) polynomial estimates of each derivative at
the crossing, at three step sizes, and separates "converging to zero like a smooth
function" from "a jump" (method and tolerances: ``docs/testing-kit.md``; budgets in
:mod:`rstref.tolerances`, ``kit_smoothness_*``).
"""

from math import factorial

import numpy as np

from rstref import tolerances as tol
from rstref._checks import check_int, check_positive_float
from rstref.testing import _inputs as inputs
from rstref.testing.report import CheckReport, asserting

__all__ = ["check_cutoff_smoothness", "assert_smooth_at_cutoff"]


def _one_sided_weights(n_samples, side):
    """Weights w[d, j] with d! a_d = sum_j w[d, j] y_j for the polynomial through (side*j, y_j).

    Nodes are side*1, ..., side*n_samples (in units of the step); row d extrapolates the
    d-th derivative of the interpolating polynomial to 0.
    """
    nodes = side * np.arange(1, n_samples + 1, dtype=np.float64)
    inverse = np.linalg.inv(np.vander(nodes, n_samples, increasing=True))
    return np.array([factorial(d) * inverse[d] for d in range(n_samples)])


def _path_function(path):
    """``t -> positions`` of ``path`` (a CutoffCrossing or a plain callable)."""
    positions_at = getattr(path, "positions_at", path)
    return inputs.function(positions_at, "path")


def _length(path, r_cut, x0):
    """The length the step is measured against: r_cut if known, else the configuration size."""
    r_cut = getattr(path, "r_cut", r_cut)
    if r_cut is not None:
        return check_positive_float(r_cut, "r_cut"), True
    return inputs.length_scale(x0), False


def _checked_step(step, order, length, has_r_cut, positions_at, x0):
    """The largest step h, validated: the samples reach (order + 3) h, the smallest is h / 4."""
    if step is None:
        if not has_r_cut:
            raise ValueError("give step= (or r_cut=) when path is a plain callable")
        step = tol.KIT_SMOOTHNESS_STEP * length
    step = check_positive_float(step, "step")
    reach = (order + 3) * step
    if length > 0 and reach > tol.KIT_SMOOTHNESS_MAX_REACH * length:
        raise ValueError(f"step={step:.3e} is too large: the samples reach t = (order + 3) * step = {reach:.3e}, "
                         f"more than KIT_SMOOTHNESS_MAX_REACH = {tol.KIT_SMOOTHNESS_MAX_REACH} times the "
                         f"{'r_cut' if has_r_cut else 'configuration size'} {length:.3e}")
    moved = float(np.max(np.abs(inputs.positions(positions_at(step / 4), "path(step / 4)") - x0), initial=0.0))
    resolution = tol.KIT_FD_MIN_RELATIVE_STEP * float(np.max(np.abs(x0), initial=0.0))
    if not (moved > 0.0 and moved >= resolution):
        raise ValueError(f"step={step:.3e} is too small: at t = step / 4 the path moves the positions by "
                         f"{moved:.3e}, below the float64 resolution {resolution:.3e} of the coordinates")
    return step


def _samples(g, steps, m):
    """(h, side) -> (m, M) array of g(side * j * h), j = 1..m; or the first t where M changes."""
    values = {(h, side): [(side * j * h, g(side * j * h)) for j in range(1, m + 1)]
              for h in steps for side in (+1, -1)}
    size = values[steps[0], +1][0][1].shape
    for row in values.values():
        for t, v in row:
            if v.shape != size:
                return None, f"the output has shape {v.shape} at t = {t:.3e} but {size} at t = {steps[0]:.3e}"
    return {key: np.array([v for _, v in row]) for key, row in values.items()}, None


def _order_entry(d, m, steps, samples, weights, value_scale):
    """Left/right discrepancy of derivative d at the three steps, and its verdict."""
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
    k = int(np.argmax(np.abs(jump))) if jump.size else 0
    return {"derivative": d, "discrepancy at h, h/2, h/4": sizes, "round-off floor": floors[2],
            "ratio D(h/4)/D(h/2)": ratio, "ratio threshold": threshold, "tolerance": tolerance,
            "estimated jump": float(np.abs(jump[k])) if jump.size else 0.0,
            "output index of the jump": k, "continuous": bool(sizes[2] <= tolerance)}


def _base_input(path, x0):
    base = {"positions at t=0": x0}
    for attr in ("index", "direction", "r_cut"):
        if hasattr(path, attr):
            base[attr] = getattr(path, attr)
    return base


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

    The check is vacuous (the report fails) when the round-off floor of the order-``order``
    estimate exceeds ``KIT_SMOOTHNESS_MAX_FLOOR * value_scale / length**order`` (length:
    r_cut, or the configuration size): jumps of the derivative's natural size would then
    be hidden under round-off.  Raise ``step`` or lower ``order``.

    Parameters
    ----------
    func : callable
        Featurizer; may also return a gradient flattened in any shape (check the cutoff
        smoothness of analytic gradients with ``order - 1``).
    path : CutoffCrossing or callable
        ``t -> positions`` with the crossing at t = 0 (a
        :class:`rstref.testing.strategies.CutoffCrossing` carries its ``r_cut``).
    order : int
        Claimed continuity order: 0 (continuous), 1 (C^1), ... up to
        ``tolerances.KIT_SMOOTHNESS_MAX_ORDER`` (3): beyond it the one-sided estimates
        are dominated by round-off at any usable step.
    step : float > 0, optional
        Largest step h; default ``tolerances.KIT_SMOOTHNESS_STEP * r_cut``.  The samples
        reach t = (order + 3) h, at most ``KIT_SMOOTHNESS_MAX_REACH`` times the length;
        the smallest step h / 4 must move the positions by a resolvable amount.
    species, cell : optional
        Passed on to ``func`` (calling convention: ``docs/testing-kit.md``).
    r_cut : float > 0, optional
        Needed for the default step when ``path`` is a plain callable.

    Returns
    -------
    CheckReport
        ``details['orders']`` lists, per derivative order d, the discrepancies at the three
        steps, the round-off floor, the observed ratio, the estimated jump and the verdict;
        ``max_deviation`` and ``tolerance`` are max|D_d(h/4)| and its tolerance for the
        worst order d (``details['worst derivative']``).
    """
    inputs.function(func, "func")
    order = check_int(order, "order", low=0, high=tol.KIT_SMOOTHNESS_MAX_ORDER)
    positions_at = _path_function(path)
    c = inputs.cell(cell)
    x0 = inputs.positions(positions_at(0.0), "path(0)")
    length, has_r_cut = _length(path, r_cut, x0)
    step = _checked_step(step, order, length, has_r_cut, positions_at, x0)
    m = order + 3
    steps = [step, step / 2, step / 4]
    weights = {+1: _one_sided_weights(m, +1), -1: _one_sided_weights(m, -1)}
    name = f"cutoff smoothness (C^{order})"

    def g(t):
        return inputs.output(func, inputs.positions(positions_at(t), "path(t)"), species, c).ravel()

    samples, changed = _samples(g, steps, m)
    base_input = _base_input(path, x0)
    if changed is not None:
        return CheckReport(name, False, float("nan"), float("nan"), base_input, {"problem": changed})
    all_values = np.concatenate([s.ravel() for s in samples.values()])
    if not np.all(np.isfinite(all_values)):
        return CheckReport(name, False, float("nan"), float("nan"), base_input,
                           {"problem": "non-finite output near the crossing"})
    value_scale = float(np.max(np.abs(all_values))) if all_values.size else 0.0

    per_order = [_order_entry(d, m, steps, samples, weights, value_scale) for d in range(order + 1)]
    badness = [e["discrepancy at h, h/2, h/4"][2] / e["tolerance"] if e["tolerance"] > 0
               else (np.inf if e["discrepancy at h, h/2, h/4"][2] > 0 else 0.0) for e in per_order]
    worst = per_order[len(badness) - 1 - int(np.argmax(badness[::-1]))]  # the highest worst order
    failed_orders = [e["derivative"] for e in per_order if not e["continuous"]]
    details = {"steps": steps, "samples per side": m, "value scale": value_scale,
               "first discontinuous derivative": (min(failed_orders) if failed_orders else None),
               "orders": per_order, "worst derivative": worst["derivative"]}
    report = CheckReport(name, not failed_orders, worst["discrepancy at h, h/2, h/4"][2], worst["tolerance"],
                         base_input, details)
    natural = value_scale / length ** order if length > 0 else np.inf
    floor = per_order[-1]["round-off floor"]
    if value_scale > 0 and floor > tol.KIT_SMOOTHNESS_MAX_FLOOR * natural:
        report.mark_vacuous(f"the round-off floor {floor:.3e} of derivative {order} exceeds "
                            f"KIT_SMOOTHNESS_MAX_FLOOR = {tol.KIT_SMOOTHNESS_MAX_FLOOR} x value scale / "
                            f"length^{order} = {natural:.3e}: jumps of that size would pass; raise step")
    return report


assert_smooth_at_cutoff = asserting(check_cutoff_smoothness, "assert_smooth_at_cutoff")
