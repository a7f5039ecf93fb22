"""Radial-spherical tensors: expansions of point clouds in ``R_n(|r|) Y_lm(r_hat)`` (docs/conventions.md).

A :class:`RadialSphericalTensor` fixes a radial basis ``R_n`` (``n < n_max``), a maximum
degree ``l_max`` and the spherical-harmonic convention.  Its coefficient vectors use the
e3nn irreps layout ``n_max x l`` for ``l = 0..l_max``::

    nlm_range(n_max, l_max) = [(n, l, m) for l in range(l_max + 1)
                                         for n in range(n_max)
                                         for m in range(-l, l + 1)]
    nlm_index(n, l, m, n_max) = n_max*l*l + n*(2l+1) + (l+m)

The basis functions are ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)`` with 'component'
spherical harmonics (``Y_00 = 1``, ``sum_m Y_lm^2 = 2l+1``, so
``int Y_lm Y_l'm' dOmega = 4 pi delta``); with the radial basis orthonormal for
``int R_n R_n' 4 pi r^2 dr`` they are orthonormal on the ball:
``int phi_nlm phi_n'l'm' d^3r = delta``.  Away from the centre
``||phi(r)||^2 = sum_nlm phi_nlm(r)^2 = (l_max+1)^2 sum_n R_n(|r|)^2``.

Projections (:meth:`RadialSphericalTensor.with_peaks_at`):

* ``normalize=True`` (the tutorial's kernel-normalised projection, the seed's choice):
  ``c = sum_i v_i phi(r_i) / ||phi(r_i)||^2``.  Then ``sum_nlm c_nlm phi_nlm(r_i) = v_i``
  for a single atom: the expansion of one peak has height ``v`` at the atom.
* ``normalize=False``: the raw projection ``c = sum_i v_i phi(r_i)`` (expansion of
  ``sum_i v_i delta(r - r_i)``, as SOAP-like codes compute).

Documented behaviours:

* **Atom at the centre** (``r = 0``): the spherical harmonics there are ``Y_00 = 1`` and
  0 for ``l >= 1``, with zero derivatives (docs/conventions.md), so ``phi_n00(0) = R_n(0)`` and
  every ``l >= 1`` coefficient and derivative is 0.  For ``l >= 1`` the limit at the
  centre exists only if ``R_n(0) = 0``; 0 is its average over directions.  The kernel
  normalisation uses ``(l_max+1)^2 sum_n R_n(|r|)^2`` everywhere, which is continuous
  at the centre (the plain sum of squares would drop to ``sum_n R_n(0)^2`` there).
  The ``l = 0`` part is twice differentiable at the centre when ``R_n'(0) = 0``
  (cosine bumps, cosines); its Hessian there is ``R_n''(0) * identity``.
* **Atoms at or beyond r_cut**: ``R_n = 0``, so they contribute 0 with zero derivatives.
  With ``normalize=True`` an atom whose ``||phi(r)||^2`` is at most
  ``limits.KERNEL_NORM_FLOOR`` contributes 0.  The kernel-normalised projection is
  *not continuous at r_cut*: for a basis that vanishes there (an envelope),
  ``phi / ||phi||^2`` grows like ``1 / R`` as ``r -> r_cut`` and then drops to 0; for one
  that does not vanish (cosine bumps) it jumps from a finite value to 0.  The raw
  projection with a basis smooth at r_cut is the cutoff-smooth representation.
* **Coincident atoms** (distance below ``limits.COINCIDENT_ATOMS_ATOL``) raise
  ``ValueError``.
* **No atoms**: zeros of the documented shapes.

The projections run on the engine (:mod:`rstref._engine`): one environment is a ragged
batch of one, projected by the same per-atom kernel as :mod:`rstref.batched` and
:class:`rstref.Featurizer`.
"""

import numpy as np

from rstref._checks import (
    as_array,
    as_float_array,
    as_positions_and_values,
    check_allocation,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_no_coincident_atoms,
    check_no_subnormal_rows,
)
from rstref._engine import Expansion, single_environment
from rstref.harmonics import SphericalHarmonics
from rstref.layouts import nlm_block, nlm_index, nlm_range, nlm_size  # noqa: F401 (re-exported)

__all__ = [
    "RadialSphericalTensor",
    "nlm_index",
    "nlm_size",
    "nlm_range",
    "grid_local_maxima",
]

#: largest supported l_max of a tensor
L_MAX = 20

#: points per chunk when evaluating signals on many points
_CHUNK = 8192




def _check_positions_values(positions, values, order=0):
    """Checked ``positions``, ``values``; ``order`` >= 1 (derivatives) also refuses
    subnormal positions, where ``1/|r|`` overflows."""
    positions, values = as_positions_and_values(positions, values)
    check_no_coincident_atoms(positions)
    if order >= 1:
        check_no_subnormal_rows(positions, "positions")
    return positions, values


class RadialSphericalTensor:
    """Coefficient space of ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)``, ``n < n_max``, ``l <= l_max``.

    Parameters
    ----------
    n_max : int
        Number of radial functions; must equal ``radial_basis.n_max``.
    radial_basis : OrthonormalRadialBasis
        Any object with ``n_max``, ``r_cut`` and ``with_derivatives(r)`` returning
        ``R, dR/dr, d2R/dr2`` of shape ``(len(r), n_max)``, zero for ``r >= r_cut``.
    l_max : int
        Maximum degree, ``0 <= l_max <= 20``.
    p_val, p_arg : {1, -1}
        e3nn parity labels: the ``l`` block has parity ``p_val * p_arg**l`` in
        :attr:`irreps`.  ``p_val`` must be 1 (a density of peaks is a scalar field).
        The labels do not change any number: coefficients of points always transform
        under inversion as ``c_l -> (-1)**l c_l``.
    convention : {'standard', 'e3nn'}
        Spherical-harmonic convention (docs/conventions.md).

    Attributes
    ----------
    n_max, l_max, r_cut, radial_basis, convention, p_val, p_arg
    dim : int
        ``n_max * (l_max+1)**2``.
    irreps : str
        e3nn irreps string, e.g. ``'5x0e+5x1e+5x2e'`` (p_arg=1) or
        ``'5x0e+5x1o+5x2e'`` (p_arg=-1).
    l_of_index : ndarray of int, shape (dim,)
        Degree ``l`` of every flat index.
    """

    def __init__(self, n_max, radial_basis, l_max, p_val=1, p_arg=1, convention="standard"):
        self.n_max = check_int(n_max, "n_max", 1)
        for attribute in ("n_max", "r_cut", "with_derivatives"):
            if not hasattr(radial_basis, attribute):
                raise TypeError(f"radial_basis must have an attribute {attribute!r} "
                                f"(e.g. an OrthonormalRadialBasis), got {type(radial_basis).__name__}")
        if radial_basis.n_max != self.n_max:
            raise ValueError(f"n_max={self.n_max} does not match radial_basis.n_max="
                             f"{radial_basis.n_max}")
        self.radial_basis = radial_basis
        self.r_cut = float(radial_basis.r_cut)
        self.l_max = check_int(l_max, "l_max", 0, L_MAX)
        self.p_val = check_choice(p_val, "p_val", (1, -1))
        self.p_arg = check_choice(p_arg, "p_arg", (1, -1))
        if self.p_val != 1:
            raise ValueError("p_val must be 1: a density of peaks is a scalar field "
                             f"(got p_val={p_val})")
        self.convention = check_choice(convention, "convention", ("standard", "e3nn"))
        self.dim = nlm_size(self.n_max, self.l_max)
        self.irreps = "+".join(
            f"{self.n_max}x{l}{'e' if self.p_val * self.p_arg ** l == 1 else 'o'}"
            for l in range(self.l_max + 1))
        self.l_of_index = np.array([l for (_, l, _) in self.nlm_range()], dtype=np.int64)
        self._expansion = Expansion(radial_basis, self.l_max,
                                    SphericalHarmonics(self.l_max, "component", self.convention))

    def __repr__(self):
        return (f"RadialSphericalTensor(n_max={self.n_max}, radial_basis={self.radial_basis!r}, "
                f"l_max={self.l_max}, p_val={self.p_val}, p_arg={self.p_arg}, "
                f"convention={self.convention!r})")

    # -- layout
    def nlm_index(self, n, l, m):
        """Flat index of ``(n, l, m)``: ``n_max*l*l + n*(2l+1) + (l+m)``."""
        if not 0 <= l <= self.l_max:
            raise ValueError(f"l={l} out of range 0..{self.l_max}")
        return nlm_index(n, l, m, self.n_max)

    def nlm_size(self):
        """Number of coefficients (``dim``)."""
        return self.dim

    def nlm_range(self):
        """``[(n, l, m) for l in range(l_max+1) for n in range(n_max) for m in range(-l, l+1)]``."""
        return nlm_range(self.n_max, self.l_max)

    def block(self, l):
        """Slice of the ``l`` block; ``c[rst.block(l)].reshape(n_max, 2l+1)`` is ``c[n, m]``."""
        if not 0 <= l <= self.l_max:
            raise ValueError(f"l={l} out of range 0..{self.l_max}")
        start = self.n_max * l * l
        return slice(start, start + self.n_max * (2 * l + 1))

    def check_coefficients(self, c, name="c"):
        """Return ``c`` as float64 with last axis ``dim`` (any leading axes), or raise."""
        arr = as_array(c, name)
        if arr.ndim == 0 or arr.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (..., {self.dim}) (dim of {self.irreps}), "
                             f"got {arr.shape}")
        return as_float_array(arr, name, trailing_shape=(self.dim,), ndim=arr.ndim)

    # -- basis and projections
    def basis_at(self, points):
        """``phi_nlm`` at ``points`` (n, 3): shape ``(n, dim)`` (0 beyond r_cut, see module doc)."""
        points = as_float_array(points, "points", trailing_shape=(3,))
        return self._basis_at_checked(points)

    def _basis_at_checked(self, points):
        """:meth:`basis_at` of checked points; rows beyond r_cut (any coordinate
        ``>= r_cut``, so ``|r|`` is never formed where it could overflow) are 0."""
        check_allocation(8.0 * points.shape[0] * self.dim,
                         f"basis_at of {points.shape[0]} points (dim {self.dim})",
                         "pass fewer points per call")
        out = np.zeros((points.shape[0], self.dim))
        inside = np.flatnonzero(np.all(np.abs(points) < self.r_cut, axis=1))
        if inside.size == 0:
            return out
        near = points[inside]
        rho = np.sqrt(np.einsum("ia,ia->i", near, near))
        R = self.radial_basis(rho)
        Y = self._expansion.harmonics.compute(near)
        for l in range(self.l_max + 1):
            Yl = Y[:, l * l:(l + 1) ** 2]
            out[inside, self.block(l)] = (R[:, :, None] * Yl[:, None, :]).reshape(near.shape[0], -1)
        return out

    def _project(self, positions, values, normalize, order):
        positions, values = _check_positions_values(positions, values, order)
        normalize = check_bool(normalize, "normalize")
        return self._project_checked(positions, values, normalize, order)

    def _project_checked(self, positions, values, normalize, order):
        """``c, dc, d2c`` (empty trailing axes beyond ``order``) of already-checked input.

        The private fast path behind the public projections: ``positions`` (N, 3) and
        ``values`` (N,) C-contiguous float64, finite, no coincident atoms; ``normalize`` a
        bool; ``order`` 0, 1 or 2.  Nothing is validated again.
        """
        c, dc, d2c = self._expansion.coefficients(single_environment(positions, values),
                                                  normalize, order)
        return c[0], dc, d2c

    def with_peaks_at(self, positions, values=None, normalize=True):
        """Coefficients of peaks of heights ``values`` at ``positions``.

        Parameters
        ----------
        positions : array_like, shape (N, 3)
            Atom positions relative to the centre.
        values : array_like, shape (N,), optional
            Peak heights (default: all ones).
        normalize : bool
            True: ``c = sum_i v_i phi(r_i) / ||phi(r_i)||^2`` (kernel-normalised, the
            tutorial's); False: ``c = sum_i v_i phi(r_i)`` (raw).

        Returns
        -------
        c : ndarray, shape (dim,)
        """
        return self._project(positions, values, normalize, 0)[0]

    def with_peaks_at_with_gradients(self, positions, values=None, normalize=True):
        """Coefficients and their gradients with respect to every atom position.

        Returns
        -------
        c : ndarray, shape (dim,)
        dc : ndarray, shape (N, 3, dim)
            ``dc[i, a] = d c / d r_{i,a}``.
        """
        c, dc, _ = self._project(positions, values, normalize, 1)
        return c, dc

    def with_peaks_at_with_hessians(self, positions, values=None, normalize=True):
        """Coefficients, gradients and per-atom Hessians.

        Atoms contribute independently, so the Hessian is block-diagonal in the atoms
        and only the diagonal blocks are returned.

        Returns
        -------
        c : ndarray, shape (dim,)
        dc : ndarray, shape (N, 3, dim)
        d2c : ndarray, shape (N, 3, 3, dim)
            ``d2c[i, a, b] = d^2 c / d r_{i,a} d r_{i,b}`` (symmetric in ``a, b``).
        """
        return self._project(positions, values, normalize, 2)

    # -- signals
    def signal_at(self, c, points):
        """The expansion ``f(r) = sum_nlm c_nlm phi_nlm(r)`` at ``points``.

        Parameters
        ----------
        c : array_like, shape (dim,)
        points : array_like, shape (n_points, 3)

        Returns
        -------
        f : ndarray, shape (n_points,)
            0 at ``|r| >= r_cut``; finite at the centre (only ``l = 0`` contributes).
        """
        c = self.check_coefficients(c)
        if c.ndim != 1:
            raise ValueError(f"c must have shape ({self.dim},), got {c.shape}")
        points = as_float_array(points, "points", trailing_shape=(3,))
        out = np.zeros(points.shape[0])
        for start in range(0, points.shape[0], _CHUNK):
            chunk = points[start:start + _CHUNK]
            with np.errstate(over="ignore"):
                out[start:start + _CHUNK] = self._basis_at_checked(chunk) @ c
        return out

    def signal_on_grid(self, c, r_cut=None, res=64):
        """The expansion on the grid ``linspace(-r_cut, r_cut, res)`` along each axis.

        Parameters
        ----------
        c : array_like, shape (dim,)
        r_cut : float, optional
            Half-width of the grid, in ``(0, 1e300]`` (default: the tensor's ``r_cut``).
            Points outside
            the ball ``|r| <= r_cut`` are set to 0.
        res : int
            Points per axis, >= 2.  A grid needing more than
            ``rstref.limits.MAX_ALLOCATION_BYTES`` (about ``64 * res**3`` bytes) is
            refused with ``ValueError``.

        Returns
        -------
        lin : ndarray, shape (res,)
            The axis coordinates.
        grid : ndarray, shape (res, res, res)
            ``grid[i, j, k] = f(lin[i], lin[j], lin[k])`` (x, y, z).
        """
        c = self.check_coefficients(c)
        r_cut = self.r_cut if r_cut is None else check_float(r_cut, "r_cut", 0.0, 1e300,
                                                              low_open=True)
        res = check_int(res, "res", 2)
        # meshgrid (3 floats per point), the stacked points (3), the signal and the norms
        check_allocation(64 * res ** 3, f"signal_on_grid(res={res})",
                         "use a smaller res (memory grows like 64 * res**3 bytes)")
        lin = np.linspace(-r_cut, r_cut, res)
        x, y, z = np.meshgrid(lin, lin, lin, indexing="ij")
        points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
        f = self.signal_at(c, points)
        f[np.linalg.norm(points, axis=1) > r_cut] = 0.0
        return lin, f.reshape(res, res, res)

    def norms_per_l(self, c):
        """Euclidean norm of each ``l`` block: ``sqrt(sum_{n,m} c_nlm^2)``.

        Parameters
        ----------
        c : array_like, shape (..., dim)

        Returns
        -------
        ndarray, shape (..., l_max+1)
            Rotation invariant (each block rotates by an orthogonal ``D^l``).
        """
        c = self.check_coefficients(c)
        return np.stack([np.sqrt(np.sum(c[..., self.block(l)] ** 2, axis=-1))
                         for l in range(self.l_max + 1)], axis=-1)

    def rotation_matrix(self, rotation):
        """Block-diagonal ``D(R)`` of shape (dim, dim) with ``c(R r_i) = D(R) c(r_i)``."""
        from rstref.rotations import wigner_D_blocks

        out = np.zeros((self.dim, self.dim))
        for l, D in enumerate(wigner_D_blocks(self.l_max, rotation, convention=self.convention)):
            block = self.block(l)
            out[block, block] = np.kron(np.eye(self.n_max), D)
        return out

    def grid_peaks(self, c, threshold=None, r_cut=None, res=64):
        """Local maxima of the signal on the grid of :meth:`signal_on_grid`.

        A voxel is a peak when its value exceeds ``threshold`` and is strictly greater
        than each of its (up to 6) face neighbours inside the grid.

        Parameters
        ----------
        c : array_like, shape (dim,)
        threshold : float, optional
            Default: half the grid maximum (no peaks if the maximum is <= 0).
        r_cut, res
            As in :meth:`signal_on_grid`.

        Returns
        -------
        positions : ndarray, shape (k, 3)
            Voxel centres of the peaks, highest first.
        heights : ndarray, shape (k,)
            Signal values there, descending.  For minima use ``-c``.
        """
        if threshold is not None:
            threshold = check_float(threshold, "threshold")
        lin, grid = self.signal_on_grid(c, r_cut, res)
        if threshold is None:
            top = float(grid.max())
            if top <= 0.0:
                return np.zeros((0, 3)), np.zeros(0)
            threshold = 0.5 * top
        idx = grid_local_maxima(grid, threshold)
        return lin[idx], grid[idx[:, 0], idx[:, 1], idx[:, 2]]

    def kernel_arguments(self):
        """What the per-environment projection kernels take, for drivers elsewhere (the GPU).

        Returns
        -------
        dict
            ``'n_max'``, ``'l_max'``, ``'dim'``: the sizes the kernels take;
            ``'harmonics'``: ``SphericalHarmonics(l_max, 'component', convention)
            .kernel_arguments()``, the 'component' harmonics the projection uses;
            ``'radial'``: ``radial_basis.kernel_arguments()`` when the radial basis is an
            :class:`rstref.OrthonormalRadialBasis` (then the radial functions are evaluated
            per atom inside :func:`rstref._kernels.tensor.project_environment_radial`),
            else None: the caller tabulates ``radial_basis.with_derivatives(|r|)`` and
            uses :func:`rstref._kernels.tensor.project_environment`.
        """
        from rstref.harmonics import SphericalHarmonics
        from rstref.radial import OrthonormalRadialBasis

        radial = None
        if isinstance(self.radial_basis, OrthonormalRadialBasis):
            radial = self.radial_basis.kernel_arguments()
        sph = SphericalHarmonics(self.l_max, "component", self.convention)
        return {"n_max": self.n_max, "l_max": self.l_max, "dim": self.dim,
                "harmonics": sph.kernel_arguments(), "radial": radial}


def grid_local_maxima(grid, threshold):
    """Voxels of a 3-D array above ``threshold`` that beat their face neighbours.

    Parameters
    ----------
    grid : array_like, shape (a, b, c)
    threshold : float

    Returns
    -------
    ndarray of int, shape (k, 3)
        Indices ``(i, j, k)`` of the voxels with ``grid > threshold`` and strictly
        greater than each of their (up to 6) face neighbours inside the array (voxels
        on the border have fewer neighbours), sorted by decreasing value (ties: C order).
    """
    grid = as_float_array(grid, "grid", ndim=3)
    threshold = check_float(threshold, "threshold")
    padded = np.pad(grid, 1, constant_values=-np.inf)
    mask = grid > threshold
    for axis in range(3):
        for shift in (-1, 1):
            neighbour = np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
            mask &= grid > neighbour
    idx = np.argwhere(mask)
    heights = grid[idx[:, 0], idx[:, 1], idx[:, 2]]
    return idx[np.argsort(-heights, kind="stable")]
