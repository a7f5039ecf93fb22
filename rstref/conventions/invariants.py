"""Power-spectrum vectors between codes' layouts and prefactors.

rstref's power spectrum (README "Radial-spherical tensors and invariants") is, for
coefficients c in 'component' normalisation (Y_00 = 1),

    p[l, n, n2] = w (2l+1)^(-1/2) sum_m c_{nlm} c_{n2lm},   n <= n2,  w = sqrt2 if n != n2,

in the order ``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in
range(n, n_max)]``.  The layouts here are maps between vectors computed *from the same
density coefficients*; a different density width or radial basis makes values
incomparable, and no layout map can fix that.

``'rstref'`` (alias ``'e3nn'``: equal to ``ReducedTensorProducts('ij=ji')`` 0e outputs)
    as above.
``'featomic'``
    featomic's ``SoapPowerSpectrum`` for one species pair, every (n1, n2), in the order
    ``[(l, n1, n2) for l in ... for n1 in range(n_max) for n2 in range(n_max)]`` (featomic
    labels its properties; reorder to this order first): ``p_rstref = (-1)^l 4 pi w p_featomic``
    (featomic uses 'integral' harmonics, c = c_component / sqrt(4 pi), and a factor (-1)^l;
    measured against featomic with a delta density in validation/bench_featurize.py).
``'unweighted'``
    ``sum_m c_{nlm} c_{n2lm}`` for every (n, n2), same order as 'featomic', 'component' c.
"""

import math

import numpy as np

from rstref._checks import check_choice, check_int

PS_LAYOUTS = ("rstref", "e3nn", "featomic", "unweighted")


def _square_from_rstref(p, n_max, l_max):
    """Unweighted sum_m c c as (..., l_max+1, n_max, n_max) from rstref's vector."""
    out = np.zeros(p.shape[:-1] + (l_max + 1, n_max, n_max))
    k = 0
    for l in range(l_max + 1):
        for n in range(n_max):
            for n2 in range(n, n_max):
                w = 1.0 if n == n2 else math.sqrt(2.0)
                value = p[..., k] * math.sqrt(2 * l + 1) / w
                out[..., l, n, n2] = value
                out[..., l, n2, n] = value
                k += 1
    return out


def _rstref_from_square(q, n_max, l_max):
    rows = []
    for l in range(l_max + 1):
        for n in range(n_max):
            for n2 in range(n, n_max):
                w = 1.0 if n == n2 else math.sqrt(2.0)
                rows.append(w * q[..., l, n, n2] / math.sqrt(2 * l + 1))
    return np.stack(rows, axis=-1)


def _featomic_factor(l_max, n_max):
    """featomic value per unweighted component-normalised sum: (-1)^l (2l+1)^-1/2 / (4 pi)."""
    return np.array([(-1.0) ** l / (4 * math.pi * math.sqrt(2 * l + 1)) for l in range(l_max + 1)])


def power_spectrum_size(n_max, l_max, layout):
    """Length of a power-spectrum vector in ``layout``."""
    layout = check_choice(layout, "layout", PS_LAYOUTS)
    if layout in ("rstref", "e3nn"):
        return (l_max + 1) * n_max * (n_max + 1) // 2
    return (l_max + 1) * n_max * n_max


def convert_power_spectrum(p, n_max, l_max, source, target):
    """A power-spectrum vector (last axis) from one layout/prefactor to another.

    Parameters
    ----------
    p : array_like, shape (..., F_source)
    n_max, l_max : int
    source, target : {'rstref', 'e3nn', 'featomic', 'unweighted'}

    Returns
    -------
    ndarray, shape (..., F_target)
        Going to 'rstref' from a full (n1, n2) layout keeps n1 <= n2 (the other half is
        its mirror; use :func:`symmetry_defect` to check it).
    """
    n_max = check_int(n_max, "n_max", low=1)
    l_max = check_int(l_max, "l_max", low=0)
    source = check_choice(source, "source", PS_LAYOUTS)
    target = check_choice(target, "target", PS_LAYOUTS)
    p = np.asarray(p, dtype=float)
    size = power_spectrum_size(n_max, l_max, source)
    if p.ndim < 1 or p.shape[-1] != size:
        raise ValueError(f"p must have a last axis of length {size} for layout {source!r} "
                         f"(n_max={n_max}, l_max={l_max}), got shape {p.shape}")
    q = _to_square(p, n_max, l_max, source)
    return _from_square(q, n_max, l_max, target)


def _to_square(p, n_max, l_max, layout):
    if layout in ("rstref", "e3nn"):
        return _square_from_rstref(p, n_max, l_max)
    q = p.reshape(p.shape[:-1] + (l_max + 1, n_max, n_max))
    if layout == "featomic":
        q = q / _featomic_factor(l_max, n_max)[:, None, None]
    return q


def _from_square(q, n_max, l_max, layout):
    if layout in ("rstref", "e3nn"):
        return _rstref_from_square(q, n_max, l_max)
    if layout == "featomic":
        q = q * _featomic_factor(l_max, n_max)[:, None, None]
    return q.reshape(q.shape[:-3] + (-1,))


def symmetry_defect(p, n_max, l_max, layout):
    """max |p[l, n1, n2] - p[l, n2, n1]| of a full-layout vector (0 for 'rstref')."""
    layout = check_choice(layout, "layout", PS_LAYOUTS)
    if layout in ("rstref", "e3nn"):
        return 0.0
    q = np.asarray(p, dtype=float).reshape(np.shape(p)[:-1] + (l_max + 1, n_max, n_max))
    return float(np.abs(q - np.swapaxes(q, -1, -2)).max())
