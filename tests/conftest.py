"""Hypothesis profiles: 'ci' (default; deterministic and bounded) and 'thorough'.

Select with the environment variable ``RSTREF_HYPOTHESIS_PROFILE=thorough``.
"""

import os
import types

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("RSTREF_HYPOTHESIS_PROFILE", "ci"))


def thorough():
    """True when the thorough profile is active (widens some parametrisations)."""
    return os.environ.get("RSTREF_HYPOTHESIS_PROFILE", "ci") == "thorough"


@pytest.fixture
def ptx_compiler(monkeypatch):
    """``compile(kernel, signature) -> PTX text`` for sm_90 without a GPU, or skip.

    Needs the real numba-cuda compiler (NVVM/NVRTC); skipped under the simulator, where
    the numba-cuda package is not installed (numba's own deprecated ``numba.cuda`` target
    lacks the API these checks use), and where NVVM/NVRTC are missing or unusable.  The
    skip reason names what is missing.
    """
    import importlib.util

    import numba

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or numba.config.ENABLE_CUDASIM:
        pytest.skip("compile-only check: needs the real numba-cuda compiler, not the simulator")
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("compile-only check: the numba-cuda package is not installed (numba's "
                    "built-in numba.cuda target is not supported); pip install 'rstref[cuda]' "
                    "nvidia-nvvm nvidia-cuda-nvrtc")
    cuda = pytest.importorskip("numba.cuda")
    import numba.cuda.dispatcher as cuda_dispatcher

    # device functions (the shared @njit kernels) are compiled for the current device's
    # compute capability; without a GPU there is none, so name one
    monkeypatch.setattr(
        cuda_dispatcher, "get_current_device",
        lambda: types.SimpleNamespace(compute_capability=(9, 0)),
    )
    try:
        from numba.cuda import types as t

        def probe(a):
            a[0] = 1.0

        cuda.compile_ptx(probe, (t.float64[::1],), cc=(9, 0))
    except Exception as exc:  # missing libnvvm / libnvrtc
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        pytest.skip("compile-only check: numba-cuda is installed but NVIDIA's NVVM/NVRTC "
                    "libraries are not usable (pip install nvidia-nvvm nvidia-cuda-nvrtc): "
                    f"{type(exc).__name__}: {first_line}")

    def compile_ptx(kernel, signature):
        return cuda.compile_ptx(getattr(kernel, "py_func", kernel), signature, cc=(9, 0))[0]

    return compile_ptx
