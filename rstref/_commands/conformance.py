"""``rstref conformance``: export reference data, or check an implementation against it.

``rstref conformance export DIR [--l-max N | --full]`` writes the reference set
(docs/conventions.md); ``rstref conformance check --kind sph|cg MODULE:FUNCTION
[--l-max N] [--reference DIR] [--atol X] [--convention NAME]`` prints a per-table
report and exits 0 (pass or a convention difference) or 1 (a failure).
"""

import importlib
import sys


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    ex = sub.add_parser("export", help="write the conformance reference set into DIR")
    ex.add_argument("directory")
    ex.add_argument("--l-max", type=int, default=None, help="largest degree of the harmonics (default 8)")
    ex.add_argument("--full", action="store_true", help="harmonics up to l = 64 (minutes)")
    ck = sub.add_parser("check", help="check MODULE:FUNCTION against the conventions and reference data")
    ck.add_argument("function", help="a callable as module:function (module importable from the cwd)")
    ck.add_argument("--kind", choices=("sph", "cg", "power-spectrum", "sph-data"), default="sph",
                    help="sph/cg: FUNCTION is module:function; sph-data: FUNCTION is an .npz file with "
                    "arrays 'points' (n, 3) and 'values' (n, L) or padded (n, l_max+1, 2 l_max+1)")
    ck.add_argument("--l-max", type=int, default=4)
    ck.add_argument("--reference", default=None, help="a directory written by 'rstref conformance export'")
    ck.add_argument("--rtol", type=float, default=None, help="detector tolerance")
    ck.add_argument("--atol", type=float, default=None, help="strict absolute tolerance for the reference")
    ck.add_argument("--convention", default=None, help="the convention the function claims")
    ps = ck.add_argument_group("power-spectrum (f(positions, values) -> features)")
    ps.add_argument("--n-max", type=int, default=5)
    ps.add_argument("--r-cut", type=float, default=2.0)
    ps.add_argument("--primitive", "--radial", dest="primitive", default="smooth_cosines",
                    help="radial family (OrthonormalRadialBasis primitive=)")
    ps.add_argument("--layout", default="rstref", help="rstref, e3nn, featomic or unweighted")


def load_callable(spec):
    """``'module:function'`` -> the callable (the cwd is importable)."""
    if spec.count(":") != 1:
        raise ValueError(f"function must be given as module:function, got {spec!r}")
    module, name = spec.split(":")
    if "" not in sys.path:
        sys.path.insert(0, "")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    return obj


def _export(args):
    from rstref.conventions.reference_set import DEFAULT_L_MAX, FULL_L_MAX, export

    l_max = FULL_L_MAX if args.full else (args.l_max if args.l_max is not None else DEFAULT_L_MAX)
    result = export(args.directory, l_max=l_max)
    print(f"wrote {len(result['tables'])} tables to {args.directory}: " + ", ".join(result["tables"]))
    print(f"rstref harmonics vs mpmath: worst error/tolerance {result['rstref_sph_error_over_tolerance']:.3g}")
    return 0


def _check_data(args):
    import numpy as np

    from rstref.conventions.conformance import check_values

    try:
        with np.load(args.function, allow_pickle=False) as data:
            points, values = data["points"], data["values"]
    except (OSError, KeyError, ValueError) as exc:
        print(f"rstref conformance check: cannot read {args.function!r} (an .npz with 'points' and 'values'): {exc}")
        return 2
    report = check_values(points, values, convention=args.convention or "standard", atol=args.atol)
    print(report)
    return 0 if report.passed else 1


def _check(args):
    from rstref.conventions.conformance import check

    if args.kind == "sph-data":
        return _check_data(args)

    try:
        f = load_callable(args.function)
    except (ValueError, TypeError, ImportError, AttributeError) as exc:
        print(f"rstref conformance check: cannot load {args.function!r}: {exc}")
        return 2
    rst = None
    if args.kind == "power-spectrum":
        import rstref

        basis = rstref.OrthonormalRadialBasis(args.n_max, args.r_cut, primitive=args.primitive)
        rst = rstref.RadialSphericalTensor(args.n_max, basis, args.l_max)
    report = check(f, kind=args.kind, l_max=args.l_max, reference=args.reference, rtol=args.rtol,
                   atol=args.atol, convention=args.convention, rst=rst, layout=args.layout)
    print(report)
    return 0 if report.passed else 1


def run(args):
    if args.action == "export":
        return _export(args)
    if args.action == "check":
        return _check(args)
    print("usage: rstref conformance {export,check} ... (see --help)")
    return 2
