"""The seed experiment end to end (DESIGN section 1), as data and as a printed report.

:func:`seed_experiment` builds the density expansion of a molecule around the origin,
its power spectrum and bispectrum, reconstructs the positions from the power spectrum
starting from a seeded random perturbation, and analyses the Hessian null space of the
invariant loss at the reference, split into rotations, symmetry-forced directions and
genuine degeneracy.  :func:`format_report` prints it.
"""

import time

import numpy as np

from rstref.analysis import degeneracy, homometric_pair, loss_along, reconstruct, register

#: the seed's settings (DESIGN section 1)
SEED_SETTINGS = {"molecule": "N2H4", "r_cut": 2.0, "l_max": 4, "n_max": 5}

#: a reconstruction counts as exact below this loss (mean squared invariant error)
ZERO_LOSS = 1e-20

#: RMSD (Angstrom) above which a zero-loss reconstruction is a different configuration
DIFFERENT_CONFIGURATION_RMSD = 1e-3


def load_structure(molecule=None, structure=None):
    """Positions (N, 3), peak values (N,) and chemical symbols of the environment.

    Either an ``ase.build.molecule`` name or a path read by ``ase.io.read``.  Values are
    +1 on heavy atoms and -1 on hydrogens (the seed's choice).  Positions are used as
    given: the environment's centre is the origin of the file's coordinates.
    """
    if structure is not None:
        import ase.io

        atoms = ase.io.read(structure)
    else:
        import ase.build

        atoms = ase.build.molecule(molecule)
    numbers = atoms.get_atomic_numbers()
    values = np.where(numbers == 1, -1.0, 1.0)
    return atoms.get_positions().astype(np.float64), values, atoms.get_chemical_symbols()


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


def _registration_summary(positions, reference, values):
    reg = register(positions, reference, values)
    return {
        "rmsd_proper": reg.rmsd,
        "rmsd_improper": reg.improper_rmsd,
        "rmsd": min(reg.rmsd, reg.improper_rmsd),
        "permuted": bool(not np.array_equal(reg.permutation, np.arange(len(values)))),
        "aligned": reg.aligned if reg.rmsd <= reg.improper_rmsd else reg.improper_aligned,
    }


def _reconstruction_run(target, reference, values, descriptor, start):
    first = reconstruct(target, start, values, descriptor, method="first-order")
    refined = reconstruct(target, first.positions, values, descriptor, method="newton")
    out = {"first_order": {"loss": first.loss, "iterations": first.iterations},
           "newton": {"loss": refined.loss, "iterations": refined.iterations}}
    for key, res in (("first_order", first), ("newton", refined)):
        reg = _registration_summary(res.positions, reference, values)
        out[key].update({k: v for k, v in reg.items() if k != "aligned"})
        out[key]["positions"] = res.positions
        out[key]["aligned"] = reg["aligned"]
        radii = np.linalg.norm(res.positions, axis=1)
        out[key]["radii"] = radii
    out["history"] = first.history + refined.history
    out["reached_zero_loss"] = bool(refined.loss < ZERO_LOSS)
    out["different_configuration"] = bool(
        out["reached_zero_loss"] and out["newton"]["rmsd"] > DIFFERENT_CONFIGURATION_RMSD
    )
    return out


def _degeneracy_summary(positions, values, descriptor, rtol, include_improper):
    deg = degeneracy(positions, values, descriptor, rtol=rtol, include_improper=include_improper)
    growth = {}
    examples = {"rotation": deg.rotation_directions}
    sym_only = deg.forced_directions - deg.rotation_directions @ (
        deg.rotation_directions.T @ deg.forced_directions)
    if deg.n_symmetry_forced:
        u, s, _ = np.linalg.svd(sym_only, full_matrices=False)
        examples["symmetry_forced"] = u[:, s > 0.5]
    if deg.n_genuine:
        examples["genuine"] = deg.genuine_directions
    hessian_directions = deg.null_space.shape[1] < len(deg.eigenvalues)
    for name, basis in examples.items():
        if basis.shape[1]:
            losses, order = loss_along(positions, values, descriptor, basis[:, 0])
            growth[name] = {"losses": losses.tolist(), "order": order}
    if hessian_directions:
        # the stiffest direction, for contrast: quadratic growth
        vec = np.linalg.eigh(deg.hessian)[1][:, -1]
        losses, order = loss_along(positions, values, descriptor, vec)
        growth["stiffest"] = {"losses": losses.tolist(), "order": order}
    return {
        "nullity": deg.nullity,
        "n_rotations": deg.n_rotations,
        "n_rotations_in_null": deg.n_rotations_in_null,
        "n_symmetry_forced": deg.n_symmetry_forced,
        "n_forced_outside_null": deg.n_forced_outside_null,
        "n_genuine": deg.n_genuine,
        "n_symmetry_operations": len(deg.operations),
        "operations": [describe_operation(g) for g, _ in deg.operations],
        "eigenvalues": deg.eigenvalues.tolist(),
        "threshold": deg.threshold,
        "growth": growth,
    }


def describe_operation(g):
    """Short text for an orthogonal 3x3 matrix: identity, rotation angle/axis, or improper."""
    det = np.linalg.det(g)
    proper = g if det > 0 else -g
    angle = float(np.degrees(np.arccos(np.clip((np.trace(proper) - 1) / 2, -1, 1))))
    w, v = np.linalg.eig(proper)
    axis = np.real(v[:, np.argmin(np.abs(w - 1))])
    axis = axis / np.linalg.norm(axis)
    axis = axis * np.sign(axis[np.argmax(np.abs(axis))])
    axis_text = "(" + ", ".join(f"{a:+.3f}" for a in axis) + ")"
    if det > 0:
        return "identity" if angle < 1e-6 else f"rotation {angle:.1f} deg about {axis_text}"
    return f"inversion x rotation {angle:.1f} deg about {axis_text}"


def seed_experiment(molecule="N2H4", structure=None, r_cut=2.0, l_max=4, n_max=5, seed=0,
                    perturbation=0.25, n_starts=5, rtol=1e-6, generic_displacement=0.05):
    """Run the seed experiment and return its results as a dict.

    Parameters
    ----------
    molecule : str
        ``ase.build.molecule`` name (ignored when ``structure`` is given).
    structure : str, optional
        Path to a structure file read by ``ase.io.read``.
    r_cut, l_max, n_max :
        Expansion settings (cos^2-bump radial basis, kernel-normalised projection).
    seed : int
        Seed of the random perturbations (``numpy.random.default_rng``).
    perturbation : float
        Start positions are the reference plus uniform noise in ``[-perturbation,
        perturbation]`` Angstrom per coordinate.
    n_starts : int
        Number of reconstructions (the first one uses ``seed`` itself).
    rtol : float
        Relative eigenvalue threshold of the Hessian nullity.
    generic_displacement : float
        The "generic" environment is the reference plus uniform noise of this size,
        which breaks every symmetry.
    """
    t0 = time.perf_counter()
    positions, values, symbols = load_structure(molecule, structure)
    radial, rst, power, bispectrum = build_descriptors(r_cut, l_max, n_max)
    c = rst.with_peaks_at(positions, values)
    p = power.compute(positions, values)
    b = bispectrum.compute(positions, values)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_starts):
        start = positions + rng.uniform(-perturbation, perturbation, positions.shape)
        runs.append(_reconstruction_run(p, positions, values, power, start))
    generic = positions + rng.uniform(-generic_displacement, generic_displacement, positions.shape)
    result = {
        "settings": {"molecule": structure or molecule, "r_cut": r_cut, "l_max": l_max,
                     "n_max": n_max, "seed": seed, "perturbation": perturbation,
                     "n_starts": n_starts, "rtol": rtol,
                     "radial": "cosine_bumps", "projection": "kernel-normalised"},
        "symbols": symbols,
        "positions": positions,
        "values": values,
        "irreps": rst.irreps,
        "n_coefficients": int(c.size),
        "norms_per_l": norms_per_l(c, n_max, l_max),
        "power_spectrum": p,
        "n_bispectrum": int(b.size),
        "reconstructions": runs,
        "degeneracy": {
            "power_spectrum": _degeneracy_summary(positions, values, power, rtol, True),
            "bispectrum": _degeneracy_summary(positions, values, bispectrum, rtol, False),
        },
        "generic": {
            "positions": generic,
            "power_spectrum": _degeneracy_summary(generic, values, power, rtol, True),
            "bispectrum": _degeneracy_summary(generic, values, bispectrum, rtol, False),
        },
    }
    result["homometric_pair"] = homometric_pair_summary(power, bispectrum)
    result["seconds"] = time.perf_counter() - t0
    return result


def homometric_pair_summary(power, bispectrum, seed=5):
    """Genuine degeneracy: two non-congruent environments with equal power spectra.

    The second environment is presented in a random orientation; registration (proper
    and improper, any atom correspondence) shows that it is not a rotated or mirrored
    copy of the first.
    """
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


def _format_degeneracy(name, deg):
    lines = [
        f"  {name}: nullity {deg['nullity']} = {deg['n_rotations_in_null']} rotations"
        f" + {deg['n_symmetry_forced']} symmetry-forced"
        f" + {deg['n_genuine']} genuine"
        + (f"   [{deg['n_forced_outside_null']} forced directions missed by the threshold]"
           if deg["n_forced_outside_null"] else "")
    ]
    for kind, g in deg["growth"].items():
        losses = " ".join(f"{x:.2e}" for x in g["losses"])
        lines.append(f"    loss along a {kind} direction at eps=1e-2,3e-3,1e-3,3e-4: {losses}"
                     f"  (grows as eps^{g['order']:.2f})")
    return lines


def format_report(result):
    """The printed report of :func:`seed_experiment` (plain text)."""
    s = result["settings"]
    out = [
        f"rstref seed experiment: {s['molecule']} ({' '.join(result['symbols'])}), "
        f"r_cut={s['r_cut']}, l_max={s['l_max']}, n_max={s['n_max']}, "
        f"radial={s['radial']}, projection={s['projection']}",
        "peaks: +1 on heavy atoms, -1 on hydrogens",
        f"irreps: {result['irreps']}  ({result['n_coefficients']} coefficients)",
        "coefficient norm per l: "
        + "  ".join(f"l={l}: {v:.6f}" for l, v in enumerate(result["norms_per_l"])),
        f"power spectrum ({len(result['power_spectrum'])} invariants, order l, n<=n'):",
    ]
    p = result["power_spectrum"]
    per_l = s["n_max"] * (s["n_max"] + 1) // 2
    for l in range(s["l_max"] + 1):
        block = p[l * per_l:(l + 1) * per_l]
        for k in range(0, per_l, 5):
            label = f"l={l}:" if k == 0 else ""
            out.append(f"  {label:5s}" + " ".join(f"{x:+.6e}" for x in block[k:k + 5]))
    out.append(f"bispectrum: {result['n_bispectrum']} invariants")
    out.append("")
    out.append(f"reconstruction from the power spectrum ({s['n_starts']} starts, uniform "
               f"+-{s['perturbation']} A, seed {s['seed']}):")
    out.append("  start  loss(first-order)  rmsd   loss(+newton)  rmsd    radii after newton (A)")
    for i, run in enumerate(result["reconstructions"]):
        f, n = run["first_order"], run["newton"]
        radii = " ".join(f"{r:.2f}" for r in n["radii"])
        out.append(f"  {i:5d}  {f['loss']:.3e}          {f['rmsd']:.3f}  {n['loss']:.3e}      "
                   f"{n['rmsd']:.3f}   {radii}")
    n_zero = sum(r["reached_zero_loss"] for r in result["reconstructions"])
    n_diff = sum(r["different_configuration"] for r in result["reconstructions"])
    radii0 = " ".join(f"{r:.2f}" for r in np.linalg.norm(result["positions"], axis=1))
    out.append(f"  reference radii (A): {radii0}")
    out.append(f"  reached zero loss (< {ZERO_LOSS:g}) after the Newton refinement: {n_zero} of "
               f"{len(result['reconstructions'])}; of those, different from the reference by more "
               f"than a rotation/mirror/permutation: {n_diff}")
    out.append("  (rmsd after Kabsch registration about the centre, best of proper and improper,"
               " equal-valued atoms may be exchanged)")
    out.append("")
    out.append(f"Hessian of the loss at the reference, null space at relative threshold "
               f"{s['rtol']:g}:")
    ops = result["degeneracy"]["power_spectrum"]["operations"]
    out.append(f"  symmetry operations of the environment (value-preserving): {len(ops)}: "
               + "; ".join(ops))
    for name, key in (("power spectrum", "power_spectrum"), ("bispectrum", "bispectrum")):
        out.extend(_format_degeneracy(name, result["degeneracy"][key]))
    out.append("generic environment (reference + uniform noise, no symmetry):")
    for name, key in (("power spectrum", "power_spectrum"), ("bispectrum", "bispectrum")):
        out.extend(_format_degeneracy(name, result["generic"][key]))
    h = result["homometric_pair"]
    out.append("genuine degeneracy of the power spectrum: a homometric pair (octagon points "
               "{0,1,2,5} and {0,1,3,4} plus an apex; DESIGN 1, cf. Pozdnyakov et al. 2020):")
    out.append(f"  power spectra differ by at most {h['power_spectrum_max_abs_difference']:.2e} "
               f"(values up to {h['power_spectrum_max_abs']:.2e}); bispectra by "
               f"{h['bispectrum_max_abs_difference']:.2e} (values up to {h['bispectrum_max_abs']:.2e}); "
               f"best registration rmsd {h['registration_rmsd']:.3f} A (not a rotated or mirrored copy)")
    out.append(f"finished in {result['seconds']:.1f} s")
    return "\n".join(out)


def to_json_ready(obj):
    """Convert numpy arrays/scalars inside nested dicts/lists to plain Python."""
    if isinstance(obj, dict):
        return {k: to_json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    return obj
