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

import math

import numpy as np

from rstref._checks import as_float_array, check_choice, check_int
from rstref._kernels import invariants as _k
from rstref.tensor import RadialSphericalTensor, nlm_size

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
    "Invariants",
    "PowerSpectrum",
    "Bispectrum",
]


# ----------------------------------------------------------------------------- layout

def power_spectrum_size(n_max, l_max):
    """Number of power-spectrum invariants, ``(l_max+1) * n_max*(n_max+1)/2``."""
    return (l_max + 1) * n_max * (n_max + 1) // 2


def power_spectrum_index(l, n, n2, n_max):
    """Flat index of ``(l, n, n2)``, ``n <= n2`` (see :func:`power_spectrum_range`)."""
    if not (0 <= n <= n2 < n_max and l >= 0):
        raise ValueError(f"(l, n, n2) = ({l}, {n}, {n2}) needs l >= 0 and 0 <= n <= n2 < {n_max}")
    return l * (n_max * (n_max + 1) // 2) + n * n_max - n * (n - 1) // 2 + (n2 - n)


def power_spectrum_range(n_max, l_max):
    """``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in range(n, n_max)]``."""
    return [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n, n_max)]


def power_spectrum_cross_size(n_max, l_max):
    """Number of cross power-spectrum invariants, ``(l_max+1) * n_max**2``."""
    return (l_max + 1) * n_max * n_max


def power_spectrum_cross_index(l, n, n2, n_max):
    """Flat index ``l*n_max**2 + n*n_max + n2`` (see :func:`power_spectrum_cross_range`)."""
    if not (0 <= n < n_max and 0 <= n2 < n_max and l >= 0):
        raise ValueError(f"(l, n, n2) = ({l}, {n}, {n2}) out of range for n_max={n_max}")
    return l * n_max * n_max + n * n_max + n2


def power_spectrum_cross_range(n_max, l_max):
    """``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in range(n_max)]``."""
    return [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n_max)]


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


def _pair_weights(n_max, l_max):
    """``w (2l+1)^(-1/2)`` per feature and the ``(n, n2)`` index arrays of one ``l``."""
    n_a, n_b = np.triu_indices(n_max)
    w = np.where(n_a == n_b, 1.0, math.sqrt(2.0))
    return n_a, n_b, w


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
    The atom-pair term is evaluated per ``l`` as a Gram matrix ``A A^T`` of the
    ``(3N * n_max, 2l+1)`` matrix of gradient blocks (BLAS), then gathered; this is a
    vectorised NumPy path (not a per-environment kernel).
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
    n_a, n_b, w = _pair_weights(n_max, l_max)
    P = n_a.shape[0]
    flat = dc.reshape(M, dim)
    for l in range(l_max + 1):
        width = 2 * l + 1
        A = flat[:, n_max * l * l:n_max * (l + 1) ** 2].reshape(M * n_max, width)
        G = (A @ A.T).reshape(M, n_max, M, n_max).transpose(0, 2, 1, 3)
        scale = w / math.sqrt(width)
        d2p[:, :, l * P:(l + 1) * P] = (G[:, :, n_a, n_b] + G[:, :, n_b, n_a]) * scale
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
