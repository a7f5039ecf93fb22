"""Rotation invariants of radial-spherical tensors: power spectrum and bispectrum (docs/conventions.md).

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

Overflow: the invariants are homogeneous polynomials (degree 2 or 3) in the coefficients,
which are linear in the peak heights.  Peak heights beyond ``2**64`` and coefficients beyond
``2**200`` in magnitude are divided by a power of two before the kernels run and the
results multiplied back one factor at a time (exact), so every finite input gives finite
invariants and derivatives, or ``+-inf`` where the true value exceeds float64 -- never
NaN from ``inf - inf`` in an overflowed intermediate sum.

Every descriptor class derives from :class:`Invariants` and offers ``rst``,
``n_features``, ``compute``, ``compute_with_gradients`` (``dp``: ``(N, 3, F)``),
``compute_with_hessians`` (``d2p``: ``(N, 3, N, 3, F)``) and the same three from
coefficients (``from_coefficients...``) for callers that build ``c`` themselves.
"""

import numpy as np

from rstref._checks import (
    as_array,
    as_float_array,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
)
from rstref._engine import invariants as _engine
from rstref._engine import single_environment
from rstref._engine.expansion import unscale
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
from rstref.tensor import RadialSphericalTensor, _check_positions_values

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
    arr = as_array(c, name)
    if arr.ndim == 0 or arr.shape[-1] != dim or (vector and arr.ndim != 1):
        shape = f"({dim},)" if vector else f"(..., {dim})"
        raise ValueError(f"{name} must have shape {shape} = n_max*(l_max+1)**2 for "
                         f"n_max={n_max}, l_max={l_max}, got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


def _derivatives(dc, dim, name, trailing=1):
    """``dc`` with last axis ``dim`` (any leading axes) as float64."""
    arr = as_array(dc, name)
    if arr.ndim < trailing or arr.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


def check_hessian_size(n_atoms, n_features, what):
    """Refuse a dense Hessian ``(N, 3, N, 3, F)`` beyond ``limits.MAX_ALLOCATION_BYTES``."""
    check_allocation(8.0 * (3 * n_atoms) ** 2 * n_features,
                     f"{what} of {n_atoms} atoms and {n_features} features "
                     f"(a dense ({n_atoms}, 3, {n_atoms}, 3, {n_features}) array)",
                     "use gradients only, fewer atoms, or the per-neighbour derivatives of "
                     "rstref.featurize")


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
    out = _engine.power_spectra(c.reshape(-1, c.shape[-1]), n_max, l_max)
    return out.reshape(c.shape[:-1] + (out.shape[1],))


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
    p = _engine.power_spectra(c[None], n_max, l_max)[0]
    dp = _engine.power_spectrum_gradients(c, dc.reshape(-1, c.shape[0]), n_max, l_max)
    return p, dp.reshape(dc.shape[:-1] + (p.shape[0],))


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
    check_hessian_size(N, power_spectrum_size(n_max, l_max), "power_spectrum_with_hessians")
    return _engine.power_spectrum_hessian(c, dc, d2c, n_max, l_max)


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
    out = _engine.power_spectrum_cross(c_a.reshape(-1, c_a.shape[-1]),
                                       c_b.reshape(-1, c_b.shape[-1]), n_max, l_max)
    return out.reshape(c_a.shape[:-1] + (out.shape[1],))


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
    p = _engine.power_spectrum_cross(c_a[None], c_b[None], n_max, l_max)[0]
    F = p.shape[0]
    dpa, dpb = _engine.power_spectrum_cross_gradients(c_a, dc_a.reshape(-1, dim), c_b,
                                                      dc_b.reshape(-1, dim), n_max, l_max)
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
    degree : int
        Polynomial degree of the invariants in the coefficients (2: power spectrum, 3:
        bispectrum).  They are computed without intermediate overflow (inputs of large
        magnitude are scaled by a power of two, the results scaled back), so finite input
        gives finite values or, where the true value exceeds float64, ``+-inf``; never NaN.
    """

    degree = None

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
        scale, c, dc, d2c = self.rst._expansion.coefficients_scaled(
            single_environment(positions, values), normalize, order)
        p, dp, d2p = self._from_checked(c[0], dc, d2c, order)
        unscale(scale, self.degree, *(a for a in (p, dp, d2p) if a is not None))
        return p, dp, d2p

    def _from_checked(self, c, dc, d2c, order):
        """``(p, dp, d2p)`` up to ``order`` from the engine's (checked) coefficients."""
        raise NotImplementedError

    def _compute(self, positions, values, normalize, order):
        positions, values = _check_positions_values(positions, values, order)
        normalize = check_bool(normalize, "normalize")
        if order == 2:
            check_hessian_size(positions.shape[0], self.n_features,
                               f"{type(self).__name__}.compute_with_hessians")
        return self._compute_checked(positions, values, normalize, order)

    def compute(self, positions, values=None, normalize=True):
        """Invariants of peaks ``values`` at ``positions`` (N, 3): shape ``(F,)``."""
        return self._compute(positions, values, normalize, 0)[0]

    def compute_with_gradients(self, positions, values=None, normalize=True):
        """Invariants and gradients: ``p`` (F,), ``dp`` (N, 3, F) with ``dp[i,a] = dp/dr_{i,a}``."""
        return self._compute(positions, values, normalize, 1)[:2]

    def compute_with_hessians(self, positions, values=None, normalize=True):
        """Invariants, gradients and Hessians: ``p`` (F,), ``dp`` (N, 3, F), ``d2p`` (N, 3, N, 3, F).

        ``d2p[i, a, j, b] = d^2 p / d r_{i,a} d r_{j,b}``.
        """
        return self._compute(positions, values, normalize, 2)


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

    degree = 2

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

    def _from_checked(self, c, dc, d2c, order):
        n_max, l_max = self.rst.n_max, self.rst.l_max
        p = _engine.power_spectra(c[None], n_max, l_max)[0]
        if order == 0:
            return p, None, None
        if order == 1:
            N = dc.shape[0]
            dp = _engine.power_spectrum_gradients(c, dc.reshape(3 * N, c.shape[0]), n_max, l_max)
            return p, dp.reshape(N, 3, p.shape[0]), None
        return _engine.power_spectrum_hessian(c, dc, d2c, n_max, l_max)


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

    degree = 3

    def __init__(self, rst, parity="all", table=None):
        super().__init__(rst)
        self.parity = check_choice(parity, "parity", BISPECTRUM_PARITIES)
        self.table, self._kernel = bispectrum_kernel(rst.n_max, rst.l_max, self.parity, table,
                                                     "rst.l_max")
        self.triples = self._kernel.triples
        self.n_features = self._kernel.n_features
        self._cg = self._kernel.cg

    def __repr__(self):
        return f"Bispectrum({self.rst!r}, parity={self.parity!r})"

    def feature_range(self):
        """``bispectrum_range(n_max, l_max, parity)``: labels ``(n1, l1, n2, l2, n3, l3)``."""
        return [tuple(int(v) for v in row) for row in self.triples]

    def from_coefficients(self, c):
        """``B`` of shape ``(..., F)`` from ``c`` of shape ``(..., dim)``."""
        c = self.rst.check_coefficients(c)
        flat = c.reshape(-1, self.rst.dim)
        out = np.stack([self._kernel.values(row) for row in flat]) if flat.shape[0] else \
            np.zeros((0, self.n_features))
        return out.reshape(c.shape[:-1] + (self.n_features,))

    def from_coefficients_with_gradients(self, c, dc):
        """``B`` (F,) and ``dB`` (..., F) from ``c`` (dim,) and ``dc`` (..., dim), via ``dB/dc``."""
        c = _coefficients(c, self.rst.n_max, self.rst.l_max, vector=True)
        dc = _derivatives(dc, self.rst.dim, "dc")
        return self._kernel.gradients(c, dc)

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
        check_hessian_size(N, self.n_features, "Bispectrum.from_coefficients_with_hessians")
        return self._kernel.hessian(c, dc, d2c)

    def _from_checked(self, c, dc, d2c, order):
        if order == 0:
            return self._kernel.values(c), None, None
        if order == 1:
            return (*self._kernel.gradients(c, dc), None)
        return self._kernel.hessian(c, dc, d2c)


def bispectrum_kernel(n_eff, l_max, parity, table=None, l_max_name="l_max"):
    """The coupling table and the engine's bispectrum arrays for ``n_eff`` radial rows.

    The one bispectrum setup of the package (:class:`Bispectrum` and
    :class:`rstref.Featurizer`, whose species channels are radial offsets): triples
    ``bispectrum_range(n_eff, l_max, parity)`` and the table's kernel arrays.

    Returns
    -------
    table : rstref.coupling.CouplingTable
    kernel : rstref._engine.invariants.BispectrumKernel
    """
    from rstref import coupling

    table = coupling.load_table() if table is None else table
    if not isinstance(table, coupling.CouplingTable):
        raise TypeError(f"table must be a CouplingTable, got {type(table).__name__}")
    if l_max > table.l_max:
        raise ValueError(f"{l_max_name}={l_max} exceeds the Clebsch-Gordan table's "
                         f"l_max={table.l_max}; pass a bigger table "
                         "(rstref.coupling.generate_table / load_table)")
    triples = np.array(bispectrum_range(n_eff, l_max, parity), dtype=np.int64).reshape(-1, 6)
    block_offsets, m1, m2, M, values, cg_l_max = table.kernel_arrays()
    cg = (block_offsets, m1, m2, M, values, int(cg_l_max))
    return table, _engine.BispectrumKernel(triples, cg, n_eff, l_max)
