"""Argument checks of :mod:`rstref.radial`: the accepted sizes, cutoffs and envelopes.

Each check returns the checked value (a Python ``int`` or ``float``, a float64 array
for distances) or raises ``TypeError`` / ``ValueError`` naming the argument.  The
cutoff range and the envelope scale come from :mod:`rstref.limits`.
"""

import math

from rstref._checks import as_float_array, check_int, check_positive_float
from rstref.limits import ENVELOPE_SCALE_MAX, R_CUT_MAX, R_CUT_MIN

#: largest envelope power accepted (the Gauss–Legendre rule is sized for it)
MAX_ENVELOPE_POWER = 12

#: the largest number of radial functions accepted
MAX_N = 64


def check_distances(r):
    """``r`` as a 1-D float64 array of finite distances ``>= 0``."""
    r = as_float_array(r, "r")
    if r.size and r.min() < 0.0:
        raise ValueError(f"r must contain distances >= 0, got min(r) = {r.min()!r}")
    return r


def check_r_cut(r_cut):
    """``r_cut`` as a float in ``[R_CUT_MIN, R_CUT_MAX]``."""
    r_cut = check_positive_float(r_cut, "r_cut")
    if not R_CUT_MIN <= r_cut <= R_CUT_MAX:
        raise ValueError(f"r_cut must be in [{R_CUT_MIN:g}, {R_CUT_MAX:g}] (rstref.limits."
                         f"R_CUT_MIN/R_CUT_MAX: beyond, the basis functions and their "
                         f"derivatives over- or underflow float64), got {r_cut!r}; "
                         "change the length unit")
    return r_cut


def check_envelope_scale(r_cut, envelope_power):
    """Refuse ``r_cut**envelope_power`` beyond ``[1/ENVELOPE_SCALE_MAX, ENVELOPE_SCALE_MAX]``."""
    if envelope_power is None:
        return
    if abs(envelope_power * math.log10(r_cut)) > math.log10(ENVELOPE_SCALE_MAX):
        raise ValueError(f"r_cut**envelope_power = {r_cut:g}**{envelope_power} is beyond "
                         f"[1/{ENVELOPE_SCALE_MAX:g}, {ENVELOPE_SCALE_MAX:g}]: the envelope "
                         "(r_cut - r)**p over- or underflows float64; use a smaller "
                         "envelope_power or another length unit")


def check_envelope_power(envelope_power):
    """``envelope_power`` as None or an int in ``[1, MAX_ENVELOPE_POWER]``."""
    if envelope_power is None:
        return None
    return check_int(envelope_power, "envelope_power", 1, MAX_ENVELOPE_POWER)
