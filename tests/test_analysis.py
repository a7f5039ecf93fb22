"""Registration, symmetry analysis, degeneracy and reconstruction (rstref.analysis).

The descriptor-independent parts are checked on a toy invariant with explicit
derivatives (pair Gaussians including the centre): rotation and permutation invariant,
so every statement about forced null directions applies to it too.
"""

import warnings

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
    # README, "The seed experiment": the C2-antisymmetric displacements (3 swapped pairs x 3 = 9)
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


# ------------------------------------------------ fixed arity, validate once, bad input


def power_spectrum_descriptor(r_cut=2.0, l_max=3, n_max=4):
    from rstref.invariants import PowerSpectrum
    from rstref.radial import OrthonormalRadialBasis
    from rstref.tensor import RadialSphericalTensor

    radial = OrthonormalRadialBasis(n_max, r_cut)
    return PowerSpectrum(RadialSphericalTensor(n_max, radial, l_max))


@pytest.mark.parametrize("make", [PairGaussians, power_spectrum_descriptor])
def test_loss_names_have_fixed_arity_and_agree(make):
    from rstref.analysis import loss, loss_with_gradient, loss_with_hessian

    desc = make()
    pos, val = n2h4()
    rng = np.random.default_rng(2)
    target = desc.compute(pos + rng.uniform(-0.05, 0.05, pos.shape), val)
    x = pos.ravel()
    value = loss(x, target, val, desc)
    assert isinstance(value, float)
    r = desc.compute(pos, val) - target
    assert value == pytest.approx(float(r @ r) / r.size, rel=1e-14)
    v1, grad = loss_with_gradient(x, target, val, desc)
    v2, grad2, hess = loss_with_hessian(x, target, val, desc)
    assert v1 == pytest.approx(value, rel=1e-14) and v2 == pytest.approx(value, rel=1e-14)
    assert grad.shape == (18,) and hess.shape == (18, 18)
    np.testing.assert_allclose(grad2, grad, rtol=1e-12, atol=1e-15)
    k = 4
    step = np.zeros(18)
    step[k] = FD_STEP
    fd = (loss(x + step, target, val, desc) - loss(x - step, target, val, desc)) / (2 * FD_STEP)
    assert fd == pytest.approx(grad[k], rel=1e-5, abs=1e-10)
    fdg = (loss_with_gradient(x + step, target, val, desc)[1]
           - loss_with_gradient(x - step, target, val, desc)[1]) / (2 * FD_STEP)
    np.testing.assert_allclose(hess[:, k], fdg, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("order, error", [(5, ValueError), (-1, ValueError), (2.5, TypeError),
                                          (1.0, TypeError), (True, TypeError), ("2", TypeError)])
def test_deprecated_loss_with_derivatives_refuses_an_invalid_order(order, error):
    from rstref.analysis import loss_with_derivatives

    pos, val = n2h4()
    desc = PairGaussians()
    with pytest.raises(error, match="order"):
        loss_with_derivatives(pos.ravel(), desc.compute(pos, val), val, desc, order=order)


def test_deprecated_loss_with_derivatives_warns_and_keeps_its_arity():
    from rstref.analysis import loss_with_derivatives, loss_with_hessian

    pos, val = n2h4()
    desc = PairGaussians()
    target = desc.compute(pos, val) + 0.01
    expected = loss_with_hessian(pos.ravel(), target, val, desc)
    for order in (0, 1, 2):
        with pytest.warns(DeprecationWarning, match="loss_with_gradient"):
            out = loss_with_derivatives(pos.ravel(), target, val, desc, order=order)
        assert len(out) == order + 1
        assert out[0] == pytest.approx(expected[0], rel=1e-14)


def test_loss_refuses_a_target_of_the_wrong_size():
    from rstref.analysis import loss

    pos, val = n2h4()
    with pytest.raises(ValueError, match="target"):
        loss(pos.ravel(), np.zeros(1), val, PairGaussians())
    with pytest.raises(ValueError, match="target_invariants"):
        reconstruct(np.zeros(1), pos, val, PairGaussians())


def test_the_optimiser_loops_take_the_descriptors_fast_path(monkeypatch):
    """Validated once at the door: no public (re-validating) call inside the loops."""
    desc = power_spectrum_descriptor()
    pos, val = n2h4()
    target = desc.compute(pos, val)
    start = pos + np.random.default_rng(4).uniform(-0.02, 0.02, pos.shape)
    calls = []
    for name in ("compute", "compute_with_gradients", "compute_with_hessians"):
        monkeypatch.setattr(desc, name, lambda *a, _n=name, **k: calls.append(_n))
    res = reconstruct(target, start, val, desc, max_iterations=20)
    deg = degeneracy(pos, val, desc)
    loss_along(pos, val, desc, deg.null_space[:, 0])
    assert calls == []
    assert res.iterations > 0


def test_a_trial_point_with_coincident_atoms_is_evaluated_not_refused():
    desc = power_spectrum_descriptor()
    pos = np.array([[0.5, 0.0, 0.0], [0.0, 0.7, 0.0], [0.0, 0.0, 0.9]])
    direction = np.zeros((3, 3))
    direction[1] = pos[0] - pos[1]  # moves atom 1 onto atom 0 at eps = 1
    eps = float(np.linalg.norm(direction))
    losses, _ = loss_along(pos, None, desc, direction, steps=(eps, 0.5 * eps))
    assert np.all(np.isfinite(losses)) and losses[0] > 0
    # ... while coincident atoms in the caller's input are still refused
    with pytest.raises(ValueError, match="coincide"):
        loss_along(np.vstack([pos, pos[:1]]), None, desc, np.ones((4, 3)))


BAD_FRACTIONS = [float("nan"), float("inf"), -1.0, 0.0, 1e-300, 1e-15, 1.0, 2.0]


@pytest.mark.parametrize("rtol", BAD_FRACTIONS)
def test_degeneracy_refuses_a_vacuous_rtol(rtol):
    pos, val = n2h4()
    with pytest.raises(ValueError, match="rtol"):
        degeneracy(pos, val, PairGaussians(), rtol=rtol)


@pytest.mark.parametrize("tol", [float("nan"), float("inf"), -1.0, 0.0, 0.5])
def test_symmetry_operations_refuse_a_vacuous_tol(tol):
    pos, val = n2h4()
    with pytest.raises(ValueError, match="tol"):
        symmetry_operations(pos, val, tol=tol)
    with pytest.raises(ValueError, match="tol"):
        symmetry_forced_subspace(pos, val, tol=tol)
    with pytest.raises(ValueError, match="symmetry_tol"):
        degeneracy(pos, val, PairGaussians(), symmetry_tol=tol)


def _complex_calls():
    from rstref.analysis import homometric_pair, loss, loss_with_gradient, loss_with_hessian

    pos, val = n2h4()
    z = pos + 1e-3j
    desc = PairGaussians()
    target = desc.compute(pos, val)
    return {
        "loss": lambda: loss(z.ravel(), target, val, desc),
        "loss_with_gradient": lambda: loss_with_gradient(z.ravel(), target, val, desc),
        "loss_with_hessian": lambda: loss_with_hessian(z.ravel(), target, val, desc),
        "loss target": lambda: loss(pos.ravel(), target + 0j, val, desc),
        "reconstruct": lambda: reconstruct(target, z, val, desc),
        "register": lambda: register(z, pos),
        "register reference": lambda: register(pos, z),
        "rotation_generators": lambda: rotation_generators(z),
        "symmetry_operations": lambda: symmetry_operations(z, val),
        "symmetry_forced_subspace": lambda: symmetry_forced_subspace(z, val),
        "degeneracy": lambda: degeneracy(z, val, desc),
        "degeneracy values": lambda: degeneracy(pos, val + 0j, desc),
        "loss_along": lambda: loss_along(z, val, desc, np.ones(18)),
        "loss_along direction": lambda: loss_along(pos, val, desc, np.ones(18) + 1j),
        "symmetry tol": lambda: symmetry_operations(pos, val, tol=1e-6 + 0j),
        "rtol": lambda: degeneracy(pos, val, desc, rtol=1e-6 + 0j),
        "homometric_pair": lambda: homometric_pair(radius=1.0 + 1j),
    }


@pytest.mark.parametrize("name", sorted(_complex_calls()))
def test_complex_input_raises_type_error(name):
    with pytest.raises(TypeError, match="real"):
        _complex_calls()[name]()


def _bad_numeric_calls():
    from rstref.analysis import homometric_pair

    pos, val = n2h4()
    desc = PairGaussians()
    target = desc.compute(pos, val)
    ones = np.ones(18)
    return {
        "steps empty": (ValueError, "steps", lambda: loss_along(pos, val, desc, ones, steps=())),
        "steps one": (ValueError, "steps", lambda: loss_along(pos, val, desc, ones, steps=(1e-3,))),
        "steps same": (ValueError, "steps",
                       lambda: loss_along(pos, val, desc, ones, steps=(1e-3, 1e-3))),
        "steps negative": (ValueError, "steps",
                           lambda: loss_along(pos, val, desc, ones, steps=(1e-3, -1e-3))),
        "steps nan": (ValueError, "steps",
                      lambda: loss_along(pos, val, desc, ones, steps=(1e-3, np.nan))),
        "direction zero": (ValueError, "direction",
                           lambda: loss_along(pos, val, desc, np.zeros(18))),
        "direction shape": (ValueError, "direction", lambda: loss_along(pos, val, desc, ones[:5])),
        "direction nan": (ValueError, "direction",
                          lambda: loss_along(pos, val, desc, np.full(18, np.nan))),
        "max_iterations 0": (ValueError, "max_iterations",
                             lambda: reconstruct(target, pos, val, desc, max_iterations=0)),
        "max_iterations float": (TypeError, "max_iterations",
                                 lambda: reconstruct(target, pos, val, desc, max_iterations=2.5)),
        "include_improper": (TypeError, "include_improper",
                             lambda: degeneracy(pos, val, desc, include_improper="yes")),
        "include_improper symmetry": (TypeError, "include_improper",
                                      lambda: symmetry_operations(pos, val, include_improper=1)),
        "rtol string": (TypeError, "rtol", lambda: degeneracy(pos, val, desc, rtol="1e-6")),
        "descriptor_kwargs": (TypeError, "descriptor_kwargs",
                              lambda: degeneracy(pos, val, desc, descriptor_kwargs=[1])),
        "descriptor": (TypeError, "descriptor", lambda: degeneracy(pos, val, object())),
        "radius": (ValueError, "radius", lambda: homometric_pair(radius=-1.0)),
        "radius nan": (ValueError, "radius", lambda: homometric_pair(radius=np.nan)),
        "apex inf": (ValueError, "apex", lambda: homometric_pair(apex=np.inf)),
        "start coincident": (ValueError, "start_positions",
                             lambda: reconstruct(target, np.vstack([pos[:-1], pos[:1]]), val, desc)),
    }


@pytest.mark.parametrize("name", sorted(_bad_numeric_calls()))
def test_every_numeric_argument_is_checked(name):
    error, argument, call = _bad_numeric_calls()[name]
    with pytest.raises(error, match=argument):
        call()


def test_symmetry_operations_are_listed_once_each():
    # CH4 (T_d): 12 proper operations, 24 with the improper ones, all distinct
    atoms = ase.build.molecule("CH4")
    pos, val = atoms.get_positions(), np.where(atoms.get_atomic_numbers() == 1, -1.0, 1.0)
    for improper, count in ((False, 12), (True, 24)):
        ops = symmetry_operations(pos, val, include_improper=improper)
        assert len(ops) == count
        for k, (g, perm) in enumerate(ops):
            np.testing.assert_allclose(g @ g.T, np.eye(3), atol=1e-12)
            np.testing.assert_allclose(pos @ g.T, pos[perm], atol=1e-6)
            for h, _ in ops[:k]:
                assert np.max(np.abs(g - h)) > 0.1


def test_atoms_beyond_r_cut_are_unseen_not_a_genuine_degeneracy():
    desc = power_spectrum_descriptor(r_cut=2.0)
    pos, val = n2h4()
    far = np.array([[2.6, 0.3, -0.4]])  # beyond r_cut: nothing depends on it
    deg = degeneracy(np.vstack([pos, far]), np.append(val, 1.0), desc)
    np.testing.assert_array_equal(deg.unseen_atoms, [6])
    assert deg.n_unseen == 3
    assert deg.n_genuine == 0
    assert deg.nullity == deg.n_rotations_in_null + deg.n_symmetry_forced + deg.n_unseen
    # its displacements are exactly flat directions of the loss
    for k in range(3):
        losses, order = loss_along(np.vstack([pos, far]), np.append(val, 1.0), desc,
                                   deg.unseen_directions[:, k])
        assert np.all(losses == 0.0) and order == float("inf")
    assert degeneracy(pos, val, desc).n_unseen == 0


@pytest.mark.parametrize("scale", [1e-200, 1e-3, 1e3, 1e200])
def test_symmetry_and_registration_do_not_depend_on_the_length_unit(scale):
    pos, val = n2h4()
    assert len(symmetry_operations(pos * scale, val)) == 2
    _, forced, _ = symmetry_forced_subspace(pos * scale, val)
    assert forced.shape == (18, 10)
    rng = np.random.default_rng(9)
    moved = (pos * scale) @ random_rotation_matrix(rng).T
    with np.errstate(all="raise"):
        reg = register(moved, pos * scale, val)
    assert reg.rmsd <= 1e-12 * scale


def test_degeneracy_of_empty_and_unseen_environments():
    desc = power_spectrum_descriptor()
    empty = degeneracy(np.zeros((0, 3)), None, desc)
    assert empty.nullity == 0 and empty.eigenvalues.shape == (0,)
    pos, val = n2h4()
    far = degeneracy(pos * 10.0, val, desc)  # every atom beyond r_cut: nothing is seen
    assert far.nullity == 18 == far.n_rotations_in_null + far.n_unseen
    assert far.n_genuine == 0 and len(far.unseen_atoms) == 6


def test_final_positions_with_coincident_atoms_are_reported_by_a_warning():
    from rstref.analysis._reconstruction import _warn_if_coincident

    with pytest.warns(RuntimeWarning, match="atoms 0 and 2 coincide"):
        _warn_if_coincident(np.array([0.1, 0.2, 0.3, 1.0, 0.0, 0.0, 0.1, 0.2, 0.3]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_coincident(np.array([0.1, 0.2, 0.3, 1.0, 0.0, 0.0]))


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(1e-13, 1e-11)),
       st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_rtol_or_symmetry_tol_gives_a_result_or_a_clear_error(rtol, tol):
    from rstref.analysis._degeneracy import RTOL_MIN_PER_DIMENSION

    pos, val = n2h4()
    try:
        deg = degeneracy(pos, val, PairGaussians(), rtol=rtol, symmetry_tol=tol)
    except ValueError as err:
        assert "rtol" in str(err) or "symmetry_tol" in str(err)
        assert not (18 * RTOL_MIN_PER_DIMENSION <= rtol < 1 and 0 < tol <= 0.1)
        return
    assert 18 * RTOL_MIN_PER_DIMENSION <= rtol < 1 and 0 < tol <= 0.1
    assert np.isfinite(deg.threshold) and 0 <= deg.nullity <= 18
    assert deg.nullity >= deg.n_rotations_in_null == 3


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5))
def test_any_steps_give_finite_losses_or_a_clear_error(steps):
    pos, val = n2h4()
    direction = np.arange(18.0)
    try:
        losses, order = loss_along(pos, val, PairGaussians(), direction, steps=steps)
    except ValueError as err:
        assert "steps" in str(err)
        return
    assert np.all(np.isfinite(losses)) and not np.isnan(order)
