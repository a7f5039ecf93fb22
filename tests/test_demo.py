"""The seed experiment (README, "The seed experiment"): analysis with rstref's own descriptors, and ``rstref demo``.

Nothing here compares against numbers printed by the code: nullities are checked
against what the symmetry argument forces (computed independently of the Hessian) and
null directions by the growth of the loss along them.
"""

import json

import numpy as np
import pytest

from rstref.analysis import degeneracy, loss_along, reconstruct, symmetry_forced_subspace
from rstref.cli import main
from rstref.demo import build_descriptors, load_structure


@pytest.fixture(scope="module")
def seed():
    positions, values, _ = load_structure("N2H4")
    _, rst, power, bispectrum = build_descriptors(2.0, 4, 5)
    return positions, values, rst, power, bispectrum


def test_seed_sizes(seed):
    positions, values, rst, power, _ = seed
    assert rst.dim == 125
    assert power.compute(positions, values).shape == (75,)


@pytest.mark.parametrize("which", ["power", "bispectrum"])
def test_seed_null_space_contains_rotations_and_symmetry_forced_directions(seed, which):
    positions, values, _, power, bispectrum = seed
    desc = power if which == "power" else bispectrum
    deg = degeneracy(positions, values, desc)
    _, forced, _ = symmetry_forced_subspace(positions, values)
    assert deg.n_rotations_in_null == 3
    assert deg.n_forced_outside_null == 0
    assert deg.nullity >= forced.shape[1] == 10
    for k in range(deg.nullity):
        losses, order = loss_along(positions, values, desc, deg.null_space[:, k])
        # o(eps^2): the loss along a null direction grows at least as eps^3 (in fact eps^4)
        assert order > 3.0, (k, losses)


def test_generic_environment_power_spectrum_nullity_is_three(seed):
    positions, values, _, power, _ = seed
    rng = np.random.default_rng(7)
    generic = positions + rng.uniform(-0.05, 0.05, positions.shape)
    deg = degeneracy(generic, values, power)
    assert deg.n_symmetry_forced == 0
    assert deg.nullity == 3 == deg.n_rotations_in_null


def test_newton_reconstruction_of_a_generic_environment_reaches_zero_loss(seed):
    positions, values, _, power, _ = seed
    rng = np.random.default_rng(3)
    generic = positions + rng.uniform(-0.05, 0.05, positions.shape)
    target = power.compute(generic, values)
    start = generic + rng.uniform(-0.01, 0.01, generic.shape)
    res = reconstruct(target, start, values, power, method="newton")
    assert res.loss < 1e-20


def test_demo_command_prints_the_story(capsys):
    assert main(["demo", "--starts", "1"]) == 0
    out = capsys.readouterr().out
    for text in ("irreps:", "power spectrum (75 invariants", "reconstruction from the power spectrum",
                 "power spectrum: nullity", "bispectrum: nullity", "generic environment"):
        assert text in out


def test_demo_command_json(capsys):
    assert main(["demo", "--starts", "1", "--json", "--l-max", "2", "--n-max", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_coefficients"] == 3 * 9
    assert len(data["power_spectrum"]) == 3 * 6
    deg = data["degeneracy"]["power_spectrum"]
    assert deg["nullity"] == len([e for e in deg["eigenvalues"] if e <= deg["threshold"]])
    assert data["generic"]["power_spectrum"]["n_rotations_in_null"] == 3


def test_demo_writes_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--starts", "1", "--l-max", "2", "--n-max", "3", "--plot", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["hessian_spectrum.png", "homometric_pair.png", "radial_basis.png", "reconstruction.png",
                     "signal_isosurfaces.png", "signal_slices.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)


def test_homometric_pair_is_power_spectrum_degenerate_but_not_congruent(seed):
    from rstref.demo import homometric_pair_summary
    from rstref.tolerances import identity_atol

    _, _, rst, power, bispectrum = seed
    h = homometric_pair_summary(power, bispectrum)
    assert h["power_spectrum_max_abs_difference"] <= identity_atol(h["power_spectrum_max_abs"], 4) * 5
    assert h["bispectrum_max_abs_difference"] > 1e-3 * h["bispectrum_max_abs"]
    # no rotation, reflection or relabelling maps one onto the other
    assert h["registration_rmsd"] > 0.1


# ------------------------------------------------------- the newcomer's path through the demo

import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

#: a line that holds a timing ("about 10 s", "finished in 0.6 s")
TIMING = re.compile(r"\b\d+(?:\.\d+)? s\b")


def readme_demo_block():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("## The seed experiment: `rstref demo`"):]
    start = section.index("```\n") + 4
    return section[start:section.index("```", start)].rstrip("\n").split("\n")


def test_readme_demo_block_is_what_the_command_prints_except_timings(capsys):
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out.rstrip("\n").split("\n")
    readme = readme_demo_block()
    assert sum(bool(TIMING.search(line)) for line in printed) == 2  # the first and the last
    assert [x for x in readme if not TIMING.search(x)] == [x for x in printed if not TIMING.search(x)]


def test_the_report_streams_section_by_section(monkeypatch):
    import rstref.analysis
    from rstref.demo import format_report, seed_experiment

    log, sections = [], []
    real = rstref.analysis.reconstruct

    def logged(*args, **kwargs):
        log.append("reconstruct")
        return real(*args, **kwargs)

    monkeypatch.setattr(rstref.analysis, "reconstruct", logged)

    def report(text):
        log.append("section")
        sections.append(text)

    result = seed_experiment(n_starts=2, l_max=2, n_max=3, report=report)
    assert log[:2] == ["section", "section"]  # header and table head before any reconstruction
    assert log[2:6] == ["reconstruct", "reconstruct", "section", "reconstruct"]  # row by row
    assert "\n".join(sections) == format_report(result)


def test_the_command_flushes_its_first_line_before_the_work_is_done():
    proc = subprocess.Popen([sys.executable, "-m", "rstref.cli", "demo", "--starts", "2"],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        still_running = proc.poll() is None
        second = proc.stdout.readline()
    finally:
        proc.communicate(timeout=600)
    assert "first run compiles numba kernels" in first and TIMING.search(first)
    assert second.startswith("rstref seed experiment")
    assert still_running
    assert proc.returncode == 0


def test_canonical_direction_depends_on_the_subspace_only():
    from rstref.demo import canonical_direction

    rng = np.random.default_rng(8)
    basis, _ = np.linalg.qr(rng.normal(size=(18, 4)))
    mix, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    v = canonical_direction(basis)
    np.testing.assert_allclose(canonical_direction(basis @ mix), v, atol=1e-13)
    np.testing.assert_allclose(canonical_direction(-basis[:, ::-1]), v, atol=1e-13)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    np.testing.assert_allclose(basis @ (basis.T @ v), v, atol=1e-13)


def test_each_symmetry_operation_reads_differently():
    from rstref.analysis import symmetry_operations
    from rstref.demo import describe_operation

    positions, values, _ = load_structure("CH4")
    ops = symmetry_operations(positions, values, include_improper=True)
    texts = [describe_operation(g) for g, _ in ops]
    assert len(ops) == 24 and len(set(texts)) == 24, texts
    assert not any("-0.000" in t for t in texts)


def test_unknown_molecule_is_a_clear_error(capsys):
    assert main(["demo", "--molecule", "XYZ"]) == 2
    err = capsys.readouterr().err
    assert "unknown molecule 'XYZ'" in err and "Traceback" not in err


@pytest.mark.parametrize("option, value, argument", [
    ("--starts", "0", "n_starts"), ("--rtol", "nan", "rtol"), ("--rtol", "1", "rtol"),
    ("--rtol", "1e-15", "rtol"),
    ("--r-cut", "-1", "r_cut"), ("--l-max", "-1", "l_max"), ("--n-max", "0", "n_max"),
    ("--perturbation", "inf", "perturbation"), ("--seed", "-3", "seed"),
])
def test_bad_settings_are_refused_before_any_work(capsys, option, value, argument):
    assert main(["demo", option, value]) == 2
    err = capsys.readouterr().err
    assert argument in err and "Traceback" not in err


def test_demo_help_gives_help_and_a_default_for_every_option():
    from rstref.cli import build_parser

    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    for action in demo._actions:
        if action.dest == "help":
            continue
        assert action.help and "default" in action.help, action.option_strings


def test_periodic_structure_is_refused(tmp_path, capsys):
    import ase.build
    import ase.io

    path = tmp_path / "cu.extxyz"
    ase.io.write(path, ase.build.bulk("Cu", cubic=True))
    assert main(["demo", "--structure", str(path)]) == 2
    err = capsys.readouterr().err
    assert "periodic" in err and "Traceback" not in err


def test_structure_with_atoms_outside_and_near_r_cut_says_so(tmp_path, capsys):
    import ase.io
    from ase import Atoms

    positions, _, symbols = load_structure("N2H4")
    atoms = Atoms(symbols + ["O", "O"], positions=np.vstack([positions, [[0.3, 0.4, 2.7]],
                                                                         [[1.9, 0.0, 0.3]]]))
    path = tmp_path / "n2h4_plus.xyz"
    ase.io.write(path, atoms)
    assert main(["demo", "--structure", str(path), "--starts", "1", "--l-max", "2",
                 "--n-max", "3"]) == 0
    out = capsys.readouterr().out
    assert "7 of 8 atoms inside r_cut" in out
    assert "outside r_cut, not seen by the expansion (nothing depends on them): atoms 6 (O" in out
    assert re.search(r"warning: atoms .*7 \(O, 1\.92 A\).* within 10% of r_cut", out)
    # the flat directions of atom 6 are named as such, never as a degeneracy
    nullity_lines = [x for x in out.split("\n") if "nullity" in x]
    assert all("unseen" in x for x in nullity_lines[:2])
    assert "nothing depends on those atoms" in out
    assert "0 at every eps (flat: nothing depends on the atoms it moves)" in out


def test_json_output_is_standard_json(capsys):
    assert main(["demo", "--starts", "1", "--json", "--l-max", "1", "--n-max", "2"]) == 0
    captured = capsys.readouterr()

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    json.loads(captured.out, parse_constant=refuse)
    assert "first run compiles" in captured.err
