"""The tutorial's radial orthonormalisation, re-created from its description, against rstref.

The original notebook (DESIGN 2.4) orthonormalised its radial primitives numerically:
sample the primitives on a grid of N points on [0, r_cut], run Gram–Schmidt with
trapezoid-rule inner products weighted by 4 pi r^2, and evaluate the result by linear
interpolation between the samples.  This script does that (written fresh from the
description) for the seed settings (n_max = 5, r_cut = 2) and reports, as N grows,

* the max error of the interpolated functions against rstref's exact orthonormal
  functions on a fine grid (absolute, and relative to max |R_n|), and
* the orthonormality defect max|T G T^T - I| of the tutorial's functions, where T are the
  tutorial's Gram–Schmidt coefficients on the primitives and G is rstref's exact Gram
  matrix (so the interpolation does not enter this column).

It exits with status 1 if the error does not decrease with N, and appends its tables to
validation/RESULTS.md (section '## Radial basis: tutorial procedure vs rstref') unless
``--no-write`` is given.

Usage: python validation/radial_tutorial_procedure.py [--no-write]
"""

import datetime
import platform
import re
import sys
from pathlib import Path

import numpy as np

from rstref.radial import OrthonormalRadialBasis, RadialPrimitives

N_MAX, R_CUT = 5, 2.0
SAMPLES = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
CONFIGS = [("cosine_bumps", None), ("cosine_bumps", 2), ("cosines", 2), ("smooth_cosines", None)]
SECTION = "## Radial basis: tutorial procedure vs rstref"


def trapezoid_inner(u, v, r):
    """int u v 4 pi r^2 dr by the trapezoid rule on the samples r."""
    g = u * v * 4.0 * np.pi * r ** 2
    return float(np.sum(0.5 * (g[1:] + g[:-1]) * np.diff(r)))


def tutorial_gram_schmidt(samples, r):
    """Classical Gram–Schmidt of the columns of ``samples`` (N, n) with trapezoid products.

    Returns the orthonormal samples (N, n) and the lower-triangular T with
    ``orthonormal = samples @ T.T``.
    """
    n = samples.shape[1]
    T = np.zeros((n, n))
    out = np.zeros_like(samples)
    for i in range(n):
        vec = samples[:, i].copy()
        coef = np.zeros(n)
        coef[i] = 1.0
        for j in range(i):
            proj = trapezoid_inner(samples[:, i], out[:, j], r)
            vec -= proj * out[:, j]
            coef -= proj * T[j]
        norm = np.sqrt(trapezoid_inner(vec, vec, r))
        out[:, i] = vec / norm
        T[i] = coef / norm
    return out, T


def tutorial_evaluate(orthonormal_samples, r_samples, r):
    """Linear interpolation of the sampled functions at r (zero beyond the last sample)."""
    return np.stack([np.interp(r, r_samples, orthonormal_samples[:, k], right=0.0)
                     for k in range(orthonormal_samples.shape[1])], axis=1)


def table_for(primitive, envelope_power):
    basis = OrthonormalRadialBasis(N_MAX, R_CUT, primitive, envelope_power)
    family = RadialPrimitives(N_MAX, R_CUT, primitive, envelope_power)
    r_eval = np.linspace(0.0, R_CUT, 20001)[:-1]  # exclude r_cut itself: R jumps there for some families
    exact = basis(r_eval)
    scale = np.abs(exact).max()
    rows, errors = [], []
    for n_samples in SAMPLES:
        r_samples = np.linspace(0.0, R_CUT, n_samples)
        samples = family(r_samples)
        # the sample at r = r_cut itself: the tutorial's primitives are evaluated there by
        # their formula (f(r_cut) = limit from the left), not by the zero extension
        samples[-1] = family(np.array([R_CUT * (1 - 1e-15)]))[0]
        ortho, T = tutorial_gram_schmidt(samples, r_samples)
        err = np.abs(tutorial_evaluate(ortho, r_samples, r_eval) - exact).max()
        defect = np.abs(T @ basis.gram @ T.T - np.eye(N_MAX)).max()
        errors.append(err)
        rows.append(f"| {n_samples} | {err:.3e} | {err / scale:.3e} | {defect:.3e} |")
    header = (f"**{primitive}**, envelope_power={envelope_power}, n_max={N_MAX}, r_cut={R_CUT} "
              f"(Gram condition number {basis.condition_number:.3g})\n\n"
              "| N samples | max abs error | relative to max abs R | orthonormality defect |\n"
              "|---:|---:|---:|---:|")
    return header + "\n" + "\n".join(rows), errors


def append_results(text):
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else "# Validation results\n"
    stamp = (f"_{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.node()} ({platform.machine()}, {platform.python_version()}), "
             f"`python validation/radial_tutorial_procedure.py`_")
    section = f"{SECTION}\n\n{stamp}\n\n{text}\n"
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda m: section + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + section
    path.write_text(new)


def main(argv):
    blocks, ok = [], True
    for primitive, p in CONFIGS:
        text, errors = table_for(primitive, p)
        blocks.append(text)
        decreasing = all(b < a for a, b in zip(errors, errors[1:]))
        ok &= decreasing
        if not decreasing:
            blocks.append(f"\n**FAIL**: the error does not decrease with N for {primitive}, p={p}")
    text = "\n\n".join(blocks)
    print(text)
    if "--no-write" not in argv:
        append_results(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
