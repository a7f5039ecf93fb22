"""rstref.conventions: convention maps, the detector, conformance export and check.

Oracles: scipy.special.sph_harm_y (complex, Condon-Shortley), sympy's complex CG,
rstref's own convention='e3nn' evaluation and wigner_3j/gaunt, mpmath.spherharm for the
export oracle, and a reader that knows only the manifests (tests/conformance_reader.py,
run in a subprocess where rstref cannot be imported).  Peer libraries (e3nn, sphericart,
featomic) are used where installed, else those tests skip.
"""

import filecmp
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rstref
from rstref.conventions import (
    assert_conforms,
    block_matrix,
    check,
    convert_cg,
    convert_power_spectrum,
    convert_sph,
    convert_wigner_D,
    identify_cg,
    identify_sph,
)
from rstref.conventions.sph import CANONICAL_CONVENTIONS, M_ORDERS, NORMALIZATIONS, normalization_scale

HERE = os.path.dirname(os.path.abspath(__file__))
L_MAX = 12


@pytest.fixture(scope="module")
def xyz():
    return np.random.default_rng(3).normal(size=(40, 3))


def scipy_complex(xyz, l_max):
    special = pytest.importorskip("scipy.special")
    if not hasattr(special, "sph_harm_y"):
        pytest.skip("scipy >= 1.15 needed for sph_harm_y")
    theta = np.arctan2(np.hypot(xyz[:, 0], xyz[:, 1]), xyz[:, 2])
    phi = np.arctan2(xyz[:, 1], xyz[:, 0])
    return np.concatenate([np.stack([special.sph_harm_y(l, m, theta, phi) for m in range(-l, l + 1)], axis=1)
                           for l in range(l_max + 1)], axis=1)


# ----------------------------------------------------------------------------- sph maps
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_e3nn_map_equals_rstref_e3nn_evaluation(xyz, normalization):
    Y, dY = rstref.spherical_harmonics_with_gradients(xyz, L_MAX)
    Ye, dYe = rstref.spherical_harmonics_with_gradients(xyz, L_MAX, normalization=normalization,
                                                        convention="e3nn")
    kw = dict(target_normalization=normalization)
    assert np.abs(convert_sph(Y, L_MAX, "standard", "e3nn", **kw) - Ye).max() < 1e-13
    assert np.abs(convert_sph(dY, L_MAX, "standard", "e3nn", **kw) - dYe).max() < 1e-12 * np.abs(dYe).max()
    back = convert_sph(Ye, L_MAX, "e3nn", "standard", source_normalization=normalization)
    assert np.abs(back - Y).max() < 1e-13


def test_scipy_complex_with_condon_shortley_to_standard(xyz):
    Yc = scipy_complex(xyz, L_MAX)
    Y = rstref.spherical_harmonics(xyz, L_MAX)
    assert np.abs(convert_sph(Yc, L_MAX, "scipy-complex", "standard") - Y).max() < 1e-13
    assert np.abs(convert_sph(Y, L_MAX, "standard", "scipy-complex") - Yc).max() < 1e-13


def test_complex_without_condon_shortley(xyz):
    Yc = scipy_complex(xyz, L_MAX)
    ms = np.concatenate([np.arange(-l, l + 1) for l in range(L_MAX + 1)])
    no_cs = Yc * np.where(ms > 0, (-1.0) ** ms, 1.0)
    Y = rstref.spherical_harmonics(xyz, L_MAX)
    assert np.abs(convert_sph(no_cs, L_MAX, "complex-no-cs", "standard") - Y).max() < 1e-13
    # the sign that distinguishes the two conventions really matters: read with the wrong
    # one, the values are not the complex form of real functions
    with pytest.raises(ValueError, match="imaginary part"):
        convert_sph(no_cs, L_MAX, "scipy-complex", "standard")


def test_sympy_znm_against_sympy():
    sympy = pytest.importorskip("sympy")
    from sympy.functions.special.spherical_harmonics import Znm

    x = np.array([[0.3, -0.5, 0.8], [-0.7, 0.2, -0.1]])
    r = np.linalg.norm(x, axis=1)
    theta, phi = np.arccos(x[:, 2] / r), np.arctan2(x[:, 1], x[:, 0])
    theirs = np.array([[complex(sympy.N(Znm(l, m, t, p).expand(func=True))).real
                        for l in range(3) for m in range(-l, l + 1)] for t, p in zip(theta, phi)])
    ours = convert_sph(rstref.spherical_harmonics(x, 2), 2, "standard", "sympy-znm")
    assert np.abs(ours - theirs).max() < 1e-14


@pytest.mark.parametrize("convention", CANONICAL_CONVENTIONS)
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_blocks_are_scaled_unitary(convention, normalization):
    for l in range(L_MAX + 1):
        for order in M_ORDERS:
            M = block_matrix(l, convention, normalization, order) / normalization_scale(l, normalization)
            assert np.abs(M.conj().T @ M - np.eye(2 * l + 1)).max() < 1e-13


def test_round_trips_between_all_conventions(xyz):
    Y = rstref.spherical_harmonics(xyz, 6)
    for source in CANONICAL_CONVENTIONS:
        for target in CANONICAL_CONVENTIONS:
            there = convert_sph(Y, 6, "standard", source, target_normalization="component",
                                target_order="zero-first")
            moved = convert_sph(there, 6, source, target, source_normalization="component",
                                source_order="zero-first", target_normalization="norm")
            back = convert_sph(moved, 6, target, "standard", source_normalization="norm")
            assert np.abs(back - Y).max() < 1e-13, (source, target)


def test_wigner_D_conversions(xyz):
    R = rstref.random_rotation(5)
    for l in (1, 2, 5):
        D = rstref.wigner_D(l, R)
        De = rstref.wigner_D(l, R, convention="e3nn")
        assert np.abs(convert_wigner_D(D, l, "standard", "e3nn") - De).max() < 1e-13
        Dc = convert_wigner_D(D, l, "standard", "scipy-complex")
        assert np.abs(Dc.conj().T @ Dc - np.eye(2 * l + 1)).max() < 1e-13
        Yc, Ycr = scipy_complex(xyz, l), scipy_complex(xyz @ R.T, l)
        block = slice(l * l, (l + 1) ** 2)
        assert np.abs(Ycr[:, block] - Yc[:, block] @ Dc.T).max() < 1e-12
        assert np.abs(convert_wigner_D(Dc, l, "scipy-complex", "standard") - D).max() < 1e-13


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="last axis"):
        convert_sph(np.zeros((3, 8)), 2, "standard", "e3nn")
    with pytest.raises(ValueError, match="convention"):
        block_matrix(1, "wikipedia-ish")
    with pytest.raises(ValueError, match="finite"):
        convert_sph(np.full((1, 4), np.nan), 1, "standard", "e3nn")
    with pytest.raises(ValueError, match="shape"):
        convert_wigner_D(np.eye(3), 2, "standard", "e3nn")
    with pytest.raises(ValueError, match="imaginary part"):
        convert_sph(np.full((1, 4), 1j), 1, "scipy-complex", "standard")


def test_against_e3nn_if_installed(xyz):
    torch = pytest.importorskip("torch")
    o3 = pytest.importorskip("e3nn.o3")
    theirs = o3.spherical_harmonics(list(range(L_MAX + 1)), torch.tensor(xyz), normalize=True,
                                    normalization="integral").numpy()
    ours = convert_sph(rstref.spherical_harmonics(xyz, L_MAX), L_MAX, "standard", "e3nn")
    assert np.abs(ours - theirs).max() < 1e-12


def test_against_sphericart_if_installed(xyz):
    sphericart = pytest.importorskip("sphericart")
    theirs = sphericart.SphericalHarmonics(L_MAX).compute(xyz)
    ours = convert_sph(rstref.spherical_harmonics(xyz, L_MAX), L_MAX, "standard", "sphericart")
    assert np.abs(ours - theirs).max() < 1e-12


# ----------------------------------------------------------------------------- CG maps
def triples(l_max):
    return [(a, b, c) for a in range(l_max + 1) for b in range(l_max + 1)
            for c in range(abs(a - b), min(a + b, l_max) + 1)]


def test_cg_maps_against_rstref_3j_and_gaunt():
    for t in triples(5):
        C = rstref.clebsch_gordan(*t)
        assert np.abs(convert_cg(C, *t, "rstref", "e3nn") - rstref.wigner_3j(*t)).max() < 1e-15
        assert np.abs(convert_cg(C, *t, "rstref", "gaunt") - rstref.gaunt(*t)).max() < 1e-15
        for name in ("e3nn", "featomic", "complex"):
            back = convert_cg(convert_cg(C, *t, "rstref", name), *t, name, "rstref")
            assert np.abs(back - C).max() < 1e-14
    with pytest.raises(ValueError, match="odd"):
        convert_cg(rstref.gaunt(1, 1, 1), 1, 1, 1, "gaunt", "rstref")


def complex_cg_sympy(l1, l2, L):
    CG = pytest.importorskip("sympy.physics.quantum.cg").CG
    return np.array([[[float(CG(l1, m1, l2, m2, L, M).doit()) for M in range(-L, L + 1)]
                      for m2 in range(-l2, l2 + 1)] for m1 in range(-l1, l1 + 1)])


@pytest.mark.parametrize("t", [(1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 1, 1), (2, 2, 1), (2, 2, 3), (3, 2, 2)])
def test_cg_complex_and_featomic_against_sympy(t):
    from rstref.conventions.sph import real_from_complex

    G = complex_cg_sympy(*t)
    C = rstref.clebsch_gordan(*t)
    assert np.abs(convert_cg(C, *t, "rstref", "complex") - G).max() < 1e-15
    # featomic's documented construction: Re (even l1+l2+L) or Im (odd) of the basis change
    X = np.einsum("ai,bj,ck,ijk->abc", real_from_complex(t[0]).conj(), real_from_complex(t[1]).conj(),
                  real_from_complex(t[2]), G)
    featomic_like = X.real if sum(t) % 2 == 0 else X.imag
    assert np.abs(convert_cg(C, *t, "rstref", "featomic") - featomic_like).max() < 1e-15


# ----------------------------------------------------------------------------- power spectra
def test_power_spectrum_layouts():
    n_max, l_max = 3, 3
    c = np.random.default_rng(1).normal(size=n_max * (l_max + 1) ** 2)
    p = rstref.power_spectrum(c, n_max, l_max)
    blocks = [c[n_max * l * l:n_max * (l + 1) ** 2].reshape(n_max, 2 * l + 1) / np.sqrt(4 * np.pi)
              for l in range(l_max + 1)]
    featomic_like = np.concatenate([((-1) ** l / np.sqrt(2 * l + 1) * b @ b.T).ravel() for l, b in enumerate(blocks)])
    assert np.abs(convert_power_spectrum(featomic_like, n_max, l_max, "featomic", "rstref") - p).max() < 1e-14
    assert np.abs(convert_power_spectrum(p, n_max, l_max, "rstref", "featomic") - featomic_like).max() < 1e-15
    raw = convert_power_spectrum(p, n_max, l_max, "rstref", "unweighted")
    assert np.abs(convert_power_spectrum(raw, n_max, l_max, "unweighted", "rstref") - p).max() < 1e-14
    with pytest.raises(ValueError, match="last axis"):
        convert_power_spectrum(p[:-1], n_max, l_max, "rstref", "featomic")


# ----------------------------------------------------------------------------- detector
def std(l_max):
    return lambda x: rstref.spherical_harmonics(x, l_max)


def test_detector_identifies_named_conventions():
    lm = 6
    ident = identify_sph(std(lm), lm)
    assert (ident.verdict, ident.convention, ident.normalization, ident.order) == \
        ("match", "standard", "integral", "ascending")
    ident = identify_sph(lambda x: rstref.spherical_harmonics(x, lm, convention="e3nn", normalization="component"), lm)
    assert (ident.verdict, ident.convention, ident.normalization) == ("match", "e3nn", "component")
    cs = lambda x: convert_sph(rstref.spherical_harmonics(x, lm), lm, "standard", "real-cs")  # noqa: E731
    assert (identify_sph(cs, lm).verdict, identify_sph(cs, lm).convention) == ("match", "real-cs")
    ident = identify_sph(lambda x: scipy_complex(x, lm), lm)
    assert (ident.verdict, ident.convention) == ("match", "scipy-complex")
    derived = lambda x: convert_sph(scipy_complex(x, lm), lm, "scipy-complex", "standard")  # noqa: E731
    ident = identify_sph(derived, lm)
    assert (ident.verdict, ident.convention, ident.normalization) == ("match", "standard", "integral")
    descending = [k for l in range(lm + 1) for k in range(l * l + 2 * l, l * l - 1, -1)]
    ident = identify_sph(lambda x: rstref.spherical_harmonics(x, lm, solid=True)[:, descending], lm)
    assert (ident.verdict, ident.order, ident.radial) == ("match", "descending", "solid")


def test_detector_on_peers_if_installed():
    torch = pytest.importorskip("torch")
    o3 = pytest.importorskip("e3nn.o3")
    e3nn = lambda x: o3.spherical_harmonics(list(range(5)), torch.tensor(x), True).numpy()  # noqa: E731
    assert (identify_sph(e3nn, 4).verdict, identify_sph(e3nn, 4).convention) == ("match", "e3nn")


def test_detector_on_sphericart_if_installed():
    sphericart = pytest.importorskip("sphericart")
    calc = sphericart.SphericalHarmonics(4)
    ident = identify_sph(lambda x: calc.compute(np.ascontiguousarray(x)), 4)
    assert (ident.verdict, ident.convention, ident.normalization) == ("match", "standard", "integral")


def test_detector_one_flipped_sign_is_a_bug():
    def f(x):
        y = rstref.spherical_harmonics(x, 5)
        y[:, rstref.lm_index(3, -2)] *= -1
        return y

    ident = identify_sph(f, 5)
    assert ident.verdict == "bug" and ident.convention == "standard"
    assert [(l, m) for l, m, _, _ in ident.entries] == [(3, -2)]
    assert ident.blocks[3].kind == "signed permutation" and "m = -2" in ident.blocks[3].detail


def test_detector_xy_swap_is_a_convention():
    ident = identify_sph(lambda x: rstref.spherical_harmonics(np.asarray(x)[:, [1, 0, 2]], 6), 6)
    assert ident.verdict == "convention"
    swap = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    assert np.abs(ident.rotation - swap).max() < 1e-12 and np.linalg.det(ident.rotation) < 0
    assert "reflection" in str(ident)


def test_detector_wrong_normalisation_at_one_l_is_a_bug():
    def f(x):
        y = rstref.spherical_harmonics(x, 5, normalization="component")
        y[:, 4:9] *= 1.1
        return y

    ident = identify_sph(f, 5)
    assert (ident.verdict, ident.normalization) == ("bug", "component")
    assert {l for l, _, _, _ in ident.entries} == {2} and len(ident.entries) == 5
    assert ident.blocks[2].kind == "scale" and "1.1" in ident.blocks[2].detail


@pytest.mark.parametrize("mode", ["offset", "relative"])
def test_detector_tiny_perturbation_at_one_entry(mode):
    k = rstref.lm_index(5, 1)

    def f(x):
        y = rstref.spherical_harmonics(x, 6)
        y[:, k] = y[:, k] + 1e-9 if mode == "offset" else y[:, k] * (1 + 1e-9)
        return y

    ident = identify_sph(f, 6)
    assert ident.verdict == "bug"
    assert [(l, m) for l, m, _, _ in ident.entries] == [(5, 1)]
    assert 3e-10 < ident.entries[0][2] < 2e-9


def test_detector_bad_function_shape():
    with pytest.raises(ValueError, match=r"\(n, \(l_max\+1\)\*\*2\)"):
        identify_sph(lambda x: np.zeros((len(x), 5)), 2)


def test_identify_cg():
    assert identify_cg(rstref.wigner_3j, 4).convention == "e3nn"
    featomic = lambda a, b, c: convert_cg(rstref.clebsch_gordan(a, b, c), a, b, c, "rstref", "featomic")  # noqa: E731
    assert (identify_cg(featomic, 4).verdict, identify_cg(featomic, 4).convention) == ("match", "featomic")

    def broken(a, b, c):
        C = rstref.clebsch_gordan(a, b, c)
        return -C if (a, b, c) == (2, 2, 2) else C

    ident = identify_cg(broken, 4)
    assert ident.verdict == "bug" and [t[:3] for t in ident.triples] == [(2, 2, 2)]
    assert ident.triples[0][4] == "sign flipped"


# ----------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from rstref.conventions.reference_set import export

    roots = [str(tmp_path_factory.mktemp(f"conformance{k}")) for k in range(2)]
    for root in roots:
        export(root, l_max=3, cg_l_max=4)
    return roots


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_export_is_byte_identical(exported):
    a, b = exported
    files = all_files(a)
    assert files == all_files(b) and len(files) > 40
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors


def test_export_manifests(exported):
    root = exported[0]
    index = json.load(open(os.path.join(root, "index.json")))
    assert set(index["tables"]) == {"spherical_harmonics.json", "clebsch_gordan.json", "radial.json",
                                    "environments.json", "structures.json"}
    sph = json.load(open(os.path.join(root, "spherical_harmonics.json")))
    for key in ("convention", "normalization", "input_sha256", "tolerance_rule", "oracle", "versions"):
        assert key in sph
    assert sph["rstref_error_over_tolerance"]["hessians"] < 1
    assert "zero vector" in sph["point_labels"]
    assert os.path.exists(os.path.join(root, "spherical_harmonics", "values.csv"))


def test_oracle_against_mpmath_spherharm():
    mpmath = pytest.importorskip("mpmath")
    from rstref.conventions.oracle import real_harmonics

    x = (0.3, -0.4, 0.5)
    values, _, _ = real_harmonics(x, 5, derivatives=0)
    r = np.linalg.norm(x)
    theta, phi = np.arccos(x[2] / r), np.arctan2(x[1], x[0])
    for l in range(6):
        for m in range(-l, l + 1):
            y = complex(mpmath.spherharm(l, abs(m), theta, phi))
            ref = y.real if m == 0 else np.sqrt(2) * (-1) ** m * (y.real if m > 0 else y.imag)
            assert abs(float(values[l * l + l + m]) - ref) < 1e-14


def rstref_outputs(reference, out):
    """Write rstref's outputs for the reference inputs (what any implementation would do)."""
    def load(manifest, key):
        return np.load(os.path.join(reference, manifest["arrays"][key]["file"]))

    def save(manifest, key, value):
        path = os.path.join(out, manifest["arrays"][key]["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, value)

    m = json.load(open(os.path.join(reference, "spherical_harmonics.json")))
    Y, dY, d2Y = rstref.spherical_harmonics_with_hessians(load(m, "points"), m["l_max"])
    for key, value in (("values", Y), ("gradients", dY), ("hessians", d2Y)):
        save(m, key, value)
    m = json.load(open(os.path.join(reference, "clebsch_gordan.json")))
    idx = load(m, "indices")
    cg = np.array([rstref.clebsch_gordan(*row[:3])[row[3] + row[0], row[4] + row[1], row[5] + row[2]] for row in idx])
    save(m, "clebsch_gordan", cg)
    save(m, "wigner_3j", cg / np.sqrt(2 * idx[:, 2] + 1))
    m = json.load(open(os.path.join(reference, "radial.json")))
    r = load(m, "r")
    for case in m["cases"]:
        rb = rstref.OrthonormalRadialBasis(case["n_max"], case["r_cut"], case["primitive"], case["envelope_power"])
        for name, value in zip(("values", "first_derivatives", "second_derivatives"), rb.with_derivatives(r)):
            save(m, f"{case['key']}_{name}", value)
        save(m, f"{case['key']}_primitive_gram", rb.gram)
    m = json.load(open(os.path.join(reference, "environments.json")))
    settings = m["settings"]
    rb = rstref.OrthonormalRadialBasis(settings["n_max"], settings["r_cut"], settings["radial"])
    rst = rstref.RadialSphericalTensor(settings["n_max"], rb, settings["l_max"])
    for env in ("n2h4", "homometric_a", "homometric_b"):
        x, v = load(m, f"{env}_positions"), load(m, f"{env}_values")
        for normalize, tag in ((True, "kernel_normalised"), (False, "raw")):
            c = rst.with_peaks_at(x, v, normalize=normalize)
            save(m, f"{env}_coefficients_{tag}", c)
            save(m, f"{env}_power_spectrum_{tag}", rstref.PowerSpectrum(rst).from_coefficients(c))
            save(m, f"{env}_bispectrum_{tag}", rstref.Bispectrum(rst).from_coefficients(c))
    import ase

    m = json.load(open(os.path.join(reference, "structures.json")))
    for name in ("h2o", "ch4", "cu_fcc"):
        atoms = ase.Atoms(numbers=load(m, f"{name}_numbers"), positions=load(m, f"{name}_positions"),
                          cell=load(m, f"{name}_cell"), pbc=load(m, f"{name}_pbc").astype(bool))
        feats = rstref.featurize(atoms, gradients=True, stress=True, **m["settings"])
        save(m, f"{name}_features", feats.features)
        save(m, f"{name}_gradients", feats.dense_gradients()[2])
        save(m, f"{name}_strain_derivatives", feats.strain_derivatives)
    return out


def run_reader(reference, candidate):
    code = ("import sys, runpy; sys.modules['rstref'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code, os.path.join(HERE, "conformance_reader.py"), reference,
                           candidate], capture_output=True, text=True, env=env, cwd=reference, timeout=120)


def test_manifest_only_reader_validates_rstref(exported, tmp_path):
    candidate = rstref_outputs(exported[0], str(tmp_path / "rstref"))
    done = run_reader(exported[0], candidate)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "spherical_harmonics/hessians: pass" in done.stdout and "0 failed" in done.stdout
    assert "not provided" not in done.stdout and "environments/homometric_b_bispectrum_raw: pass" in done.stdout
    # the reader can fail: one perturbed entry
    path = os.path.join(candidate, "spherical_harmonics", "values.npy")
    Y = np.load(path)
    Y[3, 5] += 1e-12
    np.save(path, Y)
    done = run_reader(exported[0], candidate)
    assert done.returncode == 1 and "spherical_harmonics/values: FAIL 1 entries" in done.stdout


def test_reader_imports_no_rstref():
    import ast

    tree = ast.parse(open(os.path.join(HERE, "conformance_reader.py")).read())
    names = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert names <= {"hashlib", "json", "os", "sys", "numpy"}
    # and the subprocess guard really blocks it
    code = "import sys; sys.modules['rstref'] = None; import rstref"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0


# ----------------------------------------------------------------------------- check
def test_check_passes_rstref_and_reports_conventions(exported):
    report = check(std(3), l_max=3, reference=exported[0])
    assert report.passed and [t.status for t in report.tables] == ["pass", "pass"]
    report = check(lambda x: rstref.spherical_harmonics(x, 3, convention="e3nn"), l_max=3)
    assert report.passed and report.tables[0].status == "convention"
    report = check(lambda x: rstref.spherical_harmonics(x, 3, convention="e3nn"), l_max=3, convention="standard")
    assert not report.passed


def test_check_strict_tolerance_names_entries(exported):
    report = check(std(3), l_max=3, reference=exported[0], atol=1e-17)
    assert not report.passed and "beyond tolerance" in report.tables[1].detail
    assert "(l=" in report.tables[1].detail
    with pytest.raises(AssertionError, match="hard points"):
        assert_conforms(std(3), l_max=3, reference=exported[0], atol=1e-17)


def test_check_flags_nan_at_zero_vector():
    def f(x):
        y = rstref.spherical_harmonics(x, 2)
        y[np.linalg.norm(x, axis=1) == 0, 1:] = np.nan
        return y

    report = check(f, l_max=2)
    assert not report.passed and "zero vector" in report.tables[1].detail


def test_check_cg_against_export(exported):
    report = check(rstref.wigner_3j, kind="cg", l_max=4, reference=exported[0])
    assert report.passed and report.tables[0].status == "convention"


def test_cli_check_and_export(tmp_path, monkeypatch, capsys):
    from rstref.cli import main

    (tmp_path / "myharm.py").write_text(
        "import rstref\n"
        "def good(x):\n    return rstref.spherical_harmonics(x, 2)\n"
        "def bad(x):\n    y = rstref.spherical_harmonics(x, 2)\n    y[:, 5] *= -1\n    return y\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["conformance", "check", "myharm:good", "--l-max", "2"]) == 0
    assert main(["conformance", "check", "myharm:bad", "--l-max", "2"]) == 1
    out = capsys.readouterr().out
    assert "[fail] convention" in out and "(l=2, m=-1)" in out


def test_cli_export(tmp_path, capsys):
    from rstref.cli import main

    assert main(["conformance", "export", str(tmp_path / "ref"), "--l-max", "2"]) == 0
    assert "wrote 5 tables" in capsys.readouterr().out
    assert json.load(open(tmp_path / "ref" / "spherical_harmonics.json"))["l_max"] == 2
    assert main(["conformance", "check", "no_colon_here"]) == 2
    assert main(["conformance", "check", "rstref_no_such_module:f"]) == 2
    assert "cannot load" in capsys.readouterr().out


def rounded_reference_data(digits=13):
    """Harmonics at a few directions printed to ``digits`` significant digits, in a padded layout
    (entry [i, l, m+l]) as reference-data files of other codes store them."""
    d = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5773502691896258] * 3])
    lm = 22
    Y = rstref.spherical_harmonics(d, lm)
    rounded = np.array([[float(f"{v:.{digits - 1}e}") for v in row] for row in Y])
    padded = np.zeros((len(d), lm + 1, 2 * lm + 1))
    for l in range(lm + 1):
        padded[:, l, :2 * l + 1] = rounded[:, l * l:(l + 1) ** 2]
    return d, padded


def test_check_values_of_rounded_data(tmp_path, capsys):
    from rstref.cli import main
    from rstref.conventions import check_values

    points, padded = rounded_reference_data()
    padded[1, 22, 0] = 4.5e-15  # (l=22, m=-22) at (0, 1, 0) is exactly 0
    # 13 digits cannot meet the default 1e-14 (l+1): reported per l, not passed
    assert not check_values(points, padded).passed
    report = check_values(points, padded, atol=1e-12)
    assert report.passed and "l=22" in report.tables[0].detail
    strict = check_values(points, padded, atol=1e-15)
    assert not strict.passed and "exactly 0 but not in the data: 1" in strict.tables[0].detail
    assert "(0.0, 1.0, 0.0), (l=22, m=-22): value 4.4999999999999998e-15, exact 0," in strict.tables[0].detail
    np.savez(tmp_path / "data.npz", points=points, values=padded)
    assert main(["conformance", "check", "--kind", "sph-data", str(tmp_path / "data.npz"), "--atol", "1e-15"]) == 1
    assert main(["conformance", "check", "--kind", "sph-data", str(tmp_path / "data.npz"), "--atol", "1e-12"]) == 0
    assert "max |deviation| per l" in capsys.readouterr().out


def test_identify_power_spectrum():
    from rstref.conventions import identify_power_spectrum

    rst = rstref.RadialSphericalTensor(3, rstref.OrthonormalRadialBasis(3, 2.0, "smooth_cosines"), 2)
    ps = rstref.PowerSpectrum(rst)
    raw = lambda x, v: ps.compute(x, v, normalize=False)  # noqa: E731
    assert identify_power_spectrum(raw, rst).verdict == "match"
    featomic = lambda x, v: convert_power_spectrum(raw(x, v), 3, 2, "rstref", "featomic")  # noqa: E731
    assert identify_power_spectrum(featomic, rst, layout="featomic").verdict == "match"
    ident = identify_power_spectrum(featomic, rst, layout="unweighted")
    assert ident.verdict == "prefactors"
    assert abs(ident.per_l[1] - (-1 / (4 * np.pi * np.sqrt(3)))) < 1e-12
    kernel = lambda x, v: ps.compute(x, v, normalize=True)  # noqa: E731
    assert identify_power_spectrum(kernel, rst).verdict == "incomparable"
    assert check(featomic, kind="power-spectrum", rst=rst, layout="featomic").tables[0].status == "pass"
    assert not check(kernel, kind="power-spectrum", rst=rst).passed


def test_cli_check_power_spectrum(tmp_path, monkeypatch, capsys):
    from rstref.cli import main

    (tmp_path / "myps.py").write_text(
        "import rstref\n"
        "basis = rstref.OrthonormalRadialBasis(3, 2.0, 'smooth_cosines')\n"
        "ps = rstref.PowerSpectrum(rstref.RadialSphericalTensor(3, basis, 2))\n"
        "def flipped(x, v):\n    p = ps.compute(x, v, normalize=False)\n    p[6:12] *= -1\n    return p\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["conformance", "check", "--kind", "power-spectrum", "myps:flipped", "--n-max", "3", "--l-max", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[convention]" in out and "l=1: x-1" in out
