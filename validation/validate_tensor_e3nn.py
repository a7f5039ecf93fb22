"""Validate rstref's radial-spherical tensor and power spectrum against e3nn.

1. Coefficients.  For random environments, the coefficients are rebuilt from e3nn's
   spherical harmonics (``o3.spherical_harmonics(..., normalize=True,
   normalization='component')``, torch float64) times rstref's radial values:
   ``phi_nlm(r_i) = R_n(|r_i|) Y^e3nn_lm(r_i)``, ``c = sum_i v_i phi(r_i) / sum_k phi_k(r_i)^2``
   (the norm summed explicitly in torch) and ``c = sum_i v_i phi(r_i)`` for the raw
   projection, laid out as e3nn's irreps ``n_max x l``.  Compared with
   ``RadialSphericalTensor(..., convention='e3nn').with_peaks_at``.
2. Power spectrum.  ``e3nn.o3.ReducedTensorProducts('ij=ji', i=rst.irreps,
   filter_ir_out=['0e'], filter_ir_mid=['0e'])`` applied to ``(c, c)`` against
   ``rstref.power_spectrum`` (order and normalisation must agree exactly, DESIGN 2.6),
   for p_arg = +1 (irreps ``nx0e+nx1e+...``) and p_arg = -1 (``nx0e+nx1o+...``).
   Building the reduced tensor product is slow in e3nn (it solves for the invariant
   subspace numerically: ~25 s for n_max = l_max = 3 on a loaded 2-core machine, several
   minutes for the seed's n_max = 5, l_max = 4), so the default sizes are small;
   ``--full`` adds the seed size.

Pass criterion: max |rstref - e3nn| / max |e3nn| <= 1e-12 for every comparison
(``tolerances.PEER_TENSOR_RTOL``).  Exit status non-zero if anything fails; e3nn or torch
missing is reported SKIPPED (and the script exits 0 with nothing compared).

Usage: ``python validation/validate_tensor_e3nn.py [--full] [--no-write]``
"""

import argparse
import time

import numpy as np

import _peers


def random_environment(rng, n_atoms, r_max):
    """Atoms in the ball of radius ``r_max`` (pairwise >= 0.1 apart), values in [-1.5, 1.5]."""
    points = []
    while len(points) < n_atoms:
        p = rng.uniform(-r_max, r_max, 3)
        if np.linalg.norm(p) < r_max and all(np.linalg.norm(p - q) >= 0.1 for q in points):
            points.append(p)
    return np.array(points), rng.uniform(-1.5, 1.5, n_atoms)


def e3nn_coefficients(torch, o3, rst, positions, values, normalize):
    """c from e3nn's harmonics and rstref's radial values, assembled in torch."""
    x = torch.tensor(positions)
    Y = o3.spherical_harmonics(list(range(rst.l_max + 1)), x, normalize=True,
                               normalization="component")                 # (N, L)
    R = torch.tensor(rst.radial_basis(np.linalg.norm(positions, axis=1)))  # (N, n_max)
    blocks = []
    for l in range(rst.l_max + 1):
        Yl = Y[:, l * l:(l + 1) ** 2]
        blocks.append((R[:, :, None] * Yl[:, None, :]).reshape(len(positions), -1))
    phi = torch.cat(blocks, dim=1)                                         # (N, dim)
    weights = torch.tensor(values)
    if normalize:
        weights = weights / (phi ** 2).sum(dim=1)
    return (weights[:, None] * phi).sum(dim=0).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the seed size n_max=5, l_max=4 "
                        "for the reduced tensor product (slow in e3nn)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    import rstref
    from rstref import tolerances
    from rstref.tensor import RadialSphericalTensor

    report = _peers.Report("tensor/power spectrum vs e3nn")
    torch = _peers.import_peer("torch", report)
    e3nn = _peers.import_peer("e3nn", report) if torch is not None else None
    rows = []
    if e3nn is None:
        print(report.summary())
        return report.exit_status()
    torch.set_default_dtype(torch.float64)
    from e3nn import o3

    rtol = tolerances.PEER_TENSOR_RTOL
    rng = np.random.default_rng(20240607)

    # 1. coefficients
    for n_max, l_max, primitive in [(5, 4, "cosine_bumps"), (8, 6, "cosines"), (3, 10, "smooth_cosines")]:
        rb = rstref.OrthonormalRadialBasis(n_max, 2.0, primitive=primitive)
        rst = RadialSphericalTensor(n_max, rb, l_max, convention="e3nn")
        worst = {True: 0.0, False: 0.0}
        for _ in range(10):
            x, v = random_environment(rng, int(rng.integers(1, 20)), 1.95)
            for normalize in (True, False):
                ours = rst.with_peaks_at(x, v, normalize=normalize)
                theirs = e3nn_coefficients(torch, o3, rst, x, v, normalize)
                worst[normalize] = max(worst[normalize],
                                       np.abs(ours - theirs).max() / np.abs(theirs).max())
        for normalize in (True, False):
            name = (f"coefficients n_max={n_max} l_max={l_max} {primitive} "
                    f"{'kernel-normalised' if normalize else 'raw'}")
            ok = report.check(name, worst[normalize], rtol, "relative, 10 environments")
            rows.append([name, f"{worst[normalize]:.1e}", "ok" if ok else "FAIL"])

    # 2. power spectrum vs ReducedTensorProducts
    sizes = [(2, 2), (3, 3)] + ([(5, 4)] if args.full else [])
    for n_max, l_max in sizes:
        rb = rstref.OrthonormalRadialBasis(n_max, 2.0)
        for p_arg in (1, -1):
            rst = RadialSphericalTensor(n_max, rb, l_max, p_arg=p_arg, convention="e3nn")
            start = time.perf_counter()
            rtp = o3.ReducedTensorProducts("ij=ji", i=rst.irreps, filter_ir_out=["0e"],
                                           filter_ir_mid=["0e"])
            built = time.perf_counter() - start
            name = f"power spectrum {rst.irreps}"
            if str(rtp.irreps_out) != f"{rstref.power_spectrum_size(n_max, l_max)}x0e":
                report.fail(name, f"e3nn output irreps {rtp.irreps_out} != "
                                  f"{rstref.power_spectrum_size(n_max, l_max)}x0e")
                rows.append([name, "-", "FAIL (irreps)"])
                continue
            worst = 0.0
            for _ in range(10):
                x, v = random_environment(rng, int(rng.integers(1, 20)), 1.95)
                for normalize in (True, False):
                    c = rst.with_peaks_at(x, v, normalize=normalize)
                    ours = rstref.power_spectrum(c, n_max, l_max)
                    ct = torch.tensor(c)
                    theirs = rtp(ct, ct).detach().numpy()
                    worst = max(worst, np.abs(ours - theirs).max() / np.abs(theirs).max())
            ok = report.check(name, worst, rtol,
                              f"relative, 20 coefficient vectors; e3nn built it in {built:.0f} s")
            rows.append([name, f"{worst:.1e}", "ok" if ok else "FAIL"])

    if not args.no_write:
        body = (
            "Written by `validation/validate_tensor_e3nn.py` "
            f"({_peers.utc_now()}). {_peers.machine_info(peers=['torch', 'e3nn'])}\n\n"
            "Coefficients: rstref `RadialSphericalTensor(..., convention='e3nn').with_peaks_at` vs "
            "the same sums built from e3nn's `o3.spherical_harmonics` ('component') times rstref's "
            "radial values, kernel-normalised and raw. Power spectrum: `rstref.power_spectrum` vs "
            "`e3nn.o3.ReducedTensorProducts('ij=ji', i=irreps, filter_ir_out=['0e'], "
            "filter_ir_mid=['0e'])(c, c)`, same order, same normalisation. "
            f"Criterion: max relative deviation <= {rtol:.0e}.\n\n"
            + _peers.markdown_table(["comparison", "max rel. deviation", "status"], rows))
        _peers.update_results_section("## Tensor and power spectrum vs e3nn", body)
    return report.exit_status()


if __name__ == "__main__":
    raise SystemExit(main())
