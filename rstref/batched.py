"""Expansions and power spectra of many environments at once, on the CPU or the GPU.

A batch of environments is *ragged*: the neighbours of all environments are stored
flat and ``offsets`` (length ``n_env + 1``, ``offsets[0] = 0``, non-decreasing,
``offsets[-1] = N``) delimits them; environment ``e`` is the rows
``offsets[e]:offsets[e+1]`` of ``positions`` (relative to its centre) and ``values``::

    neighbours of environment e = [i for i in range(offsets[e], offsets[e + 1])]

Per-neighbour derivatives are stored flat in the same order: ``dc[i, a]`` is the
derivative of the coefficients of the environment that owns neighbour ``i`` with
respect to that neighbour's coordinate ``a`` (a neighbour moves only its own
environment's density).  Empty environments give zero coefficients and invariants.

Every function equals, environment by environment,
:meth:`RadialSphericalTensor.with_peaks_at` (and its derivative variants) and
:class:`PowerSpectrum`: on the CPU both are the same engine call (:mod:`rstref._engine`,
a single environment is a batch of one), on the GPU the same per-atom and
per-environment kernels (:mod:`rstref._kernels.tensor`, :mod:`rstref._kernels.invariants`).

``device``: None runs on the GPU when ``positions`` is a device array
(``__cuda_array_interface__``), 'cuda' forces the GPU (outputs are numba device
arrays), 'cpu' the CPU; see :mod:`rstref.cuda`.
"""

from rstref._checks import (
    as_positions_and_values,
    check_bool,
    check_no_coincident_atoms,
    check_no_subnormal_rows,
    check_offsets,
)
from rstref._dispatch import wants_gpu
from rstref._engine import invariants as _engine_invariants
from rstref._engine import one_density
from rstref._engine.expansion import unscale
from rstref.tensor import RadialSphericalTensor

__all__ = [
    "expansions",
    "expansions_with_gradients",
    "expansions_with_hessians",
    "power_spectra",
    "power_spectra_with_gradients",
]


# ----------------------------------------------------------------------------- checks


def check_tensor(rst):
    if not isinstance(rst, RadialSphericalTensor):
        raise TypeError(f"rst must be a RadialSphericalTensor, got {type(rst).__name__}")
    return rst


def _checked_batch(rst, positions, values, offsets, normalize, order=0):
    """Validate once; return the engine's batch (one density) and ``normalize``."""
    check_tensor(rst)
    normalize = check_bool(normalize, "normalize")
    positions, values = as_positions_and_values(positions, values)
    offsets = check_offsets(offsets, positions.shape[0])
    check_no_coincident_atoms(positions, offsets)
    if order >= 1:
        check_no_subnormal_rows(positions, "positions")
    return one_density(positions, values, offsets), normalize


def _expansions_cpu(rst, positions, values, offsets, normalize, order):
    batch, normalize = _checked_batch(rst, positions, values, offsets, normalize, order)
    c, dc, d2c = rst._expansion.coefficients(batch, normalize, order)
    return c, dc, d2c, batch.offsets


def _scaled_expansions_cpu(rst, positions, values, offsets, normalize, order):
    """``(s, c, dc, d2c, offsets)`` with true coefficients ``s * c`` (see
    :meth:`rstref._engine.Expansion.coefficients_scaled`): the power spectra are computed
    from ``c`` and multiplied by ``s`` twice, so huge values never give NaN."""
    batch, normalize = _checked_batch(rst, positions, values, offsets, normalize, order)
    scale, c, dc, d2c = rst._expansion.coefficients_scaled(batch, normalize, order)
    return scale, c, dc, d2c, batch.offsets


# ----------------------------------------------------------------------------- public


def _gpu():
    from rstref.cuda import batched

    return batched


def expansions(rst, positions, offsets, values=None, normalize=True, device=None):
    """Coefficients of every environment of a ragged batch.

    Parameters
    ----------
    rst : RadialSphericalTensor
    positions : array_like, shape (N, 3)
        Neighbour positions relative to their environment's centre, all environments
        concatenated.
    offsets : array_like of int, shape (n_env + 1,)
        Environment ``e`` is ``positions[offsets[e]:offsets[e+1]]``.
    values : array_like, shape (N,), optional
        Peak heights (default ones).
    normalize : bool
        Kernel-normalised (True) or raw (False) projection, as in
        :meth:`RadialSphericalTensor.with_peaks_at`.
    device : {None, 'cpu', 'cuda'}

    Returns
    -------
    c : ndarray or device array, shape (n_env, rst.dim)
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=0)[0]
    return _expansions_cpu(rst, positions, values, offsets, normalize, 0)[0]


def expansions_with_gradients(rst, positions, offsets, values=None, normalize=True, device=None):
    """Coefficients ``c`` (n_env, dim) and per-neighbour gradients ``dc`` (N, 3, dim).

    ``dc[i, a] = d c[e] / d positions[i, a]`` for the environment ``e`` owning ``i``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=1)[:2]
    return _expansions_cpu(rst, positions, values, offsets, normalize, 1)[:2]


def expansions_with_hessians(rst, positions, offsets, values=None, normalize=True, device=None):
    """``c`` (n_env, dim), ``dc`` (N, 3, dim) and per-neighbour Hessians ``d2c`` (N, 3, 3, dim).

    ``d2c[i, a, b] = d^2 c[e] / d positions[i, a] d positions[i, b]`` (neighbours
    contribute independently, so these diagonal blocks are the whole Hessian).
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().expansions(rst, positions, offsets, values, normalize, order=2)
    return _expansions_cpu(rst, positions, values, offsets, normalize, 2)[:3]


def power_spectra(rst, positions, offsets, values=None, normalize=True, device=None):
    """Power spectrum of every environment: shape ``(n_env, F)``.

    Feature order as :class:`rstref.PowerSpectrum`:
    ``[(l, n, n2) for l in range(l_max+1) for n in range(n_max) for n2 in range(n, n_max)]``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().power_spectra(rst, positions, offsets, values, normalize, gradients=False)[0]
    scale, c, _, _, _ = _scaled_expansions_cpu(rst, positions, values, offsets, normalize, 0)
    return unscale(scale, 2, _engine_invariants.power_spectra(c, rst.n_max, rst.l_max))[0]


def power_spectra_with_gradients(rst, positions, offsets, values=None, normalize=True, device=None):
    """Power spectra ``p`` (n_env, F) and per-neighbour gradients ``dp`` (N, 3, F).

    ``dp[i, a] = d p[e] / d positions[i, a]`` for the environment ``e`` owning ``i``.
    See :func:`expansions` for the parameters.
    """
    if wants_gpu(device, positions, values, offsets):
        return _gpu().power_spectra(rst, positions, offsets, values, normalize, gradients=True)
    scale, c, dc, _, offsets = _scaled_expansions_cpu(rst, positions, values, offsets,
                                                      normalize, 1)
    p = _engine_invariants.power_spectra(c, rst.n_max, rst.l_max)
    dp = _engine_invariants.power_spectra_gradients(c, dc, offsets, rst.n_max, rst.l_max)
    return unscale(scale, 2, p, dp)
