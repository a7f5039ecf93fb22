"""CUDA driver infrastructure: device detection, input staging, table cache, launches.

This is the only place that imports ``numba.cuda`` (the kernel modules of this package
take it from here).  See :mod:`rstref.cuda` for how per-item ``@njit`` kernels are
shared with the CPU drivers.
"""

import hashlib

import numpy as np

try:
    from numba import config as _numba_config
    from numba import cuda
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the GPU path of rstref needs numba-cuda: pip install 'rstref[cuda]' "
        "(or numba-cuda[cu12] / numba-cuda[cu13] to match your NVIDIA driver)"
    ) from exc

#: True when numba runs CUDA kernels in its Python simulator (NUMBA_ENABLE_CUDASIM=1)
SIMULATOR = bool(_numba_config.ENABLE_CUDASIM)

#: threads per block, and the most blocks one launch uses (items beyond
#: blocks * threads are handled by the grid-stride loop of every kernel).  The
#: simulator runs one Python thread per CUDA thread, so it gets small launches.
THREADS_PER_BLOCK = 16 if SIMULATOR else 128
MAX_BLOCKS = 3 if SIMULATOR else 8192
#: upper bound on the per-thread scratch memory of one launch
SCRATCH_BUDGET_BYTES = 256 * 2**20


def is_available():
    """True if kernels can run: a CUDA GPU is usable or the simulator is enabled."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver installation counts as unavailable
        return False


def require():
    """Raise ``RuntimeError`` with instructions if no GPU and no simulator is available."""
    if not is_available():
        raise RuntimeError(
            "device='cuda' was requested but no CUDA GPU is usable and the numba CUDA "
            "simulator is not enabled (set NUMBA_ENABLE_CUDASIM=1 before numba is "
            "imported to run the GPU path on the CPU for testing)"
        )


# ----------------------------------------------------------------------------- kernels


def _host_view(value):
    """The NumPy buffer behind a simulator device array (shares memory); others unchanged."""
    name = type(value).__name__
    if name == "FakeWithinKernelCUDAArray":
        return value.__dict__["_item"]._ary
    if name == "FakeCUDAArray":
        return value._ary
    return value


def device_function(kernel):
    """Make a per-item ``@njit`` kernel callable from a ``@cuda.jit`` kernel.

    On a GPU numba-cuda compiles the dispatcher for the device itself, so it is
    returned unchanged.  Under the simulator the returned shim unwraps simulator arrays
    into the NumPy buffers they share memory with and calls the compiled CPU code.
    """
    if not SIMULATOR:
        return kernel

    def call(*args):
        return kernel(*[_host_view(a) for a in args])

    call.__name__ = getattr(kernel, "__name__", "device_function")
    call.__wrapped__ = kernel
    return call


def launch_config(n_items, scratch_per_thread=0):
    """Blocks, threads per block and total threads for a grid-stride launch over ``n_items``.

    The total thread count is capped so that ``scratch_per_thread`` float64 values per
    thread stay within :data:`SCRATCH_BUDGET_BYTES`.
    """
    threads = THREADS_PER_BLOCK
    blocks = max(1, min(MAX_BLOCKS, -(-n_items // threads)))
    if scratch_per_thread > 0:
        fit = SCRATCH_BUDGET_BYTES // (8 * scratch_per_thread * threads)
        blocks = max(1, min(blocks, fit))
    return blocks, threads, blocks * threads


def launch(kernel, n_items, *args):
    """Run the grid-stride ``kernel(*args)`` over ``n_items`` items; nothing for zero items."""
    if n_items:
        blocks, threads, _ = launch_config(n_items)
        kernel[blocks, threads](*args)


def _flag_kernel(predicate):
    """A grid-stride kernel ``(values, flag)`` that sets ``flag[0] = 1`` where ``predicate``
    holds for an entry of the 1-d array ``values``."""

    @cuda.jit
    def flag_entries(values, flag):
        for i in range(cuda.grid(1), values.shape[0], cuda.gridsize(1)):
            if predicate(values[i]):
                flag[0] = 1

    return flag_entries


@cuda.jit(device=True)
def _is_nonfinite(v):
    return not (v - v == 0.0)  # NaN or +-inf


@cuda.jit(device=True)
def _is_negative(v):
    return v < 0.0


_flag_nonfinite = _flag_kernel(_is_nonfinite)
_flag_negative = _flag_kernel(_is_negative)


@cuda.jit
def _to_float64(src, dst):
    for i in range(cuda.grid(1), src.shape[0], cuda.gridsize(1)):
        dst[i] = src[i]


# ----------------------------------------------------------------------------- arrays


def _shape_text(ndim, trailing_shape):
    dims = ["n"] * (ndim - len(trailing_shape)) + [str(t) for t in trailing_shape]
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


def to_device_array(value):
    """A numba device array for NumPy input (copied), device input (no copy) or the simulator's."""
    if type(value).__module__.startswith("numba.cuda"):  # numba's own (or simulated) device array
        return value
    if hasattr(value, "__cuda_array_interface__"):
        return cuda.as_cuda_array(value)
    return cuda.to_device(np.ascontiguousarray(value))


def _any_flagged(kernel, flat):
    flag = cuda.to_device(np.zeros(1, dtype=np.int32))
    launch(kernel, flat.shape[0], flat, flag)
    return bool(flag.copy_to_host()[0])


def check_nonnegative(arr, name, what="values >= 0"):
    """Raise ``ValueError`` if the float64 device array ``arr`` has a negative entry."""
    size = int(np.prod(arr.shape))
    if size and _any_flagged(_flag_negative, arr.reshape(size)):
        raise ValueError(f"{name} must contain {what}, got a negative entry")


def as_float64_device(value, name, trailing_shape=(), ndim=None):
    """Validate an array argument and return it as a contiguous float64 device array.

    The device twin of :func:`rstref._checks.as_float_array`: NumPy input is checked on
    the host and copied once; device input is checked on the device (dtype, shape and
    finiteness; float32 and integers are promoted by a copy kernel, nothing else is
    copied).
    """
    if ndim is None:
        ndim = len(trailing_shape) + 1
    if not hasattr(value, "__cuda_array_interface__") and not type(value).__module__.startswith(
        "numba.cuda.simulator"
    ):
        from rstref._checks import as_float_array

        return cuda.to_device(as_float_array(value, name, trailing_shape, ndim))
    arr = to_device_array(value)
    dtype = np.dtype(arr.dtype)
    if dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real float array, got dtype {dtype}")
    shape = tuple(arr.shape)
    if len(shape) != ndim or (trailing_shape and shape[ndim - len(trailing_shape):] != tuple(trailing_shape)):
        raise ValueError(f"{name} must have shape {_shape_text(ndim, trailing_shape)}, got {shape}")
    size = int(np.prod(shape))
    if dtype != np.float64 or not arr.is_c_contiguous():
        if not arr.is_c_contiguous():
            arr = cuda.to_device(np.ascontiguousarray(arr.copy_to_host()))
        if dtype != np.float64:
            out = cuda.device_array(shape, dtype=np.float64)
            launch(_to_float64, size, arr.reshape(size), out.reshape(size))
            arr = out
    if size and _any_flagged(_flag_nonfinite, arr.reshape(size)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def zeros(shape):
    """A float64 device array of zeros."""
    return cuda.to_device(np.zeros(shape, dtype=np.float64))


def empty(shape):
    """An uninitialised float64 device array (every entry is written by a kernel)."""
    return cuda.device_array(shape, dtype=np.float64)


# ----------------------------------------------------------------------------- tables

_TABLES = {}


def _device_id():
    """Index of the current device (0 under the simulator, which has one device)."""
    if SIMULATOR:
        return 0
    return int(cuda.get_current_device().id)


def device_table(host_array, key=None):
    """Copy a read-only table to the current device once and return the cached copy.

    Parameters
    ----------
    host_array : numpy.ndarray
        The table (recurrence prefactors, radial coefficients, CG coefficients).
    key : hashable, optional
        Identity of the table; by default its dtype, shape and a SHA-1 of its bytes,
        so equal tables share one device copy and a changed table gets a new one.
    """
    host_array = np.ascontiguousarray(host_array)
    if key is None:
        digest = hashlib.sha1(host_array.tobytes()).hexdigest()
        key = (host_array.dtype.str, host_array.shape, digest)
    full_key = (_device_id(), key)
    table = _TABLES.get(full_key)
    if table is None:
        table = cuda.to_device(host_array)
        _TABLES[full_key] = table
    return table


def clear_tables():
    """Forget every cached device table (they are freed when no kernel result refers to them)."""
    _TABLES.clear()


__all__ = [
    "cuda",
    "SIMULATOR",
    "is_available",
    "require",
    "device_function",
    "launch_config",
    "launch",
    "to_device_array",
    "as_float64_device",
    "check_nonnegative",
    "zeros",
    "empty",
    "device_table",
    "clear_tables",
]
