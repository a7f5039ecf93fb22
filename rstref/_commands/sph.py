"""``rstref sph``: print the real spherical harmonics of one vector, by (l, m)."""

from rstref.harmonics import CONVENTIONS, NORMALIZATIONS


def add_arguments(parser):
    parser.add_argument("x", type=float, help="x coordinate")
    parser.add_argument("y", type=float, help="y coordinate")
    parser.add_argument("z", type=float, help="z coordinate")
    parser.add_argument("--l-max", type=int, default=4, help="largest degree (0..64, default 4)")
    parser.add_argument(
        "--normalization", choices=NORMALIZATIONS, default="integral",
        help="'integral' (orthonormal, default), 'component' (Y_00 = 1), 'norm' (sum_m Y^2 = 1)",
    )
    parser.add_argument(
        "--convention", choices=CONVENTIONS, default="standard",
        help="'standard' (polar axis z) or 'e3nn' (standard at (z, x, y))",
    )
    parser.add_argument("--solid", action="store_true", help="solid harmonics |r|^l Y_lm")
    parser.add_argument("--gradients", action="store_true", help="also print dY/dx, dY/dy, dY/dz")


def run(args):
    import sys

    import numpy as np

    from rstref.harmonics import SphericalHarmonics
    from rstref.layouts import lm_range

    try:
        sh = SphericalHarmonics(args.l_max, args.normalization, args.convention, args.solid)
        xyz = np.array([[args.x, args.y, args.z]])
        if args.gradients:
            Y, dY = sh.compute_with_gradients(xyz)
        else:
            Y, dY = sh.compute(xyz), None
    except (TypeError, ValueError) as exc:
        print(f"rstref sph: error: {exc}", file=sys.stderr)
        return 2
    header = f"{'l':>3} {'m':>4} {'Y':>24}"
    if dY is not None:
        header += f" {'dY/dx':>24} {'dY/dy':>24} {'dY/dz':>24}"
    print(f"# {sh!r} at ({args.x!r}, {args.y!r}, {args.z!r})")
    print(header)
    for k, (l, m) in enumerate(lm_range(sh.l_max)):
        line = f"{l:>3} {m:>4} {Y[0, k]:>24.16e}"
        if dY is not None:
            line += "".join(f" {dY[0, a, k]:>24.16e}" for a in range(3))
        print(line)
    return 0
