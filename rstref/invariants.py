"""Rotation invariants of radial-spherical tensors: power spectrum and bispectrum (DESIGN 2.6).

Coefficients ``c`` use the layout of :mod:`rstref.tensor`
(``index(n, l, m) = n_max*l*l + n*(2l+1) + (l+m)``).

Power spectrum (e3nn ``ReducedTensorProducts('ij=ji', i=irreps, filter_ir_out=['0e'],
filter_ir_mid=['0e'])`` order and normalisation, e3nn >= 0.4.3)::

    power_spectrum_range(n_max, l_max) = [(l, n, n2) for l in range(l_max + 1)
                                                     for n in range(n_max)
                                                     for n2 in range(n, n_max)]
    p[l, n, n2] = w (2l+1)^(-1/2) sum_m c[n,l,m] c[n2,l,m],   w = 1 if n == n2 else sqrt(2)

It is invariant under rotations *and* inversion and identical in the 'standard' and
'e3nn' conventions (they differ by an orthogonal change of basis inside each ``l``
block).  The weights make ``p`` the coordinates of ``c c^T`` in an orthonormal basis of
the rotation-invariant symmetric tensors (Frobenius inner product), which is e3nn's.

Cross power spectrum of two densities ``a`` and ``b`` (multi-species channels)::

    power_spectrum_cross_range(n_max, l_max) = [(l, n, n2) for l in range(l_max + 1)
                                                           for n in range(n_max)
                                                           for n2 in range(n_max)]
    p[l, n, n2] = (2l+1)^(-1/2) sum_m a[n,l,m] b[n2,l,m]

(``power_spectrum`` of ``a`` is the cross power spectrum of ``a`` with itself restricted
to ``n <= n2`` and multiplied by ``w``.)

Bispectrum: see :class:`Bispectrum`.

Every descriptor class derives from :class:`Invariants` and offers ``rst``,
``n_features``, ``compute``, ``compute_with_gradients`` (``dp``: ``(N, 3, F)``),
``compute_with_hessians`` (``d2p``: ``(N, 3, N, 3, F)``) and the same three from
coefficients (``from_coefficients...``) for callers that build ``c`` themselves.
"""

import numpy as np

from rstref._checks import as_float_array, check_choice, check_int
from rstref._kernels import invariants as _k
from rstref.layouts import (  # noqa: F401 (re-exported)
    BISPECTRUM_PARITIES,
    bispectrum_index,
    bispectrum_range,
    bispectrum_size,
    nlm_size,
    power_spectrum_cross_index,
    power_spectrum_cross_range,
    power_spectrum_cross_size,
    power_spectrum_index,
    power_spectrum_range,
    power_spectrum_size,
)
from rstref.tensor import RadialSphericalTensor

__all__ = [
    "power_spectrum",
    "power_spectrum_with_gradients",
    "power_spectrum_with_hessians",
    "power_spectrum_size",
    "power_spectrum_index",
    "power_spectrum_range",
    "power_spectrum_cross",
    "power_spectrum_cross_with_gradients",
    "power_spectrum_cross_size",
    "power_spectrum_cross_index",
    "power_spectrum_cross_range",
    "bispectrum_range",
    "bispectrum_size",
    "bispectrum_index",
    "Invariants",
    "PowerSpectrum",
    "Bispectrum",
]


# ----------------------------------------------------------------------------- checks

def _check_sizes(n_max, l_max):
    return check_int(n_max, "n_max", 1), check_int(l_max, "l_max", 0)


def _coefficients(c, n_max, l_max, name="c", vector=False):
    dim = nlm_size(n_max, l_max)
    arr = np.asarray(c)
    if arr.ndim == 0 or arr.shape[-1] != dim or (vector and arr.ndim != 1):
        shape = f"({dim},)" if vector else f"(..., {dim})"
        raise ValueError(f"{name} must have shape {shape} = n_max*(l_max+1)**2 for "
                         f"n_max={n_max}, l_max={l_max}, got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


def _derivatives(dc, dim, name, trailing=1):
    """``dc`` with last axis ``dim`` (any leading axes) as float64."""
    arr = np.asarray(dc)
    if arr.ndim < trailing or arr.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


# ----------------------------------------------------------------------------- power spectrum

def power_spectrum(c, n_max, l_max):
    """Power spectrum of coefficients ``c``.

    Parameters
    ----------
    c : array_like, shape (..., n_max*(l_max+1)**2)
    n_max, l_max : int

    Returns
    -------
    p : ndarray, shape (..., (l_max+1)*n_max*(n_max+1)/2)
        In the order of :func:`power_spectrum_range`.
    """
    n_max, l_max = _check_sizes(n_max, l_max)
    c = _coefficients(c, n_max, l_max)
    lead = c.shape[:-1]
    flat = c.reshape(-1, c.shape[-1])
    out = np.empty((flat.shape[0], power_spectrum_size(n_max, l_max)))
    for i in range(flat.shape[0]):
        _k.power_spectrum_values(flat[i], n_max, l_max, out[i])
    return out.reshape(lead + (out.shape[1],))


def power_spectrum_with_gradients(c, dc, n_max, l_max):
    """Power spectrum and its derivatives by the chain rule.

    Parameters
    ----------
    c : array_like, shape (dim,)
    dc : array_like, shape (..., dim)
        Derivatives of ``c`` with respect to any variables (e.g. ``(N, 3, dim)``).

    Returns
    -------
    p : ndarray, shape (F,)
    dp : ndarray, shape (..., F)
        ``dp[...] = sum_k dp/dc_k dc[..., k]``.
    """
    n_max, l_max = _check_sizes(n_max, l_max)
    c = _coefficients(c, n_max, l_max, vector=True)
    dc = _derivatives(dc, c.shape[0], "dc")
    F = power_spectrum_size(n_max, l_max)
    p = np.empty(F)
    _k.power_spectrum_values(c, n_max, l_max, p)
    flat = dc.reshape(-1, c.shape[0])
    dp = np.empty((flat.shape[0], F))
    if flat.shape[0]:
        _k.power_spectrum_gradients(c, flat, n_max, l_max, dp)
    return p, dp.reshape(dc.shape[:-1] + (F,))


def power_spectrum_with_hessians(c, dc, d2c, n_max, l_max):
    """Power spectrum with gradients and Hessians with respect to atom positions.

    Parameters
    ----------
    c : array_like, shape (dim,)
    dc : array_like, shape (N, 3, dim)
        ``d c / d r_{i,a}``.
    d2c : array_like, shape (N, 3, 3, dim)
        ``d^2 c / d r_{i,a} d r_{i,b}`` (atoms contribute independently, so the
        Hessian of ``c`` is block-diagonal in the atoms).

    Returns
    -------
    p : (F,); dp : (N, 3, F); d2p : (N, 3, N, 3, F)
        ``d2p[i,a,j,b] = sum_kk' d2p/dc_k dc_k' dc[i,a,k] dc[j,b,k'] + delta_ij sum_k
        dp/dc_k d2c[i,a,b,k]``.

    Notes
    -----
    The atom-pair term is a per-environment numba kernel
    (:func:`rstref._kernels.invariants.power_spectrum_hessian_pairs`): for every pair of
    coordinates and every ``l`` an ``n_max x n_max`` Gram matrix of gradient blocks.
    """
    n_max, l_max = _check_sizes(n_max, l_max)
    c = _coefficients(c, n_max, l_max, vector=True)
    dim = c.shape[0]
    dc = as_float_array(dc, "dc", trailing_shape=(3, dim), ndim=3)
    N = dc.shape[0]
    d2c = as_float_array(d2c, "d2c", trailing_shape=(3, 3, dim), ndim=4)
    if d2c.shape[0] != N:
        raise ValueError(f"d2c must have shape ({N}, 3, 3, {dim}) to match dc, got {d2c.shape}")
    p, dp = power_spectrum_with_gradients(c, dc, n_max, l_max)
    F = p.shape[0]
    M = 3 * N
    d2p = np.zeros((M, M, F))
    if N == 0:
        return p, dp, d2p.reshape(N, 3, N, 3, F)
    _k.power_spectrum_hessian_pairs(np.ascontiguousarray(dc.reshape(M, dim)), n_max, l_max,
                                    np.empty((n_max, n_max)), d2p)
    # atom-diagonal term: the gradient formula applied to d2c
    _, diag = power_spectrum_with_gradients(c, d2c, n_max, l_max)  # (N, 3, 3, F)
    d2p = d2p.reshape(N, 3, N, 3, F)
    idx = np.arange(N)
    d2p[idx, :, idx, :, :] += diag
    return p, dp, d2p


def power_spectrum_cross(c_a, c_b, n_max, l_max):
    """Cross power spectrum of two coefficient vectors (order: :func:`power_spectrum_cross_range`).

    Parameters
    ----------
    c_a, c_b : array_like, shape (..., dim)
        Same leading shape.

    Returns
    -------
    p : ndarray, shape (..., (l_max+1)*n_max**2)
        ``p[l, n, n2] = (2l+1)^(-1/2) sum_m c_a[n,l,m] c_b[n2,l,m]``.
    """
    n_max, l_max = _check_sizes(n_max, l_max)
    c_a = _coefficients(c_a, n_max, l_max, "c_a")
    c_b = _coefficients(c_b, n_max, l_max, "c_b")
    if c_a.shape != c_b.shape:
        raise ValueError(f"c_a and c_b must have the same shape, got {c_a.shape} and {c_b.shape}")
    lead = c_a.shape[:-1]
    fa = c_a.reshape(-1, c_a.shape[-1])
    fb = c_b.reshape(-1, c_b.shape[-1])
    out = np.empty((fa.shape[0], power_spectrum_cross_size(n_max, l_max)))
    for i in range(fa.shape[0]):
        _k.power_spectrum_cross_values(fa[i], fb[i], n_max, l_max, out[i])
    return out.reshape(lead + (out.shape[1],))


def power_spectrum_cross_with_gradients(c_a, dc_a, c_b, dc_b, n_max, l_max):
    """Cross power spectrum and its derivatives with respect to the variables of a and of b.

    Parameters
    ----------
    c_a, c_b : array_like, shape (dim,)
    dc_a : array_like, shape (..., dim)
        Derivatives of ``c_a`` (e.g. ``(N_a, 3, dim)`` for the atoms of species a).
    dc_b : array_like, shape (..., dim)
        Derivatives of ``c_b``.

    Returns
    -------
    p : (F,)
    dp_a : (dc_a.shape[:-1] + (F,))
        ``sum_m dc_a[n,l,m] c_b[n2,l,m] (2l+1)^(-1/2)``.
    dp_b : (dc_b.shape[:-1] + (F,))
        ``sum_m c_a[n,l,m] dc_b[n2,l,m] (2l+1)^(-1/2)``.
        If ``c_a`` and ``c_b`` depend on the same variables (a == b), the total
        derivative is ``dp_a + dp_b``.
    """
    n_max, l_max = _check_sizes(n_max, l_max)
    c_a = _coefficients(c_a, n_max, l_max, "c_a", vector=True)
    c_b = _coefficients(c_b, n_max, l_max, "c_b", vector=True)
    dim = c_a.shape[0]
    dc_a = _derivatives(dc_a, dim, "dc_a")
    dc_b = _derivatives(dc_b, dim, "dc_b")
    F = power_spectrum_cross_size(n_max, l_max)
    p = np.empty(F)
    _k.power_spectrum_cross_values(c_a, c_b, n_max, l_max, p)
    fa = dc_a.reshape(-1, dim)
    fb = dc_b.reshape(-1, dim)
    dpa = np.empty((fa.shape[0], F))
    dpb = np.empty((fb.shape[0], F))
    _k.power_spectrum_cross_gradients(c_a, fa, c_b, fb, n_max, l_max, dpa, dpb)
    return p, dpa.reshape(dc_a.shape[:-1] + (F,)), dpb.reshape(dc_b.shape[:-1] + (F,))


# ----------------------------------------------------------------------------- descriptors

class Invariants:
    """Common interface of the invariant descriptors of a :class:`RadialSphericalTensor`.

    Subclasses implement ``from_coefficients``, ``from_coefficients_with_gradients`` and
    ``from_coefficients_with_hessians``; the ``compute...`` methods project the atoms
    with :meth:`RadialSphericalTensor.with_peaks_at` (and its derivative variants) and
    apply them.

    Attributes
    ----------
    rst : RadialSphericalTensor
    n_features : int
    """

    def __init__(self, rst):
        if not isinstance(rst, RadialSphericalTensor):
            raise TypeError(f"rst must be a RadialSphericalTensor, got {type(rst).__name__}")
        self.rst = rst

    def feature_range(self):
        """Labels of the features in order (see the subclass)."""
        raise NotImplementedError

    def _compute_checked(self, positions, values, normalize, order):
        """``(p, dp, d2p)`` up to ``order`` (None beyond it) of already-checked input.

        The private fast path for loops that validated their input once (the optimiser
        of :mod:`rstref.analysis`): ``positions`` (N, 3) and ``values`` (N,) C-contiguous
        float64, finite, without coincident atoms, ``normalize`` a bool, ``order`` in
        {0, 1, 2}.
        """
        c, dc, d2c = self.rst._project_checked(positions, values, normalize, order)
        if order == 0:
            return self.from_coefficients(c), None, None
        if order == 1:
            return (*self.from_coefficients_with_gradients(c, dc), None)
        return self.from_coefficients_with_hessians(c, dc, d2c)

    def compute(self, positions, values=None, normalize=True):
        """Invariants of peaks ``values`` at ``positions`` (N, 3): shape ``(F,)``."""
        return self.from_coefficients(self.rst.with_peaks_at(positions, values, normalize))

    def compute_with_gradients(self, positions, values=None, normalize=True):
        """Invariants and gradients: ``p`` (F,), ``dp`` (N, 3, F) with ``dp[i,a] = dp/dr_{i,a}``."""
        c, dc = self.rst.with_peaks_at_with_gradients(positions, values, normalize)
        return self.from_coefficients_with_gradients(c, dc)

    def compute_with_hessians(self, positions, values=None, normalize=True):
        """Invariants, gradients and Hessians: ``p`` (F,), ``dp`` (N, 3, F), ``d2p`` (N, 3, N, 3, F).

        ``d2p[i, a, j, b] = d^2 p / d r_{i,a} d r_{j,b}``.
        """
        c, dc, d2c = self.rst.with_peaks_at_with_hessians(positions, values, normalize)
        return self.from_coefficients_with_hessians(c, dc, d2c)


class PowerSpectrum(Invariants):
    """Power spectrum of a radial-spherical tensor (see the module docstring for the formula).

    Parameters
    ----------
    rst : RadialSphericalTensor

    Attributes
    ----------
    rst : RadialSphericalTensor
    n_features : int
        ``(l_max+1) * n_max*(n_max+1)/2`` (75 for n_max=5, l_max=4).
    """

    def __init__(self, rst):
        super().__init__(rst)
        self.n_features = power_spectrum_size(rst.n_max, rst.l_max)

    def __repr__(self):
        return f"PowerSpectrum({self.rst!r})"

    def feature_range(self):
        """``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in range(n, n_max)]``."""
        return power_spectrum_range(self.rst.n_max, self.rst.l_max)

    def from_coefficients(self, c):
        """``p`` of shape ``(..., F)`` from ``c`` of shape ``(..., dim)``."""
        return power_spectrum(c, self.rst.n_max, self.rst.l_max)

    def from_coefficients_with_gradients(self, c, dc):
        """``p`` (F,), ``dp`` (..., F) from ``c`` (dim,) and ``dc`` (..., dim)."""
        return power_spectrum_with_gradients(c, dc, self.rst.n_max, self.rst.l_max)

    def from_coefficients_with_hessians(self, c, dc, d2c):
        """``p``, ``dp`` (N, 3, F), ``d2p`` (N, 3, N, 3, F) from ``c``, ``dc`` (N, 3, dim), ``d2c`` (N, 3, 3, dim)."""
        return power_spectrum_with_hessians(c, dc, d2c, self.rst.n_max, self.rst.l_max)


# ----------------------------------------------------------------------------- bispectrum

class Bispectrum(Invariants):
    """Bispectrum of a radial-spherical tensor from the real Clebsch-Gordan table.

    ``B[n1 l1, n2 l2, n3 l3] = sum_{m1 m2 m3} C^{l1 l2 l3}[m1, m2, m3]
    c[n1,l1,m1] c[n2,l2,m2] c[n3,l3,m3]`` with the real Clebsch-Gordan coefficients of
    :func:`rstref.coupling.clebsch_gordan` (orthonormal, ``= sqrt(2 l3 + 1) *
    e3nn.o3.wigner_3j``).  Invariant because ``C`` couples ``l1 x l2`` equivariantly
    to ``l3`` and ``D^{l3}`` is orthogonal; one CG table serves both conventions.

    Which triples are kept (:func:`bispectrum_range`), and why:

    * **Permutations.** The real 3j symbol ``W = C / sqrt(2 l3 + 1)`` is invariant under
      cyclic permutations of its columns and changes by ``(-1)^(l1+l2+l3)`` under odd
      ones, so permuting the three blocks of a triple only multiplies ``B`` by
      ``+-sqrt((2 l3' + 1) / (2 l3 + 1))``.  One ordering is kept: blocks sorted by
      ``(l, n)``, hence ``l1 <= l2 <= l3`` and the triangle rule is ``l3 <= l1 + l2``.
      This removes the ``(n1, l1) <-> (n2, l2)`` swap and every other reordering.
    * **Identically zero.** If two blocks are equal and ``l1 + l2 + l3`` is odd, ``W``
      is antisymmetric in those two columns while the product of coefficients is
      symmetric: ``B = 0`` for every environment.  These are dropped.
    * **Parity.** Under inversion of the environment ``c_l -> (-1)^l c_l``, so ``B``
      gets ``(-1)^(l1+l2+l3)``: even sums are true scalars (e3nn ``0e`` for
      ``p_arg=-1``), odd sums are pseudoscalars (``0o``) -- nonzero for chiral
      environments and identically zero for any environment with a mirror plane or an
      inversion centre through the origin (e.g. planar ones).  ``parity`` selects
      'all' (default, SO(3) invariants), 'even' (O(3) invariants) or 'odd'.

    No further (non-trivial, polynomial) relations between the kept invariants are
    removed.

    Parameters
    ----------
    rst : RadialSphericalTensor
        ``l_max`` must not exceed the CG table's ``l_max`` (10 for the shipped table).
    parity : {'all', 'even', 'odd'}
    table : rstref.coupling.CouplingTable, optional
        Default: the shipped table.

    Attributes
    ----------
    rst, parity, n_features
    triples : ndarray of int64, shape (n_features, 6)
        ``bispectrum_range(n_max, l_max, parity)`` as an array.
    """

    def __init__(self, rst, parity="all", table=None):
        super().__init__(rst)
        from rstref import coupling

        self.parity = check_choice(parity, "parity", BISPECTRUM_PARITIES)
        self.table = coupling.load_table() if table is None else table
        if not isinstance(self.table, coupling.CouplingTable):
            raise TypeError(f"table must be a CouplingTable, got {type(self.table).__name__}")
        if rst.l_max > self.table.l_max:
            raise ValueError(f"rst.l_max={rst.l_max} exceeds the Clebsch-Gordan table's "
                             f"l_max={self.table.l_max}; pass a bigger table "
                             "(rstref.coupling.generate_table / load_table)")
        self.triples = np.array(bispectrum_range(rst.n_max, rst.l_max, self.parity),
                                dtype=np.int64).reshape(-1, 6)
        self.n_features = int(self.triples.shape[0])
        block_offsets, m1, m2, M, values, cg_l_max = self.table.kernel_arrays()
        self._cg = (block_offsets, m1, m2, M, values, int(cg_l_max))

    def __repr__(self):
        return f"Bispectrum({self.rst!r}, parity={self.parity!r})"

    def feature_range(self):
        """``bispectrum_range(n_max, l_max, parity)``: labels ``(n1, l1, n2, l2, n3, l3)``."""
        return [tuple(int(v) for v in row) for row in self.triples]

    def _values(self, c):
        out = np.empty(self.n_features)
        _k.bispectrum_values(c, self.rst.n_max, self.triples, *self._cg, out)
        return out

    def _jacobian(self, c):
        jac = np.empty((self.n_features, self.rst.dim))
        _k.bispectrum_jacobian(c, self.rst.n_max, self.triples, *self._cg, jac)
        return jac

    def from_coefficients(self, c):
        """``B`` of shape ``(..., F)`` from ``c`` of shape ``(..., dim)``."""
        c = self.rst.check_coefficients(c)
        flat = c.reshape(-1, self.rst.dim)
        out = np.stack([self._values(row) for row in flat]) if flat.shape[0] else \
            np.zeros((0, self.n_features))
        return out.reshape(c.shape[:-1] + (self.n_features,))

    def from_coefficients_with_gradients(self, c, dc):
        """``B`` (F,) and ``dB`` (..., F) from ``c`` (dim,) and ``dc`` (..., dim), via ``dB/dc``."""
        c = _coefficients(c, self.rst.n_max, self.rst.l_max, vector=True)
        dc = _derivatives(dc, self.rst.dim, "dc")
        jac = self._jacobian(c)
        return self._values(c), dc @ jac.T

    def from_coefficients_with_hessians(self, c, dc, d2c):
        """``B``, ``dB`` (N, 3, F), ``d2B`` (N, 3, N, 3, F) from ``c``, ``dc`` (N, 3, dim), ``d2c`` (N, 3, 3, dim).

        ``d2B[i,a,j,b] = delta_ij dB/dc . d2c[i,a,b] + sum over the three pairs of blocks
        of the CG-contracted products of dc[i,a] and dc[j,b]`` (numba kernel per
        environment; memory and time grow like ``(3N)^2 F``).
        """
        c = _coefficients(c, self.rst.n_max, self.rst.l_max, vector=True)
        dim = self.rst.dim
        dc = as_float_array(dc, "dc", trailing_shape=(3, dim), ndim=3)
        N = dc.shape[0]
        d2c = as_float_array(d2c, "d2c", trailing_shape=(3, 3, dim), ndim=4)
        if d2c.shape[0] != N:
            raise ValueError(f"d2c must have shape ({N}, 3, 3, {dim}) to match dc, got {d2c.shape}")
        F = self.n_features
        jac = self._jacobian(c)
        M = 3 * N
        flat = np.ascontiguousarray(dc.reshape(M, dim))
        d2B = np.zeros((M, M, F))
        if N:
            w = 2 * self.rst.l_max + 1
            _k.bispectrum_hessian_pairs(c, flat, self.rst.n_max, self.triples, *self._cg,
                                        np.empty((w, w)), np.empty((M, w)), d2B)
        d2B = d2B.reshape(N, 3, N, 3, F)
        idx = np.arange(N)
        d2B[idx, :, idx, :, :] += d2c @ jac.T
        return self._values(c), dc @ jac.T, d2B
