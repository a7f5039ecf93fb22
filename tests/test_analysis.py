"""Registration, symmetry analysis, degeneracy and reconstruction (rstref.analysis).

The descriptor-independent parts are checked on a toy invariant with explicit
derivatives (pair Gaussians including the centre): rotation and permutation invariant,
so every statement about forced null directions applies to it too.
"""

import ase.build
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rstref.analysis import (
    degeneracy,
    loss_along,
    reconstruct,
    register,
    rotation_generators,
    symmetry_forced_subspace,
    symmetry_operations,
)
from rstref.tolerances import FD_RTOL, FD_STEP


class PairGaussians:
    """f_k = sum_{a<b} u_a u_b exp(-alpha_k |y_a - y_b|^2) over the centre (u=1) and the atoms."""

    def __init__(self, alphas=(0.3, 0.7, 1.3, 2.1, 3.4, 5.0, 8.0)):
        self.alphas = np.asarray(alphas, dtype=float)

    def _pairs(self, positions, values):
        y = np.vstack([np.zeros(3), positions])
        u = np.concatenate([[1.0], values])
        a, b = np.triu_indices(len(y), 1)
        return y, u, a, b

    def compute(self, positions, values):
        return self.compute_with_hessians(positions, values)[0]

    def compute_with_gradients(self, positions, values):
        return self.compute_with_hessians(positions, values)[:2]

    def compute_with_hessians(self, positions, values):
        y, u, a, b = self._pairs(positions, values)
        n, k = len(y), len(self.alphas)
        f = np.zeros(k)
        grad = np.zeros((n, 3, k))
        hess = np.zeros((n, 3, n, 3, k))
        for i, j in zip(a, b):
            d = y[i] - y[j]
            e = u[i] * u[j] * np.exp(-self.alphas * (d @ d))
            f += e
            g = -2 * self.alphas[None, :] * e[None, :] * d[:, None]
            grad[i] += g
            grad[j] -= g
            h = e[None, None, :] * (4 * self.alphas**2 * np.einsum("x,y->xy", d, d)[..., None]
                                    - 2 * self.alphas * np.eye(3)[..., None])
            hess[i, :, i] += h
            hess[j, :, j] += h
            hess[i, :, j] -= h
            hess[j, :, i] -= h
        return f, grad[1:], hess[1:, :, 1:]


def n2h4():
    atoms = ase.build.molecule("N2H4")
    values = np.where(atoms.get_atomic_numbers() == 1, -1.0, 1.0)
    return atoms.get_positions(), values


def random_rotation_matrix(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def test_toy_descriptor_derivatives_match_finite_differences():
    rng = np.random.default_rng(1)
    pos, val = rng.normal(size=(4, 3)), rng.normal(size=4)
    desc = PairGaussians()
    f, g, h = desc.compute_with_hessians(pos, val)
    for i in range(4):
        for x in range(3):
            step = np.zeros_like(pos)
            step[i, x] = FD_STEP
            fd = (desc.compute(pos + step, val) - desc.compute(pos - step, val)) / (2 * FD_STEP)
            np.testing.assert_allclose(g[i, x], fd, rtol=FD_RTOL, atol=FD_RTOL)
            fdg = (desc.compute_with_gradients(pos + step, val)[1]
                   - desc.compute_with_gradients(pos - step, val)[1]) / (2 * FD_STEP)
            np.testing.assert_allclose(h[:, :, i, x], fdg, rtol=FD_RTOL, atol=FD_RTOL)


@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_register_recovers_a_known_rotation(seed, n_atoms):
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(max(n_atoms, 3), 3))
    rot = random_rotation_matrix(rng)
    moved = reference @ rot.T
    reg = register(moved, reference)
    np.testing.assert_allclose(reg.rotation @ rot, np.eye(3), atol=1e-12)
    assert reg.rmsd < 1e-12
    assert np.linalg.det(reg.rotation) == pytest.approx(1.0)
    assert np.linalg.det(reg.improper_rotation) == pytest.approx(-1.0)


def test_register_finds_the_mirror_image_and_exchanged_atoms():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(6, 3))
    values = np.array([1.0, 1.0, -1.0, -1.0, -1.0, -1.0])
    perm = np.array([1, 0, 3, 2, 5, 4])
    mirrored = (reference * np.array([1.0, 1.0, -1.0])) @ random_rotation_matrix(rng).T
    reg = register(mirrored[perm], reference, values)
    assert reg.improper_rmsd < 1e-12 < reg.rmsd
    np.testing.assert_array_equal(mirrored[perm][reg.improper_permutation], mirrored)


def test_register_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="reference"):
        register(np.zeros((3, 3)), np.zeros((4, 3)))


def test_n2h4_has_exactly_the_c2_rotation():
    pos, val = n2h4()
    ops = symmetry_operations(pos, val)
    assert len(ops) == 2
    g, perm = ops[1]
    np.testing.assert_allclose(g, np.diag([-1.0, -1.0, 1.0]), atol=1e-6)
    np.testing.assert_array_equal(perm, [1, 0, 4, 5, 2, 3])
    # with mirror planes allowed: C2 has none, N2H4 (C2 point group) stays at 2 operations
    assert len(symmetry_operations(pos, val, include_improper=True)) == 2


def test_symmetry_forced_subspace_of_n2h4_has_dimension_ten():
    # DESIGN section 1: the C2-antisymmetric displacements (3 swapped pairs x 3 = 9)
    # contain the rotations about x and y; adding the rotation about z gives 10.
    pos, val = n2h4()
    rotations, forced, _ = symmetry_forced_subspace(pos, val)
    assert rotations.shape == (18, 3)
    assert forced.shape == (18, 10)
    np.testing.assert_allclose(forced.T @ forced, np.eye(10), atol=1e-12)


def test_generic_environment_has_no_symmetry():
    rng = np.random.default_rng(5)
    pos = rng.normal(size=(6, 3))
    assert len(symmetry_operations(pos, np.ones(6), include_improper=True)) == 1
    _, forced, _ = symmetry_forced_subspace(pos, np.ones(6))
    assert forced.shape[1] == 3


def test_rotation_generators_of_a_linear_molecule_span_two_directions():
    pos = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -2.0]])
    assert rotation_generators(pos).shape == (6, 2)


def test_forced_directions_are_null_directions_of_any_invariant():
    pos, val = n2h4()
    deg = degeneracy(pos, val, PairGaussians())
    assert deg.n_rotations == deg.n_rotations_in_null == 3
    assert deg.n_forced_outside_null == 0
    assert deg.nullity >= 10
    # every forced direction leaves the loss unchanged to second order: quartic growth
    for k in range(deg.forced_directions.shape[1]):
        losses, order = loss_along(pos, val, PairGaussians(), deg.forced_directions[:, k])
        assert order > 3.9, (k, losses)
    # while the stiffest direction grows quadratically
    stiff = np.linalg.eigh(deg.hessian)[1][:, -1]
    _, order = loss_along(pos, val, PairGaussians(), stiff, steps=(1e-3, 3e-4, 1e-4))
    assert abs(order - 2.0) < 0.05


def test_reconstruct_newton_reaches_zero_loss_on_a_generic_environment():
    rng = np.random.default_rng(11)
    pos = rng.uniform(-1, 1, size=(3, 3))
    val = np.array([1.0, -0.5, 0.8])
    desc = PairGaussians()
    target = desc.compute(pos, val)
    start = pos + rng.uniform(-0.02, 0.02, pos.shape)
    res = reconstruct(target, start, val, desc, method="newton")
    assert res.loss < 1e-20
    assert res.iterations == len(res.history)
    assert res.stages[0]["method"] == "trust-exact"


def test_reconstruct_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        reconstruct(np.zeros(3), np.zeros((1, 3)), None, PairGaussians(), method="magic")
