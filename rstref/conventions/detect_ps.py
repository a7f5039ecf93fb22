"""Is a power-spectrum featurizer rstref's raw delta-density spectrum up to prefactors?

:func:`identify_power_spectrum` evaluates the user's featurizer and rstref's raw
(delta-density, ``normalize=False``) power spectrum on a few seeded environments, maps the
user's vector from its declared layout to rstref's (:func:`convert_power_spectrum`) and
looks at the ratio of every entry.  Constant ratios 1 are a match; constant ratios that are
not 1 are a difference of prefactor per entry (reported per l and per (n, n2)); ratios that
change from one environment to the next mean the values are not comparable at all (a
density width, a different radial basis or a kernel normalisation): then only the
property kit (``rstref.testing``: invariance, smoothness, derivatives) applies.
"""

from dataclasses import dataclass, field

import numpy as np

from rstref.conventions.invariants import convert_power_spectrum


@dataclass
class PowerSpectrumIdentification:
    verdict: str  # 'match', 'prefactors', 'incomparable'
    layout: str
    scales: object = None  # (F,) ratio user/rstref per rstref entry, NaN where rstref is ~0
    per_l: dict = field(default_factory=dict)  # l -> common scale of the block, or None
    spread: float = 0.0  # largest relative change of a ratio across environments

    def __str__(self):
        lines = [f"verdict: {self.verdict} (layout {self.layout!r})",
                 f"largest relative change of a ratio across environments: {self.spread:.3g}"]
        if self.verdict == "prefactors":
            for l, s in self.per_l.items():
                lines.append(f"  l={l}: " + (f"x{s:.12g}" if s is not None else "different per (n, n2)"))
        if self.verdict == "incomparable":
            lines.append("  not a fixed rescaling of rstref's raw delta-density spectrum with this radial "
                         "basis (density width, radial basis or normalisation differ); use rstref.testing")
        return "\n".join(lines)


def _environments(r_cut, n_environments, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_environments):
        n = int(rng.integers(3, 7))
        d = rng.normal(size=(n, 3))
        x = d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(0.2, 0.85, size=(n, 1)) * r_cut
        out.append((x, rng.choice([-1.0, 1.0, 0.5], size=n)))
    return out


def identify_power_spectrum(f, rst, layout="rstref", n_environments=6, seed=16, rtol=1e-8):
    """Compare a featurizer ``f(positions, values) -> (F,)`` with rstref's raw spectrum.

    Parameters
    ----------
    f : callable
        Power spectrum of one environment, in ``layout`` (see
        :mod:`rstref.conventions.invariants`), built from the same radial basis as ``rst``.
    rst : RadialSphericalTensor
    layout : {'rstref', 'e3nn', 'featomic', 'unweighted'}
    rtol : float

    Returns
    -------
    PowerSpectrumIdentification
    """
    from rstref.invariants import PowerSpectrum

    ps = PowerSpectrum(rst)
    n_max, l_max = rst.n_max, rst.l_max
    ratios, refs = [], []
    for x, v in _environments(rst.radial_basis.r_cut, n_environments, seed):
        ref = ps.compute(x, v, normalize=False)
        user = convert_power_spectrum(np.asarray(f(x, v), dtype=float), n_max, l_max, layout, "rstref")
        refs.append(ref)
        ratios.append(np.where(np.abs(ref) > 1e-12 * np.abs(ref).max(), user / np.where(ref == 0, 1, ref), np.nan))
    ratios = np.array(ratios)
    scales = np.nanmedian(ratios, axis=0)
    spread = float(np.nanmax(np.abs(ratios - scales) / np.maximum(np.abs(scales), 1e-300)))
    if spread > rtol:
        return PowerSpectrumIdentification("incomparable", layout, scales, {}, spread)
    if np.nanmax(np.abs(scales - 1)) <= rtol:
        return PowerSpectrumIdentification("match", layout, scales, {}, spread)
    per_l, k = {}, 0
    for l in range(l_max + 1):
        block = scales[k:k + n_max * (n_max + 1) // 2]
        k += len(block)
        common = np.nanmedian(block)
        per_l[l] = float(common) if np.nanmax(np.abs(block - common)) <= rtol * abs(common) else None
    return PowerSpectrumIdentification("prefactors", layout, scales, per_l, spread)
