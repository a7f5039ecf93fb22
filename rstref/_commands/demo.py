"""``rstref demo``: the seed experiment (DESIGN section 1) from one command."""

import json
import sys

from rstref.demo import SEED_SETTINGS, format_report, seed_experiment, to_json_ready


def add_arguments(parser):
    parser.add_argument("--molecule", default=SEED_SETTINGS["molecule"],
                        help="an ase.build.molecule name (default: %(default)s)")
    parser.add_argument("--structure", default=None,
                        help="a structure file read by ase.io.read (overrides --molecule)")
    parser.add_argument("--r-cut", type=float, default=SEED_SETTINGS["r_cut"])
    parser.add_argument("--l-max", type=int, default=SEED_SETTINGS["l_max"])
    parser.add_argument("--n-max", type=int, default=SEED_SETTINGS["n_max"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random perturbations")
    parser.add_argument("--perturbation", type=float, default=0.25,
                        help="uniform start perturbation in Angstrom (default: %(default)s)")
    parser.add_argument("--starts", type=int, default=5, help="number of reconstructions")
    parser.add_argument("--rtol", type=float, default=1e-6,
                        help="relative eigenvalue threshold of the Hessian nullity")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--plot", metavar="DIR", default=None,
                        help="write PNG figures to DIR (needs matplotlib: pip install 'rstref[plot]')")


def run(args):
    result = seed_experiment(
        molecule=args.molecule, structure=args.structure, r_cut=args.r_cut, l_max=args.l_max,
        n_max=args.n_max, seed=args.seed, perturbation=args.perturbation, n_starts=args.starts,
        rtol=args.rtol,
    )
    if args.json:
        print(json.dumps(to_json_ready(result), indent=1))
    else:
        print(format_report(result))
    if args.plot is not None:
        try:
            from rstref.plots import write_demo_figures
        except ImportError as exc:
            print(f"no plots: {exc}; install them with: pip install 'rstref[plot]'", file=sys.stderr)
            return 0
        for path in write_demo_figures(result, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    elif not args.json:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("(figures: pip install 'rstref[plot]' and run rstref demo --plot DIR)")
    return 0
