"""Derivative layouts accepted by the kit, and their expansion to the dense 'total' one.

``layout='total'`` (an environment or structure featurizer, rstref's
``compute_with_gradients``): ``gradient[i, a, ...] = d value[...] / d positions[i, a]``, shape
``(N, 3) + value.shape``, and ``hessian[i, a, j, b, ...]``, shape
``(N, 3, N, 3) + value.shape``.  ``layout='blockdiag'`` (Hessian only):
``hessian[i, a, b, ...]``, shape ``(N, 3, 3) + value.shape``, the cross-atom blocks being
zero (rstref's ``with_peaks_at_with_hessians``).  ``layout='pointwise'`` (a function of
each point separately, e.g. spherical harmonics): ``value`` has shape ``(N,) + rest``,
``gradient[i, a, ...] = d value[i, ...] / d positions[i, a]`` of shape ``(N, 3) + rest``
and ``hessian`` of shape ``(N, 3, 3) + rest``.
"""

import numpy as np

__all__ = ["dense_gradient", "dense_hessian"]


def dense_gradient(value, gradient, n_atoms, layout):
    """Total Jacobian J[i, a, k] = d value.flat[k] / d x[i, a] from a gradient in ``layout``."""
    gradient = np.asarray(gradient, dtype=np.float64)
    if layout == "total":
        expected = (n_atoms, 3) + value.shape
        if gradient.shape != expected:
            raise ValueError(f"gradient must have shape {expected} (layout='total'), got {gradient.shape}")
        return gradient.reshape(n_atoms, 3, value.size)
    if layout == "pointwise":
        if value.ndim == 0 or value.shape[0] != n_atoms:
            raise ValueError(f"layout='pointwise' needs value of shape (N, ...), got {value.shape}")
        expected = (n_atoms, 3) + value.shape[1:]
        if gradient.shape != expected:
            raise ValueError(f"gradient must have shape {expected} (layout='pointwise'), got {gradient.shape}")
        rest = value.size // n_atoms if n_atoms else 0
        dense = np.zeros((n_atoms, 3, n_atoms, rest))
        for i in range(n_atoms):
            dense[i, :, i, :] = gradient[i].reshape(3, rest)
        return dense.reshape(n_atoms, 3, value.size)
    raise ValueError(f"layout must be 'total' or 'pointwise', got {layout!r}")


def dense_hessian(value, hessian, n_atoms, layout):
    """Total Hessian H[i, a, j, b, k] from a Hessian in ``layout``."""
    hessian = np.asarray(hessian, dtype=np.float64)
    if layout == "total":
        expected = (n_atoms, 3, n_atoms, 3) + value.shape
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='total'), got {hessian.shape}")
        return hessian.reshape(n_atoms, 3, n_atoms, 3, value.size)
    if layout == "blockdiag":
        expected = (n_atoms, 3, 3) + value.shape
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='blockdiag'), got {hessian.shape}")
        dense = np.zeros((n_atoms, 3, n_atoms, 3, value.size))
        for i in range(n_atoms):
            dense[i, :, i, :, :] = hessian[i].reshape(3, 3, value.size)
        return dense
    if layout == "pointwise":
        if value.ndim == 0 or value.shape[0] != n_atoms:
            raise ValueError(f"layout='pointwise' needs value of shape (N, ...), got {value.shape}")
        expected = (n_atoms, 3, 3) + value.shape[1:]
        if hessian.shape != expected:
            raise ValueError(f"hessian must have shape {expected} (layout='pointwise'), got {hessian.shape}")
        rest = value.size // n_atoms if n_atoms else 0
        dense = np.zeros((n_atoms, 3, n_atoms, 3, n_atoms, rest))
        for i in range(n_atoms):
            dense[i, :, i, :, i, :] = hessian[i].reshape(3, 3, rest)
        return dense.reshape(n_atoms, 3, n_atoms, 3, value.size)
    raise ValueError(f"layout must be 'total', 'blockdiag' or 'pointwise', got {layout!r}")
