"""Rotations and real Wigner D matrices (issue 2)."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rstref
from rstref.harmonics import (
    lm_block,
    spherical_harmonics,
    spherical_harmonics_with_gradients,
)
from rstref.limits import ROTATION_ATOL
from rstref.rotations import (
    check_rotation,
    random_rotation,
    wigner_D,
    wigner_D_blocks,
)
from rstref.tolerances import identity_atol

CONVS = ("standard", "e3nn")
P = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # P @ (x, y, z) = (z, x, y)


def _quaternion_rotation(q):
    """Rotation matrix of a (not necessarily unit) quaternion (w, x, y, z), written out."""
    w, x, y, z = np.asarray(q) / np.linalg.norm(q)
    return np.array([
        [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z],
    ])


rotations = st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(
    lambda q: np.linalg.norm(q) > 1e-2
).map(_quaternion_rotation)
vectors = st.tuples(*[st.floats(-2.0, 2.0)] * 3).filter(lambda v: np.linalg.norm(v) > 1e-3)


def _rot_z(alpha):
    c, s = math.cos(alpha), math.sin(alpha)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# ----------------------------------------------------------------------------- equivariance
@pytest.mark.parametrize("convention", CONVS)
@settings(max_examples=15)
@given(R=rotations, pts=st.lists(vectors, min_size=1, max_size=4))
def test_equivariance_values_and_gradients(R, pts, convention):
    """Y(R r) = D Y(r) for l <= 12, and grad: R^T [dY/dr](R r) = [dY/dr](r) D^T."""
    l_max = 12
    xyz = np.array(pts)
    Y, dY = spherical_harmonics_with_gradients(xyz, l_max, convention=convention)
    Yr, dYr = spherical_harmonics_with_gradients(xyz @ R.T, l_max, convention=convention)
    blocks = wigner_D_blocks(l_max, R, convention)
    for l in range(l_max + 1):
        sl = lm_block(l)
        D = blocks[l]
        np.testing.assert_allclose(Yr[:, sl], Y[:, sl] @ D.T, rtol=0,
                                   atol=identity_atol(1.0, l))
        lhs = np.einsum("ab,nak->nbk", R, dYr[:, :, sl])
        rhs = dY[:, :, sl] @ D.T
        scale = np.abs(dY[:, :, sl]).max()
        np.testing.assert_allclose(lhs, rhs, rtol=0, atol=identity_atol(scale, l))


@pytest.mark.parametrize("convention", CONVS)
@given(R1=rotations, R2=rotations)
def test_wigner_D_orthogonal_and_homomorphism(R1, R2, convention):
    for l in (0, 1, 2, 5, 12):
        D1 = wigner_D(l, R1, convention)
        D2 = wigner_D(l, R2, convention)
        D12 = wigner_D(l, R1 @ R2, convention)
        tol = identity_atol(1.0, l)
        np.testing.assert_allclose(D1 @ D1.T, np.eye(2 * l + 1), rtol=0, atol=tol)
        np.testing.assert_allclose(D12, D1 @ D2, rtol=0, atol=tol)
        np.testing.assert_allclose(wigner_D(l, R1.T, convention), D1.T, rtol=0, atol=tol)


@given(R=rotations)
def test_e3nn_l1_is_R_and_conventions_are_conjugate(R):
    tol = identity_atol(1.0, 1)
    np.testing.assert_allclose(wigner_D(1, R, "e3nn"), R, rtol=0, atol=tol)
    # standard l=1 order is (y, z, x)
    perm = [1, 2, 0]
    np.testing.assert_allclose(wigner_D(1, R, "standard"), R[np.ix_(perm, perm)], rtol=0, atol=tol)
    for l in (2, 7):
        np.testing.assert_allclose(wigner_D(l, R, "e3nn"), wigner_D(l, P @ R @ P.T, "standard"),
                                   rtol=0, atol=identity_atol(1.0, l))


@given(alpha=st.floats(-math.pi, math.pi))
def test_rotation_about_z_closed_form(alpha):
    """About the polar axis, (Y_l,-m, Y_l,m) rotate by m*alpha: independent closed form."""
    for l in (1, 4, 9):
        D = wigner_D(l, _rot_z(alpha))
        want = np.zeros((2 * l + 1, 2 * l + 1))
        want[l, l] = 1.0
        for m in range(1, l + 1):
            c, s = math.cos(m * alpha), math.sin(m * alpha)
            want[l + m, l + m] = c
            want[l - m, l - m] = c
            want[l + m, l - m] = -s
            want[l - m, l + m] = s
        np.testing.assert_allclose(D, want, rtol=0, atol=identity_atol(1.0, l))


def test_identity_and_l0():
    for convention in CONVS:
        for l in (0, 3, 20):
            np.testing.assert_allclose(wigner_D(l, np.eye(3), convention), np.eye(2 * l + 1),
                                       rtol=0, atol=identity_atol(1.0, l))
    assert wigner_D(0, random_rotation(1)).shape == (1, 1)


@pytest.mark.parametrize("convention", CONVS)
def test_blocks_equal_single_degrees(convention):
    R = random_rotation(11)
    blocks = wigner_D_blocks(6, R, convention)
    assert [b.shape for b in blocks] == [(2 * l + 1, 2 * l + 1) for l in range(7)]
    for l, b in enumerate(blocks):
        np.testing.assert_allclose(b, wigner_D(l, R, convention), rtol=0,
                                   atol=identity_atol(1.0, l))


def test_high_degree_equivariance():
    R = random_rotation(5)
    xyz = np.random.default_rng(2).normal(size=(6, 3))
    l = 40
    D = wigner_D(l, R)
    Y = spherical_harmonics(xyz, l)[:, lm_block(l)]
    Yr = spherical_harmonics(xyz @ R.T, l)[:, lm_block(l)]
    np.testing.assert_allclose(Yr, Y @ D.T, rtol=0, atol=identity_atol(1.0, l))
    np.testing.assert_allclose(D @ D.T, np.eye(2 * l + 1), rtol=0, atol=identity_atol(1.0, l))


# ----------------------------------------------------------------------------- random rotations
def test_random_rotation_is_proper_and_reproducible():
    Rs = random_rotation(0, n=200)
    assert Rs.shape == (200, 3, 3)
    for R in Rs:
        check_rotation(R)
    np.testing.assert_array_equal(random_rotation(0, n=200), Rs)
    np.testing.assert_array_equal(random_rotation(np.random.default_rng(0), n=200), Rs)
    assert random_rotation(3).shape == (3, 3)
    assert random_rotation(0, n=0).shape == (0, 3, 3)


def test_random_rotation_haar_moments():
    """Haar on SO(3): E[R] = 0, E[R_ij^2] = 1/3, rotation angle density (1 - cos θ)/π."""
    n = 40000
    Rs = random_rotation(123, n=n)
    sigma = 1 / math.sqrt(3 * n)  # std of a mean of R_ij
    assert np.abs(Rs.mean(axis=0)).max() < 6 * sigma
    assert np.abs((Rs**2).mean(axis=0) - 1 / 3).max() < 6 * math.sqrt(4 / 45 / n)
    # E[cos θ] for the Haar angle density (1 - cos θ)/π on [0, π] equals -1/2;
    # cos θ = (tr R - 1)/2, Var[cos θ] = 1/2 - 1/4 = 1/4
    cos_theta = (np.trace(Rs, axis1=1, axis2=2) - 1) / 2
    assert abs(cos_theta.mean() + 0.5) < 6 * math.sqrt(0.25 / n)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("R, exc, match", [
    (np.diag([1.0, 1.0, -1.0]), ValueError, "proper"),  # reflection
    (2 * np.eye(3), ValueError, "orthogonal"),
    (np.eye(3) + 1e-6, ValueError, "orthogonal"),
    (np.eye(2), ValueError, "shape"),
    (np.eye(3)[None], ValueError, "shape"),
    (np.array([[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]]), ValueError, "NaN"),
    (np.eye(3).astype(complex), TypeError, "R"),
])
def test_non_rotations_are_rejected(R, exc, match):
    with pytest.raises(exc, match=match):
        check_rotation(R)
    with pytest.raises(exc, match="R"):
        wigner_D(2, R)
    with pytest.raises(exc, match="R"):
        wigner_D_blocks(2, R)


def test_check_rotation_tolerance_is_documented_value():
    R = random_rotation(9)
    check_rotation(R + 0.1 * ROTATION_ATOL)  # within tolerance: accepted
    with pytest.raises(ValueError, match="orthogonal"):
        check_rotation(R + 100 * ROTATION_ATOL)
    with pytest.raises(ValueError, match="my_matrix"):
        check_rotation(np.eye(4), name="my_matrix")
    assert check_rotation(np.eye(3, dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("l, exc", [(-1, ValueError), (65, ValueError), (1.5, TypeError)])
def test_bad_degree(l, exc):
    with pytest.raises(exc, match="l"):
        wigner_D(l, np.eye(3))
    with pytest.raises(ValueError, match="convention"):
        wigner_D(1, np.eye(3), convention="xyz")


def test_public_names():
    assert rstref.wigner_D is wigner_D
    assert rstref.wigner_D_blocks is wigner_D_blocks
    assert rstref.random_rotation is random_rotation
    assert rstref.check_rotation is check_rotation


def test_random_rotation_refuses_huge_stacks_before_drawing():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"random_rotation\(n=10000000000\).*TB.*rotations per call"):
        rstref.random_rotation(0, 10**10)
    assert time.perf_counter() - t0 < 1.0
    assert rstref.random_rotation(0, 4).shape == (4, 3, 3)
