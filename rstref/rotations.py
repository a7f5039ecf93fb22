"""Rotations and real Wigner D matrices (docs/conventions.md).

A rotation is a 3x3 proper orthogonal float matrix ``R`` acting on column vectors,
``r' = R @ r``.  The real Wigner matrix of degree l satisfies, in the chosen convention,

    Y_l(R @ r) == wigner_D(l, R, convention) @ Y_l(r)

for the real spherical harmonics of :mod:`rstref.harmonics` (any normalisation: the
normalisation is a per-l scale that cancels).  In the e3nn convention ``D^1(R) = R``,
and ``wigner_D(l, R, 'e3nn') == wigner_D(l, P R P^T, 'standard')`` with ``P`` the
permutation ``(x, y, z) -> (z, x, y)``.

Construction
------------
``D^l_{mm'} = ∫ Y_lm(R r) Y_lm'(r) dΩ`` with orthonormal ('integral') harmonics, evaluated
by a product quadrature that is exact for every polynomial of degree <= 2l on the sphere:
Gauss-Legendre with l+1 nodes in cos θ times 2l+1 equally spaced angles φ.  The integrand
is such a polynomial, so the result is exact up to floating-point round-off (no Euler
angles, so no gimbal-lock special cases).  ``D`` is then orthogonal and a homomorphism,
``D(R1 R2) = D(R1) D(R2)``, to round-off.
"""

import functools

import numpy as np

from rstref import limits
from rstref._checks import as_float_array, check_allocation, check_choice, check_int
from rstref._kernels.sph import L_MAX_SUPPORTED
from rstref.harmonics import CONVENTIONS, SphericalHarmonics
from rstref.layouts import lm_block
from rstref.limits import ROTATION_ATOL


def check_rotation(R, name="R"):
    """Return ``R`` as a float64 (3, 3) array after checking it is a proper rotation.

    Raises ``TypeError`` for non-real input and ``ValueError`` when the shape is not
    (3, 3), an entry is NaN or infinite, ``max |R^T R - I| > ROTATION_ATOL`` or
    ``|det R - 1| > ROTATION_ATOL`` (``ROTATION_ATOL`` from :mod:`rstref.limits`,
    1e-10: loose enough for matrices that went through a few float64 products, far
    tighter than any genuine non-rotation).  The matrix is returned unchanged
    (not re-orthogonalised).
    """
    R = as_float_array(R, name, trailing_shape=(3, 3), ndim=2)
    dev = np.abs(R.T @ R - np.eye(3)).max()
    if dev > ROTATION_ATOL:
        raise ValueError(
            f"{name} is not orthogonal: max |R^T R - I| = {dev:.3e} > {ROTATION_ATOL:g}"
        )
    det = np.linalg.det(R)
    if abs(det - 1.0) > ROTATION_ATOL:
        raise ValueError(f"{name} is not a proper rotation: det = {det:.6g}, expected +1")
    return R


#: bytes per drawn rotation: quaternion (4), its norm, the matrix (9) and three temporaries
_BYTES_PER_ROTATION = 17 * 8


def random_rotation(rng_or_seed=None, n=None):
    """Rotation matrices drawn uniformly (Haar measure) on SO(3).

    Parameters
    ----------
    rng_or_seed : numpy.random.Generator, int or None
        Source of randomness (an int or None seeds ``numpy.random.default_rng``).
    n : int or None
        None returns one (3, 3) matrix; an int returns an ``(n, 3, 3)`` stack.  A stack
        that needs more than ``rstref.limits.MAX_ALLOCATION_BYTES`` (about 136 bytes per
        rotation) is refused with ValueError before anything is drawn.

    Notes
    -----
    A unit quaternion with four independent standard-normal components, normalised, is
    uniform on S^3, and its rotation matrix is then Haar-distributed on SO(3).
    """
    if isinstance(rng_or_seed, np.random.Generator):
        rng = rng_or_seed
    elif rng_or_seed is not None and (isinstance(rng_or_seed, (bool, np.bool_))
                                      or not isinstance(rng_or_seed, (int, np.integer))):
        raise TypeError(f"rng_or_seed must be a numpy Generator, an int or None, got {rng_or_seed!r}")
    elif rng_or_seed is not None and rng_or_seed < 0:
        raise ValueError(f"rng_or_seed must be a non-negative int, got {rng_or_seed}")
    else:
        rng = np.random.default_rng(rng_or_seed)
    count = 1 if n is None else check_int(n, "n", low=0)
    check_allocation(count * _BYTES_PER_ROTATION, f"random_rotation(n={count})",
                     f"draw at most {limits.MAX_ALLOCATION_BYTES // _BYTES_PER_ROTATION} "
                     "rotations per call (several calls with one Generator give one stream)")
    quat = rng.standard_normal((count, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    w, x, y, z = quat.T
    R = np.empty((count, 3, 3))
    R[:, 0, 0] = 1 - 2 * (y * y + z * z)
    R[:, 0, 1] = 2 * (x * y - w * z)
    R[:, 0, 2] = 2 * (x * z + w * y)
    R[:, 1, 0] = 2 * (x * y + w * z)
    R[:, 1, 1] = 1 - 2 * (x * x + z * z)
    R[:, 1, 2] = 2 * (y * z - w * x)
    R[:, 2, 0] = 2 * (x * z - w * y)
    R[:, 2, 1] = 2 * (y * z + w * x)
    R[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return R[0] if n is None else R


@functools.lru_cache(maxsize=None)
def _sphere_quadrature(l):
    """Nodes (k, 3) and weights (k,) exact for polynomials of degree <= 2l on S^2."""
    t, wt = np.polynomial.legendre.leggauss(l + 1)
    n_phi = 2 * l + 1
    phi = 2.0 * np.pi * np.arange(n_phi) / n_phi
    st = np.sqrt((1.0 - t) * (1.0 + t))
    nodes = np.stack(
        [
            np.outer(st, np.cos(phi)).ravel(),
            np.outer(st, np.sin(phi)).ravel(),
            np.repeat(t, n_phi),
        ],
        axis=1,
    )
    weights = np.repeat(wt, n_phi) * (2.0 * np.pi / n_phi)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def wigner_D_blocks(l_max, R, convention="standard"):
    """Real Wigner matrices for ``l = 0..l_max``: a list ``[wigner_D(l, R) for l in range(l_max + 1)]``.

    Computed with one quadrature of degree ``2*l_max``; block l has shape (2l+1, 2l+1).
    The block-diagonal matrix acting on a flat ``(l_max+1)**2`` vector in
    :func:`rstref.harmonics.lm_index` order is ``scipy.linalg.block_diag(*blocks)``.
    """
    l_max = check_int(l_max, "l_max", low=0, high=L_MAX_SUPPORTED)
    R = check_rotation(R, "R")
    convention = check_choice(convention, "convention", CONVENTIONS)
    nodes, weights = _sphere_quadrature(l_max)
    sh = SphericalHarmonics(l_max, "integral", convention)
    Y = sh.compute(nodes)
    Y_rot = sh.compute(nodes @ R.T)
    blocks = []
    for l in range(l_max + 1):
        sl = lm_block(l)
        blocks.append((Y_rot[:, sl] * weights[:, None]).T @ Y[:, sl])
    return blocks


def wigner_D(l, R, convention="standard"):
    """Real Wigner D matrix of degree l, shape (2l+1, 2l+1).

    Parameters
    ----------
    l : int
        Degree, ``0 <= l <= 64``.
    R : array_like, shape (3, 3)
        Proper rotation (checked by :func:`check_rotation`).
    convention : {'standard', 'e3nn'}

    Returns
    -------
    D : ndarray, shape (2l+1, 2l+1)
        ``Y_l(R @ r) == D @ Y_l(r)``, rows and columns in the order ``m = -l..l``.
    """
    l = check_int(l, "l", low=0, high=L_MAX_SUPPORTED)
    R = check_rotation(R, "R")
    convention = check_choice(convention, "convention", CONVENTIONS)
    nodes, weights = _sphere_quadrature(l)
    sh = SphericalHarmonics(l, "integral", convention)
    sl = lm_block(l)
    Y = sh.compute(nodes)[:, sl]
    Y_rot = sh.compute(nodes @ R.T)[:, sl]
    return (Y_rot * weights[:, None]).T @ Y
