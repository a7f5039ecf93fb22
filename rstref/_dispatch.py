"""Where a call runs: the host/device decision, without importing :mod:`rstref.cuda`.

Public entry points take a ``device`` keyword and ask :func:`wants_gpu`; only when it
says yes do they import the CUDA driver (lazily), so importing rstref never imports
numba-cuda.
"""

#: values accepted for the ``device`` keyword of the public entry points
DEVICES = (None, "cpu", "cuda")


def simulator_enabled():
    """True if numba was imported with the CUDA simulator enabled (``NUMBA_ENABLE_CUDASIM=1``)."""
    import numba

    return bool(numba.config.ENABLE_CUDASIM)


def is_device_array(value):
    """True for arrays that live on a CUDA device (or in the CUDA simulator).

    Recognises anything exposing ``__cuda_array_interface__`` and the simulator's
    device arrays, without importing numba.cuda.
    """
    if hasattr(value, "__cuda_array_interface__"):
        return True
    return type(value).__module__.startswith("numba.cuda.simulator")


def wants_gpu(device, *arrays):
    """Decide where an entry point runs from its ``device`` keyword and its array inputs.

    Parameters
    ----------
    device : {None, 'cpu', 'cuda'}
        None: GPU if any of ``arrays`` is a device array, else CPU.
    *arrays
        The array arguments of the call.

    Returns
    -------
    bool
        True for the GPU path.

    Raises
    ------
    ValueError
        For an unknown ``device``, or ``device='cpu'`` with device-resident input.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of None, 'cpu', 'cuda', got {device!r}")
    on_device = any(is_device_array(a) for a in arrays)
    if device == "cpu" and on_device:
        raise ValueError(
            "device='cpu' was requested but an input array lives on a CUDA device; "
            "copy it to the host first (e.g. .copy_to_host())"
        )
    return device == "cuda" or on_device
