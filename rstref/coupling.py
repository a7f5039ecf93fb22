"""Real Clebsch-Gordan coefficients, Wigner 3j symbols and real Gaunt coefficients (docs/conventions.md).

Convention
----------
``C = clebsch_gordan(l1, l2, L)`` has shape ``(2*l1+1, 2*l2+1, 2*L+1)`` and is indexed
by ``[m1 + l1, m2 + l2, M + L]`` in rstref's real basis (docs/conventions.md; the same index
order serves ``convention='e3nn'``).  It is

* orthonormal: ``sum_{m1,m2} C[m1,m2,M] C[m1,m2,M'] = delta_{MM'}`` and
  ``sum_{L,M} C^{l1 l2 L}[m1,m2,M] C^{l1 l2 L}[m1',m2',M] = delta delta``;
* equivariant: ``einsum('ijM,ia,jb->abM', C, D1, D2) == einsum('MK,abK->abM', DL, C)``
  for every rotation (``D1, D2, DL = wigner_D(l1, R), wigner_D(l2, R), wigner_D(L, R)``),
  i.e. ``out[M] = sum C[m1,m2,M] a[m1] b[m2]`` maps blocks rotating with D1, D2
  to a block rotating with DL;
* equal to ``sqrt(2L+1) * e3nn.o3.wigner_3j(l1, l2, L)`` (e3nn >= 0.5) entry by
  entry, signs included.

It is derived exactly with sympy by :mod:`rstref.tables.generate` (complex
Condon-Shortley CG, exact unitary change to the real basis, phase ``i**(l1+l2-L)``)
and shipped for l1, l2, L <= 10.  Higher l: :func:`generate_table` writes a table
to a path you name; pass ``table=load_table(path)`` to the functions here.

Gaunt coefficients follow from C without further sympy:
``integral Y_{l1m1} Y_{l2m2} Y_{l3m3} dOmega =
sqrt((2l1+1)(2l2+1) / (4 pi (2l3+1))) * C^{l1 l2 l3}[0,0,0] * C^{l1 l2 l3}[m1,m2,m3]``
where ``C[0,0,0]`` (m1 = m2 = m3 = 0) equals ``|<l1 0 l2 0|l3 0>|``, so the product
of two real harmonics is a non-negative multiple of C applied to ``Y_{l3}``.
"""

import math
import os
import threading

import numpy as np

from rstref._checks import check_int
from rstref.layouts import coupling_block_index
from rstref.tables import CLEBSCH_GORDAN_FILE
from rstref.tables._format import triangle
from rstref.tables._load import L_MAX_LIMIT as _L_MAX_LIMIT
from rstref.tables._load import CouplingTableError, check_against_reference, check_table_arrays, read_table_arrays
from rstref.tables._load import check_structure as _check_structure  # noqa: F401 (tests scan arrays with it)

__all__ = [
    "CouplingTable",
    "CouplingTableError",
    "clebsch_gordan",
    "wigner_3j",
    "gaunt",
    "load_table",
    "generate_table",
    "shipped_table_path",
]

#: content_sha256 of the shipped table (regeneration is bit-identical), pinned here so
#: that an installed table edited consistently (a coefficient changed and the hash
#: inside the file recomputed) is refused: loading the shipped path accepts this hash
#: only.  Every table, this one included, is also checked for its selection rules,
#: sign convention and orthonormality on load, and any other table must agree with
#: this one bit for bit on the blocks both hold.
SHIPPED_CONTENT_SHA256 = "9cb47e8e2c5bcf0dad5cfe7599cdd93feb9a8fac74370f51eae1791acbd14323"



def shipped_table_path():
    """Absolute path of the table shipped inside the package (l <= 10)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "tables", CLEBSCH_GORDAN_FILE)


class CouplingTable:
    """A validated, read-only real Clebsch-Gordan table (see :mod:`rstref.tables._format`).

    Attributes
    ----------
    l_max : int
        Every l1, l2, L <= l_max is available.
    block_offsets : ndarray of int64, shape ((l_max+1)**3 + 1,)
        Entries of block ``b = block_index(l1, l2, L)`` are ``block_offsets[b]:block_offsets[b+1]``.
    m1_index, m2_index, M_index : ndarray of int32, shape (size,)
        ``m1 + l1``, ``m2 + l2``, ``M + L`` of each stored (non-zero) coefficient.
    values : ndarray of float64, shape (size,)
        The coefficients C^{l1 l2 L}[m1, m2, M].
    sympy_version, generator_sha256, content_sha256 : str
        Provenance recorded by the generator (hashes as hex).
    path : str
        File the table was read from.

    All arrays are read-only (backed by immutable bytes: ``setflags(write=True)``
    raises) and the attributes cannot be rebound, so no caller can change what later
    calls return.  Entry order is
    ``[(l1, l2, L, m1, m2, M) for l1 in range(l_max+1) for l2 in range(l_max+1)
    for L in range(l_max+1) for m1 in range(-l1, l1+1) for m2 in range(-l2, l2+1)
    for M in range(-L, L+1) if C^{l1 l2 L}[m1, m2, M] != 0]``.
    """

    def __init__(self, arrays, path):
        fields = {
            "path": path,
            "l_max": int(arrays["l_max"]),
            "block_offsets": arrays["block_offsets"],
            "m1_index": arrays["m1_index"],
            "m2_index": arrays["m2_index"],
            "M_index": arrays["M_index"],
            "values": arrays["values"],
            "sympy_version": bytes(arrays["sympy_version"]).decode("ascii"),
            "generator_sha256": bytes(arrays["generator_sha256"]).hex(),
            "content_sha256": bytes(arrays["content_sha256"]).hex(),
        }
        for name, value in fields.items():
            if isinstance(value, np.ndarray) and value.flags.writeable:
                raise ValueError(f"CouplingTable array {name!r} must be read-only")
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"CouplingTable is immutable: cannot set {name!r} (load another table instead)")

    def __delattr__(self, name):
        raise AttributeError(f"CouplingTable is immutable: cannot delete {name!r}")

    def __repr__(self):
        return (
            f"CouplingTable(l_max={self.l_max}, size={self.size}, path={self.path!r}, "
            f"sympy_version={self.sympy_version!r})"
        )

    @property
    def size(self):
        """Number of stored (non-zero) coefficients."""
        return int(self.values.size)

    def block_index(self, l1, l2, L):
        """Flat block number ``(l1*(l_max+1) + l2)*(l_max+1) + L`` (:func:`rstref.layouts.coupling_block_index`)."""
        return coupling_block_index(l1, l2, L, self.l_max)

    def block_slice(self, l1, l2, L):
        """``slice`` of block (l1, l2, L) in the entry arrays (empty if not a triangle)."""
        b = self.block_index(l1, l2, L)
        return slice(int(self.block_offsets[b]), int(self.block_offsets[b + 1]))

    def block_range(self, l1, l2, L):
        """``(start, stop)`` of :meth:`block_slice` (kept for existing callers; prefer block_slice)."""
        block = self.block_slice(l1, l2, L)
        return block.start, block.stop

    def kernel_arrays(self):
        """``(block_offsets, m1_index, m2_index, M_index, values, l_max)`` for :mod:`rstref._kernels.coupling`."""
        return self.block_offsets, self.m1_index, self.m2_index, self.M_index, self.values, self.l_max

    def dense(self, l1, l2, L):
        """Dense copy of C^{l1 l2 L}, shape (2*l1+1, 2*l2+1, 2*L+1) (no argument checks)."""
        block = self.block_slice(l1, l2, L)
        out = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * L + 1))
        out[self.m1_index[block], self.m2_index[block], self.M_index[block]] = self.values[block]
        return out


# --------------------------------------------------------------------------- loading

_cache = {}
_cache_lock = threading.Lock()


def _is_shipped(real):
    try:
        return os.path.samefile(real, shipped_table_path())
    except OSError:
        return False


def _load_validated(path, real, reference):
    """Read, check and wrap the table at ``real`` (shown to the user as ``path``)."""
    arrays, st = read_table_arrays(real, path)
    pinned = SHIPPED_CONTENT_SHA256 if reference is None else None
    digest = check_table_arrays(arrays, path, pinned_sha256=pinned)
    if reference is not None and digest != SHIPPED_CONTENT_SHA256:
        check_against_reference(arrays, path, int(arrays["l_max"]), reference)
    return CouplingTable(arrays, real), st


def load_table(path=None):
    """Load and validate a Clebsch-Gordan table; cached, arrays read-only.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A file written by :func:`generate_table` (or ``python -m rstref.tables.generate``).
        Default: the table shipped with rstref (l <= 10).

    Returns
    -------
    CouplingTable

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CouplingTableError
        (a ``ValueError``) if ``path`` is not a regular file (a FIFO, device or
        directory is refused before it is opened, so nothing blocks), is not a zip
        of ``.npy`` arrays, declares a member larger than a table of its ``l_max``
        can need (refused from the zip directory, before decompressing), contains
        object arrays (never unpickled), misses or adds arrays, has the wrong format
        version, dtypes or shapes, fails its content hash, is the shipped file but
        its hash is not the one pinned in rstref, breaks the selection rules, sign
        convention or orthonormality of a CG table, or differs from the shipped
        table on the blocks both hold.  A file that loads gives the derived numbers.

    Notes
    -----
    Loading and checking the shipped table takes about 15 ms, once per process
    (cached by path, modification time and size).
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a table file, got {type(path).__name__}")
    path = shipped_table_path() if path is None else os.fspath(path)
    real = os.path.realpath(path)
    reference = None if _is_shipped(real) else load_table()
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None  # read_table_arrays raises the explanatory FileNotFoundError
    key = None if st is None else (real, st.st_mtime_ns, st.st_size)
    with _cache_lock:
        table = _cache.get(key)
        if table is None:
            table, st = _load_validated(path, real, reference)
            _cache[(real, st.st_mtime_ns, st.st_size)] = table
    return table


def generate_table(l_max, path, workers=1):
    """Derive a table up to ``l_max`` with sympy and write it to ``path`` (atomically).

    This is the only way rstref writes a table: nothing is generated on first use.
    The file is written to a temporary file next to ``path`` and renamed onto it.
    Derivation time grows roughly like l_max**6 (about 45 s for l_max = 10 with two
    workers); requires sympy (``pip install 'rstref[generate]'``).

    Parameters
    ----------
    l_max : int
        Largest l1, l2, L in the table (>= 0).
    path : str or os.PathLike
        Destination file (conventionally ``*.npz``); its directory must exist.
    workers : int
        Processes used for the derivation (the result does not depend on it).  With
        ``workers > 1`` they are spawned, which re-imports the calling script: call
        this from a script only under ``if __name__ == "__main__":``.  Without the
        guard the workers cannot start and a ``RuntimeError`` says so (no hang).

    Returns
    -------
    CouplingTable
        The new table, loaded and validated from ``path``.
    """
    l_max = check_int(l_max, "l_max", low=0, high=_L_MAX_LIMIT)
    workers = check_int(workers, "workers", low=1)
    if path is None:
        raise TypeError("path must name the file to write; rstref never picks one silently")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory} of path does not exist")
    try:
        from rstref.tables._format import write_npz_deterministic
        from rstref.tables.generate import build_table
    except ImportError as exc:  # pragma: no cover - sympy is a test dependency
        raise ImportError("generate_table needs sympy: pip install 'rstref[generate]'") from exc
    write_npz_deterministic(build_table(l_max, workers=workers), path)
    return load_table(path)


# --------------------------------------------------------------------------- public values


def _get_table(table):
    if table is None:
        return load_table()
    if isinstance(table, CouplingTable):
        return table
    raise TypeError(f"table must be a CouplingTable from rstref.coupling.load_table, got {type(table).__name__}")


def _check_triple(l1, l2, l3, names, table):
    l1 = check_int(l1, names[0], low=0)
    l2 = check_int(l2, names[1], low=0)
    l3 = check_int(l3, names[2], low=0)
    if not triangle(l1, l2, l3):
        raise ValueError(
            f"({names[0]}, {names[1]}, {names[2]}) = ({l1}, {l2}, {l3}) violates the triangle rule "
            f"|{names[0]} - {names[1]}| <= {names[2]} <= {names[0]} + {names[1]}"
        )
    biggest = max(l1, l2, l3)
    if biggest > table.l_max:
        raise ValueError(
            f"l = {biggest} exceeds l_max = {table.l_max} of the Clebsch-Gordan table {table.path}. "
            "Generate a bigger table once with rstref.coupling.generate_table(l_max, 'cg_big.npz') "
            "(or `python -m rstref.tables.generate --l-max N --out cg_big.npz`) and pass "
            "table=rstref.coupling.load_table('cg_big.npz')."
        )
    return l1, l2, l3


def clebsch_gordan(l1, l2, L, table=None):
    """Real Clebsch-Gordan coefficients C^{l1 l2 L}, a dense copy.

    Parameters
    ----------
    l1, l2, L : int
        Degrees with ``|l1 - l2| <= L <= l1 + l2`` and all <= ``table.l_max``.
    table : CouplingTable, optional
        From :func:`load_table`; default the shipped table (l <= 10).

    Returns
    -------
    ndarray, shape (2*l1+1, 2*l2+1, 2*L+1)
        ``C[m1+l1, m2+l2, M+L]``; orthonormal in (m1, m2) <-> (L, M), equivariant,
        ``== sqrt(2L+1) * e3nn.o3.wigner_3j(l1, l2, L)``.
    """
    table = _get_table(table)
    l1, l2, L = _check_triple(l1, l2, L, ("l1", "l2", "L"), table)
    return table.dense(l1, l2, L)


def wigner_3j(l1, l2, l3, table=None):
    """Real Wigner 3j symbol in e3nn's normalisation (Frobenius norm 1).

    ``wigner_3j(l1, l2, l3) == clebsch_gordan(l1, l2, l3) / sqrt(2*l3+1)``, equal
    to ``e3nn.o3.wigner_3j(l1, l2, l3)`` (e3nn >= 0.5) including signs.

    Returns
    -------
    ndarray, shape (2*l1+1, 2*l2+1, 2*l3+1)
    """
    table = _get_table(table)
    l1, l2, l3 = _check_triple(l1, l2, l3, ("l1", "l2", "l3"), table)
    return table.dense(l1, l2, l3) / math.sqrt(2 * l3 + 1)


def gaunt(l1, l2, l3, table=None):
    """Real Gaunt coefficients: integrals of three real spherical harmonics.

    ``G[m1+l1, m2+l2, m3+l3] = integral over the unit sphere of
    Y_{l1 m1} Y_{l2 m2} Y_{l3 m3} dOmega`` with rstref's real harmonics in
    'integral' normalisation (docs/conventions.md).  Computed as
    ``sqrt((2l1+1)(2l2+1)/(4 pi (2l3+1))) * C000 * C`` with ``C = clebsch_gordan(l1, l2, l3)``
    and ``C000 = C[l1, l2, l3] = |<l1 0 l2 0|l3 0>|`` (zero when l1+l2+l3 is odd).

    Returns
    -------
    ndarray, shape (2*l1+1, 2*l2+1, 2*l3+1)
        Fully symmetric under permutation of the three (l, m) pairs.
    """
    table = _get_table(table)
    l1, l2, l3 = _check_triple(l1, l2, l3, ("l1", "l2", "l3"), table)
    C = table.dense(l1, l2, l3)
    if (l1 + l2 + l3) % 2:
        return np.zeros_like(C)
    factor = math.sqrt((2 * l1 + 1) * (2 * l2 + 1) / (4 * math.pi * (2 * l3 + 1))) * C[l1, l2, l3]
    return factor * C
