"""GPU path: every GPU entry point against the CPU result (README, "GPU").

Run under the CUDA simulator as a separate pytest invocation (numba must see the
variable before it is imported, hence not in the main run)::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/test_cuda.py

On a machine with a CUDA GPU the same tests run on the GPU.  Without either, the
comparison tests are skipped with the reason.  The CPU results are the oracle here;
they are themselves checked against mpmath, finite differences and identities in
the tests of each module.  Agreement is required to ``CUDA_RTOL`` relative to the
largest entry of each output array (``|gpu - cpu| <= CUDA_RTOL * max|cpu|``).

``test_kernels_compile_to_ptx`` is a compile-only check that needs no GPU and no
simulator, only NVIDIA's NVVM and NVRTC libraries (``pip install nvidia-nvvm
nvidia-cuda-nvrtc``): it compiles every kernel of :mod:`rstref.cuda`, with the shared
``@njit`` per-item kernels they call, to PTX for compute capability 9.0.  It is skipped
when those libraries are missing or the simulator is on.
"""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rstref
from rstref import cuda as rcuda
from rstref.tolerances import CUDA_RTOL

AVAILABLE = rcuda.is_available()
SIMULATED = AVAILABLE and rcuda.simulator_enabled()
try:
    import numba.cuda  # noqa: F401

    _WHY_NOT = "no CUDA GPU and the numba CUDA simulator is off"
except ImportError:
    _WHY_NOT = "numba.cuda cannot be imported (pip install 'rstref[cuda]')"
needs_device = pytest.mark.skipif(
    not AVAILABLE,
    reason=f"{_WHY_NOT} (run: NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_cuda.py)",
)
pytestmark = pytest.mark.cuda

NORMALIZATIONS = ["integral", "component", "norm"]
CONVENTIONS = ["standard", "e3nn"]

# ----------------------------------------------------------------------------- helpers


def host(a):
    """Copy a device array to the host (and check that it really was on the device)."""
    assert rcuda.is_device_array(a), f"expected a device array, got {type(a).__name__}"
    return a.copy_to_host()


def assert_agrees(gpu, cpu, name=""):
    """``|gpu - cpu| <= CUDA_RTOL * max|cpu|`` elementwise, same shape and dtype.

    Non-finite CPU entries (float64 overflow, e.g. Hessians ~ 1/|r|^2 at |r| < 1e-154)
    must be reproduced exactly by the GPU; the scale is that of the finite entries.
    """
    g = host(gpu)
    cpu = np.asarray(cpu)
    assert g.shape == cpu.shape, f"{name}: shape {g.shape} != {cpu.shape}"
    assert g.dtype == np.float64
    finite = np.isfinite(cpu)
    assert np.array_equal(np.isfinite(g), finite), f"{name}: non-finite entries differ"
    assert np.array_equal(g[~finite], cpu[~finite], equal_nan=True), f"{name}: infinities differ"
    g, cpu = g[finite], cpu[finite]
    scale = float(np.max(np.abs(cpu), initial=0.0))
    err = float(np.max(np.abs(g - cpu), initial=0.0))
    assert err <= CUDA_RTOL * max(scale, 1e-300), f"{name}: max |gpu - cpu| = {err:.3e}, scale {scale:.3e}"


# points: random directions and lengths plus the special cases of DESIGN 2.1
SPECIAL_POINTS = [
    (0.0, 0.0, 0.0),  # the zero vector
    (0.0, 0.0, 1.0),  # north pole
    (0.0, 0.0, -2.5),  # south pole
    (0.0, 0.0, 1e-9),  # pole, tiny
    (1e-200, 0.0, 0.0),  # below the plain sum-of-squares range
    (3e200, -1e200, 2e200),  # above it
    (1.0, 0.0, 0.0),
    (0.0, -1.0, 0.0),
]
coordinate = st.floats(-5.0, 5.0, allow_nan=False, allow_subnormal=False)
point = st.one_of(st.sampled_from(SPECIAL_POINTS), st.tuples(coordinate, coordinate, coordinate))
point_arrays = st.lists(point, min_size=0, max_size=7).map(
    lambda rows: np.array(rows, dtype=np.float64).reshape(len(rows), 3)
)


# ----------------------------------------------------------------------------- dispatch


def test_wants_gpu_without_device_arrays():
    """NumPy input stays on the CPU unless device='cuda'; unknown devices are refused."""
    x = np.zeros((2, 3))
    assert not rcuda.wants_gpu(None, x)
    assert not rcuda.wants_gpu("cpu", x)
    assert rcuda.wants_gpu("cuda", x)
    with pytest.raises(ValueError, match="device must be one of"):
        rcuda.wants_gpu("gpu", x)
    assert not rcuda.is_device_array(x)
    assert isinstance(rstref.spherical_harmonics(x, 2), np.ndarray)


def test_cuda_request_without_device_raises():
    """device='cuda' with neither a GPU nor the simulator: a clear RuntimeError."""
    if AVAILABLE:
        pytest.skip("a GPU or the simulator is available")
    try:
        import numba.cuda  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="numba-cuda"):
            rstref.spherical_harmonics(np.zeros((1, 3)), 2, device="cuda")
        return
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        rstref.spherical_harmonics(np.zeros((1, 3)), 2, device="cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        rstref.OrthonormalRadialBasis(3, 2.0)(np.zeros(2), device="cuda")


@needs_device
def test_device_input_dispatches_and_stays_on_device():
    from numba import cuda

    x = np.array([[0.3, -0.2, 0.9], [0.0, 0.0, 0.0]])
    d = cuda.to_device(x)
    assert rcuda.is_device_array(d)
    y = rstref.spherical_harmonics(d, 3)
    assert rcuda.is_device_array(y)
    assert_agrees(y, rstref.spherical_harmonics(x, 3))
    with pytest.raises(ValueError, match="device='cpu'"):
        rstref.spherical_harmonics(d, 3, device="cpu")


@needs_device
def test_device_input_is_validated():
    from numba import cuda

    x32 = np.array([[0.3, -0.2, 0.9], [1.0, 2.0, 3.0]], dtype=np.float32)
    y = rstref.spherical_harmonics(cuda.to_device(x32), 2, device="cuda")
    assert_agrees(y, rstref.spherical_harmonics(x32.astype(np.float64), 2), "float32 promoted")
    with pytest.raises(ValueError, match="NaN or infinite"):
        rstref.spherical_harmonics(cuda.to_device(np.array([[0.0, np.nan, 1.0]])), 2)
    with pytest.raises(ValueError, match=r"xyz must have shape \(n, 3\)"):
        rstref.spherical_harmonics(cuda.to_device(np.zeros((2, 4))), 2)
    with pytest.raises(TypeError, match="xyz must be a real float array"):
        rstref.spherical_harmonics(cuda.to_device(np.zeros((2, 3), dtype=np.complex128)), 2)
    with pytest.raises(ValueError, match="l_max"):
        rstref.spherical_harmonics(np.zeros((2, 3)), -1, device="cuda")
    basis = rstref.OrthonormalRadialBasis(3, 2.0)
    with pytest.raises(ValueError, match="distances >= 0"):
        basis(cuda.to_device(np.array([0.5, -0.1])))


# ----------------------------------------------------------------------------- harmonics


@needs_device
@given(
    xyz=point_arrays,
    l_max=st.integers(0, 6),
    normalization=st.sampled_from(NORMALIZATIONS),
    convention=st.sampled_from(CONVENTIONS),
    solid=st.booleans(),
)
def test_spherical_harmonics_agree(xyz, l_max, normalization, convention, solid):
    if solid:  # r^l Y overflows for the huge special point at high l; keep it finite
        xyz = xyz[np.linalg.norm(xyz, axis=1) < 1e10]
    args = (l_max, normalization, convention, solid)
    assert_agrees(rstref.spherical_harmonics(xyz, *args, device="cuda"),
                  rstref.spherical_harmonics(xyz, *args), "Y")
    gpu = rstref.spherical_harmonics_with_gradients(xyz, *args, device="cuda")
    cpu = rstref.spherical_harmonics_with_gradients(xyz, *args)
    for g, c, name in zip(gpu, cpu, ["Y", "dY"]):
        assert_agrees(g, c, name)
    gpu = rstref.spherical_harmonics_with_hessians(xyz, *args, device="cuda")
    cpu = rstref.spherical_harmonics_with_hessians(xyz, *args)
    for g, c, name in zip(gpu, cpu, ["Y", "dY", "d2Y"]):
        assert_agrees(g, c, name)


@needs_device
def test_spherical_harmonics_high_degree_and_many_points():
    """More points than one launch has threads (grid-stride loop) and a high degree."""
    rng = np.random.default_rng(7)
    n = 3 * 16 * 3 + 5 if SIMULATED else 100_003
    xyz = rng.normal(size=(n, 3))
    xyz[:4] = SPECIAL_POINTS[:4]
    for g, c, name in zip(
        rstref.spherical_harmonics_with_hessians(xyz, 12, device="cuda"),
        rstref.spherical_harmonics_with_hessians(xyz, 12),
        ["Y", "dY", "d2Y"],
    ):
        assert_agrees(g, c, name)


@needs_device
@pytest.mark.parametrize("l_max", [0, 3])
def test_spherical_harmonics_empty_batch(l_max):
    L = (l_max + 1) ** 2
    Y, dY, d2Y = rstref.spherical_harmonics_with_hessians(np.zeros((0, 3)), l_max, device="cuda")
    assert host(Y).shape == (0, L) and host(dY).shape == (0, 3, L) and host(d2Y).shape == (0, 3, 3, L)


@needs_device
def test_zero_vector_rule_on_device():
    """DESIGN 2.1 at the origin: Y_00 kept, everything else exactly 0, no NaN."""
    Y, dY, d2Y = (host(a) for a in rstref.spherical_harmonics_with_hessians(
        np.zeros((1, 3)), 4, normalization="component", device="cuda"))
    assert Y[0, 0] == 1.0 and not np.any(Y[0, 1:]) and not np.any(dY) and not np.any(d2Y)


# ----------------------------------------------------------------------------- radial

distances = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0, 2.0, 0.5]), st.floats(0.0, 3.0, allow_subnormal=False)),
    min_size=0, max_size=9,
).map(lambda v: np.array(v, dtype=np.float64))


@needs_device
@given(
    r=distances,
    n_max=st.integers(2, 6),
    primitive=st.sampled_from(["cosine_bumps", "cosines", "smooth_cosines"]),
    envelope_power=st.sampled_from([None, 2, 3]),
)
def test_radial_basis_agrees(r, n_max, primitive, envelope_power):
    """Values and both derivatives, including r = 0, joins, r_cut = 2 and beyond."""
    basis = rstref.OrthonormalRadialBasis(n_max, 2.0, primitive, envelope_power)
    for g, c, name in zip(basis.with_derivatives(r, device="cuda"), basis.with_derivatives(r),
                          ["R", "dR", "d2R"]):
        assert_agrees(g, c, name)
    assert_agrees(basis(r, device="cuda"), basis(r), "R via __call__")


# ----------------------------------------------------------------------------- batches


def _tensor(n_max, l_max, primitive="cosine_bumps", convention="standard", envelope_power=None):
    basis = rstref.OrthonormalRadialBasis(n_max, 2.0, primitive, envelope_power)
    return rstref.RadialSphericalTensor(n_max, basis, l_max, convention=convention)


BATCH_SPECIAL = [(0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, -0.7), (0.0, 0.0, 2.0), (2.5, 0.0, 0.0)]


@st.composite
def ragged_batches(draw, max_envs=4, max_neighbours=4):
    """(positions, values, offsets): some empty environments; atoms at the centre, on the
    z axis (poles), at r_cut = 2 and beyond; neighbours distinct within an environment."""
    sizes = draw(st.lists(st.integers(0, max_neighbours), min_size=0, max_size=max_envs))
    coord = st.floats(-2.2, 2.2, allow_nan=False, allow_subnormal=False)
    rows = []
    for size in sizes:
        rows += draw(st.lists(st.one_of(st.sampled_from(BATCH_SPECIAL), st.tuples(coord, coord, coord)),
                              min_size=size, max_size=size, unique=True))
    positions = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
    values = np.array(draw(st.lists(st.floats(-2.0, 2.0, allow_subnormal=False),
                                    min_size=len(rows), max_size=len(rows))))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return positions, values, offsets


def _separated(positions, offsets):
    for e in range(len(offsets) - 1):
        p = positions[offsets[e]:offsets[e + 1]]
        if len(p) > 1 and (np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p))).min() < 1e-6:
            return False
    return True


@needs_device
@given(
    batch=ragged_batches(),
    n_max=st.integers(2, 4),
    l_max=st.integers(0, 3),
    primitive=st.sampled_from(["cosine_bumps", "cosines", "smooth_cosines"]),
    convention=st.sampled_from(CONVENTIONS),
    normalize=st.booleans(),
)
def test_batched_expansions_and_power_spectra_agree(batch, n_max, l_max, primitive, convention,
                                                    normalize):
    from rstref import batched

    positions, values, offsets = batch
    if not _separated(positions, offsets):
        return
    rst = _tensor(n_max, l_max, primitive, convention)
    args = (rst, positions, offsets, values, normalize)
    names = ["c", "dc", "d2c"]
    for g, c, name in zip(batched.expansions_with_hessians(*args, device="cuda"),
                          batched.expansions_with_hessians(*args), names):
        assert_agrees(g, c, name)
    for g, c, name in zip(batched.expansions_with_gradients(*args, device="cuda"),
                          batched.expansions_with_gradients(*args), names):
        assert_agrees(g, c, name)
    assert_agrees(batched.expansions(*args, device="cuda"), batched.expansions(*args), "c")
    for g, c, name in zip(batched.power_spectra_with_gradients(*args, device="cuda"),
                          batched.power_spectra_with_gradients(*args), ["p", "dp"]):
        assert_agrees(g, c, name)
    assert_agrees(batched.power_spectra(*args, device="cuda"), batched.power_spectra(*args), "p")


@needs_device
def test_batched_device_inputs_and_errors():
    """Device-resident positions/values/offsets dispatch to the GPU; bad batches raise."""
    from numba import cuda

    from rstref import batched

    rst = _tensor(3, 2, "smooth_cosines", "e3nn")
    rng = np.random.default_rng(3)
    n_env = 3 * 16 * 3 + 2 if SIMULATED else 20_000  # more environments than threads
    sizes = rng.integers(0, 4, size=n_env)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    positions = rng.uniform(-1.8, 1.8, size=(offsets[-1], 3))
    values = rng.normal(size=offsets[-1])
    p, dp = batched.power_spectra_with_gradients(
        rst, cuda.to_device(positions), cuda.to_device(offsets), cuda.to_device(values))
    cpu = batched.power_spectra_with_gradients(rst, positions, offsets, values)
    assert_agrees(p, cpu[0], "p")
    assert_agrees(dp, cpu[1], "dp")
    c, dc, d2c = (host(a) for a in batched.expansions_with_hessians(
        rst, np.zeros((0, 3)), np.array([0, 0]), device="cuda"))
    assert c.shape == (1, rst.dim) and not np.any(c) and dc.shape == (0, 3, rst.dim)
    assert d2c.shape == (0, 3, 3, rst.dim)
    assert host(batched.expansions(rst, np.zeros((0, 3)), np.array([0]), device="cuda")).shape == (0, rst.dim)
    with pytest.raises(ValueError, match="neighbours 1 and 2 of environment 1 coincide"):
        batched.expansions(rst, np.array([[1.0, 0, 0], [0.5, 0, 0], [0.5, 0, 0]]), [0, 1, 3],
                           device="cuda")
    with pytest.raises(ValueError, match="non-decreasing"):
        batched.expansions(rst, cuda.to_device(np.zeros((3, 3))), np.array([0, 2, 1, 3]))
    with pytest.raises(ValueError, match="NaN"):
        batched.expansions(rst, cuda.to_device(np.array([[np.nan, 0.0, 0.0]])), [0, 1])
    with pytest.raises(ValueError, match="device='cpu'"):
        batched.expansions(rst, cuda.to_device(np.zeros((1, 3))), [0, 1], device="cpu")
    with pytest.raises(TypeError, match="rst must be a RadialSphericalTensor"):
        batched.expansions(object(), np.zeros((1, 3)), [0, 1], device="cuda")


class TabulatedBasis:
    """A radial basis that is not an OrthonormalRadialBasis: only ``with_derivatives``.

    Its functions are those of ``OrthonormalRadialBasis(n_max, 2.0, 'cosines', 2)`` scaled
    by ``1 + r`` (so that no kernel argument of the wrapped basis could stand in for it).
    """

    def __init__(self, n_max):
        self.n_max, self.r_cut = n_max, 2.0
        self._inner = rstref.OrthonormalRadialBasis(n_max, 2.0, "cosines", 2)
        self.calls = 0

    def with_derivatives(self, r):
        self.calls += 1
        R, dR, d2R = self._inner.with_derivatives(r)
        s = (1.0 + np.asarray(r))[:, None]
        return s * R, R + s * dR, 2.0 * dR + s * d2R

    def __call__(self, r):
        return self.with_derivatives(r)[0]


@needs_device
@given(batch=ragged_batches(), n_max=st.integers(1, 4), l_max=st.integers(0, 3),
       convention=st.sampled_from(CONVENTIONS), normalize=st.booleans())
def test_batched_tabulated_radial_basis_agrees(batch, n_max, l_max, convention, normalize):
    """Any radial basis with with_derivatives(r) runs on the GPU: tabulated on the host,
    then the tabulated projection kernel on the device, equal to the CPU path."""
    from rstref import batched

    positions, values, offsets = batch
    if not _separated(positions, offsets):
        return
    basis = TabulatedBasis(n_max)
    rst = rstref.RadialSphericalTensor(n_max, basis, l_max, convention=convention)
    assert rst.kernel_arguments()["radial"] is None
    args = (rst, positions, offsets, values, normalize)
    calls = basis.calls
    gpu = batched.expansions_with_hessians(*args, device="cuda")
    assert basis.calls == calls + (1 if len(positions) and len(offsets) > 1 else 0)
    for g, c, name in zip(gpu, batched.expansions_with_hessians(*args), ["c", "dc", "d2c"]):
        assert_agrees(g, c, name)
    for g, c, name in zip(batched.power_spectra_with_gradients(*args, device="cuda"),
                          batched.power_spectra_with_gradients(*args), ["p", "dp"]):
        assert_agrees(g, c, name)


@needs_device
def test_batched_tabulated_radial_basis_differs_from_the_wrapped_one():
    """The tabulated path really uses the basis' tables (not some built-in basis)."""
    from rstref import batched

    positions = np.array([[0.3, -0.4, 0.5], [1.2, 0.1, -0.3]])
    offsets = np.array([0, 2])
    tabulated = rstref.RadialSphericalTensor(3, TabulatedBasis(3), 2)
    inner = rstref.RadialSphericalTensor(3, tabulated.radial_basis._inner, 2)
    c_tab = host(batched.expansions(tabulated, positions, offsets, normalize=False, device="cuda"))
    c_inner = host(batched.expansions(inner, positions, offsets, normalize=False, device="cuda"))
    assert np.max(np.abs(c_tab - c_inner)) > 1e-3
    from numba import cuda

    on_device = batched.power_spectra_with_gradients(  # device-resident input, tabulated basis
        tabulated, cuda.to_device(positions), cuda.to_device(offsets), normalize=False)
    for g, c, name in zip(on_device, batched.power_spectra_with_gradients(
            tabulated, positions, offsets, normalize=False), ["p", "dp"]):
        assert_agrees(g, c, name)


@needs_device
def test_batched_tabulated_radial_basis_bad_shape():
    from rstref import batched

    class WrongWidth(TabulatedBasis):
        def with_derivatives(self, r):
            return tuple(a[:, :-1] for a in super().with_derivatives(r))

    rst = rstref.RadialSphericalTensor(3, WrongWidth(3), 2)
    with pytest.raises(ValueError, match=r"with_derivatives\(r\) must return R, dR, d2R of shape \(2, 3\)"):
        batched.expansions(rst, np.array([[0.3, 0.0, 0.0], [0.0, 0.5, 0.0]]), [0, 2], device="cuda")


# ----------------------------------------------------------------------------- kernel_arguments
# Plain Python (no GPU, no simulator): the calculators' kernel_arguments() are exactly what
# the per-item kernels take; feeding them to the kernels reproduces the calculators' results.


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("solid", [False, True])
def test_spherical_harmonics_kernel_arguments(convention, solid):
    from rstref._kernels.sph import sph_hessians_points, sph_scratch_shapes

    sph = rstref.SphericalHarmonics(5, "norm", convention, solid)
    axes, l_max, solid_flag, coef = sph.kernel_arguments()
    assert l_max == 5 and solid_flag is solid and coef.shape == (7, 6, 6)
    assert axes.dtype == np.int64 and axes.shape == (3,)
    xyz = np.random.default_rng(1).normal(size=(6, 3))
    q_shape, cs_shape = sph_scratch_shapes(l_max)
    n, L = xyz.shape[0], sph.size
    out, dout, d2out = np.empty((n, L)), np.empty((n, 3, L)), np.empty((n, 3, 3, L))
    sph_hessians_points(xyz, 0, n, axes, l_max, solid_flag, coef, np.empty(q_shape),
                        np.empty(cs_shape), out, dout, d2out)
    for mine, theirs in zip((out, dout, d2out), sph.compute_with_hessians(xyz)):
        np.testing.assert_array_equal(mine, theirs)
    other = rstref.SphericalHarmonics(5, "integral", convention, solid).kernel_arguments()[3]
    assert not np.array_equal(coef, other)  # the table follows the normalisation


@pytest.mark.parametrize("primitive, envelope_power", [("cosine_bumps", None), ("cosines", 3),
                                                       ("smooth_cosines", None), ("cosine_bumps", 2)])
def test_radial_basis_kernel_arguments(primitive, envelope_power):
    from rstref._kernels.radial import orthonormal_radial_point

    basis = rstref.OrthonormalRadialBasis(4, 2.0, primitive, envelope_power)
    family, r_cut, n_prim, p, coefficients = basis.kernel_arguments()
    assert (r_cut, p) == (2.0, envelope_power or 0)
    assert isinstance(n_prim, int) and n_prim == basis.family.n == coefficients.shape[1]
    assert coefficients.shape == (basis.n_max, n_prim) and coefficients.flags.c_contiguous
    r = np.array([0.0, 0.4, 1.0, 1.7, 2.0, 2.4])
    mine = np.zeros((3, r.size, basis.n_max))
    f, df, d2f = np.empty(n_prim), np.empty(n_prim), np.empty(n_prim)
    for i, ri in enumerate(r):
        orthonormal_radial_point(ri, family, r_cut, n_prim, p, coefficients, f, df, d2f,
                                 mine[0, i], mine[1, i], mine[2, i])
    for a, b in zip(mine, basis.with_derivatives(r)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_tensor_kernel_arguments():
    from rstref._kernels.tensor import project_environment_radial

    basis = rstref.OrthonormalRadialBasis(3, 2.0, "smooth_cosines")
    rst = rstref.RadialSphericalTensor(3, basis, 2, convention="e3nn")
    args = rst.kernel_arguments()
    assert (args["n_max"], args["l_max"], args["dim"]) == (3, 2, rst.dim)
    sph = rstref.SphericalHarmonics(2, "component", "e3nn")
    for mine, theirs in zip(args["harmonics"], sph.kernel_arguments()):
        np.testing.assert_array_equal(mine, theirs)
    family, r_cut, n_prim, p, coefficients = args["radial"]
    positions = np.array([[0.3, -0.4, 0.5], [1.2, 0.1, -0.3], [0.0, 0.0, 0.0]])
    values = np.array([1.0, -0.5, 2.0])
    Y, dY = sph.compute_with_gradients(positions)
    c, dc = np.empty(rst.dim), np.empty((3, 3, rst.dim))
    k, n_max = n_prim, args["n_max"]
    project_environment_radial(positions, values, family, r_cut, n_prim, p, coefficients, Y, dY,
                               np.zeros((3, 0, 0, 0)), n_max, args["l_max"], True, 1,
                               rstref.limits.KERNEL_NORM_FLOOR, np.empty(k), np.empty(k),
                               np.empty(k), np.empty(n_max), np.empty(n_max), np.empty(n_max),
                               c, dc, np.zeros((3, 0, 0, 0)))
    c_ref, dc_ref = rst.with_peaks_at_with_gradients(positions, values)
    np.testing.assert_allclose(c, c_ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(dc, dc_ref, rtol=0, atol=1e-13)
    assert rstref.RadialSphericalTensor(2, TabulatedBasis(2), 1).kernel_arguments()["radial"] is None


# ----------------------------------------------------------------------------- layering

#: what a module of rstref/cuda may import from rstref (docs/architecture.md)
CUDA_MAY_IMPORT = ("rstref._kernels", "rstref._checks", "rstref._dispatch", "rstref._numba",
                   "rstref.limits", "rstref.tolerances", "rstref.cuda")


def _rstref_imports(path, package):
    """Absolute names of the rstref modules a file imports (any depth, relative resolved)."""
    import ast

    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module == "rstref":  # from rstref import limits -> rstref.limits
                names += [f"rstref.{alias.name}" for alias in node.names]
            else:
                names.append(module)
    return [n for n in names if n == "rstref" or n.startswith("rstref.")]


def _allowed(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_cuda_package_imports_no_public_module():
    """rstref/cuda/* imports only the kernel layer, the private helpers and itself."""
    from pathlib import Path

    root = Path(rstref.__file__).parent / "cuda"
    files = sorted(root.glob("*.py"))
    assert len(files) >= 5
    bad = {}
    for path in files:
        package = "rstref.cuda"
        wrong = [n for n in _rstref_imports(path, package) if not _allowed(n, CUDA_MAY_IMPORT)]
        if wrong:
            bad[path.name] = wrong
    assert not bad, f"rstref/cuda imports public modules: {bad}"


def test_import_checker_sees_public_imports(tmp_path):
    """The checker above can fail: it flags absolute, 'from rstref import', relative and
    function-level imports of public modules."""
    source = ("import rstref.harmonics\nfrom rstref import radial, limits\n"
              "from ..batched import expansions\nfrom . import driver\n"
              "def f():\n    from rstref.invariants import power_spectrum_size\n")
    path = tmp_path / "m.py"
    path.write_text(source)
    wrong = [n for n in _rstref_imports(path, "rstref.cuda") if not _allowed(n, CUDA_MAY_IMPORT)]
    assert wrong == ["rstref.harmonics", "rstref.radial", "rstref.batched", "rstref.invariants"]


def test_kernels_import_only_kernels():
    """rstref/_kernels/* (per-item maths, also compiled for the GPU) imports nothing from
    rstref outside _kernels but the jit decorator."""
    from pathlib import Path

    root = Path(rstref.__file__).parent / "_kernels"
    bad = {}
    for path in sorted(root.glob("*.py")):
        wrong = [n for n in _rstref_imports(path, "rstref._kernels")
                 if not _allowed(n, ("rstref._kernels", "rstref._numba"))]
        if wrong:
            bad[path.name] = wrong
    assert not bad, f"rstref/_kernels imports outside the kernel layer: {bad}"


def test_public_modules_do_not_import_cuda_at_load_time():
    import subprocess
    import sys

    code = ("import sys, rstref.harmonics, rstref.radial, rstref.tensor, rstref.batched; "
            "print(sorted(m for m in sys.modules if m.startswith('rstref.cuda')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ----------------------------------------------------------------------------- PTX


def test_kernels_compile_to_ptx(ptx_compiler):
    """Every rstref CUDA kernel (with the shared @njit kernels it calls) compiles for sm_90."""
    compile_ptx = ptx_compiler
    from numba.cuda import types as t

    from rstref.cuda import harmonics as gh
    from rstref.cuda import radial as gr

    f64 = t.float64
    a1, a2, a3, a4 = f64[::1], f64[:, ::1], f64[:, :, ::1], f64[:, :, :, ::1]
    i64 = t.int64
    values, gradients, hessians = gh._kernels(4)
    common = (a2, i64[::1], t.boolean, a3)
    for kernel, outs in [(values, (a2,)), (gradients, (a2, a3)), (hessians, (a2, a3, a4))]:
        ptx = compile_ptx(kernel, common + outs)
        assert ".entry" in ptx
    ptx = compile_ptx(gr._kernel(5), (a1, i64, f64, i64, a2, a2, a2, a2))
    assert ".entry" in ptx
    from rstref.cuda import batched as gb

    kernels = [
        (gb._closest_pairs_kernel, (a2, i64[::1], f64, i64[:, ::1])),
        (gb._project_kernel(5, 5), (a2, a1, i64[::1], i64, f64, i64, a2, a2, a3, a4, i64,
                                    t.boolean, i64, f64, a2, a3, a4)),
        (gb._project_tabulated_kernel, (a2, a1, i64[::1], a2, a2, a2, a2, a3, a4, i64, i64,
                                        t.boolean, i64, f64, a2, a3, a4)),
        (gb._power_spectra_kernel, (a2, i64, i64, a2)),
        (gb._power_spectra_gradients_kernel, (a2, a2, i64[::1], i64, i64, a2)),
    ]
    from rstref.cuda import driver as gd

    kernels += [
        (gd._flag_nonfinite, (a1, t.int32[::1])),
        (gd._flag_negative, (a1, t.int32[::1])),
        (gd._to_float64, (t.float32[::1], a1)),
    ]
    for kernel, signature in kernels:
        assert ".entry" in compile_ptx(kernel, signature)
