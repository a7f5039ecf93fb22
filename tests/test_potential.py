"""rstref.potential: a linear power-spectrum potential with analytic forces, stress, Hessians."""

import tempfile

import numpy as np
import pytest
from ase.build import bulk, molecule

from rstref import tolerances as tol
from rstref.features import Featurizer
from rstref.potential import (
    LinearPotential,
    force_constants,
    hessian_function,
    to_vibrations_data,
)

RNG = np.random.default_rng(7)

CASES = {
    "molecule-channels-raw": (lambda: molecule("CH3CH2OH"),
                              dict(r_cut=3.0, n_max=3, l_max=3, species=["C", "H", "O"])),
    "molecule-values-normalised": (lambda: molecule("CH3CH2OH"),
                                   dict(r_cut=3.0, n_max=3, l_max=2, species=["H", "C", "O"],
                                        species_mode="values", normalize=True)),
    "molecule-with-centre": (lambda: molecule("H2O"),
                             dict(r_cut=2.5, n_max=3, l_max=2, species=["H", "O"], include_center=True)),
    "crystal-two-species": (lambda: _rattled(bulk("NaCl", "rocksalt", a=4.0) * (1, 1, 2), 0.05),
                            dict(r_cut=3.5, n_max=3, l_max=3, species=["Na", "Cl"])),
    # a cell smaller than r_cut: pairs with periodic images of the neighbour and of the centre
    "small-cell-images": (lambda: _rattled(bulk("Cu", "fcc", a=3.6) * (2, 1, 1), 0.05),
                          dict(r_cut=4.0, n_max=3, l_max=2, species=["Cu"])),
}


def _rattled(atoms, amplitude):
    atoms.rattle(amplitude, seed=3)
    return atoms


def _potential(kw):
    fz = Featurizer(**kw)
    W = RNG.normal(size=(len(fz.species), fz.n_features))
    return LinearPotential(fz, W, RNG.normal(size=len(fz.species)))


def _from_features(pot, atoms):
    """Energy, forces and virial from the featurizer's own features, pair gradients, strain."""
    fz = pot.featurizer
    out = fz.compute(atoms, gradients=True, stress=True)
    s = np.array([pot.species.index(z) for z in atoms.numbers])
    W = pot.weights[s]
    energy = np.einsum("if,if->", out.features, W) + pot.bias[s].sum()
    dE = np.zeros((len(atoms), 3))
    centers, neighbors, values = out.dense_gradients()
    np.add.at(dE, neighbors, np.einsum("gaf,gf->ga", values, W[centers]))
    virial = np.einsum("iabf,if->ab", out.strain_derivatives, W)
    return energy, -dE, virial


def _fd_hessian(pot, atoms, h=tol.FD_STEP):
    x0 = atoms.get_positions()
    H = np.zeros((3 * len(atoms), 3 * len(atoms)))
    for k in range(H.shape[0]):
        a = atoms.copy()
        x = x0.copy()
        x.flat[k] += h
        a.set_positions(x)
        fp = pot.forces(a)
        x.flat[k] -= 2 * h
        a.set_positions(x)
        fm = pot.forces(a)
        H[k] = -(fp - fm).reshape(-1) / (2 * h)
    return H


@pytest.mark.parametrize("case", sorted(CASES))
def test_energy_forces_virial_equal_the_featurizer_contraction(case):
    make, kw = CASES[case]
    atoms = make()
    pot = _potential(kw)
    energy, forces, virial, _ = pot._evaluate(atoms)
    e2, f2, v2 = _from_features(pot, atoms)
    scale = max(1.0, abs(e2))
    assert abs(energy - e2) <= tol.identity_atol(scale, kw["l_max"]) * len(atoms)
    assert np.abs(forces - f2).max() <= tol.identity_atol(np.abs(f2).max(), kw["l_max"]) * len(atoms)
    assert np.abs(virial - v2).max() <= tol.identity_atol(np.abs(v2).max(), kw["l_max"]) * len(atoms)
    assert pot.energy(atoms) == energy
    assert np.array_equal(pot.forces(atoms), forces)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hessian_against_central_differences_of_the_forces(case):
    make, kw = CASES[case]
    atoms = make()
    pot = _potential(kw)
    H = pot.hessian(atoms)
    scale = np.abs(H).max()
    assert scale > 0
    assert np.abs(H - _fd_hessian(pot, atoms)).max() <= tol.POTENTIAL_FD_RTOL * scale
    assert np.abs(H - H.T).max() <= tol.identity_atol(scale, kw["l_max"])
    # translation: sum over the moved atom of every column vanishes
    n = len(atoms)
    assert np.abs(H.reshape(n, 3, 3 * n).sum(axis=0)).max() <= tol.identity_atol(scale, kw["l_max"]) * n


def test_equivalent_atoms_of_a_perfect_crystal_have_equal_on_site_blocks():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    pot = _potential(dict(r_cut=4.0, n_max=3, l_max=3, species=["Cu"]))
    n = len(atoms)
    H = pot.hessian(atoms).reshape(n, 3, n, 3)
    blocks = np.array([H[i, :, i, :] for i in range(n)])
    assert np.abs(blocks - blocks[0]).max() <= tol.identity_atol(np.abs(H).max(), 3) * n
    # and the perfect crystal is at a stationary point of any such potential
    assert np.abs(pot.forces(atoms)).max() <= tol.identity_atol(np.abs(H).max(), 3) * n


def test_stress_is_the_strain_derivative_of_the_energy():
    atoms = _rattled(bulk("Cu", "fcc", a=3.6, cubic=True), 0.05)
    pot = _potential(dict(r_cut=4.0, n_max=3, l_max=3, species=["Cu"]))
    sigma = pot.stress(atoms, voigt=False)
    h = tol.FD_STEP
    fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                eps = np.eye(3)
                eps[a, b] += sign * h
                strained = atoms.copy()
                strained.set_cell(atoms.get_cell() @ eps.T, scale_atoms=False)
                strained.set_positions(atoms.get_positions() @ eps.T)
                energies.append(pot.energy(strained))
            fd[a, b] = (energies[0] - energies[1]) / (2 * h) / atoms.get_volume()
    assert np.abs(sigma - fd).max() <= tol.FD_RTOL * max(np.abs(fd).max(), 1e-12) * 10
    voigt = pot.stress(atoms)
    assert np.allclose(voigt, [sigma[0, 0], sigma[1, 1], sigma[2, 2], sigma[1, 2], sigma[0, 2], sigma[0, 1]])


def test_fit_recovers_a_realisable_model_from_energies_and_forces():
    truth = _potential(dict(r_cut=3.5, n_max=3, l_max=2, species=["Cu"]))
    frames = []
    for k in range(6):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.rattle(0.1, seed=10 + k)
        frames.append(a)
    energies = np.array([truth.energy(a) for a in frames])
    forces = [truth.forces(a) for a in frames]
    fitted = LinearPotential(truth.featurizer).fit(frames, energies, forces, regularization=0.0)
    test = bulk("Cu", "fcc", a=3.6, cubic=True)
    test.rattle(0.1, seed=99)
    assert abs(fitted.energy(test) - truth.energy(test)) <= 1e-8 * abs(truth.energy(test))
    assert np.abs(fitted.forces(test) - truth.forces(test)).max() <= 1e-7 * np.abs(truth.forces(test)).max()


def test_calculator_and_interop():
    atoms = _rattled(bulk("Cu", "fcc", a=3.6, cubic=True), 0.05)
    pot = _potential(dict(r_cut=4.0, n_max=3, l_max=2, species=["Cu"]))
    atoms.calc = pot.calculator()
    assert atoms.get_potential_energy() == pytest.approx(pot.energy(atoms), rel=1e-14)
    assert np.allclose(atoms.get_forces(), pot.forces(atoms), rtol=0, atol=1e-14)
    assert np.allclose(atoms.get_stress(), pot.stress(atoms), rtol=0, atol=1e-14)
    H = atoms.calc.get_hessian(atoms)
    assert np.array_equal(H, pot.hessian(atoms))
    assert np.allclose(atoms.calc.get_hessian(atoms, format="sparse").toarray(), H, rtol=0,
                       atol=1e-13 * np.abs(H).max())
    m = np.repeat(atoms.get_masses(), 3)
    Hm = atoms.calc.get_hessian(atoms, divide_by_masses=True)
    assert np.allclose(Hm * np.sqrt(m[:, None] * m[None, :]), H, rtol=1e-14, atol=0)
    Hms = atoms.calc.get_hessian(atoms, format="sparse", divide_by_masses=True)
    assert np.allclose(Hms.toarray(), Hm, rtol=0, atol=1e-13 * np.abs(Hm).max())
    n = len(atoms)
    fc = force_constants(pot, atoms)
    assert fc.shape == (n, n, 3, 3)
    assert np.array_equal(fc[1, 2], H[3:6, 6:9])
    assert np.array_equal(hessian_function(pot)(atoms), H)
    sub = pot.hessian(atoms, atoms_subset=[2, 0])
    assert np.array_equal(sub[:3, 3:], H[6:9, 0:3])
    assert np.array_equal(sub[3:, 3:], H[0:3, 0:3])
    sparse_sub = pot.hessian(atoms, format="sparse", atoms_subset=[2, 0])
    assert np.allclose(sparse_sub.toarray(), sub, rtol=0, atol=1e-13 * np.abs(H).max())
    assert np.allclose(pot.hessian(atoms, format="sparse").toarray(), H, rtol=0, atol=1e-13 * np.abs(H).max())
    vib = to_vibrations_data(pot, atoms)
    assert np.allclose(vib.get_hessian_2d(), H, rtol=0, atol=0)


def test_vibrations_equal_ase_finite_differences():
    from ase.vibrations import Vibrations

    atoms = molecule("H2O")
    pot = _potential(dict(r_cut=2.5, n_max=3, l_max=2, species=["H", "O"]))
    atoms.calc = pot.calculator()
    analytic = to_vibrations_data(pot, atoms).get_energies()
    with tempfile.TemporaryDirectory() as tmp:
        vib = Vibrations(atoms, name=f"{tmp}/vib", delta=1e-4, nfree=4)
        vib.run()
        fd = vib.get_energies()
    # compare the eigenvalues (energy squared: negative for imaginary modes), sorted
    a2, f2 = np.sort((analytic ** 2).real), np.sort((fd ** 2).real)
    assert np.abs(a2 - f2).max() <= 1e-6 * np.abs(a2).max()


@pytest.mark.parametrize("bad, match", [
    (dict(weights=np.zeros(3)), "weights"),
    (dict(bias=np.zeros(4)), "bias"),
])
def test_bad_parameters(bad, match):
    fz = Featurizer(r_cut=3.0, n_max=2, l_max=1, species=["Cu"])
    with pytest.raises(ValueError, match=match):
        LinearPotential(fz, **bad)


def test_bad_calls():
    with pytest.raises(TypeError, match="featurizer"):
        LinearPotential("not a featurizer")
    with pytest.raises(ValueError, match="power_spectrum"):
        LinearPotential(Featurizer(r_cut=3.0, n_max=2, l_max=1, species=["Cu"], invariant="bispectrum"))
    with pytest.raises(ValueError, match="species"):
        LinearPotential(Featurizer(r_cut=3.0, n_max=2, l_max=1, species_mode="values"))
    pot = LinearPotential(Featurizer(r_cut=3.0, n_max=2, l_max=1, species=["Cu"]))
    atoms = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(ValueError, match="format"):
        pot.hessian(atoms, format="csr")
    with pytest.raises(ValueError, match="atoms_subset"):
        pot.hessian(atoms, atoms_subset=[5])
    with pytest.raises(ValueError, match="atoms_subset"):
        pot.hessian(atoms, atoms_subset=[0, 0])
    with pytest.raises(ValueError, match="not in the species list"):
        pot.energy(molecule("H2O"))
    with pytest.raises(ValueError, match="periodic"):
        pot.stress(molecule("H2").__class__("Cu2", positions=[[0, 0, 0], [0, 0, 2.5]]))
    with pytest.raises(ValueError, match="energies"):
        pot.fit([atoms], [1.0, 2.0])
    with pytest.raises(ValueError, match="regularization"):
        pot.fit([atoms], [1.0], regularization=float("nan"))


def test_dense_hessian_memory_is_checked_first(monkeypatch):
    from rstref import limits

    pot = _potential(dict(r_cut=3.0, n_max=2, l_max=1, species=["Cu"]))
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 1000)
    with pytest.raises(ValueError, match="dense .* Hessian.*format='sparse'"):
        pot.hessian(atoms)
