"""``rstref demo``: the seed experiment (README, "The seed experiment") from one command.

The report is printed section by section as it is computed (flushed), after a first
line saying that the first run compiles the kernels.  Bad settings, an unknown
molecule, an unreadable or periodic structure file give one clear error line and exit
status 2, before any work.
"""

import json
import sys

from rstref.demo import DEFAULTS, SEED_SETTINGS


def add_arguments(parser):
    parser.add_argument("--molecule", default=SEED_SETTINGS["molecule"],
                        help="an ase.build.molecule name (ase.collections.g2), e.g. N2H4, H2O, "
                        "CH4 (default: %(default)s)")
    parser.add_argument("--structure", default=None, metavar="FILE",
                        help="a structure file read by ase.io.read, overrides --molecule; the "
                        "centre is the origin of its coordinates; periodic files are refused "
                        "(default: none)")
    parser.add_argument("--r-cut", type=float, default=SEED_SETTINGS["r_cut"],
                        help="cutoff radius of the expansion in Angstrom (default: %(default)s)")
    parser.add_argument("--l-max", type=int, default=SEED_SETTINGS["l_max"],
                        help="largest spherical-harmonic degree l (default: %(default)s)")
    parser.add_argument("--n-max", type=int, default=SEED_SETTINGS["n_max"],
                        help="number of radial functions (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="seed of the random perturbations (default: %(default)s)")
    parser.add_argument("--perturbation", type=float, default=DEFAULTS["perturbation"],
                        help="uniform start perturbation in Angstrom (default: %(default)s)")
    parser.add_argument("--starts", type=int, default=DEFAULTS["n_starts"],
                        help="number of reconstructions (default: %(default)s)")
    parser.add_argument("--rtol", type=float, default=DEFAULTS["rtol"],
                        help="relative eigenvalue threshold of the Hessian nullity, in (0, 1) "
                        "(default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of the report (default: off)")
    parser.add_argument("--plot", metavar="DIR", default=None,
                        help="write PNG figures to DIR (needs matplotlib: pip install "
                        "'rstref[plot]') (default: no figures)")


def _say(text, stream=None):
    print(text, file=stream or sys.stdout, flush=True)


def run(args):
    from rstref._demo_report import COMPILE_NOTE

    _say(COMPILE_NOTE, sys.stderr if args.json else None)
    from rstref.demo import (
        check_rtol_for,
        check_settings,
        load_structure,
        seed_experiment,
        to_json_ready,
    )

    try:  # every argument is checked before any work
        settings = check_settings(args.r_cut, args.l_max, args.n_max, args.seed,
                                  args.perturbation, args.starts, args.rtol,
                                  DEFAULTS["generic_displacement"])
        check_rtol_for(settings["rtol"], len(load_structure(args.molecule, args.structure)[0]))
    except (TypeError, ValueError) as err:
        print(f"rstref demo: error: {err}", file=sys.stderr)
        return 2
    result = seed_experiment(
        molecule=args.molecule, structure=args.structure, r_cut=args.r_cut, l_max=args.l_max,
        n_max=args.n_max, seed=args.seed, perturbation=args.perturbation, n_starts=args.starts,
        rtol=args.rtol, report=None if args.json else _say,
    )
    if args.json:
        print(json.dumps(to_json_ready(result), indent=1))
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
            print("(figures: pip install 'rstref[plot]' and run rstref demo --plot DIR)",
                  file=sys.stderr)
    return 0
