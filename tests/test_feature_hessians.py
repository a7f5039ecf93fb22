"""Block-sparse Hessians of per-atom features of structures (rstref.features.hessians)."""

import numpy as np
import pytest
from ase.build import bulk, molecule

from rstref import limits
from rstref import tolerances as tol
from rstref.features import Featurizer, feature_hessians

CASES = {
    "molecule-channels": (lambda: molecule("CH3OH"),
                          dict(r_cut=3.0, n_max=3, l_max=2, species=["C", "H", "O"])),
    "molecule-values-normalised": (lambda: molecule("H2O"),
                                   dict(r_cut=2.5, n_max=3, l_max=2, species_mode="values",
                                        normalize=True)),
    "crystal-images": (lambda: bulk("NaCl", "rocksalt", a=4.0),
                       dict(r_cut=3.5, n_max=2, l_max=2, species=["Na", "Cl"])),
    "molecule-bispectrum": (lambda: molecule("CH3OH"),
                            dict(r_cut=3.0, n_max=2, l_max=2, species=["C", "H", "O"],
                                 invariant="bispectrum")),
    "crystal-bispectrum-values": (lambda: bulk("NaCl", "rocksalt", a=4.0),
                                  dict(r_cut=3.5, n_max=2, l_max=2, species_mode="values",
                                       invariant="bispectrum")),
}


def _dense_gradients(fz, atoms):
    n = len(atoms)
    out = fz.compute(atoms, gradients=True)
    G = np.zeros((n, fz.n_features, n, 3))
    centers, neighbors, values = out.dense_gradients()
    G[centers, :, neighbors, :] = values.transpose(0, 2, 1)
    return G.reshape(n, fz.n_features, 3 * n)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_central_differences_of_the_pair_gradients(case):
    make, kw = CASES[case]
    atoms = make()
    atoms.rattle(0.03, seed=1)
    fz = Featurizer(**kw)
    n = len(atoms)
    D = feature_hessians(fz, atoms).dense(n)
    x0 = atoms.get_positions()
    h = tol.FD_STEP
    fd = np.zeros_like(D)
    for k in range(3 * n):
        moved = atoms.copy()
        x = x0.copy()
        x.flat[k] += h
        moved.set_positions(x)
        plus = _dense_gradients(fz, moved)
        x.flat[k] -= 2 * h
        moved.set_positions(x)
        fd[:, :, :, k] = (plus - _dense_gradients(fz, moved)) / (2 * h)
    scale = np.abs(D).max()
    assert scale > 0
    assert np.abs(D - fd).max() <= tol.FD_RTOL * scale
    # symmetric in (j, k) and translation sum rule: sum over the moved atom vanishes
    assert np.abs(D - D.transpose(0, 1, 3, 2)).max() <= tol.identity_atol(scale, kw["l_max"])
    assert np.abs(D.reshape(n, -1, n, 3, 3 * n).sum(axis=2)).max() <= tol.identity_atol(scale, kw["l_max"]) * n


def test_blocks_are_sparse_and_sorted():
    atoms = molecule("C6H6")
    fz = Featurizer(r_cut=2.0, n_max=2, l_max=2, species=["C", "H"])
    fh = feature_hessians(fz, atoms)
    keys = np.stack([fh.centers, fh.first, fh.second], axis=1)
    assert np.array_equal(keys, np.unique(keys, axis=0))
    n = len(atoms)
    assert keys.shape[0] < n ** 3  # only atoms within each environment
    features, again = fz.compute_with_hessians(atoms)
    assert features.gradient_values is not None
    assert np.array_equal(again.values, fh.values)


def test_memory_is_checked_before_allocating(monkeypatch):
    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 100_000)
    with pytest.raises(ValueError, match="feature Hessians .*quadratic.*needs about"):
        feature_hessians(Featurizer(r_cut=3.0, n_max=2, l_max=1, species=["Cu"]), bulk("Cu", "fcc", a=3.6))


def test_energy_hessian_is_the_contraction_of_the_feature_hessians():
    from rstref.potential import LinearPotential

    atoms = molecule("CH3OH")
    atoms.rattle(0.03, seed=2)
    fz = Featurizer(r_cut=3.0, n_max=3, l_max=2, species=["C", "H", "O"])
    weights = np.random.default_rng(5).normal(size=(3, fz.n_features))
    pot = LinearPotential(fz, weights, 0.0)
    n = len(atoms)
    D = feature_hessians(fz, atoms).dense(n)  # (n, F, 3n, 3n)
    s = np.array([list(fz.species).index(z) for z in atoms.numbers])
    contracted = np.einsum("if,ifab->ab", weights[s], D)
    H = pot.hessian(atoms)
    assert np.abs(H - contracted).max() <= tol.identity_atol(np.abs(H).max(), 2) * n


def test_hessian_blocks_vanish_continuously_at_the_cutoff():
    # the default radial family is C^2 at r_cut: second derivatives -> 0 as a neighbour leaves
    from ase import Atoms

    fz = Featurizer(r_cut=3.0, n_max=3, l_max=2, species=["Cu"])
    sizes = []
    for gap in (1e-2, 1e-3, 1e-4):
        dimer = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 3.0 * (1 - gap)]])
        sizes.append(np.abs(feature_hessians(fz, dimer).values).max())
    beyond = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 3.0 * (1 + 1e-4)]])
    assert not np.any(feature_hessians(fz, beyond).values)  # no pair: only the centres' zero blocks
    assert sizes[0] > sizes[1] > sizes[2]
    assert sizes[2] <= 1e-4 / 1e-2 * sizes[0]  # decays at least linearly with the gap
