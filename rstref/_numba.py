"""The one numba decorator of rstref, with one on-disk cache policy.

Every CPU kernel of the package is compiled with :func:`njit` from this module, so the
cache policy is decided in one place (as moble/quaternionic does with its single ``jit``):

* caching is on by default (compiled machine code is written next to the sources, in
  ``__pycache__``, or where numba's own rules put it, e.g. ``NUMBA_CACHE_DIR``);
* ``RSTREF_NUMBA_CACHE=0`` (read when rstref is imported) turns it off: every kernel is
  compiled afresh in each process, which is what a developer editing ``rstref/_kernels``
  wants (numba's cache keys on the decorated function's own file, not on the kernels it
  calls, so an edit to a called kernel is otherwise not seen until the cache is cleared:
  see ``docs/development.md``);
* where no cache location is writable (a read-only install with an unwritable home
  directory), numba would raise ``RuntimeError: cannot cache function``; :func:`njit`
  then points numba at a private directory under the system temporary directory and, if
  even that fails, compiles without a cache.  It never fails because of the cache.
"""

import os
import tempfile

import numba

#: environment switch: "0", "false", "no" or "off" disables the on-disk cache
CACHE_ENV = "RSTREF_NUMBA_CACHE"


def cache_enabled():
    """True unless ``RSTREF_NUMBA_CACHE`` is set to 0/false/no/off."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _fallback_cache_dir():
    """A per-user writable directory for numba's cache, or None."""
    path = os.path.join(tempfile.gettempdir(), f"rstref-numba-cache-{os.getuid()}"
                        if hasattr(os, "getuid") else "rstref-numba-cache")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _cached(function, options):
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as err:  # numba: "cannot cache function ...: no locator available"
        if "cannot cache" not in str(err):
            raise
    fallback = _fallback_cache_dir()
    if fallback is not None and not numba.config.CACHE_DIR:
        numba.config.CACHE_DIR = fallback
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError as err:
            if "cannot cache" not in str(err):
                raise
    return numba.njit(cache=False, **options)(function)


def njit(function=None, **options):
    """``numba.njit`` with rstref's cache policy (module docstring).

    Use as ``@njit`` or ``@njit(parallel=True)`` (any ``numba.njit`` option except
    ``cache``, which this module decides).
    """
    if "cache" in options:
        raise TypeError("rstref._numba.njit decides the cache itself; do not pass cache=")

    def decorate(f):
        if cache_enabled():
            return _cached(f, options)
        return numba.njit(cache=False, **options)(f)

    if function is not None:
        return decorate(function)
    return decorate


def is_cached(dispatcher):
    """True if ``dispatcher`` (an :func:`njit` kernel) has an index in numba's on-disk cache.

    False when caching is off or nothing was compiled for it yet; then its first call
    compiles (seconds).  Used only to tell a user that a first run will wait.
    """
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return bool(index) and os.path.exists(index)
