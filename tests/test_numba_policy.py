"""The one jit decorator's cache policy (rstref._numba; docs/development.md)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code, tmp_path, **env):
    """Run ``code`` in a fresh interpreter that imports rstref from this checkout."""
    full = dict(os.environ)
    full.pop("NUMBA_CACHE_DIR", None)
    full.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full, cwd=tmp_path, timeout=300)


def test_cache_env_switch(monkeypatch):
    from rstref import _numba

    monkeypatch.setenv(_numba.CACHE_ENV, "0")
    assert not _numba.cache_enabled()
    f = _numba.njit(lambda x: x + 1)
    assert f(1) == 2
    assert type(f._cache).__name__ == "NullCache"
    monkeypatch.setenv(_numba.CACHE_ENV, "1")
    assert _numba.cache_enabled()


def test_cache_keyword_refused():
    from rstref import _numba

    with pytest.raises(TypeError, match="cache"):
        _numba.njit(cache=True)


# a numba cache locator that never finds a place: numba then raises "cannot cache function"
_NEVER = """
from numba.core import caching
from numba.core.caching import _CacheLocator

class Never(_CacheLocator):
    @classmethod
    def from_function(cls, py_func, py_file):
        return None


# the user-provided locator alone (named differently across numba versions)
Provided = getattr(caching, "UserProvidedCacheLocator", None) or caching._UserProvidedCacheLocator
"""


def test_no_writable_cache_location_falls_back_to_no_cache(tmp_path):
    (tmp_path / "never_locator.py").write_text(_NEVER)
    out = _run("""
        import numpy as np
        import rstref
        Y = rstref.spherical_harmonics(np.array([[0.0, 0.0, 1.0]]), 2)
        from rstref._kernels import sph
        print("ok", Y.shape, type(sph.sph_values_point._cache).__name__)
    """, tmp_path, NUMBA_CACHE_LOCATOR_CLASSES="never_locator.Never")
    assert out.returncode == 0, out.stderr
    assert "ok (1, 9) NullCache" in out.stdout


def test_unwritable_tree_falls_back_to_a_private_cache_dir(tmp_path):
    # only the user-provided locator: without NUMBA_CACHE_DIR it finds nothing, as a read-only
    # install with an unwritable home does; rstref then provides a private directory
    (tmp_path / "never_locator.py").write_text(_NEVER)
    out = _run("""
        import numpy as np
        import numba
        import rstref
        Y = rstref.spherical_harmonics(np.array([[0.0, 0.0, 1.0]]), 2)
        from rstref._kernels import sph
        print("ok", Y.shape, type(sph.sph_values_point._cache).__name__, numba.config.CACHE_DIR)
    """, tmp_path, NUMBA_CACHE_LOCATOR_CLASSES="never_locator.Provided")
    assert out.returncode == 0, out.stderr
    assert "ok (1, 9) FunctionCache" in out.stdout
    assert "rstref-numba-cache" in out.stdout
