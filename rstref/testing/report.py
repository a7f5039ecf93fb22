"""The result of a property check and its ``assert_...`` form.

Every checker of :mod:`rstref.testing` returns a :class:`CheckReport`; :func:`asserting`
turns a checker into the form that raises ``AssertionError`` (message: the full report)
unless the check passed.  A report is *vacuous* when the check could not have failed for
the input given (a finite-difference step below the resolution of the function, a
tolerance larger than everything it compares, ...): a vacuous report never passes.  See
``docs/testing-kit.md``.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CheckReport", "asserting", "vacuous_report"]


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
        Whether the property holds within ``tolerance`` (always False when ``vacuous``).
    max_deviation : float
        The largest deviation measured (NaN if the output was not finite).
    tolerance : float
        The tolerance it was compared with (the one of the worst input).
    worst_input : dict
        The input (positions, transformation, ...) that gave the largest deviation
        relative to its tolerance, ready to reproduce the failure.
    details : dict
        Check-specific numbers (output index of the worst entry, per-order results of the
        smoothness check, ...); ``details['problem']`` says why a check failed without a
        deviation (non-finite output, vacuous check, ...).
    vacuous : bool
        True when the check could not have failed for this input, e.g. a
        finite-difference step too small to change the function beyond round-off: such a
        report is a failure whatever the deviation, and ``details['problem']`` says why.
    """

    check: str
    passed: bool
    max_deviation: float
    tolerance: float
    worst_input: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    vacuous: bool = False

    def summary(self):
        """One line: property, PASS/FAIL (or FAIL (vacuous)), deviation and tolerance."""
        status = "PASS" if self.passed else ("FAIL (vacuous)" if self.vacuous else "FAIL")
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

    def mark_vacuous(self, reason):
        """Turn this report into a vacuous failure that gives ``reason``; return self."""
        self.passed = False
        self.vacuous = True
        self.details["problem"] = f"vacuous check: {reason}"
        return self


def vacuous_report(check, reason, max_deviation, tolerance, worst_input, details=None):
    """A failed report of a check that could not have failed (``reason`` says why)."""
    report = CheckReport(check, False, float(max_deviation), float(tolerance), dict(worst_input),
                         dict(details or {}))
    return report.mark_vacuous(reason)


def asserting(check, name):
    """The ``assert_...`` form of ``check``, called ``name``: same arguments, raises.

    The returned function calls ``check(*args, **kwargs)``, raises ``AssertionError`` with
    the report as message unless it passed, and otherwise returns the report.
    """
    @functools.wraps(check)
    def assert_form(*args, **kwargs):
        return check(*args, **kwargs).assert_passed()

    assert_form.__name__ = assert_form.__qualname__ = name
    assert_form.__doc__ = (f":func:`{check.__name__}`, raising ``AssertionError`` (message: the report) "
                           "unless it passed; returns the :class:`CheckReport`.")
    return assert_form
