"""On-disk format of the Clebsch-Gordan table (no sympy needed; shared by writer and loader).

Format version 1: a zip archive of ``.npy`` members (``np.load(..., allow_pickle=False)``
reads it), all plain numeric arrays:

=====================  ========  ===============================================
key                    dtype     shape / meaning
=====================  ========  ===============================================
``format_version``     int64     ``()``; equals :data:`FORMAT_VERSION`
``l_max``              int64     ``()``; every l1, l2, L <= l_max
``block_offsets``      int64     ``((l_max+1)**3 + 1,)``; entries of block
                                 ``b = block_index(l1, l2, L, l_max)`` are
                                 ``offsets[b]:offsets[b+1]`` (empty if the
                                 triangle rule fails)
``m1_index``           int32     ``(nnz,)``; ``m1 + l1`` in ``0..2*l1``
``m2_index``           int32     ``(nnz,)``; ``m2 + l2`` in ``0..2*l2``
``M_index``            int32     ``(nnz,)``; ``M + L`` in ``0..2*L``
``values``             float64   ``(nnz,)``; C^{l1 l2 L}[m1, m2, M], never 0
``sympy_version``      uint8     ASCII bytes of the sympy version used
``generator_sha256``   uint8     ``(32,)``; sha256 of the generator source
``content_sha256``     uint8     ``(32,)``; :func:`content_digest` of the arrays
=====================  ========  ===============================================

Block order is ``[(l1, l2, L) for l1 in range(l_max+1) for l2 in range(l_max+1)
for L in range(l_max+1)]`` (flat ``block_index = (l1*(l_max+1) + l2)*(l_max+1) + L``);
inside a block, entries are sorted by ``(m1, m2, M)`` and only non-zero
coefficients are stored.
"""

import hashlib
import io
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1

#: the numeric data arrays covered by ``content_sha256``, in digest order, with dtypes
DATA_KEYS = (
    ("format_version", np.dtype("<i8")),
    ("l_max", np.dtype("<i8")),
    ("block_offsets", np.dtype("<i8")),
    ("m1_index", np.dtype("<i4")),
    ("m2_index", np.dtype("<i4")),
    ("M_index", np.dtype("<i4")),
    ("values", np.dtype("<f8")),
)
#: provenance arrays (uint8)
META_KEYS = ("sympy_version", "generator_sha256", "content_sha256")
ALL_KEYS = tuple(k for k, _ in DATA_KEYS) + META_KEYS


def block_index(l1, l2, L, l_max):
    """Flat block number of (l1, l2, L): ``(l1*(l_max+1) + l2)*(l_max+1) + L``."""
    n = l_max + 1
    return (l1 * n + l2) * n + L


def triangle(l1, l2, L):
    """True if (l1, l2, L) satisfies ``|l1 - l2| <= L <= l1 + l2``."""
    return abs(l1 - l2) <= L <= l1 + l2


def content_digest(arrays):
    """sha256 over the data arrays (:data:`DATA_KEYS` order, little-endian bytes)."""
    h = hashlib.sha256()
    for key, dtype in DATA_KEYS:
        arr = np.ascontiguousarray(arrays[key], dtype=dtype)
        h.update(key.encode("ascii"))
        h.update(repr(arr.shape).encode("ascii"))
        h.update(arr.tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def write_npz_deterministic(arrays, path):
    """Write ``arrays`` as a compressed ``.npz`` byte-identically and atomically.

    Members are written in :data:`ALL_KEYS` order with a fixed zip timestamp, so
    the same arrays always give the same file bytes.  The archive goes to a
    temporary file in the destination directory first, then ``os.replace``
    moves it onto ``path``; a failure leaves any existing ``path`` untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".rstref-table-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for key in ALL_KEYS:
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
                    info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, buf.getvalue(), compresslevel=9)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
