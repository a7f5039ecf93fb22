"""The ``rstref`` command line.

Each sub-command lives in the module that owns its mathematics and exposes two
functions: ``add_arguments(parser)`` and ``run(args) -> int``.  The module is
imported only when its sub-command runs, so ``rstref --help`` stays fast.
"""

import argparse
import sys
from importlib import import_module

#: sub-command name -> (module path, one-line help)
COMMANDS = {
    "sph": ("rstref._commands.sph", "print real spherical harmonics of a vector"),
    "demo": ("rstref._commands.demo", "run the seed experiment: expansion, invariants, inversion, degeneracy"),
    "featurize": ("rstref._commands.featurize",
                  "per-atom invariant features of structure files (any ase format) into an .npz"),
    "compile": ("rstref._commands.compile",
                "compile the numba kernels of demo and featurize once, into the on-disk cache"),
    "conformance": ("rstref._commands.conformance",
                    "export language-neutral reference data, or check an implementation against it"),
}


def _requested_command(argv):
    """The sub-command named in ``argv`` (the first argument not starting with '-'), or None."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv=None):
    """The argument parser; only the requested sub-command's module is imported.

    ``rstref --help`` lists every sub-command from :data:`COMMANDS` without importing any of
    them; ``rstref NAME ...`` imports ``NAME``'s module for its arguments.
    """
    parser = argparse.ArgumentParser(
        prog="rstref",
        description="Reference radial-spherical tensors: spherical harmonics, radial bases, "
        "Clebsch-Gordan tables, density expansions and rotation invariants.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    requested = _requested_command(sys.argv[1:] if argv is None else argv)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == requested:
            import_module(module).add_arguments(p)
    return parser


def main(argv=None):
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.version:
        import rstref

        print(rstref.__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    return int(import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
