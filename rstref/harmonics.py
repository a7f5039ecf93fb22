"""Real spherical harmonics with explicit Cartesian gradients and Hessians (docs/conventions.md).

Convention
----------
Standard real form with polar axis z and no Condon-Shortley phase:
``Y_{1,-1} ∝ y``, ``Y_{1,0} ∝ z``, ``Y_{1,1} ∝ x`` with positive prefactors (the table on
Wikipedia, sphericart's convention).  Degrees ``l = 0..l_max`` (``l_max <= 64``) are
stored flat, ``lm_index(l, m) = l*l + l + m``.

Normalisations
    ``'integral'`` (default) orthonormal on the unit sphere;
    ``'component'`` ``sum_m Y_lm^2 = 2l+1`` (``Y_00 = 1``);
    ``'norm'`` ``sum_m Y_lm^2 = 1``.

``convention='e3nn'`` gives e3nn's functions: the standard ones evaluated at the permuted
point ``(z, x, y)`` (polar axis y, the l = 1 block proportional to (x, y, z)); gradients and
Hessians are with respect to the caller's (x, y, z).

Input vectors need not be unit: ``Y`` is evaluated at ``r/|r|``.  At the zero vector
``Y_00`` keeps its value and every ``l >= 1`` value, gradient and Hessian entry is exactly
0 (never NaN).  ``solid=True`` returns the solid harmonics ``|r|^l Y_lm(r/|r|)``,
polynomials in (x, y, z) whose derivatives are those of the polynomial everywhere,
including the origin.

Everything is computed by Cartesian recurrences (no angles, hence no pole problems);
see :mod:`rstref._kernels.sph` for the formulas.  Any finite input is accepted: the
direction is computed with scaling when x^2+y^2+z^2 would under- or overflow, so
``Y(r/|r|)`` is exact to rounding for |r| from the smallest to the largest float.
Derivatives scale like ``|r|^-1`` (gradients) and ``|r|^-2`` (Hessians) and become
``±inf`` only where the true value is outside the float64 range (e.g. Hessians for
``|r| < 1e-154``; entries that are exactly 0 stay 0, never NaN); solid harmonics likewise
overflow where ``|r|^l Y_lm`` does, to ``±inf`` with the sign of the true value (exact zeros
stay 0, never NaN: inputs that large are evaluated at ``r/2^k`` and scaled back exactly).
Derivatives of ``Y(r/|r|)`` at a non-zero vector whose
components are all subnormal (``|r| < 2.2e-308``, where ``1/|r|`` overflows) raise
ValueError; values are returned for every finite input.

Points are processed in parallel (numba threads, chunks of 512 points) when there are
at least 2048 of them and ``numba.get_num_threads() > 1``; results do not depend on it.
"""

import functools

import numba
import numpy as np

import rstref.limits as _limits
from rstref._checks import as_float_array, check_allocation, check_choice, check_int
from rstref._dispatch import wants_gpu
from rstref._kernels import sph_low
from rstref._kernels.sph import (
    L_MAX_SUPPORTED,
    sph_gradients_points,
    sph_hessians_points,
    sph_values_blocks,
)
from rstref._kernels.sph_low import (
    L_HESS,
    L_LOW,
    sph_low_gradients_points,
    sph_low_hessians_points,
    sph_low_values_points,
)
from rstref._kernels.sph_point import BLOCK, BLOCK_ROWS, count_bad_rows
from rstref._numba import njit
from rstref._sph_tables import sph_tables
from rstref.layouts import lm_block, lm_index, lm_range, lm_size  # noqa: F401 (re-exported)

#: smallest normal float64; derivatives are refused below it (see module docstring)
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)

NORMALIZATIONS = ("integral", "component", "norm")
CONVENTIONS = ("standard", "e3nn")

#: standard-frame coordinate k is read from input column _AXES[convention][k]
_AXES = {
    "standard": np.array([0, 1, 2], dtype=np.int64),
    "e3nn": np.array([2, 0, 1], dtype=np.int64),
}

#: points per chunk of the parallel loop (each chunk owns one scratch set)
_CHUNK = 512
#: below this many points the serial loop is used (threads do not pay)
_PARALLEL_MIN_POINTS = 2048


# ----------------------------------------------------------------------------- input scan


def _count_bad_rows(xyz):
    """(rows with a NaN/inf entry, finite non-zero rows whose entries are all subnormal)."""
    return count_bad_rows(xyz, 0, xyz.shape[0])


def _subnormal_rows_error(xyz):
    big = np.max(np.abs(xyz), axis=1)
    bad = np.flatnonzero((big > 0.0) & (big < _SMALLEST_NORMAL))
    return ValueError(
        f"xyz rows {bad[:5].tolist()} have 0 < |r| < {_SMALLEST_NORMAL:.3g} (subnormal): "
        "1/|r| overflows, so derivatives of Y(r/|r|) are not representable in float64"
    )


# ----------------------------------------------------------------------------- loops
def _use_threads(n):
    """Threads pay for many points and when numba may use more than one."""
    return n >= _PARALLEL_MIN_POINTS and numba.get_num_threads() > 1


@njit
def _values_range(xyz, start, stop, axes, l_max, solid, coef, out):
    """The general values kernel on rows start:stop: (nonfinite, subnormal) counts."""
    q = np.empty((l_max + 1, l_max + 5))
    cs = np.empty((4, l_max + 1))
    u = np.empty(BLOCK_ROWS * BLOCK)
    return sph_values_blocks(xyz, start, stop, axes, l_max, solid, coef, q, cs, u, out)


@njit
def _gradients_range(xyz, start, stop, axes, l_max, solid, coef, out, dout):
    """The general gradients kernel on rows start:stop (the caller scans the input).

    (A blocked variant like :func:`_values_range` measured ~5% slower here: the
    gradients body does not gain from it.)
    """
    q = np.empty((l_max + 1, l_max + 5))
    cs = np.empty((4, l_max + 1))
    sph_gradients_points(xyz, start, stop, axes, l_max, solid, coef, q, cs, out, dout)


@njit
def _hessians_range(xyz, start, stop, axes, l_max, solid, coef, out, dout, d2out):
    q = np.empty((l_max + 1, l_max + 5))
    cs = np.empty((4, l_max + 1))
    sph_hessians_points(xyz, start, stop, axes, l_max, solid, coef, q, cs, out, dout, d2out)


@njit(parallel=True)
def _values_parallel(xyz, chunk, axes, l_max, solid, coef, out):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    nonfinite = 0
    subnormal = 0
    for c in numba.prange(n_chunks):
        bad, tiny = _values_range(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out)
        nonfinite += bad
        subnormal += tiny
    return nonfinite, subnormal


@njit(parallel=True)
def _gradients_parallel(xyz, chunk, axes, l_max, solid, coef, out, dout):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        _gradients_range(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out, dout
        )


@njit(parallel=True)
def _hessians_parallel(xyz, chunk, axes, l_max, solid, coef, out, dout, d2out):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        _hessians_range(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out, dout, d2out
        )


@njit(parallel=True)
def _low_values_parallel(xyz, chunk, axes, l_max, solid, coef, out):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    nonfinite = 0
    subnormal = 0
    for c in numba.prange(n_chunks):
        u = np.empty(BLOCK_ROWS * BLOCK)
        bad, tiny = sph_low_values_points(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out, u
        )
        nonfinite += bad
        subnormal += tiny
    return nonfinite, subnormal


@njit(parallel=True)
def _low_gradients_parallel(xyz, chunk, axes, l_max, solid, coef, out, dout):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    nonfinite = 0
    subnormal = 0
    for c in numba.prange(n_chunks):
        u = np.empty(BLOCK_ROWS * BLOCK)
        bad, tiny = sph_low_gradients_points(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out, dout, u
        )
        nonfinite += bad
        subnormal += tiny
    return nonfinite, subnormal


@njit(parallel=True)
def _low_hessians_parallel(xyz, chunk, axes, l_max, solid, coef, out, dout, d2out):
    n = xyz.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    nonfinite = 0
    subnormal = 0
    for c in numba.prange(n_chunks):
        u = np.empty(BLOCK_ROWS * BLOCK)
        bad, tiny = sph_low_hessians_points(
            xyz, c * chunk, min(n, (c + 1) * chunk), axes, l_max, solid, coef, out, dout,
            d2out, u
        )
        nonfinite += bad
        subnormal += tiny
    return nonfinite, subnormal


def _block():
    """Scratch of the straight-line kernels (:func:`rstref._kernels.sph_point.unit_block`)."""
    return np.empty(BLOCK_ROWS * BLOCK)


# ----------------------------------------------------------------------------- calculator
@functools.lru_cache(maxsize=None)
def _cached_tables(l_max, normalization):
    coef = sph_tables(l_max, normalization)
    coef.setflags(write=False)
    return coef


class SphericalHarmonics:
    """Calculator of real spherical harmonics up to degree ``l_max``.

    Parameters
    ----------
    l_max : int
        Largest degree, ``0 <= l_max <= 64``.
    normalization : {'integral', 'component', 'norm'}
        See the module docstring. Default 'integral' (orthonormal on the sphere).
    convention : {'standard', 'e3nn'}
        'e3nn' evaluates the standard functions at ``(z, x, y)``.
    solid : bool
        If True return the solid harmonics ``|r|^l Y_lm(r/|r|)``.

    Notes
    -----
    Outputs for ``n`` points with ``L = (l_max+1)**2``: values ``(n, L)``, gradients
    ``(n, 3, L)`` with ``d[i, a, k] = dY_k/dr_a`` at point i, Hessians ``(n, 3, 3, L)``
    with ``h[i, a, b, k] = d2Y_k/dr_a dr_b``.  Flat order of k:
    ``[(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]``.
    """

    def __init__(self, l_max, normalization="integral", convention="standard", solid=False):
        self.l_max = check_int(l_max, "l_max", low=0, high=L_MAX_SUPPORTED)
        self.normalization = check_choice(normalization, "normalization", NORMALIZATIONS)
        self.convention = check_choice(convention, "convention", CONVENTIONS)
        if not isinstance(solid, (bool, np.bool_)):
            raise TypeError(f"solid must be a bool, got {type(solid).__name__}")
        self.solid = bool(solid)
        self._coef = _cached_tables(self.l_max, self.normalization)
        self._axes = _AXES[self.convention]

    @property
    def size(self):
        """Number of functions ``L = (l_max + 1)**2`` (:func:`rstref.layouts.lm_size`)."""
        return lm_size(self.l_max)

    def kernel_arguments(self):
        """What the per-point kernels of :mod:`rstref._kernels.sph` take besides the points.

        The kernels are called as ``sph_values_point(xyz, i, *kernel_arguments(), q, cs,
        out)`` (and likewise the ``_points`` range kernels and the gradient and Hessian
        variants); the CPU loops here and the GPU driver (:mod:`rstref.cuda`) both use
        this tuple, so the calculator is the one place that builds it.

        Returns
        -------
        axes : ndarray of int64, shape (3,)
            Standard-frame coordinate ``k`` is read from input column ``axes[k]``:
            ``(0, 1, 2)`` for the 'standard' convention, ``(2, 0, 1)`` for 'e3nn'.
        l_max : int
        solid : bool
        coef : ndarray of float64, shape (7, l_max+1, l_max+1), read-only
            Recurrence and derivative coefficients for this normalisation
            (:func:`rstref._sph_tables.sph_tables`).

        Notes
        -----
        The caller supplies the scratch ``q`` and ``cs`` of the shapes
        :func:`rstref._kernels.sph.sph_scratch_shapes` gives for ``l_max``, and outputs
        of shape ``(n, L)``, ``(n, 3, L)``, ``(n, 3, 3, L)``, ``L = size``.
        """
        return self._axes, self.l_max, self.solid, self._coef

    def __repr__(self):
        return (
            f"SphericalHarmonics(l_max={self.l_max}, normalization={self.normalization!r}, "
            f"convention={self.convention!r}, solid={self.solid})"
        )

    def _points(self, xyz, arrays=1, derivatives=False, scan=True):
        """Checked points; ``arrays``: output floats per (point, function), 1, 4 or 13.

        ``derivatives``: also refuse non-zero rows whose entries are all subnormal (for
        ``Y(r/|r|)``, see the module docstring).  ``scan=False`` leaves the NaN/inf and
        subnormal checks to :meth:`_refuse_bad_rows` with the counts a kernel returned.
        """
        if not (type(xyz) is np.ndarray and xyz.dtype == np.float64 and xyz.ndim == 2
                and xyz.shape[1] == 3 and xyz.flags.c_contiguous):
            # (an array that is already what the kernels take skips the general check:
            # a few microseconds per call, which is measurable at l_max <= 1)
            xyz = as_float_array(xyz, "xyz", trailing_shape=(3,), allow_nonfinite=True)
        n_bytes = 8 * arrays * xyz.shape[0] * self.size
        if n_bytes > _limits.MAX_ALLOCATION_BYTES:  # check_allocation raises its message
            check_allocation(n_bytes,
                             f"spherical harmonics of {xyz.shape[0]} points to l_max={self.l_max}",
                             "pass fewer points per call (or a smaller l_max)")
        if scan and xyz.shape[0]:
            self._refuse_bad_rows(xyz, *_count_bad_rows(xyz), derivatives)
        return xyz

    def _refuse_bad_rows(self, xyz, nonfinite, subnormal, derivatives):
        """Raise for NaN/inf rows, and subnormal rows of derivatives of Y(r/|r|) (counts)."""
        if nonfinite:
            as_float_array(xyz, "xyz", trailing_shape=(3,))  # raises its ValueError
        if derivatives and not self.solid and subnormal:
            raise _subnormal_rows_error(xyz)

    def compute(self, xyz):
        """Values, shape ``(n, L)``, for points ``xyz`` of shape ``(n, 3)``."""
        # the kernels check the points as they go (see rstref._kernels.sph_point)
        xyz = self._points(xyz, scan=False)
        n = xyz.shape[0]
        out = np.empty((n, self.size))
        if n == 0:
            return out
        axes, l_max, solid, coef = self.kernel_arguments()
        threads = _use_threads(n)
        if l_max <= L_LOW:
            if threads:
                counts = _low_values_parallel(xyz, _CHUNK, axes, l_max, solid, coef, out)
            else:
                counts = sph_low.VALUES[l_max](xyz, 0, n, axes, solid, coef, out, _block())
        elif threads:
            counts = _values_parallel(xyz, _CHUNK, axes, l_max, solid, coef, out)
        else:
            counts = _values_range(xyz, 0, n, axes, l_max, solid, coef, out)
        self._refuse_bad_rows(xyz, *counts, derivatives=False)
        return out

    def _points_for_derivatives(self, xyz, arrays, scan=True):
        return self._points(xyz, arrays, derivatives=True, scan=scan)

    def compute_with_gradients(self, xyz):
        """Values ``(n, L)`` and gradients ``(n, 3, L)`` for ``xyz`` of shape ``(n, 3)``."""
        # the straight-line kernels (l_max <= L_LOW) check the points as they go
        xyz = self._points_for_derivatives(xyz, 4, scan=self.l_max > L_LOW)
        n = xyz.shape[0]
        out = np.empty((n, self.size))
        dout = np.empty((n, 3, self.size))
        if n == 0:
            return out, dout
        axes, l_max, solid, coef = self.kernel_arguments()
        threads = _use_threads(n)
        if l_max <= L_LOW:
            if threads:
                counts = _low_gradients_parallel(
                    xyz, _CHUNK, axes, l_max, solid, coef, out, dout)
            else:
                counts = sph_low.GRADIENTS[l_max](
                    xyz, 0, n, axes, solid, coef, out, dout, _block())
            self._refuse_bad_rows(xyz, *counts, derivatives=True)
        elif threads:
            _gradients_parallel(xyz, _CHUNK, axes, l_max, solid, coef, out, dout)
        else:
            _gradients_range(xyz, 0, n, axes, l_max, solid, coef, out, dout)
        return out, dout

    def compute_with_hessians(self, xyz):
        """Values ``(n, L)``, gradients ``(n, 3, L)``, Hessians ``(n, 3, 3, L)``."""
        # the straight-line kernels (l_max <= L_HESS) check the points as they go
        low = self.l_max <= L_HESS
        xyz = self._points_for_derivatives(xyz, 13, scan=not low)
        n = xyz.shape[0]
        out = np.empty((n, self.size))
        dout = np.empty((n, 3, self.size))
        d2out = np.empty((n, 3, 3, self.size))
        if n == 0:
            return out, dout, d2out
        args = (*self.kernel_arguments(), out, dout, d2out)
        if low:
            axes, l_max, solid, coef = self.kernel_arguments()
            if _use_threads(n):
                counts = _low_hessians_parallel(xyz, _CHUNK, *args)
            else:
                counts = sph_low.HESSIANS[l_max](
                    xyz, 0, n, axes, solid, coef, out, dout, d2out, _block())
            self._refuse_bad_rows(xyz, *counts, derivatives=True)
        elif _use_threads(n):
            _hessians_parallel(xyz, _CHUNK, *args)
        else:
            _hessians_range(xyz, 0, n, *args)
        return out, dout, d2out


# ----------------------------------------------------------------------------- functions
def spherical_harmonics(
    xyz, l_max, normalization="integral", convention="standard", solid=False, device=None
):
    """Real spherical harmonics of the directions of ``xyz``.

    Parameters
    ----------
    xyz : array_like, shape (n, 3)
        Cartesian vectors (any length; float32 and integers are promoted to float64).
    l_max : int
        Largest degree, ``0 <= l_max <= 64``.
    normalization : {'integral', 'component', 'norm'}
    convention : {'standard', 'e3nn'}
    solid : bool
        Return ``|r|^l Y_lm`` instead of ``Y_lm(r/|r|)``.
    device : {None, 'cpu', 'cuda'}
        None: on the GPU if ``xyz`` is a device array (``__cuda_array_interface__``),
        else on the CPU.  'cuda' runs on the GPU and returns numba device arrays
        (see :mod:`rstref.cuda`).

    Returns
    -------
    Y : ndarray, shape (n, (l_max+1)**2)
        In the order ``[(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]``.
    """
    if wants_gpu(device, xyz):
        from rstref.cuda import harmonics as gpu

        return gpu.spherical_harmonics(
            SphericalHarmonics(l_max, normalization, convention, solid), xyz)
    return SphericalHarmonics(l_max, normalization, convention, solid).compute(xyz)


def spherical_harmonics_with_gradients(
    xyz, l_max, normalization="integral", convention="standard", solid=False, device=None
):
    """Values ``(n, L)`` and gradients ``(n, 3, L)``, ``dY[i, a, k] = dY_k/dr_a``.

    See :func:`spherical_harmonics` for the parameters (``device`` included).
    """
    if wants_gpu(device, xyz):
        from rstref.cuda import harmonics as gpu

        return gpu.spherical_harmonics_with_gradients(
            SphericalHarmonics(l_max, normalization, convention, solid), xyz)
    return SphericalHarmonics(l_max, normalization, convention, solid).compute_with_gradients(xyz)


def spherical_harmonics_with_hessians(
    xyz, l_max, normalization="integral", convention="standard", solid=False, device=None
):
    """Values ``(n, L)``, gradients ``(n, 3, L)`` and Hessians ``(n, 3, 3, L)``.

    ``d2Y[i, a, b, k] = d2 Y_k / dr_a dr_b`` (symmetric in a, b).  See
    :func:`spherical_harmonics` for the parameters (``device`` included).
    """
    if wants_gpu(device, xyz):
        from rstref.cuda import harmonics as gpu

        return gpu.spherical_harmonics_with_hessians(
            SphericalHarmonics(l_max, normalization, convention, solid), xyz)
    return SphericalHarmonics(l_max, normalization, convention, solid).compute_with_hessians(xyz)
