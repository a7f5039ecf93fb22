"""The seed experiment end to end (README, "The seed experiment: ``rstref demo``").

:func:`seed_experiment` builds the density expansion of a molecule around the origin,
its power spectrum and bispectrum, reconstructs the positions from the power spectrum
starting from seeded random perturbations, and analyses the Hessian null space of the
invariant loss at the reference, split into rotations, symmetry-forced directions,
displacements of atoms the invariants do not see, and genuine degeneracy.  It returns
the results as a dict and, given ``report``, streams the printed report section by
section as each is computed; :func:`format_report` prints a finished result.  The text
itself is written by :mod:`rstref._demo_report`.

Every printed number is reproducible: the perturbations are seeded, and a direction
picked in a degenerate subspace is :func:`canonical_direction` (a function of the
subspace, not of the basis that LAPACK returns for it).
"""

import time

import numpy as np

from rstref import _demo_report as text

#: the seed's settings (README, "The seed experiment")
SEED_SETTINGS = {"molecule": "N2H4", "r_cut": 2.0, "l_max": 4, "n_max": 5}

#: defaults of the other knobs of :func:`seed_experiment` (and of ``rstref demo``)
DEFAULTS = {"seed": 0, "perturbation": 0.25, "n_starts": 5, "rtol": 1e-6,
            "generic_displacement": 0.05}

#: a reconstruction counts as exact below this loss (mean squared invariant error)
ZERO_LOSS = 1e-20

#: RMSD (Angstrom) above which a zero-loss reconstruction is a different configuration
DIFFERENT_CONFIGURATION_RMSD = 1e-3

#: atoms closer to r_cut than this fraction of r_cut (inside or outside) are warned about:
#: their contribution fades to zero at r_cut, so the loss hardly depends on them
NEAR_CUTOFF_FRACTION = 0.1

#: step lengths of :func:`rstref.analysis.loss_along` in the report
GROWTH_STEPS = (1e-2, 3e-3, 1e-3, 3e-4)

format_report = text.format_report


def load_structure(molecule=None, structure=None):
    """Positions (N, 3), peak values (N,) and chemical symbols of the environment.

    Either an ``ase.build.molecule`` name or a path read by ``ase.io.read`` (its last
    frame, as ``ase.io.read`` does by default).  Values are
    +1 on heavy atoms and -1 on hydrogens (the seed's choice).  Positions are used as
    given: the environment's centre is the origin of the file's coordinates.  Periodic
    input is refused (``ValueError``): the demo expands one open environment, without
    periodic images.  An unknown molecule name or an unreadable file raise ``ValueError``.
    """
    if structure is not None:
        atoms = _read_structure(structure)
    else:
        import ase.build
        import ase.collections

        if molecule not in ase.collections.g2.names:
            raise ValueError(f"unknown molecule {molecule!r}: --molecule takes an "
                             "ase.build.molecule name (ase.collections.g2), e.g. N2H4, H2O, "
                             "CH4, C6H6, CH3CH2OH")
        atoms = ase.build.molecule(molecule)
    numbers = atoms.get_atomic_numbers()
    values = np.where(numbers == 1, -1.0, 1.0)
    return atoms.get_positions().astype(np.float64), values, atoms.get_chemical_symbols()


def _read_structure(path):
    import ase.io

    try:
        atoms = ase.io.read(path)
    except Exception as err:  # ase raises many types (OSError, StopIteration, ...)
        raise ValueError(f"cannot read structure {path!r}: {type(err).__name__}: {err}") from err
    if np.any(atoms.pbc):
        raise ValueError(
            f"structure {path!r} is periodic (pbc={atoms.pbc.tolist()}): the demo expands the "
            "atoms as given about the origin, without periodic images; use `rstref featurize` "
            "for crystals, or remove the periodicity (atoms.pbc = False) to analyse the atoms "
            "as a cluster")
    if len(atoms) == 0:
        raise ValueError(f"structure {path!r} has no atoms")
    return atoms


def build_descriptors(r_cut, l_max, n_max, primitive="cosine_bumps"):
    """Radial basis, RadialSphericalTensor, PowerSpectrum and Bispectrum of the seed."""
    from rstref.invariants import Bispectrum, PowerSpectrum
    from rstref.radial import OrthonormalRadialBasis
    from rstref.tensor import RadialSphericalTensor

    radial = OrthonormalRadialBasis(n_max, r_cut, primitive=primitive)
    rst = RadialSphericalTensor(n_max, radial, l_max)
    return radial, rst, PowerSpectrum(rst), Bispectrum(rst)


def norms_per_l(c, n_max, l_max):
    """Euclidean norm of each l block of a coefficient vector in the e3nn layout."""
    return [float(np.linalg.norm(c[n_max * l * l:n_max * (l + 1) ** 2])) for l in range(l_max + 1)]


def environment_summary(positions, r_cut):
    """Which atoms the expansion sees: radii, atoms inside/outside r_cut, atoms near it."""
    radii = np.linalg.norm(positions, axis=1)
    near = np.abs(radii - r_cut) < NEAR_CUTOFF_FRACTION * r_cut
    return {"radii": radii, "inside": np.flatnonzero(radii < r_cut).tolist(),
            "outside": np.flatnonzero(radii >= r_cut).tolist(),
            "near_cutoff": np.flatnonzero(near).tolist()}


def canonical_direction(basis):
    """The unit vector of ``span(basis)`` closest to a fixed generic reference vector.

    A function of the subspace only (not of the orthonormal ``basis`` given for it, so
    not of the LAPACK build that computed it), sign included: the projection of
    ``w_k = frac(k * 0.618...) - 1/2`` (a Weyl sequence), normalised.
    """
    w = (np.arange(1, basis.shape[0] + 1) * 0.6180339887498949) % 1.0 - 0.5
    v = basis @ (basis.T @ w)
    return v / np.linalg.norm(v)


def _registration_summary(positions, reference, values):
    from rstref.analysis import register

    reg = register(positions, reference, values)
    return {
        "rmsd_proper": reg.rmsd,
        "rmsd_improper": reg.improper_rmsd,
        "rmsd": min(reg.rmsd, reg.improper_rmsd),
        "permuted": bool(not np.array_equal(reg.permutation, np.arange(len(values)))),
        "aligned": reg.aligned if reg.rmsd <= reg.improper_rmsd else reg.improper_aligned,
    }


def _reconstruction_run(target, reference, values, descriptor, start, seen):
    """Reconstruct from ``start``; ``seen``: the reference's atoms inside r_cut.

    Whether a zero-loss end point is a *different configuration* is decided on the seen
    atoms only: nothing depends on the others, so where they end up says nothing.
    """
    from rstref.analysis import reconstruct

    first = reconstruct(target, start, values, descriptor, method="first-order")
    refined = reconstruct(target, first.positions, values, descriptor, method="newton")
    out = {"first_order": {"loss": first.loss, "iterations": first.iterations},
           "newton": {"loss": refined.loss, "iterations": refined.iterations}}
    for key, res in (("first_order", first), ("newton", refined)):
        reg = _registration_summary(res.positions, reference, values)
        out[key].update({k: v for k, v in reg.items() if k != "aligned"})
        out[key]["positions"] = res.positions
        out[key]["aligned"] = reg["aligned"]
        out[key]["radii"] = np.linalg.norm(res.positions, axis=1)
    out["history"] = first.history + refined.history
    out["reached_zero_loss"] = bool(refined.loss < ZERO_LOSS)
    rmsd_seen = out["newton"]["rmsd"]
    if len(seen) < len(values):
        rmsd_seen = _registration_summary(refined.positions[seen], reference[seen],
                                          values[seen])["rmsd"]
    out["newton"]["rmsd_seen_atoms"] = rmsd_seen
    out["different_configuration"] = bool(
        out["reached_zero_loss"] and rmsd_seen > DIFFERENT_CONFIGURATION_RMSD
    )
    return out


def _example_directions(deg):
    """One canonical direction per kind of null direction present, and the stiffest."""
    examples = {"rotation": deg.rotation_directions}
    rotations = deg.rotation_directions
    sym_only = deg.forced_directions - rotations @ (rotations.T @ deg.forced_directions)
    if deg.n_symmetry_forced:
        u, s, _ = np.linalg.svd(sym_only, full_matrices=False)
        examples["symmetry_forced"] = u[:, s > 0.5]
    if deg.n_unseen:
        examples["unseen"] = deg.unseen_directions
    if deg.n_genuine:
        examples["genuine"] = deg.genuine_directions
    if deg.null_space.shape[1] < len(deg.eigenvalues):
        # the stiffest direction (its eigenspace, if degenerate), for contrast
        top = deg.eigenvalues[0]
        vectors = np.linalg.eigh(deg.hessian)[1][:, ::-1]
        examples["stiffest"] = vectors[:, deg.eigenvalues >= top * (1 - 1e-8)]
    return {name: canonical_direction(basis) for name, basis in examples.items() if basis.shape[1]}


def _carrying_atoms(basis, share=0.9):
    """The fewest atoms that carry ``share`` of the squared weight of ``span(basis)``."""
    if basis.shape[1] == 0:
        return []
    weight = np.sum(basis.reshape(-1, 3, basis.shape[1]) ** 2, axis=(1, 2)) / basis.shape[1]
    order = np.argsort(-weight, kind="stable")
    count = int(np.searchsorted(np.cumsum(weight[order]), share - 1e-12)) + 1
    return sorted(order[:count].tolist())


def _degeneracy_summary(positions, values, descriptor, rtol, include_improper):
    from rstref.analysis import degeneracy, loss_along

    deg = degeneracy(positions, values, descriptor, rtol=rtol, include_improper=include_improper)
    growth = {}
    for name, direction in _example_directions(deg).items():
        losses, order = loss_along(positions, values, descriptor, direction, steps=GROWTH_STEPS)
        growth[name] = {"losses": losses.tolist(), "order": order}
    return {
        "nullity": deg.nullity,
        "n_rotations": deg.n_rotations,
        "n_rotations_in_null": deg.n_rotations_in_null,
        "n_symmetry_forced": deg.n_symmetry_forced,
        "n_forced_outside_null": deg.n_forced_outside_null,
        "n_unseen": deg.n_unseen,
        "unseen_atoms": deg.unseen_atoms.tolist(),
        "n_genuine": deg.n_genuine,
        "genuine_atoms": _carrying_atoms(deg.genuine_directions),
        "n_symmetry_operations": len(deg.operations),
        "operations": [describe_operation(g) for g, _ in deg.operations],
        "eigenvalues": deg.eigenvalues.tolist(),
        "threshold": deg.threshold,
        "growth": growth,
    }


def describe_operation(g):
    """Short text for an orthogonal 3x3 matrix: identity, rotation, inversion, mirror plane,
    or inversion x rotation (a rotoreflection).

    The axis is oriented so that its largest component is positive and the angle, in
    ``[0, 360)`` degrees, turns counter-clockwise about it: a rotation by 120 degrees and
    one by 240 degrees about the same axis read differently.
    """
    det = np.linalg.det(g)
    proper = g if det > 0 else -g
    w, v = np.linalg.eig(proper)
    axis = np.real(v[:, np.argmin(np.abs(w - 1))])
    axis = axis / np.linalg.norm(axis)
    axis = axis * np.sign(axis[np.argmax(np.abs(axis))])
    axial = 0.5 * np.array([proper[2, 1] - proper[1, 2], proper[0, 2] - proper[2, 0],
                            proper[1, 0] - proper[0, 1]])  # sin(angle) * axis
    cos_angle = np.clip((np.trace(proper) - 1) / 2, -1, 1)
    angle = float(np.degrees(np.arctan2(axial @ axis, cos_angle))) % 360.0
    if angle > 360.0 - 0.05:  # 359.96 rounds to 360.0: it is the identity
        angle = 0.0
    # rounded first, so that rounding noise never prints as "-0.000"
    axis_text = "(" + ", ".join(f"{round(float(a), 3) + 0.0:+.3f}" for a in axis) + ")"
    if det > 0:
        return "identity" if angle < 1e-6 else f"rotation {angle:.1f} deg about {axis_text}"
    if angle < 1e-6:
        return "inversion"
    if abs(angle - 180.0) < 1e-6:
        return f"mirror plane normal to {axis_text}"
    return f"inversion x rotation {angle:.1f} deg about {axis_text}"


def check_settings(r_cut, l_max, n_max, seed, perturbation, n_starts, rtol, generic_displacement):
    """The experiment's settings, checked before any work (``TypeError``/``ValueError``)."""
    from rstref._checks import check_float, check_int, check_positive_float  # numba: load late

    return {
        "r_cut": check_positive_float(r_cut, "r_cut"),
        "l_max": check_int(l_max, "l_max", 0),
        "n_max": check_int(n_max, "n_max", 1),
        "seed": check_int(seed, "seed", 0),
        "perturbation": check_float(perturbation, "perturbation", 0.0),
        "n_starts": check_int(n_starts, "n_starts", 1),
        "rtol": check_float(rtol, "rtol", 0.0, 1.0, low_open=True, high_open=True),
        "generic_displacement": check_positive_float(generic_displacement,
                                                     "generic_displacement"),
    }


def check_rtol_for(rtol, n_atoms):
    """Raise ``ValueError`` if ``rtol`` is below the round-off floor of
    :func:`rstref.analysis.degeneracy` for ``n_atoms`` atoms."""
    from rstref.analysis._degeneracy import RTOL_MIN_PER_DIMENSION

    floor = 3 * n_atoms * RTOL_MIN_PER_DIMENSION
    if rtol < floor:
        raise ValueError(f"rtol must be >= {floor:.1e} for {n_atoms} atoms (below it the "
                         f"threshold is smaller than the round-off of the Hessian's "
                         f"eigenvalues), got {rtol}")


def seed_experiment(molecule="N2H4", structure=None, r_cut=2.0, l_max=4, n_max=5, seed=0,
                    perturbation=0.25, n_starts=5, rtol=1e-6, generic_displacement=0.05,
                    report=None):
    """Run the seed experiment and return its results as a dict.

    Parameters
    ----------
    molecule : str
        ``ase.build.molecule`` name (ignored when ``structure`` is given).
    structure : str, optional
        Path to a structure file read by ``ase.io.read`` (not periodic).
    r_cut, l_max, n_max :
        Expansion settings (cos^2-bump radial basis, kernel-normalised projection).
    seed : int
        Seed of the random perturbations (``numpy.random.default_rng``), >= 0.
    perturbation : float
        Start positions are the reference plus uniform noise in ``[-perturbation,
        perturbation]`` Angstrom per coordinate.
    n_starts : int
        Number of reconstructions (at least 1).
    rtol : float
        Relative eigenvalue threshold of the Hessian nullity, in ``(0, 1)`` and above the
        round-off floor of :func:`rstref.analysis.degeneracy`.
    generic_displacement : float
        The "generic" environment is the reference plus uniform noise of this size,
        which breaks every symmetry.
    report : callable, optional
        Called with the text of each section of the report (lines joined by newlines)
        as soon as it is computed; the sections joined by newlines are
        :func:`format_report` of the result.
    """
    t0 = time.perf_counter()
    s = check_settings(r_cut, l_max, n_max, seed, perturbation, n_starts, rtol,
                       generic_displacement)
    emit = report if report is not None else (lambda _: None)
    positions, values, symbols = load_structure(molecule, structure)
    check_rtol_for(s["rtol"], len(positions))
    radial, rst, power, bispectrum = build_descriptors(s["r_cut"], s["l_max"], s["n_max"])
    c = rst.with_peaks_at(positions, values)
    result = {
        "settings": {"molecule": structure or molecule, "r_cut": s["r_cut"], "l_max": s["l_max"],
                     "n_max": s["n_max"], "seed": s["seed"], "perturbation": s["perturbation"],
                     "n_starts": s["n_starts"], "rtol": s["rtol"],
                     "radial": "cosine_bumps", "projection": "kernel-normalised",
                     "zero_loss": ZERO_LOSS},
        "symbols": symbols, "positions": positions, "values": values,
        "environment": environment_summary(positions, s["r_cut"]),
        "irreps": rst.irreps, "n_coefficients": int(c.size),
        "norms_per_l": norms_per_l(c, s["n_max"], s["l_max"]),
        "power_spectrum": power.compute(positions, values),
        "n_bispectrum": int(bispectrum.compute(positions, values).size),
        "reconstructions": [],
    }
    emit("\n".join(text.header_lines(result)))
    rng = np.random.default_rng(s["seed"])
    _run_reconstructions(result, power, rng, emit)
    result["degeneracy"] = {
        "power_spectrum": _degeneracy_summary(positions, values, power, s["rtol"], True),
        "bispectrum": _degeneracy_summary(positions, values, bispectrum, s["rtol"], False),
    }
    emit("\n".join(text.degeneracy_lines(result)))
    generic = positions + rng.uniform(-s["generic_displacement"], s["generic_displacement"],
                                      positions.shape)
    result["generic"] = {
        "positions": generic,
        "power_spectrum": _degeneracy_summary(generic, values, power, s["rtol"], True),
        "bispectrum": _degeneracy_summary(generic, values, bispectrum, s["rtol"], False),
    }
    emit("\n".join(text.generic_lines(result)))
    result["homometric_pair"] = homometric_pair_summary(power, bispectrum)
    emit("\n".join(text.homometric_lines(result)))
    result["seconds"] = time.perf_counter() - t0
    emit("\n".join(text.footer_lines(result)))
    return result


def _run_reconstructions(result, power, rng, emit):
    """The reconstructions from seeded starts, each row reported as soon as it is done."""
    s, positions, values = result["settings"], result["positions"], result["values"]
    emit("\n".join(text.reconstruction_header_lines(result)))
    for i in range(s["n_starts"]):
        start = positions + rng.uniform(-s["perturbation"], s["perturbation"], positions.shape)
        run = _reconstruction_run(result["power_spectrum"], positions, values, power, start,
                                  result["environment"]["inside"])
        result["reconstructions"].append(run)
        emit(text.reconstruction_row(i, run))
    emit("\n".join(text.reconstruction_summary_lines(result)))


def homometric_pair_summary(power, bispectrum, seed=5):
    """Genuine degeneracy: two non-congruent environments with equal power spectra.

    The second environment is presented in a random orientation; registration (proper
    and improper, any atom correspondence) shows that it is not a rotated or mirrored
    copy of the first.
    """
    from rstref.analysis import homometric_pair, register
    from rstref.rotations import random_rotation

    r_cut = power.rst.r_cut
    a, b = homometric_pair(radius=0.6 * r_cut, apex=0.4 * r_cut)
    b = b @ random_rotation(seed).T
    ones = np.ones(len(a))
    pa, pb = power.compute(a, ones), power.compute(b, ones)
    ba, bb = bispectrum.compute(a, ones), bispectrum.compute(b, ones)
    reg = register(b, a, ones)
    return {
        "a": a, "b": b,
        "power_spectrum_max_abs_difference": float(np.max(np.abs(pa - pb))),
        "power_spectrum_max_abs": float(np.max(np.abs(pa))),
        "bispectrum_max_abs_difference": float(np.max(np.abs(ba - bb))),
        "bispectrum_max_abs": float(np.max(np.abs(ba))),
        "registration_rmsd": min(reg.rmsd, reg.improper_rmsd),
    }


def to_json_ready(obj):
    """Convert numpy arrays/scalars inside nested dicts/lists to plain Python.

    Non-finite floats (a growth order of a flat loss is ``inf``) become None, so the
    output is standard JSON.
    """
    if isinstance(obj, dict):
        return {k: to_json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_ready(obj.tolist())
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
