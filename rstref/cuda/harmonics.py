"""Real spherical harmonics on the GPU: one thread per point, the CPU's per-point kernels.

Same names, parameters, shapes and conventions as :mod:`rstref.harmonics`; the results
are numba device arrays.  The per-point maths is :mod:`rstref._kernels.sph`, called
unchanged from the kernels below (see :mod:`rstref.cuda` for the mechanism).
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
from rstref.harmonics import SphericalHarmonics

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


def _prepare(xyz, l_max, normalization, convention, solid):
    """Validated calculator, device points and device tables."""
    calc = SphericalHarmonics(l_max, normalization, convention, solid)
    require()
    xyz = as_float64_device(xyz, "xyz", trailing_shape=(3,))
    coef = device_table(calc._coef, key=("sph", calc.l_max, calc.normalization))
    axes = device_table(calc._axes, key=("sph_axes", calc.convention))
    return calc, xyz, coef, axes


def _evaluate(order, xyz, l_max, normalization, convention, solid):
    """Values and derivatives up to ``order`` (0, 1 or 2) as a tuple of device arrays."""
    calc, xyz, coef, axes = _prepare(xyz, l_max, normalization, convention, solid)
    n = xyz.shape[0]
    shapes = [(n, calc.size), (n, 3, calc.size), (n, 3, 3, calc.size)][: order + 1]
    outputs = tuple(empty(shape) for shape in shapes)
    launch(_kernels(calc.l_max)[order], n, xyz, axes, calc.solid, coef, *outputs)
    return outputs


def spherical_harmonics(xyz, l_max, normalization="integral", convention="standard", solid=False):
    """GPU twin of :func:`rstref.spherical_harmonics`: device array ``(n, L)``."""
    return _evaluate(0, xyz, l_max, normalization, convention, solid)[0]


def spherical_harmonics_with_gradients(
    xyz, l_max, normalization="integral", convention="standard", solid=False
):
    """GPU twin of :func:`rstref.spherical_harmonics_with_gradients`: ``(n, L)``, ``(n, 3, L)``."""
    return _evaluate(1, xyz, l_max, normalization, convention, solid)


def spherical_harmonics_with_hessians(
    xyz, l_max, normalization="integral", convention="standard", solid=False
):
    """GPU twin of :func:`rstref.spherical_harmonics_with_hessians`: ``(n, L)``, ``(n, 3, L)``, ``(n, 3, 3, L)``."""
    return _evaluate(2, xyz, l_max, normalization, convention, solid)
