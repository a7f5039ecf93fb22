"""Validate rstref's real spherical harmonics against peer implementations.

Peers (each optional; one that is not installed is reported SKIPPED):

* sphericart (>= 2.0): ``SphericalHarmonics`` and ``SolidHarmonics`` with
  ``compute_with_hessians``: values, gradients and Hessians.  sphericart uses the standard
  real convention (DESIGN 2.1) in 'integral' normalisation; its solid harmonics are
  r**l Y_lm in the same normalisation.  The 'component' and 'norm' normalisations of
  rstref are compared with sphericart times the constant factors sqrt(4 pi) and
  sqrt(4 pi / (2l+1)).  sphericart 2.0 returns NaN for l >= 1 at the zero vector: that
  is shown and the zero vector is excluded from the sphericart (non-solid) comparison.
* e3nn: ``o3.spherical_harmonics(ls, x, normalize=True, normalization=...)`` for
  'integral', 'component' and 'norm' against rstref's ``convention='e3nn'``; gradients
  and Hessians by torch forward-mode autograd (``torch.func.jacfwd``) in float64 (e3nn
  has no explicit derivatives).  e3nn
  implements l <= 12 only.
* scipy: ``scipy.special.sph_harm_y`` (complex, Condon-Shortley phase), turned into
  the real standard form: Y_{l,m>0} = sqrt(2) (-1)^m Re Y_l^m,
  Y_{l,m<0} = sqrt(2) (-1)^m Im Y_l^|m|, Y_{l,0} = Y_l^0.  Values only.

Points: random directions with norms log-uniform in [0.1, 10], the poles and axes,
near-poles (x, y ~ 1e-9), and the zero vector.  Deviations are measured per degree l,
with derivatives rescaled to unit norm (gradient * r, Hessian * r**2 for Y(r/|r|);
division by r**(l - k) for the k-th derivative of solid harmonics), relative to the
largest reference magnitude of the l block.  A comparison fails when the deviation
exceeds ``rstref.tolerances.peer_rtol(l, order)`` for any l; the script then exits 1.

Usage: ``python validation/validate_harmonics.py [--l-max 16] [--points 400] [--no-write]``
"""

import argparse
import math
import sys

import numpy as np

import _peers

NORMALIZATIONS = ("integral", "component", "norm")


# ---------------------------------------------------------------------------------------
# points
# ---------------------------------------------------------------------------------------

def special_points():
    """Poles, axes, near-poles and a few exact diagonals (no zero vector)."""
    pts = [
        (0, 0, 1), (0, 0, -1), (0, 0, 2.5), (0, 0, -0.3),
        (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0),
        (1e-9, 0, 1), (0, 1e-9, -1), (1e-9, -2e-9, 1), (-3e-9, 1e-9, -1),
        (1e-7, 1e-7, 1), (1e-12, 0, 1), (0, 0, 1e-3), (1, 1, 0), (1, 1, 1), (-1, 2, -3),
    ]
    return np.array(pts, dtype=np.float64)


def random_points(n, rng):
    """``n`` random directions with norms log-uniform in [0.1, 10]."""
    xyz = rng.normal(size=(n, 3))
    xyz /= np.linalg.norm(xyz, axis=1)[:, None]
    return xyz * 10.0 ** rng.uniform(-1, 1, size=(n, 1))


# ---------------------------------------------------------------------------------------
# deviations per l
# ---------------------------------------------------------------------------------------

def scale_per_point(xyz, l_max, order, solid):
    """Factor (n, L) that brings the ``order``-th derivative to unit-norm size.

    For Y(r/|r|) the k-th derivative scales as r**-k; for solid harmonics r**l Y the
    k-th derivative is a polynomial of degree max(l - k, 0), scaling as r**(l - k).
    """
    r = np.linalg.norm(xyz, axis=1)
    ls = np.repeat(np.arange(l_max + 1), 2 * np.arange(l_max + 1) + 1)
    if solid:
        power = -np.maximum(ls - order, 0)
    else:
        power = np.full(ls.shape, order)
    with np.errstate(divide="ignore"):
        return r[:, None] ** power[None, :]


def deviation_per_l(ours, ref, xyz, l_max, order, solid):
    """Max |ours - ref| / max|ref| per degree l, derivatives rescaled (see module doc)."""
    n = xyz.shape[0]
    L = (l_max + 1) ** 2
    factor = scale_per_point(xyz, l_max, order, solid)
    ours = ours.reshape(n, -1, L) * factor[:, None, :]
    ref = ref.reshape(n, -1, L) * factor[:, None, :]
    devs = np.empty(l_max + 1)
    for l in range(l_max + 1):
        block = slice(l * l, (l + 1) ** 2)
        diff = np.abs(ours[..., block] - ref[..., block])
        size = np.abs(ref[..., block]).max(initial=0.0)
        size = size if size > 0 else 1.0  # an identically zero block: absolute deviation
        devs[l] = diff.max(initial=0.0) / size if np.all(np.isfinite(diff)) else np.nan
    return devs


class Comparisons:
    """Per-l deviations of every comparison, the checks, and the tables."""

    def __init__(self, report, l_max):
        self.report = report
        self.l_max = l_max
        self.rows = []  # (name, order, devs)

    def add(self, name, devs, order):
        from rstref.tolerances import peer_rtol

        tols = np.array([peer_rtol(l, order) for l in range(len(devs))])
        ratio = devs / tols
        worst = int(np.nanargmax(ratio)) if np.any(np.isfinite(ratio)) else 0
        ok = bool(np.all(np.isfinite(devs)) and np.all(devs <= tols))
        self.rows.append((name, order, devs, tols, ok))
        detail = f"worst l={worst} (dev {devs[worst]:.2e}, tol {tols[worst]:.1e}), l<={len(devs) - 1}"
        if ok:
            self.report.check(name, float(np.nanmax(devs)), float(tols.max()), detail)
        else:
            bad = [l for l in range(len(devs)) if not devs[l] <= tols[l]]
            self.report.fail(name, f"dev above tol at l={bad}: " +
                             ", ".join(f"{devs[l]:.2e}>{tols[l]:.1e}" for l in bad))

    def per_l_table(self):
        headers = ["l"] + [name for name, *_ in self.rows]
        body = []
        for l in range(self.l_max + 1):
            row = [l]
            for _, _, devs, _, _ in self.rows:
                row.append(f"{devs[l]:.1e}" if l < len(devs) else "")
            body.append(row)
        return _peers.markdown_table(headers, body)

    def summary_table(self):
        headers = ["comparison", "derivative", "l range", "max rel. dev", "at l",
                   "tol at that l", "result"]
        body = []
        for name, order, devs, tols, ok in self.rows:
            worst = int(np.nanargmax(devs)) if np.any(np.isfinite(devs)) else 0
            body.append([name, ["values", "gradients", "Hessians"][order],
                         f"0..{len(devs) - 1}", f"{np.nanmax(devs):.1e}", worst,
                         f"{tols[worst]:.0e}", "ok" if ok else "**FAIL**"])
        return _peers.markdown_table(headers, body)


# ---------------------------------------------------------------------------------------
# rstref
# ---------------------------------------------------------------------------------------

def rstref_all(xyz, l_max, normalization="integral", convention="standard", solid=False):
    import rstref

    return rstref.spherical_harmonics_with_hessians(
        xyz, l_max, normalization=normalization, convention=convention, solid=solid)


def normalization_factor(l_max, normalization):
    """Factor (L,) turning 'integral'-normalised Y_lm into the given normalisation."""
    ls = np.repeat(np.arange(l_max + 1), 2 * np.arange(l_max + 1) + 1)
    if normalization == "integral":
        return np.ones(ls.shape)
    if normalization == "component":
        return np.full(ls.shape, math.sqrt(4 * math.pi))
    return np.sqrt(4 * math.pi / (2 * ls + 1))


def check_zero_vector(report, l_max):
    """rstref at the zero vector: Y_00 kept, everything else exactly 0, no NaN (DESIGN 2.1)."""
    zero = np.zeros((1, 3))
    for normalization in NORMALIZATIONS:
        y, dy, d2y = rstref_all(zero, l_max, normalization)
        y00 = {"integral": 1 / math.sqrt(4 * math.pi), "component": 1.0, "norm": 1.0}
        dev = max(abs(y[0, 0] - y00[normalization]), np.abs(y[0, 1:]).max(initial=0),
                  np.abs(dy).max(), np.abs(d2y).max())
        nan = not (np.all(np.isfinite(y)) and np.all(np.isfinite(dy)) and np.all(np.isfinite(d2y)))
        if nan:
            report.fail(f"rstref zero vector ({normalization})", "NaN or inf in output")
        else:
            report.check(f"rstref zero vector ({normalization}): Y00 kept, rest 0", dev, 1e-15)


# ---------------------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------------------

def compare_sphericart(sphericart, comps, report, xyz, l_max):
    # the zero vector: show sphericart's NaN, then exclude it
    zero = np.zeros((1, 3))
    z = sphericart.SphericalHarmonics(l_max).compute(zero)
    n_nan = int(np.isnan(z).sum())
    print(f"note: sphericart SphericalHarmonics at the zero vector: Y00 = {z[0, 0]:.17g}, "
          f"{n_nan} of {z.shape[1] - 1} l>=1 values are NaN (excluded from the comparison); "
          f"rstref returns 0 there (DESIGN 2.1)")

    sh = sphericart.SphericalHarmonics(l_max)
    ref = sh.compute_with_hessians(xyz)
    for normalization in NORMALIZATIONS:
        ours = rstref_all(xyz, l_max, normalization)
        fac = normalization_factor(l_max, normalization)
        for order in range(3):
            devs = deviation_per_l(ours[order], ref[order] * fac, xyz, l_max, order, solid=False)
            comps.add(f"sphericart SH {normalization} {'Y dY d2Y'.split()[order]}", devs, order)

    # solid harmonics: polynomials, fine at the zero vector too
    pts = np.vstack([zero, xyz])
    ref = sphericart.SolidHarmonics(l_max).compute_with_hessians(pts)
    ours = rstref_all(pts, l_max, "integral", solid=True)
    for order in range(3):
        # the zero vector separately (absolute), then the rest scaled
        dev0 = np.abs(ours[order][0] - ref[order][0]).max()
        report.check(f"sphericart solid {'Y dY d2Y'.split()[order]} at zero vector", dev0,
                     _tol(l_max, order))
        devs = deviation_per_l(ours[order][1:], ref[order][1:], xyz, l_max, order, solid=True)
        comps.add(f"sphericart solid {'Y dY d2Y'.split()[order]}", devs, order)


def _tol(l_max, order):
    from rstref.tolerances import peer_rtol

    return peer_rtol(l_max, order)


def e3nn_with_autograd(o3, torch, xyz, l_max, normalization):
    """e3nn values, and gradients/Hessians by autograd, as numpy (n, L), (n,3,L), (n,3,3,L).

    Forward-mode autograd per point (``torch.func.vmap(jacfwd(...))``), which gives the
    full Jacobian and Hessian in one pass each.
    """
    ls = list(range(l_max + 1))

    def one_point(p):
        return o3.spherical_harmonics(ls, p, normalize=True, normalization=normalization)

    x = torch.tensor(xyz, dtype=torch.float64)
    with torch.no_grad():
        y = one_point(x)
    jac = torch.func.vmap(torch.func.jacfwd(one_point))(x)                       # (n, L, 3)
    hess = torch.func.vmap(torch.func.jacfwd(torch.func.jacfwd(one_point)))(x)   # (n, L, 3, 3)
    return (y.numpy(), np.moveaxis(jac.detach().numpy(), 1, -1),
            np.moveaxis(hess.detach().numpy(), 1, -1))


def compare_e3nn(torch, o3, comps, report, xyz, l_max):
    l_e3nn = min(l_max, 12)  # e3nn implements l <= 12
    if l_e3nn < l_max:
        print(f"note: e3nn implements l <= 12; compared for l <= {l_e3nn}")
    zero = np.zeros((1, 3))
    for normalization in NORMALIZATIONS:
        ref = e3nn_with_autograd(o3, torch, xyz, l_e3nn, normalization)
        ours = rstref_all(xyz, l_e3nn, normalization, convention="e3nn")
        for order in range(3):
            devs = deviation_per_l(ours[order], ref[order], xyz, l_e3nn, order, solid=False)
            comps.add(f"e3nn {normalization} {'Y dY(autograd) d2Y(autograd)'.split()[order]}",
                      devs, order)
        # at the zero vector e3nn (normalize=True) gives Y00 and zeros, as rstref does
        y0 = o3.spherical_harmonics(list(range(l_e3nn + 1)), torch.zeros(1, 3, dtype=torch.float64),
                                    normalize=True, normalization=normalization).numpy()
        ours0 = rstref_all(zero, l_e3nn, normalization, convention="e3nn")[0]
        report.check(f"e3nn {normalization} Y at zero vector", np.abs(ours0 - y0).max(), 1e-15)


def scipy_real_sh(special, xyz, l_max):
    """Standard real 'integral' Y_lm from scipy.special.sph_harm_y, shape (n, L)."""
    # arctan2, not arccos(z/r): arccos loses half the digits near the poles
    theta = np.arctan2(np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2])
    phi = np.arctan2(xyz[:, 1], xyz[:, 0])
    out = np.empty((xyz.shape[0], (l_max + 1) ** 2))
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            c = special.sph_harm_y(l, abs(m), theta, phi)
            if m > 0:
                v = math.sqrt(2) * (-1) ** m * c.real
            elif m < 0:
                v = math.sqrt(2) * (-1) ** m * c.imag
            else:
                v = c.real
            out[:, l * l + l + m] = v
    return out


def compare_scipy(special, comps, report, xyz, l_max):
    if not hasattr(special, "sph_harm_y"):
        report.skip("scipy.special.sph_harm_y", "needs scipy >= 1.15")
        return
    ref = scipy_real_sh(special, xyz, l_max)
    ours = rstref_all(xyz, l_max, "integral")[0]
    comps.add("scipy sph_harm_y Y", deviation_per_l(ours, ref, xyz, l_max, 0, False), 0)


# ---------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l-max", type=int, default=16)
    parser.add_argument("--points", type=int, default=400, help="number of random points")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)

    report = _peers.Report("validate_harmonics")
    rng = np.random.default_rng(args.seed)
    xyz = np.vstack([special_points(), random_points(args.points, rng)])
    l_max = args.l_max
    comps = Comparisons(report, l_max)
    print(f"{xyz.shape[0]} points (random + poles/near-poles/axes), l_max = {l_max}")

    check_zero_vector(report, l_max)

    peers_used = []
    sphericart = _peers.import_peer("sphericart", report)
    if sphericart is not None:
        peers_used.append("sphericart")
        compare_sphericart(sphericart, comps, report, xyz, l_max)

    torch = _peers.import_peer("torch", report)
    o3 = _peers.import_peer("e3nn.o3", report) if torch is not None else None
    if torch is None:
        report.skip("e3nn", "needs torch")
    if o3 is not None:
        peers_used += ["torch", "e3nn"]
        compare_e3nn(torch, o3, comps, report, xyz, l_max)

    special = _peers.import_peer("scipy.special", report)
    if special is not None:
        compare_scipy(special, comps, report, xyz, l_max)

    print("\nmax relative deviation per l (derivatives rescaled to unit norm):")
    print(comps.per_l_table())

    if not args.no_write:
        skipped = "; ".join(f"{n}: {r}" for n, r in report.skipped) or "none"
        body = "\n\n".join([
            f"Generated by `validation/validate_harmonics.py` on {_peers.utc_now()}. "
            + _peers.machine_info(peers_used),
            f"{xyz.shape[0]} points: {args.points} random directions with norms log-uniform "
            "in [0.1, 10], plus poles, axes and near-poles (x, y ~ 1e-9); the zero vector "
            "separately. Deviation = max |rstref - peer| over the l block, divided by the "
            "largest peer value of that block; derivatives are rescaled to unit norm first "
            "(gradient * r, Hessian * r^2; solid harmonics divided by r^(l-k)). Tolerance: "
            "`rstref.tolerances.peer_rtol(l, order)`. e3nn derivatives are torch forward-mode autograd "
            "(`torch.func.jacfwd`, float64) of its values, in e3nn's convention against rstref's "
            "`convention='e3nn'`; e3nn stops at l = 12. sphericart's 'component'/'norm' rows "
            "are its 'integral' values times sqrt(4 pi) and sqrt(4 pi/(2l+1)).",
            "sphericart 2.0 returns NaN for every l >= 1 value at the zero vector (rstref "
            "and e3nn return Y00 and zeros): the zero vector is excluded from the sphericart "
            "SphericalHarmonics rows and compared for SolidHarmonics (polynomials) and e3nn.",
            comps.summary_table(),
            f"Skipped peers: {skipped}.",
            "<details><summary>Max relative deviation per l</summary>\n\n"
            + comps.per_l_table() + "\n\n</details>",
        ])
        _peers.update_results_section("## Spherical harmonics: accuracy vs peers", body)
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
