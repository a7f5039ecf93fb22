"""``rstref conformance export``: a language-neutral reference set (docs/conventions.md).

Tables (one folder of .npy files and one JSON manifest each, CSV copies of small ones):

``spherical_harmonics``
    values, gradients, Hessians at hard points (poles, near-poles, axes, tiny and huge
    radii, the zero vector) and seeded random points, from an mpmath evaluation
    (:mod:`rstref.conventions.oracle`); rstref is checked against it at export and the
    export fails if rstref is outside the stated tolerance.
``clebsch_gordan``
    rstref's real CG (and the 3j = CG / sqrt(2L+1)) for every triple up to l = 10, as a
    sparse list; orthonormality is checked at export.
``radial``
    the orthonormal radial bases (values, dR/dr, d2R/dr2) of three primitive families and
    their primitives' Gram matrices.
``environments``
    coefficients, power spectra and bispectra of the seed N2H4 and of the homometric pair.
``structures``
    featurized H2O, CH4 and periodic fcc Cu (rattled) with pair gradients and strain derivatives.
"""

import numpy as np

from rstref.conventions.manifest import TableWriter, write_index

DEFAULT_L_MAX = 8
FULL_L_MAX = 64
CG_L_MAX = 10
CSV_CG_L_MAX = 3
#: tolerance of the harmonics per unit of (l+1) * scale (README: <= 1e-14 (l+1) for l <= 20)
SPH_EPS = 1e-14
SPH_EPS_HIGH_L = 1e-12
SEED = 16


def hard_points(n_random=12, seed=SEED):
    """The exported points: named hard cases first, then seeded random ones.

    Returns
    -------
    points : ndarray, shape (n, 3)
    labels : list of str
    """
    named = [
        ("north pole", (0.0, 0.0, 1.0)), ("south pole", (0.0, 0.0, -1.0)),
        ("near north pole", (1e-9, 2e-9, 1.0)), ("near south pole", (-3e-12, 1e-12, -0.5)),
        ("+x axis", (1.0, 0.0, 0.0)), ("-x axis", (-2.0, 0.0, 0.0)),
        ("+y axis", (0.0, 1.0, 0.0)), ("-y axis", (0.0, -0.5, 0.0)),
        ("xy diagonal", (1.0, 1.0, 0.0)), ("tiny radius", (1e-12, -3e-12, 2e-12)),
        ("huge radius", (1e12, 3e12, -2e12)), ("zero vector", (0.0, 0.0, 0.0)),
    ]
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_random, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = 10.0 ** rng.uniform(-1, 1, size=n_random)
    points = np.vstack([np.array([p for _, p in named]), directions * radii[:, None]])
    labels = [name for name, _ in named] + [f"random {k}" for k in range(n_random)]
    return points, labels


def _versions():
    import numpy

    import rstref
    from rstref.conventions.oracle import versions

    return {"rstref": rstref.__version__, "numpy": numpy.__version__, **versions()}


def _writer(root, name, description):
    writer = TableWriter(root, name, description)
    writer.set(versions=_versions())
    return writer


def _sph_tolerances(points, l_max, values):
    ls = np.concatenate([[l] * (2 * l + 1) for l in range(l_max + 1)])
    eps = np.where(ls <= 20, SPH_EPS, SPH_EPS_HIGH_L) * (ls + 1)
    r = np.linalg.norm(points, axis=1)
    inv_r = np.where(r > 0, 1 / np.where(r > 0, r, 1.0), 1.0)
    tol_y = np.broadcast_to(eps, values.shape).copy()
    tol_g = (eps * (ls + 1))[None, None, :] * inv_r[:, None, None] * np.ones((1, 3, 1))
    tol_h = (eps * (ls + 1) ** 2)[None, None, None, :] * (inv_r ** 2)[:, None, None, None] * np.ones((1, 3, 3, 1))
    return tol_y, tol_g, tol_h


def _oracle_arrays(points, l_max, dps):
    from rstref.conventions.oracle import real_harmonics, to_float

    out = [real_harmonics(p, l_max, dps=dps) for p in points]
    values = np.array([to_float(v) for v, _, _ in out])
    grads = np.array([to_float(g) for _, g, _ in out])
    hess = np.array([to_float(h) for _, _, h in out])
    return values, grads, hess


def export_harmonics(root, l_max=DEFAULT_L_MAX, dps=50):
    """The spherical-harmonics table; returns (manifest name, worst rstref error / tolerance)."""
    import rstref

    points, labels = hard_points()
    values, grads, hess = _oracle_arrays(points, l_max, dps)
    tol_y, tol_g, tol_h = _sph_tolerances(points, l_max, values)
    Y, dY, d2Y = rstref.spherical_harmonics_with_hessians(points, l_max)
    ratios = [float(np.max(np.abs(a - b) / t)) for a, b, t in
              ((Y, values, tol_y), (dY, grads, tol_g), (d2Y, hess, tol_h))]
    if max(ratios) > 1:
        raise RuntimeError(f"rstref's harmonics are outside the export tolerance (worst error/tolerance "
                           f"{max(ratios):.3g}): refusing to export")
    w = _writer(root, "spherical_harmonics",
                    "Real spherical harmonics Y_lm(r/|r|), their gradients and Hessians with respect "
                    "to the Cartesian r, from an mpmath evaluation rounded to float64.")
    layout = "[(l, m) for l in range(l_max+1) for m in range(-l, l+1)], flat index l*l+l+m"
    w.array("points", points, "(n_points, 3) Cartesian (x, y, z), not normalised")
    w.array("values", values, f"(n_points, L), L=(l_max+1)**2, last axis {layout}", "output", tol_y)
    w.array("gradients", grads, "(n_points, 3, L): d Y / d r_a, a = x, y, z", "output", tol_g)
    w.array("hessians", hess, "(n_points, 3, 3, L): d2 Y / d r_a d r_b", "output", tol_h)
    w.csv("values", ["point", "l", "m", "value"],
          [(i, l, m, values[i, l * l + l + m]) for i in range(len(points))
           for l in range(l_max + 1) for m in range(-l, l + 1)])
    w.set(convention="standard real, polar axis z, no Condon-Shortley phase: Y_1,-1 ~ y, Y_1,0 ~ z, "
          "Y_1,1 ~ x with positive prefactors (sphericart, Wikipedia)",
          normalization="integral (orthonormal on the unit sphere)", l_max=l_max, point_labels=labels,
          zero_vector="Y_00 = 1/sqrt(4 pi); every other value and every derivative is 0 by convention",
          oracle=f"mpmath, {dps} digits: polynomial Legendre recurrence without angles; derivatives by "
          "central differences in mpmath (steps |r| 1e-(dps/3), 1e-(dps/4))",
          tolerance_rule=f"|candidate - reference| <= tolerance array; values {SPH_EPS:g} (l+1) "
          f"({SPH_EPS_HIGH_L:g} (l+1) for l > 20), gradients x (l+1)/|r|, Hessians x (l+1)^2/|r|^2",
          rstref_error_over_tolerance={"values": ratios[0], "gradients": ratios[1], "hessians": ratios[2]})
    return w.close(), max(ratios)


def _cg_entries(l_max):
    import rstref

    rows = []
    for l1 in range(l_max + 1):
        for l2 in range(l_max + 1):
            for L in range(abs(l1 - l2), min(l1 + l2, l_max) + 1):
                C = rstref.clebsch_gordan(l1, l2, L)
                defect = np.abs(np.einsum("abk,abj->kj", C, C) - np.eye(2 * L + 1)).max()
                if defect > 1e-14:
                    raise RuntimeError(f"CG ({l1}, {l2}, {L}) not orthonormal: {defect:.3g}")
                for a, b, c in zip(*np.nonzero(C)):
                    rows.append((l1, l2, L, a - l1, b - l2, c - L, C[a, b, c]))
    return rows


def export_clebsch_gordan(root, l_max=CG_L_MAX):
    rows = _cg_entries(l_max)
    ints = np.array([r[:6] for r in rows], dtype=np.int32)
    values = np.array([r[6] for r in rows])
    three_j = values / np.sqrt(2 * ints[:, 2] + 1)
    w = _writer(root, "clebsch_gordan",
                    "Real Clebsch-Gordan coefficients C^{l1 l2 L}_{m1 m2 M} (orthonormal in (m1, m2) <-> "
                    "(L, M)), non-zero entries only, and the real 3j symbol = C / sqrt(2L+1).")
    w.array("indices", ints, "(n_entries, 6) int32 columns l1, l2, L, m1, m2, M; triples in the order "
            "[(l1, l2, L) for l1 in range(l_max+1) for l2 in range(l_max+1) for L in "
            "range(|l1-l2|, min(l1+l2, l_max)+1)], entries m1, m2, M ascending")
    tol = np.asarray(8.9e-16)
    w.array("clebsch_gordan", values, "(n_entries,) C at the indices", "output", tol)
    w.array("wigner_3j", three_j, "(n_entries,) C / sqrt(2L+1) (e3nn's o3.wigner_3j)", "output", tol)
    small = [r for r in rows if max(r[:3]) <= CSV_CG_L_MAX]
    w.csv("clebsch_gordan_small", ["l1", "l2", "L", "m1", "m2", "M", "value"], small)
    w.set(convention="real basis of the spherical_harmonics table; derived exactly with sympy (complex "
          "Condon-Shortley CG, unitary change to the real basis, phase (-i)^(l1+l2-L)); equals "
          "sqrt(2L+1) * e3nn.o3.wigner_3j; featomic's real CG = (-1)^floor((l1+l2-L)/2) * C",
          normalization="orthonormal", l_max=l_max, check="orthonormality of every block at export",
          tolerance_rule="|candidate - reference| <= 8.9e-16 absolute; entries absent from the list are 0")
    return w.close()


RADIAL_CASES = (("cosine_bumps", None), ("cosines", None), ("smooth_cosines", None), ("cosines", 3))


def export_radial(root, n_max=5, r_cut=2.0):
    import rstref

    r = np.linspace(0.0, 1.1 * r_cut, 45)
    w = _writer(root, "radial", "Orthonormal radial bases R_n(r), n < n_max, on [0, r_cut] with "
                    "weight 4 pi r^2, Gram-Schmidt of the primitives; values and r-derivatives.")
    w.array("r", r, "(n_r,) distances, some beyond r_cut (where everything is 0)")
    cases = []
    for primitive, p in RADIAL_CASES:
        rb = rstref.OrthonormalRadialBasis(n_max, r_cut, primitive=primitive, envelope_power=p)
        R, dR, d2R = rb.with_derivatives(r)
        key = primitive if p is None else f"{primitive}_envelope{p}"
        scale = max(np.abs(R).max(), 1.0)
        for name, arr, k in (("values", R, 0), ("first_derivatives", dR, 1), ("second_derivatives", d2R, 2)):
            tol = np.asarray(1e-12 * scale * (n_max / r_cut) ** k)
            w.array(f"{key}_{name}", arr, "(n_r, n_max)", "output", tol)
        w.array(f"{key}_primitive_gram", rb.gram, "(n_max, n_max) int_0^r_cut f_i f_j 4 pi r^2 dr",
                "output", np.asarray(1e-12 * np.abs(rb.gram).max()))
        cases.append({"key": key, "primitive": primitive, "envelope_power": p, "n_max": n_max, "r_cut": r_cut})
    w.set(cases=cases, convention="primitives and orthonormalisation of README 'Radial bases'; "
          "second derivatives at a bump join are the right limit", normalization="int R_n R_n' 4 pi r^2 = delta",
          tolerance_rule="1e-12 x max(1, max|R|) x (n_max/r_cut)^k for the k-th derivative")
    return w.close()


def _environment_arrays(positions, values, r_cut=2.0, l_max=4, n_max=5):
    import rstref

    rb = rstref.OrthonormalRadialBasis(n_max, r_cut)
    rst = rstref.RadialSphericalTensor(n_max, rb, l_max)
    ps = rstref.PowerSpectrum(rst)
    out = {}
    for normalize, tag in ((True, "kernel_normalised"), (False, "raw")):
        c = rst.with_peaks_at(positions, values, normalize=normalize)
        p = ps.compute(positions, values, normalize=normalize)
        check = rstref.power_spectrum(c, n_max, l_max)
        if np.abs(check - p).max() > 1e-13 * max(np.abs(p).max(), 1):
            raise RuntimeError("power spectrum and coefficients disagree at export")
        out[f"coefficients_{tag}"], out[f"power_spectrum_{tag}"] = c, p
        out[f"bispectrum_{tag}"] = rstref.Bispectrum(rst).from_coefficients(c)
    return out


_ENVIRONMENT_LAYOUTS = {
    "coefficients": "(125,) [n_max*l*l + n*(2l+1) + (l+m)], e3nn irreps 5x0e+5x1e+5x2e+5x3e+5x4e",
    "power": "(75,) [(l, n, n2) for l in range(5) for n in range(5) for n2 in range(n, 5)]",
    "bispectrum": "(1425,) rstref.bispectrum_range(5, 4): B = sum C^{l1 l2 l3}[m1, m2, m3] c_{n1 l1 m1} "
                  "c_{n2 l2 m2} c_{n3 l3 m3}, one ordering per triple (blocks sorted by (l, n)), repeated-block "
                  "odd triples dropped",
}


def export_environments(root):
    from rstref.analysis import homometric_pair
    from rstref.demo import load_structure

    positions, values, _ = load_structure("N2H4")
    a, b = homometric_pair()
    w = _writer(root, "environments", "Density coefficients and power spectra of fixed "
                    "environments (peaks of height `values` at `positions` around the origin).")
    import rstref

    w.array("coefficient_labels", np.array([(l, n, m) for l in range(5) for n in range(5) for m in range(-l, l + 1)],
                                           dtype=np.int32), "(125, 3) (l, n, m) of each coefficient")
    w.array("power_spectrum_labels", np.array([(l, n, n2) for l in range(5) for n in range(5)
                                               for n2 in range(n, 5)], dtype=np.int32),
            "(75, 3) (l, n, n2) of each power-spectrum entry")
    w.array("bispectrum_labels", np.array(rstref.bispectrum_range(5, 4), dtype=np.int32),
            "(1425, 6) (n1, l1, n2, l2, n3, l3) of each bispectrum entry")
    envs = {"n2h4": (positions, values), "homometric_a": (a, np.ones(len(a))),
            "homometric_b": (b, np.ones(len(b)))}
    for name, (x, v) in envs.items():
        w.array(f"{name}_positions", x, "(N, 3) Angstrom, centre at the origin")
        w.array(f"{name}_values", v, "(N,) peak heights")
        for key, arr in _environment_arrays(x, v).items():
            layout = _ENVIRONMENT_LAYOUTS[key.split("_")[0]]
            w.array(f"{name}_{key}", arr, layout, "output",
                    np.asarray(1e-12 * max(np.abs(arr).max(), 1.0)))
    w.set(settings={"r_cut": 2.0, "l_max": 4, "n_max": 5, "radial": "cosine_bumps"},
          convention="phi_nlm = R_n(|r|) Y_lm(r/|r|), 'component' harmonics (Y_00 = 1); "
          "kernel_normalised: c = sum v phi/|phi|^2; raw: c = sum v phi",
          normalization="power spectrum p = w (2l+1)^-1/2 sum_m c_nlm c_n2lm, w = sqrt2 off the n diagonal",
          reference="rstref (float64); power spectra cross-checked against the coefficients at export",
          tolerance_rule="1e-12 x max(1, max |array|) absolute",
          note="homometric_a and homometric_b have equal power spectra (to ~1e-16) and are not congruent; "
          "their bispectra differ")
    return w.close()


STRUCTURE_SETTINGS = {"r_cut": 3.0, "n_max": 4, "l_max": 3, "species_mode": "channels",
                      "invariant": "power_spectrum", "radial": "smooth_cosines"}


def _gradient_fd_defect(atoms, out, h=1e-5):
    """Largest |analytic - central difference| of the pair gradients, relative to their scale."""
    import rstref

    dense = np.zeros((len(atoms), len(atoms), 3, out.features.shape[1]))
    centers, neighbors, values = out.dense_gradients()
    dense[centers, neighbors] = values
    fd = np.zeros_like(dense)
    for j in range(len(atoms)):
        for a in range(3):
            shifted = []
            for sign in (1, -1):
                moved = atoms.copy()
                positions = moved.get_positions()
                positions[j, a] += sign * h
                moved.set_positions(positions)
                shifted.append(rstref.featurize(moved, **STRUCTURE_SETTINGS).features)
            fd[:, j, a] = (shifted[0] - shifted[1]) / (2 * h)
    defect = np.abs(fd - dense).max() / max(np.abs(dense).max(), np.abs(out.features).max(), 1e-300)
    if defect > 1e-6:
        raise RuntimeError(f"featurization gradients disagree with central differences ({defect:.3g})")
    return float(defect)


def export_structures(root):
    """Featurized small structures (H2O, CH4, periodic Cu) with pair gradients and stress."""
    import ase.build

    import rstref

    copper = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True)
    copper.rattle(stdev=0.05, seed=SEED)  # off the perfect lattice, where every gradient is 0
    structures = {"h2o": ase.build.molecule("H2O"), "ch4": ase.build.molecule("CH4"), "cu_fcc": copper}
    worst_fd = 0.0
    w = _writer(root, "structures", "Per-atom power-spectrum features of small structures, their "
                "position gradients per (centre, neighbour) pair and strain derivatives.")
    for name, atoms in structures.items():
        w.array(f"{name}_numbers", atoms.get_atomic_numbers().astype(np.int32), "(n_atoms,) atomic numbers")
        w.array(f"{name}_positions", atoms.get_positions(), "(n_atoms, 3) Angstrom")
        w.array(f"{name}_cell", np.asarray(atoms.get_cell()), "(3, 3) cell vectors as rows")
        w.array(f"{name}_pbc", atoms.get_pbc().astype(np.int8), "(3,) periodic along each cell vector")
        out = rstref.featurize(atoms, gradients=True, stress=True, **STRUCTURE_SETTINGS)
        worst_fd = max(worst_fd, _gradient_fd_defect(atoms, out))
        scale = max(np.abs(out.features).max(), 1.0)
        w.array(f"{name}_features", out.features, "(n_atoms, F) features, F in the order "
                "[(l, N, N2) for l in range(l_max+1) for N in range(n_eff) for N2 in range(N, n_eff)], "
                "N = a*n_max + n, a = index of the species in the sorted atomic numbers present",
                "output", np.asarray(1e-12 * scale))
        centers, neighbors, values = out.dense_gradients()  # the dense layout of the reference set
        w.array(f"{name}_gradient_pairs", np.stack([centers, neighbors], 1).astype(np.int32),
                "(G, 2) (centre, neighbour atom) of each gradient row; (i, i) rows hold -sum of the others")
        gscale = max(np.abs(values).max(), 1.0)
        w.array(f"{name}_gradients", values, "(G, 3, F) d features[centre] / d position[neighbour]",
                "output", np.asarray(1e-11 * gscale))
        w.array(f"{name}_strain_derivatives", out.strain_derivatives, "(n_atoms, 3, 3, F) d p_i / d eps_ab "
                "for r -> (I + eps) r of positions and cell", "output", np.asarray(1e-11 * gscale))
    w.set(settings=STRUCTURE_SETTINGS, reference="rstref (float64); gradients checked against central "
          f"differences of the features at export (worst relative difference {worst_fd:.2g}, step 1e-5 A)",
          convention="raw delta-density projection with 'component' harmonics; p = w (2l+1)^-1/2 sum_m c c, "
          "w = sqrt2 off the (N, N2) diagonal; the centre atom excluded from its own density",
          normalization="radial basis orthonormal on the ball", tolerance_rule="1e-12 (features), 1e-11 "
          "(gradients, strain) x max(1, max |array|) absolute")
    return w.close()


def export(root, l_max=DEFAULT_L_MAX, cg_l_max=CG_L_MAX, dps=None):
    """Write the whole reference set under ``root``; returns the index (dict)."""
    import os

    from rstref._checks import check_int

    l_max = check_int(l_max, "l_max", low=0, high=FULL_L_MAX)
    dps = dps or max(50, 30 + l_max)
    os.makedirs(root, exist_ok=True)
    sph, worst = export_harmonics(root, l_max, dps)
    manifests = [sph, export_clebsch_gordan(root, cg_l_max), export_radial(root), export_environments(root),
                 export_structures(root)]
    provenance = {"versions": _versions(), "generator": "rstref conformance export",
                  "sph_l_max": l_max, "cg_l_max": cg_l_max}
    write_index(root, manifests, provenance)
    return {"tables": manifests, "rstref_sph_error_over_tolerance": worst}
