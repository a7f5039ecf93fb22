"""Validate rstref's real Clebsch-Gordan tables against e3nn and wigners.

For every triple (l1, l2, L) with l1, l2, L <= l_max (default 10, the shipped table)
and |l1 - l2| <= L <= l1 + l2:

* e3nn (``o3.wigner_3j(l1, l2, L)``, float64): DESIGN 2.3 pins
  ``clebsch_gordan(l1, l2, L) == sqrt(2L+1) * e3nn.o3.wigner_3j(l1, l2, L)`` *including
  signs*, and ``rstref.wigner_3j == e3nn.o3.wigner_3j``.  Both are compared entry by
  entry (max abs difference); in addition every entry with |e3nn| > 1e-10 must have the
  same sign, and every entry where e3nn is zero must be zero in rstref.
* wigners (``clebsch_gordan_array(l1, l2, L)``): the complex (Condon-Shortley)
  Clebsch-Gordan coefficients <l1 m1 l2 m2 | L M>, indexed [m1+l1, m2+l2, M+L].  They are
  turned into rstref's real basis with the documented unitary change of basis:

      Y_real = U Y_complex,  U[l+m, l+m] = (-1)^m / sqrt2, U[l+m, l-m] = 1 / sqrt2  (m > 0)
                             U[l, l] = 1
                             U[l+m, l-m] = (-1)^m / (i sqrt2), U[l+m, l+m] = -1 / (i sqrt2)  (m < 0)

      C_real[m1, m2, M] = (-i)^(l1+l2-L) sum conj(U1[m1,mu1]) conj(U2[m2,mu2]) U3[M,mu3] CG[mu1,mu2,mu3]

  The phase (-i)^(l1+l2-L) makes the result real (the same choice as e3nn's factor (-i)^l
  in its change of basis).  U itself is checked first against rstref's real spherical
  harmonics and scipy's complex ones (Y_real = U Y_complex at random points), so the
  comparison is signed, not up to |.|.  The imaginary residual is reported too.

Exits 1 on any disagreement (above ``rstref.tolerances.PEER_CG_ATOL`` or any sign
mismatch); prints a table per largest degree and writes it to the section
'## Clebsch–Gordan: agreement with peers' of validation/RESULTS.md.

Usage: ``python validation/validate_cg.py [--l-max 10] [--no-write]``
"""

import argparse
import math
import sys
import time

import numpy as np

import _peers

SIGN_THRESHOLD = 1e-10  # entries smaller than this are "zero" for the sign comparison


def triples(l_max):
    """All (l1, l2, L) with every degree <= l_max and the triangle rule, in lexical order."""
    return [(l1, l2, L) for l1 in range(l_max + 1) for l2 in range(l_max + 1)
            for L in range(abs(l1 - l2), min(l1 + l2, l_max) + 1)]


# ---------------------------------------------------------------------------------------
# the complex -> real change of basis
# ---------------------------------------------------------------------------------------

def real_from_complex(l):
    """U with Y_real = U @ Y_complex (Condon-Shortley complex, DESIGN 2.1 real), (2l+1)^2."""
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    s = 1 / math.sqrt(2)
    u[l, l] = 1.0
    for m in range(1, l + 1):
        u[l + m, l + m] = (-1) ** m * s
        u[l + m, l - m] = s
        u[l - m, l + m] = (-1) ** m * s / 1j
        u[l - m, l - m] = -s / 1j
    return u


def check_change_of_basis(report, special, l_max):
    """Y_rstref(r) == U @ Y_scipy(r) for random r, every l <= l_max."""
    import rstref

    if special is None or not hasattr(special, "sph_harm_y"):
        report.skip("change of basis vs scipy.special.sph_harm_y", "scipy >= 1.15 needed")
        return
    rng = np.random.default_rng(7)
    xyz = rng.normal(size=(50, 3))
    theta = np.arctan2(np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2])
    phi = np.arctan2(xyz[:, 1], xyz[:, 0])
    ours = rstref.spherical_harmonics(xyz, l_max)
    dev = 0.0
    for l in range(l_max + 1):
        yc = np.stack([special.sph_harm_y(l, m, theta, phi) for m in range(-l, l + 1)], axis=1)
        yr = yc @ real_from_complex(l).T
        dev = max(dev, np.abs(yr - ours[:, l * l:(l + 1) ** 2]).max())
    report.check(f"change of basis U (rstref real SH == U @ scipy complex SH), l<={l_max}",
                 dev, 1e-12)


def wigners_real(wigners, l1, l2, L):
    """wigners' complex CG in rstref's real basis; returns (real part, max |imag part|)."""
    cg = wigners.clebsch_gordan_array(l1, l2, L)
    c = np.einsum("ai,bj,ck,ijk->abc", real_from_complex(l1).conj(),
                  real_from_complex(l2).conj(), real_from_complex(L), cg)
    c = c * (-1j) ** (l1 + l2 - L)
    return c.real, np.abs(c.imag).max()


# ---------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------

def sign_mismatches(ours, ref):
    """Entries where the signs differ (|ref| > threshold) or ref is zero and ours is not."""
    big = np.abs(ref) > SIGN_THRESHOLD
    flipped = big & (np.sign(ours) != np.sign(ref))
    spurious = ~big & (np.abs(ours) > SIGN_THRESHOLD)
    return np.argwhere(flipped | spurious)


class Stats:
    """Per largest degree: count, max deviations, sign mismatches, per peer."""

    def __init__(self, l_max):
        self.rows = {k: {"n": 0} for k in range(l_max + 1)}
        self.bad = []  # (peer, triple, detail)

    def update(self, key, name, value):
        row = self.rows[key]
        row[name] = max(row.get(name, 0), value)


def compare(report, l_max, o3, torch, wigners):
    import rstref
    from rstref.tolerances import PEER_CG_ATOL

    stats = Stats(l_max)
    for l1, l2, L in triples(l_max):
        key = max(l1, l2, L)
        stats.rows[key]["n"] += 1
        C = rstref.clebsch_gordan(l1, l2, L)
        W = rstref.wigner_3j(l1, l2, L)
        if o3 is not None:
            w = o3.wigner_3j(l1, l2, L, dtype=torch.float64).numpy()
            dc = np.abs(C - math.sqrt(2 * L + 1) * w).max()
            dw = np.abs(W - w).max()
            bad = sign_mismatches(C, w)
            stats.update(key, "e3nn_C", dc)
            stats.update(key, "e3nn_w3j", dw)
            stats.update(key, "e3nn_sign", len(bad))
            if dc > PEER_CG_ATOL or dw > PEER_CG_ATOL or len(bad):
                stats.bad.append(("e3nn", (l1, l2, L), _detail(C, math.sqrt(2 * L + 1) * w, bad, dc)))
        if wigners is not None:
            cw, imag = wigners_real(wigners, l1, l2, L)
            dc = np.abs(C - cw).max()
            bad = sign_mismatches(C, cw)
            stats.update(key, "wigners_C", dc)
            stats.update(key, "wigners_imag", imag)
            stats.update(key, "wigners_sign", len(bad))
            if dc > PEER_CG_ATOL or imag > PEER_CG_ATOL or len(bad):
                stats.bad.append(("wigners", (l1, l2, L), _detail(C, cw, bad, dc)))

    n = len(triples(l_max))
    tol = PEER_CG_ATOL
    for peer, present, columns in (("e3nn", o3 is not None, ("e3nn_C", "e3nn_w3j")),
                                   ("wigners", wigners is not None, ("wigners_C", "wigners_imag"))):
        if not present:
            continue
        bad = [b for b in stats.bad if b[0] == peer]
        for col in columns:
            dev = max(r.get(col, 0) for r in stats.rows.values())
            report.check(f"{peer} {col.split('_')[1]} over {n} triples l<={l_max}", dev, tol)
        signs = sum(r.get(f"{peer}_sign", 0) for r in stats.rows.values())
        if signs:
            report.fail(f"{peer} signs", f"{signs} entries with a different sign in triples "
                        + ", ".join(str(b[1]) for b in bad if "sign" in b[2]))
        else:
            report.check(f"{peer} signs identical (entries |C| > {SIGN_THRESHOLD:g})", 0, 0)
    for peer, triple, detail in stats.bad:
        print(f"DISAGREE  {peer} {triple}: {detail}")
    return stats


def _detail(ours, ref, bad, dev):
    text = f"max abs diff {dev:.2e}"
    if len(bad):
        shown = ", ".join(f"[{i},{j},{k}] rstref {ours[i, j, k]:+.6f} peer {ref[i, j, k]:+.6f}"
                          for i, j, k in bad[:6])
        text += f"; {len(bad)} sign mismatches (index [m1+l1, m2+l2, M+L]): {shown}"
    return text


def stats_table(stats, have_e3nn, have_wigners):
    headers = ["max(l1,l2,L)", "triples"]
    if have_e3nn:
        headers += ["max abs ΔC vs √(2L+1)·e3nn", "max abs Δw3j vs e3nn", "sign mismatches"]
    if have_wigners:
        headers += ["max abs ΔC vs wigners (real)", "max abs Im residual", "sign mismatches"]
    body = []
    for key, r in stats.rows.items():
        row = [key, r["n"]]
        if have_e3nn:
            row += [f"{r.get('e3nn_C', 0):.1e}", f"{r.get('e3nn_w3j', 0):.1e}",
                    r.get("e3nn_sign", 0)]
        if have_wigners:
            row += [f"{r.get('wigners_C', 0):.1e}", f"{r.get('wigners_imag', 0):.1e}",
                    r.get("wigners_sign", 0)]
        body.append(row)
    return _peers.markdown_table(headers, body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l-max", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    report = _peers.Report("validate_cg")
    start = time.perf_counter()

    special = _peers.import_peer("scipy.special", report)
    check_change_of_basis(report, special, args.l_max)
    torch = _peers.import_peer("torch", report)
    o3 = _peers.import_peer("e3nn.o3", report) if torch is not None else None
    if torch is None:
        report.skip("e3nn", "needs torch")
    wigners = _peers.import_peer("wigners", report)

    stats = compare(report, args.l_max, o3, torch, wigners)
    table = stats_table(stats, o3 is not None, wigners is not None)
    print(table)
    elapsed = time.perf_counter() - start
    print(f"({elapsed:.0f} s)")

    if not args.no_write:
        from rstref.tolerances import PEER_CG_ATOL

        peers = (["torch", "e3nn"] if o3 is not None else []) + (["wigners"] if wigners else [])
        skipped = "; ".join(f"{n}: {r}" for n, r in report.skipped) or "none"
        result = "all agree" if not report.failed else "**DISAGREEMENT** (see the script output)"
        body = "\n\n".join([
            f"Generated by `validation/validate_cg.py` on {_peers.utc_now()} "
            f"({elapsed:.0f} s). " + _peers.machine_info(peers),
            f"All {len(triples(args.l_max))} triples (l1, l2, L) with l1, l2, L <= "
            f"{args.l_max} and the triangle rule. rstref `clebsch_gordan(l1, l2, L)` against "
            "`sqrt(2L+1) * e3nn.o3.wigner_3j(l1, l2, L)` (float64) and rstref `wigner_3j` "
            "against e3nn's directly, signed; and against `wigners.clebsch_gordan_array` "
            "(complex Condon-Shortley CG) turned into the real basis by "
            "C = (-i)^(l1+l2-L) Σ conj(U1) conj(U2) U3 CG with Y_real = U Y_complex "
            "(U checked against rstref's and scipy's harmonics first), signed as well. "
            f"Tolerance {PEER_CG_ATOL:g} (`rstref.tolerances.PEER_CG_ATOL`); a sign "
            f"mismatch is any entry with |peer| > {SIGN_THRESHOLD:g} of different sign, or a "
            f"non-zero where the peer has an exact zero. Result: {result}.",
            table,
            f"Skipped: {skipped}.",
        ])
        _peers.update_results_section("## Clebsch–Gordan: agreement with peers", body)
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
