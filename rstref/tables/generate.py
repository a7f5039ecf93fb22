"""Exact derivation of the real Clebsch-Gordan table with sympy (docs/conventions.md).

Run ``python -m rstref.tables.generate --l-max 10 [--out PATH] [--workers 2]``.

Derivation, per block (l1, l2, L):

1. Complex Condon-Shortley coefficients ``<l1 mu1 l2 mu2 | L mu>`` exactly from
   ``sympy.physics.wigner.clebsch_gordan`` (square roots of rationals).
2. The exact unitary ``U^l`` with ``Y_real = U^l Y_complex`` for sympy's
   Condon-Shortley complex harmonics ``Ynm`` and rstref's real harmonics
   (docs/conventions.md, no Condon-Shortley sign left, Y_{1,-1} ~ y, Y_{1,0} ~ z,
   Y_{1,1} ~ x), see :func:`complex_to_real`.
3. The phase rule (the one e3nn >= 0.5 uses, see below)::

       C[m1, m2, M] = i**(l1 + l2 - L) * sum_{mu1, mu2, mu}
                      U^{l1}[m1, mu1] U^{l2}[m2, mu2] conj(U^L[M, mu]) <l1 mu1 l2 mu2 | L mu>

   Every entry is expanded exactly; its imaginary part must be *exactly* zero
   (sympy writes sums of rational multiples of square roots of square-free
   integers canonically, and those square roots are linearly independent over
   the rationals, so a structurally non-zero imaginary part is a real error and
   raises).  The real part is evaluated to 40 significant digits and rounded to
   the nearest float64 through its decimal string.

Why this phase is e3nn's: since e3nn 0.5 (PR e3nn/e3nn#341) ``o3.wigner_3j`` is
``normalize(Re[einsum(Q1, Q2, conj(Q3), CG)])`` with
``Q^l = (-i)**l (U^l)^dagger`` (the Wikipedia real basis, which is U above) and
the same Racah-formula Condon-Shortley CG.  Substituting gives
``(-i)**(l1+l2-L) * conj(T)`` with ``T`` the sum above, which equals
``i**(l1+l2-L) * T`` because that product is real; the Frobenius norm of our C is
sqrt(2L+1), so ``C = sqrt(2L+1) * e3nn.o3.wigner_3j(l1, l2, L)`` entry by entry,
signs included.  (Before 0.5, e3nn fixed the sign differently, from a numerical
null space; that older convention is not the one reproduced here.)

A consequence used by :func:`rstref.coupling.gaunt`: for l1 + l2 + L even the
entry ``C[0, 0, 0]`` (m1 = m2 = M = 0) equals ``|<l1 0 l2 0 | L 0>| >= 0``.
"""

import argparse
import hashlib
import os
import sys
import time

import numpy as np

from rstref.tables import CLEBSCH_GORDAN_FILE
from rstref.tables._format import (
    FORMAT_VERSION,
    block_index,
    content_digest,
    triangle,
    write_npz_deterministic,
)

#: significant decimal digits of the intermediate evaluation before rounding to float64
DIGITS = 40


def generator_digest():
    """sha256 of this module's source followed by the format module's source (32 uint8)."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for name in ("generate.py", "_format.py"):
        with open(os.path.join(here, name), "rb") as fh:
            h.update(fh.read())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def complex_to_real(l):
    """Exact unitary ``U^l`` with ``Y_real[m] = sum_mu U[m, mu] Y_complex[mu]``.

    Returns a dict ``{(m, mu): sympy number}`` of the non-zero entries.  With
    sympy's Condon-Shortley ``Ynm`` (``Y_l^{-m} = (-1)^m conj(Y_l^m)``):

    * m > 0: ``Y_lm = ((-1)^m Y_l^m + Y_l^{-m}) / sqrt(2) = sqrt(2) (-1)^m Re Y_l^m``
    * m = 0: ``Y_l0 = Y_l^0``
    * m < 0: ``Y_lm = i (Y_l^{m} - (-1)^|m| Y_l^{|m|}) / sqrt(2) = sqrt(2) (-1)^|m| Im Y_l^|m|``

    so Y_{1,1} = +sqrt(3/4pi) x and Y_{1,-1} = +sqrt(3/4pi) y (docs/conventions.md).
    """
    import sympy as sp

    r = 1 / sp.sqrt(2)
    u = {(0, 0): sp.Integer(1)}
    for a in range(1, l + 1):
        sign = sp.Integer(-1) ** a
        u[(a, a)] = sign * r
        u[(a, -a)] = r
        u[(-a, -a)] = sp.I * r
        u[(-a, a)] = -sp.I * sign * r
    return u


def complex_block(l1, l2, L):
    """Non-zero exact ``<l1 mu1 l2 mu2 | L mu1+mu2>`` as ``{(mu1, mu2): value}``."""
    from sympy.physics.wigner import clebsch_gordan

    out = {}
    for mu1 in range(-l1, l1 + 1):
        for mu2 in range(-l2, l2 + 1):
            if abs(mu1 + mu2) <= L:
                value = clebsch_gordan(l1, l2, L, mu1, mu2, mu1 + mu2)
                if value != 0:
                    out[(mu1, mu2)] = value
    return out


def block_phase(l1, l2, L):
    """The phase ``i**(l1 + l2 - L)`` that makes block (l1, l2, L) real (e3nn's choice)."""
    import sympy as sp

    return sp.I ** (l1 + l2 - L)


def exact_real_block(l1, l2, L):
    """Exact real C^{l1 l2 L} as a sorted list of ``((m1, m2, M), sympy value)``.

    Only non-zero entries are listed, sorted by (m1, m2, M).  Raises
    ``ArithmeticError`` if an imaginary part is not exactly zero or a value is
    not an exact number.
    """
    import sympy as sp

    if not triangle(l1, l2, L):
        return []
    u1, u2, u3 = complex_to_real(l1), complex_to_real(l2), complex_to_real(L)
    cg = complex_block(l1, l2, L)
    phase = block_phase(l1, l2, L)
    entries = []
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            # U[m, mu] is non-zero only for mu = +-m, so M = mu1 + mu2 up to sign
            candidates = sorted({abs(m1 + m2), abs(m1 - m2)})
            for M_abs in candidates:
                if M_abs > L:
                    continue
                for M in sorted({-M_abs, M_abs}):
                    total = sp.Integer(0)
                    for mu1 in sorted({-m1, m1}):
                        for mu2 in sorted({-m2, m2}):
                            mu = mu1 + mu2
                            if abs(mu) != M_abs or (mu1, mu2) not in cg:
                                continue
                            total += u1[(m1, mu1)] * u2[(m2, mu2)] * sp.conjugate(u3[(M, mu)]) * cg[(mu1, mu2)]
                    value = sp.expand(phase * total)
                    if value == 0:
                        continue
                    re, im = value.as_real_imag()
                    if im != 0:
                        raise ArithmeticError(
                            f"C^({l1},{l2},{L})[{m1},{m2},{M}] = {value} is not real: the phase rule failed"
                        )
                    if not re.is_number or re.atoms(sp.Float):
                        raise ArithmeticError(f"C^({l1},{l2},{L})[{m1},{m2},{M}] = {re} is not exact")
                    entries.append(((m1, m2, M), re))
    entries.sort(key=lambda e: e[0])
    return entries


def to_float64(value):
    """Round an exact sympy number to the nearest float64 via a 40-digit decimal string."""
    import sympy as sp

    return float(str(sp.N(value, DIGITS)))


def real_block(l1, l2, L):
    """Real C^{l1 l2 L} as sparse arrays ``(m1_index, m2_index, M_index, values)``.

    Indices are ``m + l`` (int32), values float64, sorted by (m1, m2, M); only
    non-zero entries are returned.
    """
    entries = exact_real_block(l1, l2, L)
    m1 = np.array([e[0][0] + l1 for e in entries], dtype=np.int32)
    m2 = np.array([e[0][1] + l2 for e in entries], dtype=np.int32)
    M = np.array([e[0][2] + L for e in entries], dtype=np.int32)
    values = np.array([to_float64(e[1]) for e in entries], dtype=np.float64)
    return m1, m2, M, values


def table_triples(l_max):
    """All stored blocks in file order: ``[(l1, l2, L) for l1 in range(l_max+1) for l2 in
    range(l_max+1) for L in range(l_max+1) if abs(l1-l2) <= L <= l1+l2]``."""
    n = l_max + 1
    return [(l1, l2, L) for l1 in range(n) for l2 in range(n) for L in range(n) if triangle(l1, l2, L)]


def _real_block_star(triple):
    return real_block(*triple)


#: what a user must do when worker processes cannot start (see :func:`_derive_in_pool`)
SPAWN_HINT = (
    "worker processes for the derivation could not start. With workers > 1, rstref uses the "
    "'spawn' start method, which re-imports the calling script in every worker: a script "
    "that calls generate_table/build_table at top level must guard the call with "
    "`if __name__ == \"__main__\":` (see the multiprocessing docs, 'Safe importing of main "
    "module'), or pass workers=1"
)


def _derive_in_pool(triples, workers):
    """Blocks of ``triples`` derived by ``workers`` spawned processes, in ``triples`` order.

    A ``concurrent.futures`` pool (not ``multiprocessing.Pool``): when workers die while
    starting, e.g. because an unguarded script re-runs this call in them, the pool is
    marked broken and this raises ``RuntimeError`` with :data:`SPAWN_HINT` instead of
    respawning workers forever.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if multiprocessing.parent_process() is not None and getattr(
        multiprocessing.current_process(), "_inheriting", False
    ):
        raise RuntimeError(SPAWN_HINT)  # we are a worker re-importing an unguarded script
    # the largest blocks go first so the pool stays busy to the end
    order = sorted(range(len(triples)), key=lambda i: -sum(triples[i]))
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            computed = list(pool.map(_real_block_star, [triples[i] for i in order], chunksize=1))
    except BrokenProcessPool as exc:
        raise RuntimeError(SPAWN_HINT) from exc
    blocks = [None] * len(triples)
    for i, block in zip(order, computed):
        blocks[i] = block
    return blocks


def build_table(l_max, workers=1):
    """Derive every block up to ``l_max`` and return the table as a dict of arrays.

    ``workers > 1`` spreads the blocks over a pool of spawned processes; the result
    does not depend on it (blocks are exact and assembled in file order).  Called
    from a script, that call must sit under ``if __name__ == "__main__":``;
    otherwise it raises ``RuntimeError`` (never hangs).
    """
    import sympy

    l_max = int(l_max)
    if l_max < 0:
        raise ValueError(f"l_max must be >= 0, got {l_max}")
    triples = table_triples(l_max)
    if workers > 1:
        blocks = _derive_in_pool(triples, workers)
    else:
        blocks = [real_block(*t) for t in triples]

    n_blocks = (l_max + 1) ** 3
    counts = np.zeros(n_blocks, dtype=np.int64)
    for (l1, l2, L), block in zip(triples, blocks):
        counts[block_index(l1, l2, L, l_max)] = len(block[3])
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    empty = np.zeros(0, dtype=np.int32)
    arrays = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "l_max": np.array(l_max, dtype=np.int64),
        "block_offsets": offsets,
        "m1_index": np.concatenate([b[0] for b in blocks] + [empty]),
        "m2_index": np.concatenate([b[1] for b in blocks] + [empty]),
        "M_index": np.concatenate([b[2] for b in blocks] + [empty]),
        "values": np.concatenate([b[3] for b in blocks] + [np.zeros(0)]),
        "sympy_version": np.frombuffer(sympy.__version__.encode("ascii"), dtype=np.uint8).copy(),
        "generator_sha256": generator_digest(),
    }
    arrays["content_sha256"] = content_digest(arrays)
    return arrays


def default_path():
    """Path of the shipped table inside the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), CLEBSCH_GORDAN_FILE)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m rstref.tables.generate",
        description="Derive the real Clebsch-Gordan table exactly with sympy and write it as .npz.",
    )
    parser.add_argument("--l-max", type=int, required=True, help="largest l1, l2, L in the table")
    parser.add_argument("--out", default=None, help=f"output path (default: the shipped {CLEBSCH_GORDAN_FILE})")
    parser.add_argument("--workers", type=int, default=1, help="processes used for the derivation")
    args = parser.parse_args(argv)
    out = args.out or default_path()
    if args.out is None and args.l_max != 10:
        parser.error("--out is required unless --l-max is 10 (the shipped table)")
    t0 = time.perf_counter()
    arrays = build_table(args.l_max, workers=args.workers)
    elapsed = time.perf_counter() - t0
    write_npz_deterministic(arrays, out)
    print(
        f"wrote {out}: l_max={args.l_max}, {len(table_triples(args.l_max))} blocks, "
        f"{arrays['values'].size} non-zero entries, {os.path.getsize(out)} bytes, "
        f"derived in {elapsed:.1f} s with {args.workers} worker(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
