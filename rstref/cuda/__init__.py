"""GPU path of rstref on numba-cuda (extra ``cuda``); imported only when asked for.

How the CPU and GPU paths share the maths (docs/architecture.md)
----------------------------------------------------------------
The per-item kernels in :mod:`rstref._kernels` are ordinary ``rstref._numba.njit``
functions: one point, one distance or one environment, writing into caller-provided
output and scratch arrays, no allocation, scalar ``math`` only.  The CPU drivers loop
over items calling them; the CUDA kernels in this package launch one thread per item
and call *the very same dispatcher objects*:

* On a real GPU, numba-cuda (>= 0.20; checked against 0.30.4) resolves a CPU
  dispatcher met inside a ``@cuda.jit`` kernel as a device function: it recompiles
  the dispatcher's Python source for the CUDA target (``CUDATargetContext.
  resolve_value_type``), recursively for the ``@njit`` functions it calls.  Basic
  slicing (``out[i]`` row views, ``xyz[i]``) is supported in device code; allocation
  (``np.empty``), exceptions, and variable-size ``cuda.local.array`` are not, which is
  why every kernel takes its scratch as an argument.  The driver hands each thread a
  row of one scratch array sized for the threads actually launched (grid-stride loop).
  This is verified without a GPU by compiling every kernel of this package to PTX
  (``tests/test_cuda.py::test_kernels_compile_to_ptx``, needs the ``nvidia-nvvm`` and
  ``nvidia-cuda-nvrtc`` wheels; skipped otherwise).
* Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported)
  kernels run as Python and pass simulator array wrappers that a CPU dispatcher cannot
  unbox.  :func:`rstref.cuda.driver.device_function` wraps each per-item kernel so
  that, under the simulator only, the wrappers are unwrapped to the NumPy buffers they
  share memory with before the call; on a GPU it returns the dispatcher unchanged.  The
  simulator therefore runs the kernels' launch and indexing logic in Python and the
  same compiled per-item maths as the CPU.

Entry points and layering
-------------------------
Users call the public functions with ``device='cuda'`` or device arrays; this package
is the driver behind them and is not called directly:

* ``rstref.spherical_harmonics[_with_gradients|_with_hessians](..., device=None)``
  build and validate a :class:`rstref.SphericalHarmonics` and hand it to
  :func:`rstref.cuda.harmonics.evaluate`;
* ``OrthonormalRadialBasis.__call__(r, device=None)`` and ``.with_derivatives(r,
  device=None)`` hand ``basis.kernel_arguments()`` to
  :func:`rstref.cuda.radial.radial_basis_with_derivatives`;
* ragged batches of environments, :mod:`rstref.batched`: ``expansions[_with_gradients|
  _with_hessians]`` and ``power_spectra[_with_gradients]`` (``device=None``) hand the
  :class:`rstref.RadialSphericalTensor` to :mod:`rstref.cuda.batched`, which reads it
  through ``rst.kernel_arguments()`` and, for a radial basis without kernel arguments,
  tabulates ``rst.radial_basis.with_derivatives`` on the host.

Imports flow one way: modules of this package import only ``rstref._kernels``,
``rstref._checks``, ``rstref._dispatch``, ``rstref._numba``, ``rstref.limits``,
``rstref.tolerances`` and each other, never a public module; the public modules import
this package lazily, inside their GPU branch, after :func:`rstref._dispatch.wants_gpu`
said so.  Calculators give the kernels what they need through their public
``kernel_arguments()`` methods, never private attributes.

Dispatch
--------
NumPy input runs on the CPU.  Input exposing ``__cuda_array_interface__`` (numba
device arrays, CuPy, PyTorch CUDA tensors) or a simulator device array, or
``device='cuda'``, runs on the GPU, and the outputs are numba device arrays that stay
on the device (``.copy_to_host()`` to fetch them).  ``device='cpu'`` with device input
is an error (nothing is copied silently).
"""

from rstref._dispatch import DEVICES, is_device_array, simulator_enabled, wants_gpu  # noqa: F401

__all__ = ["DEVICES", "is_available", "is_device_array", "wants_gpu", "simulator_enabled"]


def is_available():
    """True if the GPU path can run: numba-cuda is installed and a GPU or the simulator is active."""
    try:
        from rstref.cuda import driver
    except ImportError:
        return False
    return driver.is_available()

