"""Real spherical harmonics on the GPU: one thread per point, the CPU's per-point kernels.

The driver takes a calculator (:class:`rstref.SphericalHarmonics`, already validated by
the public entry points of :mod:`rstref.harmonics`) and reads what the kernels need from
its public ``kernel_arguments()``; shapes and conventions are those of
:mod:`rstref.harmonics`, and the results are numba device arrays.  The per-point maths is
:mod:`rstref._kernels.sph`, called unchanged from the kernels below (see
:mod:`rstref.cuda` for the mechanism).
"""

import functools

import numpy as np

from rstref._kernels.sph import (
    sph_gradients_point,
    sph_hessians_point,
    sph_scratch_shapes,
    sph_values_point,
)
from rstref.cuda.driver import (
    as_float64_device,
    cuda,
    device_function,
    device_table,
    empty,
    launch,
    require,
)

_values_point = device_function(sph_values_point)
_gradients_point = device_function(sph_gradients_point)
_hessians_point = device_function(sph_hessians_point)


@functools.lru_cache(maxsize=None)
def _kernels(l_max):
    """The three kernels for degree ``l_max`` (scratch sizes are compile-time constants)."""
    q_shape, cs_shape = sph_scratch_shapes(l_max)

    @cuda.jit
    def values(xyz, axes, solid, coef, out):
        q = cuda.local.array(q_shape, np.float64)
        cs = cuda.local.array(cs_shape, np.float64)
        for i in range(cuda.grid(1), xyz.shape[0], cuda.gridsize(1)):
            _values_point(xyz, i, axes, l_max, solid, coef, q, cs, out)

    @cuda.jit
    def gradients(xyz, axes, solid, coef, out, dout):
        q = cuda.local.array(q_shape, np.float64)
        cs = cuda.local.array(cs_shape, np.float64)
        for i in range(cuda.grid(1), xyz.shape[0], cuda.gridsize(1)):
            _gradients_point(xyz, i, axes, l_max, solid, coef, q, cs, out, dout)

    @cuda.jit
    def hessians(xyz, axes, solid, coef, out, dout, d2out):
        q = cuda.local.array(q_shape, np.float64)
        cs = cuda.local.array(cs_shape, np.float64)
        for i in range(cuda.grid(1), xyz.shape[0], cuda.gridsize(1)):
            _hessians_point(xyz, i, axes, l_max, solid, coef, q, cs, out, dout, d2out)

    return values, gradients, hessians


def evaluate(sph, xyz, order):
    """Values and derivatives up to ``order`` (0, 1 or 2) as a tuple of device arrays.

    Parameters
    ----------
    sph : SphericalHarmonics
        Any calculator with ``kernel_arguments()`` returning ``(axes, l_max, solid,
        coef)`` (see :meth:`rstref.harmonics.SphericalHarmonics.kernel_arguments`).
    xyz : array_like or device array, shape (n, 3)
    order : {0, 1, 2}

    Returns
    -------
    tuple of device arrays
        ``Y`` (n, L), then ``dY`` (n, 3, L) for ``order >= 1``, then ``d2Y`` (n, 3, 3, L)
        for ``order == 2``.
    """
    arguments = sph.kernel_arguments()
    require()
    xyz = as_float64_device(xyz, "xyz", trailing_shape=(3,))
    return evaluate_on_device(arguments, xyz, order)


def evaluate_on_device(arguments, xyz, order):
    """As :func:`evaluate` for kernel ``arguments`` ``(axes, l_max, solid, coef)`` and
    validated float64 device points ``xyz`` (n, 3)."""
    axes, l_max, solid, coef = arguments
    l_max = int(l_max)
    n = xyz.shape[0]
    L = (l_max + 1) ** 2
    shapes = [(n, L), (n, 3, L), (n, 3, 3, L)][: order + 1]
    outputs = tuple(empty(shape) for shape in shapes)
    launch(_kernels(l_max)[order], n, xyz, device_table(axes), bool(solid), device_table(coef),
           *outputs)
    return outputs


def spherical_harmonics(sph, xyz):
    """GPU twin of ``sph.compute(xyz)``: device array ``(n, L)``.

    ``sph``: a :class:`rstref.SphericalHarmonics` (see :func:`evaluate`).
    """
    return evaluate(sph, xyz, 0)[0]


def spherical_harmonics_with_gradients(sph, xyz):
    """GPU twin of ``sph.compute_with_gradients(xyz)``: ``(n, L)``, ``(n, 3, L)``."""
    return evaluate(sph, xyz, 1)


def spherical_harmonics_with_hessians(sph, xyz):
    """GPU twin of ``sph.compute_with_hessians(xyz)``: ``(n, L)``, ``(n, 3, L)``, ``(n, 3, 3, L)``."""
    return evaluate(sph, xyz, 2)
