"""The seed experiment (issue 6): analysis with rstref's own descriptors, and ``rstref demo``.

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
