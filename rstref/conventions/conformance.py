"""Check a user's implementation against rstref's conventions and conformance data.

:func:`check` runs the convention detector and then compares the function, mapped to
rstref's convention, with the reference cases (an exported directory, or rstref itself
at the exported hard points).  The report has one row per table: ``pass``,
``convention`` (a difference of convention, with the map) or ``fail`` (with the worst
case).  ``rstref conformance check`` prints it and sets the exit status.
"""

import json
import os
from dataclasses import dataclass, field

import numpy as np

from rstref._checks import check_choice, check_int

KINDS = ("sph", "cg", "power-spectrum")


@dataclass
class TableResult:
    name: str
    status: str  # 'pass', 'convention', 'fail'
    detail: str
    worst: float = 0.0


@dataclass
class ConformanceReport:
    kind: str
    tables: list = field(default_factory=list)
    identification: object = None

    @property
    def passed(self):
        """True when no table failed (a convention difference is not a failure)."""
        return all(t.status != "fail" for t in self.tables)

    def __str__(self):
        lines = [f"conformance check ({self.kind}): {'PASSED' if self.passed else 'FAILED'}"]
        for t in self.tables:
            lines.append(f"[{t.status}] {t.name}: " + t.detail.replace("\n", "\n    "))
        return "\n".join(lines)


def _load_table(reference, name):
    with open(os.path.join(reference, f"{name}.json")) as fh:
        manifest = json.load(fh)

    def array(key):
        return np.load(os.path.join(reference, manifest["arrays"][key]["file"]), allow_pickle=False)

    return manifest, array


def _sph_reference(reference, l_max):
    from rstref.conventions.reference_set import _sph_tolerances, hard_points

    L = (l_max + 1) ** 2
    if reference is None:
        import rstref

        points, labels = hard_points()
        values = rstref.spherical_harmonics(points, l_max)
        return points, labels, values, _sph_tolerances(points, l_max, values)[0], "rstref at the hard points"
    manifest, array = _load_table(reference, "spherical_harmonics")
    if manifest["l_max"] < l_max:
        raise ValueError(f"l_max = {l_max} exceeds the reference's l_max = {manifest['l_max']}")
    tol = np.broadcast_to(array("values_tolerance"), array("values").shape)
    return (array("points"), manifest["point_labels"], array("values")[:, :L], tol[:, :L],
            f"exported reference {reference}")


def _sph_identification_row(ident, convention):
    detail = str(ident)
    if ident.verdict == "bug":
        return TableResult("convention", "fail", detail, ident.deviation)
    named = (ident.convention, ident.normalization, ident.order)
    if convention is not None:
        from rstref.conventions.sph import canonical

        claimed = canonical(convention)
        if ident.verdict != "match" or named[0] != claimed:
            return TableResult("convention", "fail", f"claimed {claimed!r}, found:\n{detail}", ident.deviation)
    if ident.verdict == "match" and named == ("standard", "integral", "ascending"):
        return TableResult("convention", "pass", detail, ident.deviation)
    return TableResult("convention", "convention", detail, ident.deviation)


def _hard_points_row(f, ident, l_max, reference, atol, max_entries=10):
    from rstref.conventions.sph import convert_sph

    points, labels, ref, tol, source = _sph_reference(reference, l_max)
    if ident.rotation is not None:
        import rstref

        if reference is not None:
            return TableResult("hard points", "convention", "skipped: the function is a rotated/reflected "
                               "convention, and the exported points are not rotated with it")
        ref = rstref.spherical_harmonics(points @ ident.rotation.T, l_max)
        source += " (at Q r)"
    if atol is not None:
        tol = np.full(ref.shape, float(atol))
    raw = np.asarray(f(points.copy()))
    if raw.shape != ref.shape:
        return TableResult("hard points", "fail", f"f returned shape {raw.shape}, expected {ref.shape}")
    finite = np.all(np.isfinite(raw), axis=1)
    values = np.full(ref.shape, np.nan)
    try:
        values[finite] = convert_sph(raw[finite], l_max, ident.convention, "standard",
                                     source_normalization=ident.normalization, source_order=ident.order)
    except ValueError as exc:
        return TableResult("hard points", "fail", f"cannot map to the standard convention: {exc}")
    err = np.abs(values - ref)
    bad = ~(err <= tol)
    per_l = [float(np.nanmax(err[:, l * l:(l + 1) ** 2]) if np.any(np.isfinite(err[:, l * l:(l + 1) ** 2]))
                   else np.inf) for l in range(l_max + 1)]
    lines = [f"against {source}, {len(points)} points" + (f", atol {atol:g}" if atol is not None else ""),
             "max |deviation| per l: " + " ".join(f"l={l}: {d:.2g}" for l, d in enumerate(per_l))]
    for i in np.flatnonzero(~finite):
        lines.append(f"non-finite values at point {labels[i]!r} {tuple(float(v) for v in points[i])}")
    for i, k in list(zip(*np.nonzero(bad & finite[:, None])))[:max_entries]:
        l = int(np.sqrt(k))
        lines.append(f"beyond tolerance: point {labels[i]!r}, (l={l}, m={k - l * l - l}): |deviation| "
                     f"{err[i, k]:.3g} > {tol[i, k]:.3g}")
    worst = float(np.nanmax(np.where(np.isfinite(err), err / tol, np.inf)))
    status = "fail" if bad.any() else ("convention" if ident.verdict != "match" or
                                       ident.convention != "standard" else "pass")
    return TableResult("hard points", status, "\n".join(lines), worst)


def _check_sph(f, l_max, reference, rtol, atol, convention):
    from rstref.conventions.detect import identify_sph

    ident = identify_sph(f, l_max, rtol=rtol)
    report = ConformanceReport("sph", identification=ident)
    report.tables.append(_sph_identification_row(ident, convention))
    report.tables.append(_hard_points_row(f, ident, l_max, reference, atol))
    return report


def _check_cg(f, l_max, reference, rtol, atol, convention):
    from rstref.conventions.detect import identify_cg

    ident = identify_cg(f, l_max, rtol=rtol)
    report = ConformanceReport("cg", identification=ident)
    status = "fail" if ident.verdict == "bug" else ("pass" if ident.convention == "rstref" else "convention")
    if convention is not None and ident.convention != convention:
        status = "fail"
    report.tables.append(TableResult("convention", status, str(ident), ident.deviation))
    if reference is not None:
        from rstref.conventions.cg import convert_cg

        manifest, array = _load_table(reference, "clebsch_gordan")
        idx, ref = array("indices"), array("clebsch_gordan")
        tol = float(atol) if atol is not None else float(array("clebsch_gordan_tolerance"))
        keep = idx[:, :3].max(axis=1) <= l_max
        worst, where = 0.0, None
        cache = {}
        for row, value in zip(idx[keep], ref[keep]):
            t = tuple(int(v) for v in row[:3])
            if t not in cache:
                cache[t] = convert_cg(np.asarray(f(*t)), *t, ident.convention, "rstref")
            e = abs(cache[t][row[3] + t[0], row[4] + t[1], row[5] + t[2]] - value)
            if e > worst:
                worst, where = e, tuple(int(v) for v in row)
        status = "fail" if worst > tol else ("pass" if ident.convention == "rstref" else "convention")
        report.tables.append(TableResult("exported table", status, f"max |deviation| {worst:.3g} "
                                         f"(tolerance {tol:.3g}) at (l1, l2, L, m1, m2, M) = {where}", worst))
    return report


def _check_power_spectrum(f, rst, layout, rtol):
    from rstref.conventions.detect_ps import identify_power_spectrum

    if rst is None:
        raise ValueError("kind='power-spectrum' needs rst= (the RadialSphericalTensor with f's radial basis)")
    ident = identify_power_spectrum(f, rst, layout=layout, rtol=rtol)
    status = {"match": "pass", "prefactors": "convention", "incomparable": "fail"}[ident.verdict]
    report = ConformanceReport("power-spectrum", identification=ident)
    report.tables.append(TableResult("raw delta-density spectrum", status, str(ident), ident.spread))
    return report


def flatten_padded(values):
    """(n, l_max+1, 2 l_max+1) padded blocks (entry [i, l, m+l]) -> flat (n, (l_max+1)**2)."""
    values = np.asarray(values)
    l_max = values.shape[1] - 1
    if values.ndim != 3 or values.shape[2] != 2 * l_max + 1:
        raise ValueError(f"padded values must have shape (n, l_max+1, 2*l_max+1), got {values.shape}")
    return np.concatenate([values[:, l, :2 * l + 1] for l in range(l_max + 1)], axis=1)


def _reference_values(points, l_max, oracle):
    if oracle == "rstref":
        import rstref

        return rstref.spherical_harmonics(points, l_max)
    from rstref.conventions.oracle import real_harmonics, to_float

    return np.array([to_float(real_harmonics(p, l_max, dps=max(50, 30 + l_max), derivatives=0)[0])
                     for p in points])


def check_values(points, values, convention="standard", normalization="integral", atol=None,
                 oracle="mpmath", max_entries=10):
    """Check tabulated harmonics (someone's reference data) against an exact evaluation.

    Parameters
    ----------
    points : array_like, shape (n, 3)
    values : array_like, shape (n, (l_max+1)**2) or padded (n, l_max+1, 2 l_max+1)
        In ``convention`` / ``normalization`` (m ascending).
    atol : float, optional
        Absolute tolerance (e.g. 1e-15 for data that claims to be exact); default
        the export rule ``1e-14 (l+1)``.
    oracle : {'mpmath', 'rstref'}
        The reference: a 50-digit mpmath evaluation (default) or rstref.

    Returns
    -------
    ConformanceReport
        One table 'values': deviation per l and the entries beyond the tolerance.
    """
    from rstref.conventions.reference_set import _sph_tolerances
    from rstref.conventions.sph import convert_sph

    oracle = check_choice(oracle, "oracle", ("mpmath", "rstref"))
    points = np.asarray(points, dtype=float)
    values = np.asarray(values)
    if values.ndim == 3:
        values = flatten_padded(values)
    l_max = int(round(np.sqrt(values.shape[-1]))) - 1
    if values.ndim != 2 or values.shape != (len(points), (l_max + 1) ** 2):
        raise ValueError(f"values must have shape (n_points, (l_max+1)**2) with n_points = {len(points)}, "
                         f"got {values.shape}")
    ref = _reference_values(points, l_max, oracle)
    ours = convert_sph(values, l_max, convention, "standard", source_normalization=normalization)
    tol = np.full(ref.shape, float(atol)) if atol is not None else _sph_tolerances(points, l_max, ref)[0]
    err = np.abs(ours - ref)
    bad = ~(err <= tol)
    per_l = [float(err[:, l * l:(l + 1) ** 2].max()) for l in range(l_max + 1)]
    lines = [f"{len(points)} points, l <= {l_max}, against {oracle}; {int(bad.sum())} entries beyond tolerance",
             "max |deviation| per l: " + " ".join(f"l={l}: {d:.2g}" for l, d in enumerate(per_l))]
    zeros = bad & (ref == 0)
    lines.append(f"entries that are exactly 0 but not in the data: {int(zeros.sum())}")
    listed = list(zip(*np.nonzero(zeros))) + list(zip(*np.nonzero(bad & (ref != 0))))
    for i, k in listed[:max_entries]:
        l = int(np.sqrt(k))
        lines.append(f"beyond tolerance: point {i} {tuple(float(v) for v in points[i])}, (l={l}, m={k - l * l - l})"
                     f": value {ours[i, k]:.17g}, exact {ref[i, k]:.17g}, |deviation| {err[i, k]:.3g}")
    report = ConformanceReport("sph-data")
    report.tables.append(TableResult("values", "fail" if bad.any() else "pass", "\n".join(lines),
                                     float(err.max())))
    return report


def check(f, kind="sph", l_max=4, reference=None, rtol=None, atol=None, convention=None, rst=None,
          layout="rstref"):
    """Check an implementation: detector, then the reference cases.

    Parameters
    ----------
    f : callable
        kind 'sph': ``f(xyz (n, 3)) -> (n, (l_max+1)**2)``; kind 'cg':
        ``f(l1, l2, L) -> (2l1+1, 2l2+1, 2L+1)``; kind 'power-spectrum':
        ``f(positions (N, 3), values (N,)) -> (F,)`` in ``layout``.
    kind : {'sph', 'cg', 'power-spectrum'}
    l_max : int
    reference : str, optional
        A directory written by ``rstref conformance export``; default rstref itself.
    rtol : float, optional
        Detector tolerance (default 1e-10 for 'sph', 1e-12 for 'cg').
    atol : float, optional
        Strict absolute tolerance for the reference comparison (default: the manifest's).
    convention : str, optional
        The convention ``f`` claims; a different one then fails.
    rst : RadialSphericalTensor, optional
        For 'power-spectrum': the radial basis and sizes f uses (compared with rstref's raw,
        delta-density spectrum; a fixed prefactor per entry is a convention, anything else
        makes the values incomparable and fails).
    layout : str
        For 'power-spectrum': f's layout, see :mod:`rstref.conventions.invariants`.

    Returns
    -------
    ConformanceReport
        ``report.passed``; ``str(report)`` is the per-table text.
    """
    kind = check_choice(kind, "kind", KINDS)
    l_max = check_int(l_max, "l_max", low=0)
    if kind == "power-spectrum":
        return _check_power_spectrum(f, rst, layout, 1e-8 if rtol is None else rtol)
    if kind == "sph":
        return _check_sph(f, l_max, reference, 1e-10 if rtol is None else rtol, atol, convention)
    return _check_cg(f, l_max, reference, 1e-12 if rtol is None else rtol, atol, convention)


def assert_conforms(f, **kwargs):
    """:func:`check`, raising AssertionError with the report when a table fails."""
    report = check(f, **kwargs)
    if not report.passed:
        raise AssertionError(str(report))
    return report
