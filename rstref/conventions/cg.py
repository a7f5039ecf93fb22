"""Clebsch-Gordan, 3j and Gaunt tables between conventions (per-triple exact maps).

All tables are indexed ``[m1+l1, m2+l2, M+L]`` (m ascending).  Relative to rstref's real
Clebsch-Gordan coefficients ``C = rstref.clebsch_gordan(l1, l2, L)`` (orthonormal,
README "Clebsch-Gordan tables"):

``'rstref'`` (alias ``'standard'``)
    ``C``.
``'e3nn'``
    e3nn's ``o3.wigner_3j``: ``C / sqrt(2L+1)`` (Frobenius norm 1), equal to
    ``rstref.wigner_3j`` (verified against e3nn 0.6.0 in validation/).
``'featomic'``
    featomic's real CG: ``(-1)^floor((l1+l2-L)/2) * C``.  featomic builds its real
    coefficients from the complex ones changed to the real basis and keeps the real part
    when l1+l2+L is even and the imaginary part when it is odd; rstref multiplies the
    same sum by (-i)^(l1+l2-L) instead, hence the sign.  Pinned down from featomic's
    documented construction (tested against that construction re-done with sympy's
    complex CG); featomic itself was not installed.
``'gaunt'``
    ``rstref.gaunt``: ``sqrt((2l1+1)(2l2+1)/(4 pi (2L+1))) * C000 * C`` with
    ``C000 = |<l1 0 l2 0|L 0>|``; zero when l1+l2+L is odd, where the map is not invertible.
``'complex'``
    the complex Condon-Shortley coefficients <l1 m1 l2 m2|L M> (sympy's ``CG``), from
    ``C = (-i)^(l1+l2-L) sum conj(U1) conj(U2) U3 CG`` with U of
    :func:`rstref.conventions.sph.real_from_complex`.

The real tables do not depend on the spherical-harmonics axis convention: ``C`` is
invariant under the basis change ``D^l(P)`` of any rotation P (by equivariance), so
e3nn's basis needs no extra map.
"""

import math

import numpy as np

from rstref._checks import check_choice, check_int
from rstref.conventions.sph import real_from_complex

CG_CONVENTIONS = ("rstref", "standard", "e3nn", "featomic", "gaunt", "complex")


def _canonical(name, argument):
    name = check_choice(name, argument, CG_CONVENTIONS)
    return "rstref" if name == "standard" else name


def gaunt_scale(l1, l2, L):
    """Scale s with ``gaunt(l1, l2, L) == s * clebsch_gordan(l1, l2, L)`` (0 for odd sums)."""
    from rstref.coupling import clebsch_gordan

    if (l1 + l2 + L) % 2:
        return 0.0
    c000 = abs(float(clebsch_gordan(l1, l2, L)[l1, l2, L]))
    return math.sqrt((2 * l1 + 1) * (2 * l2 + 1) / (4 * math.pi * (2 * L + 1))) * c000


def featomic_sign(l1, l2, L):
    """``(-1)^floor((l1+l2-L)/2)``: featomic's real CG over rstref's."""
    return -1.0 if ((l1 + l2 - L) // 2) % 2 else 1.0


def _complex_from_real(C, l1, l2, L):
    u1, u2, u3 = real_from_complex(l1), real_from_complex(l2), real_from_complex(L)
    phase = (1j) ** (l1 + l2 - L)
    return phase * np.einsum("ai,bj,ck,abc->ijk", u1, u2, u3.conj(), C)


def _real_from_complex(G, l1, l2, L):
    u1, u2, u3 = real_from_complex(l1), real_from_complex(l2), real_from_complex(L)
    phase = (-1j) ** (l1 + l2 - L)
    return phase * np.einsum("ai,bj,ck,ijk->abc", u1.conj(), u2.conj(), u3, G)


def _to_rstref(T, l1, l2, L, source):
    if source == "rstref":
        return np.asarray(T, dtype=float)
    if source == "e3nn":
        return np.asarray(T, dtype=float) * math.sqrt(2 * L + 1)
    if source == "featomic":
        return np.asarray(T, dtype=float) * featomic_sign(l1, l2, L)
    if source == "gaunt":
        s = gaunt_scale(l1, l2, L)
        if s == 0.0:
            raise ValueError(f"Gaunt coefficients vanish for odd l1+l2+L = {l1 + l2 + L}: "
                             "they cannot be converted to Clebsch-Gordan coefficients")
        return np.asarray(T, dtype=float) / s
    return _real_from_complex(np.asarray(T, dtype=complex), l1, l2, L).real


def _from_rstref(C, l1, l2, L, target):
    if target == "rstref":
        return C
    if target == "e3nn":
        return C / math.sqrt(2 * L + 1)
    if target == "featomic":
        return C * featomic_sign(l1, l2, L)
    if target == "gaunt":
        return C * gaunt_scale(l1, l2, L)
    return _complex_from_real(C, l1, l2, L)


def convert_cg(T, l1, l2, L, source, target):
    """A coupling table for (l1, l2, L) from one convention to another.

    Parameters
    ----------
    T : array_like, shape (2l1+1, 2l2+1, 2L+1)
        Indexed ``[m1+l1, m2+l2, M+L]``.
    l1, l2, L : int
        With ``|l1-l2| <= L <= l1+l2``.
    source, target : {'rstref', 'standard', 'e3nn', 'featomic', 'gaunt', 'complex'}

    Returns
    -------
    ndarray, shape (2l1+1, 2l2+1, 2L+1)
        Complex for the target 'complex', real otherwise.
    """
    l1, l2, L = (check_int(v, n, low=0) for v, n in ((l1, "l1"), (l2, "l2"), (L, "L")))
    if not abs(l1 - l2) <= L <= l1 + l2:
        raise ValueError(f"(l1, l2, L) = ({l1}, {l2}, {L}) violates |l1-l2| <= L <= l1+l2")
    shape = (2 * l1 + 1, 2 * l2 + 1, 2 * L + 1)
    T = np.asarray(T)
    if T.shape != shape:
        raise ValueError(f"T must have shape (2l1+1, 2l2+1, 2L+1) = {shape}, got {T.shape}")
    source = _canonical(source, "source")
    target = _canonical(target, "target")
    return _from_rstref(_to_rstref(T, l1, l2, L, source), l1, l2, L, target)
