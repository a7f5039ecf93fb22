"""Which spherical-harmonics convention does a function follow?  (and is it a bug?)

:func:`identify_sph` calls the user's function on a fixed point set, fits on each
degree-l block the linear map M_l with ``f_l(r) = M_l Y_std_l(r)`` (least squares against
rstref's standard harmonics) and compares it with every named convention x normalisation
x m order of :mod:`rstref.conventions.sph`, also allowing one global orthogonal
transformation of the input (``f = Y_named(Q r)``, Q a rotation or a reflection, the
same Q at every l, i.e. ``M_l = M_named,l D^l(Q)``).

Verdicts (docs/conventions.md):

``'match'``
    a named convention, to ``rtol``.
``'convention'``
    a named convention evaluated at ``Q r`` for one orthogonal Q (axis swap, axis
    permutation, mirror, rotation): a consistent change of frame, the same at every l.
    The map is reported; nothing is wrong with the function.
``'bug'``
    anything else: a block that is not a linear map of the degree-l harmonics, or whose
    map differs from the nearest convention only at some l or some m (a flipped sign, a
    wrong scale or a swap in one block is a slip, not a convention: no convention in use
    changes its rule from one l to the next).  The nearest convention and the first
    deviating (l, m) entries, with their size, are reported.
"""

from dataclasses import dataclass, field

import numpy as np

from rstref._checks import check_int
from rstref.conventions.sph import (
    CANONICAL_CONVENTIONS,
    M_ORDERS,
    NORMALIZATIONS,
    block_matrix,
    m_order,
    standard_harmonics,
)

#: (x, y, z) -> (y, z, x): the l = 1 standard block is proportional to (y, z, x)
_L1_AXES = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
#: radius used to see whether f depends on |r|
_RADIUS_PROBE = 2.5


def design_points(n_random=96, seed=16):
    """The detector's points: the six axis directions and seeded random unit vectors.

    Returns
    -------
    ndarray, shape (6 + n_random, 3)
    """
    axes = np.vstack([np.eye(3), -np.eye(3)])
    x = np.random.default_rng(seed).normal(size=(n_random, 3))
    return np.vstack([axes, x / np.linalg.norm(x, axis=1, keepdims=True)])


@dataclass
class BlockReport:
    """One degree-l block: how the function relates to the nearest convention there."""

    l: int
    residual: float  # part of f_l not spanned by the degree-l harmonics, relative
    deviation: float  # max |f_l - nearest convention|, relative to the block's scale
    kind: str  # 'ok', 'scale', 'signed permutation', 'linear map', 'not degree-l harmonics'
    detail: str = ""


@dataclass
class SphIdentification:
    """Result of :func:`identify_sph`; ``str()`` gives a readable report."""

    verdict: str
    convention: str
    normalization: str
    order: str
    rotation: object  # 3x3 orthogonal Q (f = Y_named(Q r)) or None
    radial: str  # 'unit' (f independent of |r|), 'solid' (|r|^l Y), 'mixed'
    deviation: float
    rtol: float
    blocks: list = field(default_factory=list)
    entries: list = field(default_factory=list)  # (l, m, max abs deviation, block scale)
    complex_values: bool = False

    @property
    def is_match(self):
        return self.verdict == "match"

    def __str__(self):
        name = f"{self.convention!r}, normalization {self.normalization!r}, m order {self.order!r}"
        lines = [f"verdict: {self.verdict}", f"nearest named convention: {name}"]
        if self.rotation is not None:
            q = np.array2string(np.round(self.rotation, 12) + 0.0, separator=", ")
            kind = "reflection" if np.linalg.det(self.rotation) < 0 else "rotation"
            lines.append(f"evaluated at Q r, Q = {q} ({kind}, the same at every l)")
        lines.append(f"radial dependence: {self.radial}")
        lines.append(f"max relative deviation from it: {self.deviation:.3g} (rtol {self.rtol:g})")
        for b in self.blocks:
            if b.kind != "ok":
                lines.append(f"  l={b.l}: {b.kind} {b.detail} (deviation {b.deviation:.3g}, "
                             f"residual {b.residual:.3g})")
        for l, m, dev, scale in self.entries:
            lines.append(f"  entry (l={l}, m={m}): max |deviation| {dev:.3g} (block scale {scale:.3g})")
        return "\n".join(lines)


def _evaluate(f, points, L):
    values = np.asarray(f(points.copy()))
    if values.shape != (len(points), L):
        raise ValueError(f"f must map xyz of shape (n, 3) to values of shape (n, (l_max+1)**2) = "
                         f"{(len(points), L)}, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("f returned non-finite values on the detector's points")
    return values


def _radial_kind(v1, v2, l_max):
    kinds = []
    for l in range(l_max + 1):
        a, b = v1[:, l * l:(l + 1) ** 2], v2[:, l * l:(l + 1) ** 2]
        scale = max(np.abs(a).max(), 1e-300)
        if np.abs(b - a).max() <= 1e-8 * scale:
            kinds.append("unit")
        elif np.abs(b - _RADIUS_PROBE ** l * a).max() <= 1e-8 * scale * _RADIUS_PROBE ** l:
            kinds.append("solid")
        else:
            kinds.append("other")
    solid = all(k == "solid" or (k == "unit" and l == 0) for l, k in enumerate(kinds))
    if solid and l_max > 0:
        return "solid", kinds
    if all(k == "unit" for k in kinds):
        return "unit", kinds
    return "mixed", kinds


def _fit_blocks(S, V, l_max):
    """Least-squares maps M_l (f_l = S_l M_l^T) and relative residuals."""
    maps, residuals = [], []
    for l in range(l_max + 1):
        s, v = S[:, l * l:(l + 1) ** 2], V[:, l * l:(l + 1) ** 2]
        m_t = np.linalg.lstsq(s, v, rcond=None)[0]
        scale = max(np.abs(v).max(), 1e-300)
        maps.append(m_t.T)
        residuals.append(float(np.abs(v - s @ m_t).max() / scale))
    return maps, residuals


def _wigner_of_orthogonal(l, Q):
    from rstref.rotations import wigner_D

    if np.linalg.det(Q) > 0:
        return np.asarray(wigner_D(l, Q))
    return (-1.0) ** l * np.asarray(wigner_D(l, -Q))


def _nearest_orthogonal(T1):
    """Q with D^1(Q) closest to T1 (None if T1 is not a real orthogonal matrix)."""
    if np.abs(np.imag(T1)).max() > 1e-6:
        return None
    Q = _L1_AXES.T @ np.real(T1) @ _L1_AXES
    u, _, vt = np.linalg.svd(Q)
    polar = u @ vt
    if np.abs(Q - polar).max() > 1e-6:
        return None
    # snap entries that are 0 or +-1 to round-off (axis permutations and mirrors)
    return np.where(np.abs(polar) < 1e-12, 0.0, np.where(np.abs(np.abs(polar) - 1) < 1e-12,
                                                         np.sign(polar), polar))


def _candidate(maps, l_max, convention, normalization, order, with_rotation):
    named = [block_matrix(l, convention, normalization, order) for l in range(l_max + 1)]
    T = [np.linalg.solve(named[l], maps[l]) for l in range(l_max + 1)]
    Q = None
    if with_rotation:
        if l_max < 1 or (Q := _nearest_orthogonal(T[1])) is None:
            return None
        if np.abs(Q - np.eye(3)).max() < 1e-12:
            return None
    expected = [named[l] @ _wigner_of_orthogonal(l, Q) if Q is not None else named[l]
                for l in range(l_max + 1)]
    devs = [float(np.abs(maps[l] - expected[l]).max() / max(np.abs(expected[l]).max(), 1e-300))
            for l in range(l_max + 1)]
    return dict(convention=convention, normalization=normalization, order=order, rotation=Q,
                expected=expected, devs=devs)


def _candidates(maps, l_max):
    for convention in CANONICAL_CONVENTIONS:
        for normalization in NORMALIZATIONS:
            for order in M_ORDERS:
                for with_rotation in (False, True):
                    c = _candidate(maps, l_max, convention, normalization, order, with_rotation)
                    if c is not None:
                        yield c


def _describe_block(E, tol):
    """Kind of the block map E = expected^-1 @ fitted (identity when they agree)."""
    n = E.shape[0]
    if np.abs(E - np.eye(n)).max() <= tol:
        return "ok", ""
    diag = np.diag(E)
    if np.abs(E - np.diag(diag)).max() <= tol:
        if np.abs(diag - diag[0]).max() <= tol:
            return "scale", f"x{np.real_if_close(diag[0]):.6g} on every m"
        flipped = [k for k in range(n) if abs(diag[k] + 1) <= tol]
        if len(flipped) + sum(abs(d - 1) <= tol for d in diag) == n:
            l = (n - 1) // 2
            return "signed permutation", "sign flipped at m = " + ", ".join(str(k - l) for k in flipped)
        l = (n - 1) // 2
        off = [f"m={k - l}: x{np.real_if_close(diag[k]):.12g}" for k in range(n) if abs(diag[k] - 1) > tol]
        return "scale", "per-m scales " + ", ".join(off)
    a = np.abs(E)
    if np.all((a <= tol) | (np.abs(a - 1) <= tol)) and np.all(np.abs(a.sum(axis=0) - 1) <= tol):
        return "signed permutation", "m entries exchanged"
    return "linear map", "not a sign, scale or permutation of the expected block"


def _entry_deviations(S, V, cand, l_max, order, rtol, limit):
    entries = []
    for l in range(l_max + 1):
        pred = S[:, l * l:(l + 1) ** 2] @ cand["expected"][l].T
        err = np.abs(V[:, l * l:(l + 1) ** 2] - pred).max(axis=0)
        scale = max(np.abs(pred).max(), 1e-300)
        ms = m_order(l, order) - l
        for k in np.flatnonzero(err > rtol * scale):
            entries.append((l, int(ms[k]), float(err[k]), float(scale)))
    return entries[:limit]


def identify_sph(f, l_max, rtol=1e-10, points=None, max_entries=10):
    """Identify the spherical-harmonics convention of ``f`` (or locate its bug).

    Parameters
    ----------
    f : callable
        ``f(xyz)`` with xyz of shape (n, 3) returns values of shape (n, (l_max+1)**2),
        blocks l = 0..l_max, each block's 2l+1 entries in some m order (real or complex).
    l_max : int
    rtol : float
        Relative tolerance (to each block's largest value) for "equal".
    points : array_like, shape (n, 3), optional
        Unit vectors to use; default :func:`design_points`.  Need n >= 2 l_max + 1.
    max_entries : int
        How many deviating (l, m) entries to list.

    Returns
    -------
    SphIdentification
    """
    l_max = check_int(l_max, "l_max", low=0)
    L = (l_max + 1) ** 2
    X = design_points(max(96, 4 * (2 * l_max + 1))) if points is None else np.asarray(points, dtype=float)
    if X.ndim != 2 or X.shape[1] != 3 or len(X) < 2 * l_max + 1:
        raise ValueError(f"points must have shape (n, 3) with n >= 2*l_max+1, got {X.shape}")
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = standard_harmonics(X, l_max)
    V = _evaluate(f, X, L)
    radial, radial_kinds = _radial_kind(V, _evaluate(f, _RADIUS_PROBE * X, L), l_max)
    maps, residuals = _fit_blocks(S, V, l_max)
    best = min(_candidates(maps, l_max),
               key=lambda c: (sum(d > rtol for d in c["devs"]), c["rotation"] is not None, max(c["devs"])))
    bad = [l for l, d in enumerate(best["devs"]) if d > rtol or residuals[l] > rtol]
    verdict = "bug" if bad or radial == "mixed" else ("match" if best["rotation"] is None else "convention")
    blocks = []
    for l in range(l_max + 1):
        if residuals[l] > rtol:
            kind, detail = "not degree-l harmonics", "(no linear map of the degree-l harmonics fits)"
        elif radial_kinds[l] == "other":
            kind, detail = "not degree-l harmonics", "(depends on |r| other than as |r|^0 or |r|^l)"
        else:
            kind, detail = _describe_block(np.linalg.solve(best["expected"][l], maps[l]), rtol)
        blocks.append(BlockReport(l, residuals[l], best["devs"][l], kind, detail))
    entries = _entry_deviations(S, V, best, l_max, best["order"], rtol, max_entries)
    return SphIdentification(verdict, best["convention"], best["normalization"], best["order"],
                             best["rotation"], radial, max(max(best["devs"]), max(residuals)), rtol,
                             blocks, entries, bool(np.iscomplexobj(V)))


def to_standard(values, identification, l_max):
    """Values of an identified function mapped to rstref's standard 'integral' harmonics.

    Uses the fitted convention, normalisation, m order and frame Q of ``identification``
    (for Q, the result is the standard harmonics at ``Q r``).
    """
    from rstref.conventions.sph import convert_sph

    return convert_sph(values, l_max, identification.convention, "standard",
                       source_normalization=identification.normalization,
                       source_order=identification.order)


# ----------------------------------------------------------------------------- CG tables
@dataclass
class CGIdentification:
    """Result of :func:`identify_cg`."""

    verdict: str  # 'match' or 'bug'
    convention: str  # nearest of rstref.conventions.cg.CG_CONVENTIONS
    deviation: float
    rtol: float
    triples: list = field(default_factory=list)  # (l1, l2, L, max abs deviation, kind)

    def __str__(self):
        lines = [f"verdict: {self.verdict}", f"nearest CG convention: {self.convention!r}",
                 f"max deviation: {self.deviation:.3g} (rtol {self.rtol:g})"]
        lines += [f"  triple ({a}, {b}, {c}): {kind}, max |deviation| {d:.3g}"
                  for a, b, c, d, kind in self.triples]
        return "\n".join(lines)


def _cg_kind(T, ref, tol):
    if np.abs(T + ref).max() <= tol:
        return "sign flipped"
    if not np.any(ref):
        return "should vanish"
    k = np.flatnonzero(np.abs(ref.ravel()) > 0.1 * np.abs(ref).max())
    ratio = T.ravel()[k] / ref.ravel()[k]
    if np.abs(ratio - ratio[0]).max() <= tol and np.abs(T - ratio[0] * ref).max() <= tol:
        return f"scaled by {ratio[0]:.12g}"
    return "different entries"


def identify_cg(C_fn, l_max, rtol=1e-12, max_triples=10):
    """Identify the convention of a coupling-table function (or locate its bug).

    Parameters
    ----------
    C_fn : callable
        ``C_fn(l1, l2, L)`` returns an array of shape (2l1+1, 2l2+1, 2L+1) indexed
        ``[m1+l1, m2+l2, M+L]``, real (or complex for the 'complex' convention).
    l_max : int
        Every triple with l1, l2, L <= l_max (at most 10, the shipped table) is checked.
    rtol : float
        Tolerance relative to each table's largest entry.

    Returns
    -------
    CGIdentification
        Verdict 'match' (a named convention at every triple) or 'bug' with the nearest
        convention and the deviating triples (sign flipped, scaled, different entries).
    """
    from rstref.conventions.cg import CG_CONVENTIONS, convert_cg
    from rstref.coupling import clebsch_gordan

    l_max = check_int(l_max, "l_max", low=0, high=10)
    triples = [(a, b, c) for a in range(l_max + 1) for b in range(l_max + 1)
               for c in range(abs(a - b), min(a + b, l_max) + 1)]
    tables = {t: np.asarray(C_fn(*t)) for t in triples}
    for t, T in tables.items():
        shape = (2 * t[0] + 1, 2 * t[1] + 1, 2 * t[2] + 1)
        if T.shape != shape:
            raise ValueError(f"C_fn{t} must return shape {shape}, got {T.shape}")
    results = {}
    for name in (c for c in CG_CONVENTIONS if c != "standard"):
        bad = []
        worst = 0.0
        for t in triples:
            if name == "gaunt" and sum(t) % 2:
                ref = np.zeros(tables[t].shape)
            else:
                ref = convert_cg(clebsch_gordan(*t), *t, "rstref", name)
            scale = max(np.abs(ref).max(), 1e-300)
            dev = float(np.abs(tables[t] - ref).max() / scale)
            worst = max(worst, dev)
            if dev > rtol:
                bad.append((*t, dev * scale, _cg_kind(tables[t], ref, rtol * scale)))
        results[name] = (len(bad), worst, bad)
    name = min(results, key=lambda k: results[k][:2])
    n_bad, worst, bad = results[name]
    return CGIdentification("match" if n_bad == 0 else "bug", name, worst, rtol, bad[:max_triples])
