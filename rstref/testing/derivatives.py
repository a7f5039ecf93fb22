"""Derivative checkers: analytic gradients and Hessians against finite differences.

``func_with_gradients`` returns ``(value, gradient)`` and ``func_with_hessians`` returns
``(value, gradient, hessian)``, in one of the layouts of :mod:`rstref.testing._layouts`
('total', 'blockdiag', 'pointwise').  Gradients are compared with Richardson-extrapolated
central differences of the value, Hessians with those of the analytic gradient; the
tolerance is :func:`rstref.tolerances.kit_fd_atol` unless ``atol=`` is given.

A check is vacuous, and its report fails, when it could not have failed: when no
perturbation of the step changes the function beyond round-off while a larger step does
(the step is below the function's resolution), or when the tolerance is not below half the
largest finite-difference derivative and rate of change of the function (a zero derivative
would pass).  See ``docs/testing-kit.md``.
"""

import numpy as np

from rstref import tolerances as tol
from rstref._checks import check_choice, check_positive_float
from rstref.testing import _inputs as inputs
from rstref.testing._layouts import dense_gradient, dense_hessian
from rstref.testing.report import CheckReport, asserting

__all__ = ["check_gradient", "assert_gradient_matches", "check_hessian", "assert_hessian_matches"]


def _checked_step(step, x, c):
    """The FD step, validated against the configuration (see ``KIT_FD_*`` in tolerances)."""
    step = tol.KIT_FD_STEP if step is None else check_positive_float(step, "step")
    coordinate = float(np.max(np.abs(x), initial=0.0))
    smallest = max(2.0 * tol.KIT_FD_MIN_RELATIVE_STEP * coordinate, 2.0 * np.finfo(np.float64).tiny)
    if step < smallest:
        raise ValueError(f"step={step:.3e} is below the float64 resolution of the positions: the kit needs "
                         f"step / 2 >= KIT_FD_MIN_RELATIVE_STEP * max|positions| "
                         f"({tol.KIT_FD_MIN_RELATIVE_STEP:g} * {coordinate:.3e}), i.e. step >= {smallest:.3e}")
    size = inputs.length_scale(x, c)
    if size > 0 and step > tol.KIT_FD_MAX_RELATIVE_STEP * size:
        raise ValueError(f"step={step:.3e} is too large for a configuration of size {size:.3e} (largest |position| "
                         f"or |lattice vector|): the kit needs step <= KIT_FD_MAX_RELATIVE_STEP * size = "
                         f"{tol.KIT_FD_MAX_RELATIVE_STEP * size:.3e}; choose step ~ 1e-3 x the shortest "
                         f"length on which the function varies")
    return step


def _unpack(result, count, name):
    """``result`` as a tuple of ``count`` items (value, gradient[, hessian])."""
    what = "(value, gradient)" if count == 2 else "(value, gradient, hessian)"
    if not isinstance(result, (tuple, list)) or len(result) < count:
        raise TypeError(f"{name} must return a tuple {what}, got {type(result).__name__}")
    return tuple(result[:count])


class _ShapeChanged(Exception):
    """The differenced output changed shape under a perturbation (a failure of the check)."""


def _central_difference(function, x, i, a, h, shape):
    xp, xm = x.copy(), x.copy()
    xp[i, a] += h
    xm[i, a] -= h
    fp, fm = function(xp), function(xm)
    for f, sign in ((fp, "+"), (fm, "-")):
        if f.shape != shape:
            raise _ShapeChanged(f"the output has shape {f.shape} at positions[{i}, {a}] {sign} {h:.3e} "
                                f"but {shape} at positions")
    return fp, fm


def _largest(*arrays):
    return max((float(np.max(np.abs(v), initial=0.0)) for v in arrays), default=0.0)


def _richardson_fd(function, x, step):
    """Richardson-extrapolated central differences of ``function`` (flat output) at ``x``.

    Returns ``(derivative[i, a, k], info)``; ``info`` has the largest |function| evaluated
    ('value scale'), the truncation estimate max|D(h) - D(h/2)| and the largest change
    max|function(x +- h/2 e_ia) - function(x)| ('variation').
    """
    f0 = function(x)
    result = np.zeros((len(x), 3) + f0.shape)
    scale, truncation, variation = _largest(f0), 0.0, 0.0
    for i in range(len(x)):
        for a in range(3):
            estimates = []
            for h in (step, step / 2):
                fp, fm = _central_difference(function, x, i, a, h, f0.shape)
                scale = max(scale, _largest(fp, fm))
                estimates.append((fp - fm) / (2 * h))
            variation = max(variation, _largest(fp - f0, fm - f0))
            result[i, a] = (4 * estimates[1] - estimates[0]) / 3
            truncation = max(truncation, _largest(estimates[0] - estimates[1]))
    return result, {"value scale": scale, "FD truncation estimate": truncation, "variation": variation, "f0": f0}


def _probe_variation(function, x, h, f0):
    """Largest |function(x +- h e_ia) - f0| and |function| (NaN if not finite)."""
    variation, scale = 0.0, _largest(f0)
    for i in range(len(x)):
        for a in range(3):
            fp, fm = _central_difference(function, x, i, a, h, f0.shape)
            if not (np.all(np.isfinite(fp)) and np.all(np.isfinite(fm))):
                return float("nan"), scale
            variation, scale = max(variation, _largest(fp - f0, fm - f0)), max(scale, _largest(fp, fm))
    return variation, scale


def _vacuity(function, x, c, step, numeric, t, t_is_atol, info):
    """Why the comparison could not have failed, or None if it is informative."""
    roundoff = tol.KIT_ROUNDOFF_ULPS * tol.EPS * info["value scale"]
    if info["variation"] <= roundoff:
        size = inputs.length_scale(x, c)
        probe = tol.KIT_FD_PROBE_FACTOR * step
        if size > 0:
            probe = min(probe, tol.KIT_FD_MAX_RELATIVE_STEP * size)
        if probe <= step:
            return None
        try:
            variation, scale = _probe_variation(function, x, probe, info["f0"])
        except _ShapeChanged as exc:
            return f"no perturbation of step / 2 = {step / 2:.3e} changes the function, but at step {probe:.3e} {exc}"
        if variation <= tol.KIT_ROUNDOFF_ULPS * tol.EPS * scale:
            return None  # constant to round-off at both steps: its derivative is zero
        return (f"no perturbation of step / 2 = {step / 2:.3e} changes the function beyond round-off "
                f"({info['variation']:.3e} <= {roundoff:.3e}) while step {probe:.3e} changes it by "
                f"{variation:.3e}: the step is below the function's resolution; raise step")
    rate = info["variation"] / (step / 2)
    resolved = max(_largest(numeric), rate)
    if tol.KIT_FD_RESOLUTION_FACTOR * t >= resolved:
        return (f"the tolerance {t:.3e} is not below 1/KIT_FD_RESOLUTION_FACTOR = "
                f"1/{tol.KIT_FD_RESOLUTION_FACTOR:g} of the largest finite-difference derivative or rate of "
                f"change of the function ({resolved:.3e}): a zero derivative would pass; "
                f"{'lower atol' if t_is_atol else 'raise step (round-off of the differences dominates)'}")
    return None


def _finite_differences(name, function, x, step, base_input):
    """(numeric, info, None), or (None, None, failed report) if the output changed shape."""
    try:
        numeric, info = _richardson_fd(function, x, step)
    except _ShapeChanged as exc:
        return None, None, CheckReport(name, False, float("nan"), float("nan"), base_input, {"problem": str(exc)})
    return numeric, info, None


def _derivative_report(name, analytic, numeric, info, step, atol, base_input, vacuity):
    extra = {"FD truncation estimate": info["FD truncation estimate"]}
    if analytic.size == 0:
        return CheckReport(name, True, 0.0, 0.0, base_input, extra)
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
        return CheckReport(name, False, float("nan"), float("nan"), base_input,
                           dict(extra, problem="non-finite analytic or finite-difference derivative"))
    diff = np.abs(analytic - numeric)
    k = int(np.argmax(diff))
    derivative_scale = _largest(analytic)
    t = atol if atol is not None else tol.kit_fd_atol(info["value scale"], derivative_scale, step)
    index = tuple(int(i) for i in np.unravel_index(k, analytic.shape))
    details = dict(extra)
    details.update({"worst entry": index, "analytic": float(analytic.flat[k]),
                    "finite difference": float(numeric.flat[k]), "step": step,
                    "derivative scale": derivative_scale, "variation at step / 2": info["variation"]})
    report = CheckReport(name, bool(diff.flat[k] <= t), float(diff.flat[k]), t, base_input, details)
    reason = vacuity(numeric, t, atol is not None)
    if reason is not None:
        report.mark_vacuous(reason)
    return report


def _common(func, name, positions, cell, step, atol, helper, helper_name):
    inputs.function(func, name)
    if helper is not None:
        inputs.function(helper, helper_name)
    atol = inputs.optional_nonnegative(atol, "atol")
    x, c = inputs.positions(positions), inputs.cell(cell)
    return x, c, _checked_step(step, x, c), atol


def check_gradient(func_with_gradients, positions, species=None, cell=None, layout="total",
                   step=None, atol=None, value_func=None):
    """Check an analytic gradient against Richardson-extrapolated central differences.

    ``func_with_gradients`` returns ``(value, gradient)``; ``layout`` is 'total' or
    'pointwise' (see ``docs/testing-kit.md``).  The finite differences are taken of the
    returned value, with steps ``step`` and ``step/2`` (default ``tolerances.KIT_FD_STEP``)
    combined as ``(4 D(h/2) - D(h)) / 3`` (error O(h^4)).  Tolerance:
    :func:`rstref.tolerances.kit_fd_atol`.  The worst entry is reported as
    (atom i, direction a, flat output index k) of the total Jacobian.  ``value_func``
    (same signature, value only) is used for the finite differences when given, which
    saves time when the gradient is expensive (e.g. an autograd Jacobian).

    Choose ``step`` about 1e-3 times the shortest length on which the function varies:
    the default suits features that vary on >~ 0.03 position units; angular functions of
    degree l of an atom at distance r from the centre vary on r / l, so scale the step
    with the smallest such r (e.g. ``step=1e-3 * r``) for atoms close to the centre.
    ``step`` must lie in ``[2e-9 max|positions|, 0.1 size]`` (``KIT_FD_MIN_RELATIVE_STEP``,
    ``KIT_FD_MAX_RELATIVE_STEP``; size = largest |position| or |lattice vector|), else
    ValueError.  A step below the function's resolution, or an ``atol`` that accepts any
    derivative, makes the report vacuous (failed).
    """
    x, c, step, atol = _common(func_with_gradients, "func_with_gradients", positions, cell, step, atol,
                               value_func, "value_func")
    check_choice(layout, "layout", {"total", "pointwise"})
    value, gradient = _unpack(inputs.call(func_with_gradients, x, species, c), 2, "func_with_gradients")
    value = np.asarray(value, dtype=np.float64)
    analytic = dense_gradient(value, gradient, len(x), layout)

    def flat_value(xx):
        if value_func is not None:
            return inputs.output(value_func, xx, species, c).ravel()
        result = _unpack(inputs.call(func_with_gradients, xx, species, c), 2, "func_with_gradients")
        return np.asarray(result[0], dtype=np.float64).ravel()

    name, base_input = "gradient vs finite differences", inputs.base_input(x, species, c)
    numeric, info, failed = _finite_differences(name, flat_value, x, step, base_input)
    if failed is not None:
        return failed
    return _derivative_report(name, analytic, numeric, info, step, atol, base_input,
                              lambda n, t, by_atol: _vacuity(flat_value, x, c, step, n, t, by_atol, info))


def _asymmetry(analytic, size):
    asymmetry = float(np.max(np.abs(analytic - analytic.transpose(2, 3, 0, 1, 4)), initial=0.0))
    return asymmetry, tol.kit_symmetry_atol(_largest(analytic), size)


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
    finite differences when given (cheaper than the Hessian callable).  ``step`` and
    ``atol`` are validated, and a vacuous check fails, as in :func:`check_gradient`.
    """
    x, c, step, atol = _common(func_with_hessians, "func_with_hessians", positions, cell, step, atol,
                               gradient_func, "gradient_func")
    check_choice(layout, "layout", {"total", "blockdiag", "pointwise"})
    grad_layout = "pointwise" if layout == "pointwise" else "total"
    value, gradient, hessian = _unpack(inputs.call(func_with_hessians, x, species, c), 3, "func_with_hessians")
    value = np.asarray(value, dtype=np.float64)
    n = len(x)
    analytic = dense_hessian(value, hessian, n, layout)  # (N, 3, N, 3, M)

    def flat_gradient(xx):
        source = gradient_func or func_with_hessians
        v, g = _unpack(inputs.call(source, xx, species, c), 2, "gradient_func" if gradient_func else
                       "func_with_hessians")
        return dense_gradient(np.asarray(v, dtype=np.float64), g, n, grad_layout)

    name, base_input = "hessian vs finite differences of the gradient", inputs.base_input(x, species, c)
    numeric, info, failed = _finite_differences(name, flat_gradient, x, step, base_input)
    if failed is not None:
        return failed
    numeric = numeric.transpose(2, 3, 0, 1, 4)  # H[i, a, j, b] = d/dx[j, b] of J[i, a]
    asymmetry, sym_tol = _asymmetry(analytic, value.size)
    report = _derivative_report(name, analytic, numeric, info, step, atol, base_input,
                                lambda nn, t, by_atol: _vacuity(flat_gradient, x, c, step, nn, t, by_atol, info))
    report.details.update({"asymmetry": asymmetry, "asymmetry tolerance": sym_tol})
    if not asymmetry <= sym_tol:
        report.passed = False
        report.details.setdefault("problem", "analytic Hessian is not symmetric")
    return report


assert_gradient_matches = asserting(check_gradient, "assert_gradient_matches")
assert_hessian_matches = asserting(check_hessian, "assert_hessian_matches")
