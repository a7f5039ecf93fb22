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

from rstref._bispectrum import Bispectrum, bispectrum_kernel  # noqa: F401 (re-exported)
from rstref._engine import invariants as _engine
from rstref._invariant_checks import (
    check_hessian_size,
    check_sizes,
    coefficients,
    derivatives,
    hessian_inputs,
)
from rstref._invariants_base import Invariants
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
    n_max, l_max = check_sizes(n_max, l_max)
    c = coefficients(c, n_max, l_max)
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
    n_max, l_max = check_sizes(n_max, l_max)
    c = coefficients(c, n_max, l_max, vector=True)
    dc = derivatives(dc, c.shape[0], "dc")
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
    n_max, l_max = check_sizes(n_max, l_max)
    c = coefficients(c, n_max, l_max, vector=True)
    dc, d2c = hessian_inputs(dc, d2c, c.shape[0])
    check_hessian_size(dc.shape[0], power_spectrum_size(n_max, l_max), "power_spectrum_with_hessians")
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
    n_max, l_max = check_sizes(n_max, l_max)
    c_a = coefficients(c_a, n_max, l_max, "c_a")
    c_b = coefficients(c_b, n_max, l_max, "c_b")
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
    n_max, l_max = check_sizes(n_max, l_max)
    c_a = coefficients(c_a, n_max, l_max, "c_a", vector=True)
    c_b = coefficients(c_b, n_max, l_max, "c_b", vector=True)
    dim = c_a.shape[0]
    dc_a = derivatives(dc_a, dim, "dc_a")
    dc_b = derivatives(dc_b, dim, "dc_b")
    p = _engine.power_spectrum_cross(c_a[None], c_b[None], n_max, l_max)[0]
    F = p.shape[0]
    dpa, dpb = _engine.power_spectrum_cross_gradients(c_a, dc_a.reshape(-1, dim), c_b,
                                                      dc_b.reshape(-1, dim), n_max, l_max)
    return p, dpa.reshape(dc_a.shape[:-1] + (F,)), dpb.reshape(dc_b.shape[:-1] + (F,))


# ----------------------------------------------------------------------------- descriptors

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
