"""Featurization agreement with featomic and dscribe: a bounded check (seconds), run by CI.

* featomic, configured with a Dirac-delta density, rstref's radial basis (tabulated)
  and a step cutoff, computes the *same* power spectrum as rstref: values and
  position gradients are compared on a few g2 molecules and a small periodic Cu cell,
  after ``p_rstref = (-1)^l 4 pi w p_featomic`` (the mapping of
  ``validation/bench_featurize.py``, which runs the full-size comparison).
* dscribe SOAP (Gaussian density, GTO basis) is a different quantity, so its values
  cannot be compared with rstref's.  What must agree is basis-independent: which atoms
  of a molecule have the same environment.  On the same molecules, two atoms of one
  species are "equivalent" when their per-atom feature rows are equal to a relative
  1e-4 (g2's coordinates are rounded) and "distinct" when they differ by more than
  1e-2; rstref and dscribe must
  give the same partition, and no pair may fall between the two thresholds.  Also
  checked: dscribe's rotation invariance and permutation equivariance.

A peer that is not installed is reported SKIPPED.  Writes the section
'## Featurization: bounded agreement with featomic and dscribe' of the results file
(validation/RESULTS.md, or ``$RSTREF_RESULTS_FILE``) unless ``--no-write``.

Usage: ``python validation/validate_featurize_peers.py [--molecules 8] [--no-write]``
"""

import argparse
import sys
import time

import bench_featurize as bf
import numpy as np

from _peers import Report, import_peer, machine_info, markdown_table, update_results_section, utc_now

HEADING = "## Featurization: bounded agreement with featomic and dscribe"
#: rows closer than this (relative to the molecule's largest entry) are the same environment:
#: g2's coordinates are rounded (to ~1e-4 A), so symmetry-equivalent atoms differ by up to
#: ~2e-6 in both libraries (~1e-13 where the rounding happens to be symmetric)
EQUIVALENT_RTOL = 1e-4
#: rows farther apart than this are different environments (measured: >= 0.1); in between is an error
DISTINCT_RTOL = 1e-2


def small_cases(n_molecules):
    from ase.build import bulk
    from ase.collections import g2

    names = [n for n in g2.names if set(g2[n].get_chemical_symbols()) <= bf.G2_ELEMENTS]
    # molecules mixing symmetry-equivalent and inequivalent atoms first, so the partition check bites
    preferred = ("CH3CH2OH", "CH3OH", "HCOOH", "CH4", "NH3", "C2H6", "CH3Cl", "H2O")
    preferred = [n for n in preferred if n in names]
    chosen = (preferred + [n for n in names if n not in preferred])[:n_molecules]
    molecules = [g2[n] for n in chosen]
    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    cu.rattle(0.05, seed=0)
    return {
        "g2 small": {"structures": molecules, "periodic": False, "names": chosen,
                     "species": sorted({int(z) for m in molecules for z in m.numbers})},
        "Cu fcc 32": {"structures": [cu], "species": [29], "periodic": True, "names": ["Cu fcc 2x2x2"]},
    }


def partition_pairs(features, numbers):
    """Pairs (i < j) of same-species atoms classed 'same', 'different' or 'ambiguous'."""
    scale = max(np.abs(features).max(), 1e-300)
    out = {}
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if numbers[i] != numbers[j]:
                continue
            d = np.abs(features[i] - features[j]).max() / scale
            out[(i, j)] = "same" if d <= EQUIVALENT_RTOL else "different" if d > DISTINCT_RTOL else "ambiguous"
    return out


def compare_partitions(report, spec):
    from rstref.features import Featurizer

    fz = Featurizer(r_cut=bf.R_CUT, n_max=bf.N_MAX, l_max=bf.L_MAX, species=spec["species"])
    dscribe = bf.Dscribe(spec["species"], False)
    rows = []
    for name, atoms in zip(spec["names"], spec["structures"]):
        ours = partition_pairs(fz.compute_many([atoms]).features, atoms.numbers)
        theirs = partition_pairs(bf.per_atom(dscribe, atoms), atoms.numbers)
        ambiguous = [p for p in ours if "ambiguous" in (ours[p], theirs[p])]
        disagree = [p for p in ours if ours[p] != theirs[p]]
        n_same = sum(v == "same" for v in ours.values())
        detail = f"{len(ours)} pairs, {n_same} equivalent; disagreeing {disagree[:4]}, ambiguous {ambiguous[:4]}"
        report.check(f"{name}: equivalent-atom partition rstref vs dscribe (pairs that differ)",
                     float(len(disagree) + len(ambiguous)), 0.0, detail)
        rows.append((name, len(atoms), len(ours), n_same, len(disagree), len(ambiguous)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=8, help="g2 molecules compared (default 8)")
    parser.add_argument("--no-write", action="store_true", help="do not write the results section")
    args = parser.parse_args(argv)
    report = Report("validate_featurize_peers")
    start = time.perf_counter()
    cases = small_cases(args.molecules)
    featomic = import_peer("featomic", report)
    dscribe = import_peer("dscribe.descriptors", report)
    featomic_rows, partition_rows, invariance_rows = [], [], []
    if featomic is not None:
        featomic_rows = bf.compare_with_featomic_delta(report, cases)
    if dscribe is not None:
        partition_rows = compare_partitions(report, cases["g2 small"])
        invariance_rows = bf.invariance_checks(report, {"g2 x 100": cases["g2 small"]}, {"dscribe": bf.Dscribe})
    elapsed = time.perf_counter() - start
    print(f"({elapsed:.1f} s)")
    if not args.no_write:
        peers = [n for n, m in (("featomic", featomic), ("dscribe", dscribe)) if m is not None]
        skipped = "; ".join(f"{n}: {r}" for n, r in report.skipped) or "none"
        body = [f"Generated by `validation/validate_featurize_peers.py` on {utc_now()} ({elapsed:.0f} s). "
                + machine_info(peers),
                "Same quantity (featomic with a delta density and rstref's radial basis), relative deviations:",
                markdown_table(["system", "structures compared", "features", "position gradients"], featomic_rows)
                if featomic_rows else "featomic: SKIPPED.",
                f"dscribe (a different quantity): equivalent-atom partitions (rows equal to {EQUIVALENT_RTOL:g}, "
                f"distinct beyond {DISTINCT_RTOL:g}):",
                markdown_table(["molecule", "atoms", "same-species pairs", "equivalent", "disagree", "ambiguous"],
                               partition_rows) if partition_rows else "dscribe: SKIPPED.",
                markdown_table(["library", "rotation (relative)", "permutation (relative)"], invariance_rows)
                if invariance_rows else "",
                f"Skipped: {skipped}."]
        update_results_section(HEADING, "\n\n".join(b for b in body if b))
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
