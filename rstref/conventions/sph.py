"""Named conventions for real and complex spherical harmonics, as exact per-l maps.

Every convention is a linear map on each degree-l block of rstref's standard real
harmonics in 'integral' normalisation (README "Real spherical harmonics")::

    Y_conv[..., block l] = Y_standard[..., block l] @ block_matrix(l, conv, norm).T

so that, for row-vectors of shape (2l+1,), ``Y_conv_l(r) = M_l Y_std_l(r)``.  The maps are

``'standard'`` (aliases ``'rstref'``, ``'sphericart'``, ``'featomic'``)
    rstref's real harmonics: polar axis z, no Condon-Shortley phase,
    ``Y_{1,-1} ∝ y, Y_{1,0} ∝ z, Y_{1,1} ∝ x``.  M_l = I.
``'e3nn'``
    e3nn's ``o3.spherical_harmonics``: the standard functions at the permuted point
    (z, x, y), i.e. ``M_l = D^l(P)`` with ``P r = (z, x, y)`` (a proper rotation), the
    real Wigner matrix of that permutation.  Orthogonal, not a signed permutation for l >= 2.
``'real-cs'``
    ``(-1)^m`` times the standard functions (the Condon-Shortley sign kept in the real form;
    the basis documented for sympy's ``real_gaunt``).
``'sympy-znm'``
    sympy's ``Znm``: ``(-1)^m`` times the standard functions for m >= 0, ``-1`` times them
    for m < 0.
``'scipy-complex'``
    complex harmonics with the Condon-Shortley phase, as ``scipy.special.sph_harm_y``:
    ``M_l = U^H`` with the unitary ``U`` of ``Y_real = U Y_complex`` (:func:`real_from_complex`).
``'complex-no-cs'``
    complex harmonics without the Condon-Shortley phase: ``(-1)^m`` times the
    'scipy-complex' functions for m > 0, equal for m <= 0.

Normalisations are per-l scales of the 'integral' functions: ``'integral'`` 1,
``'component'`` sqrt(4 pi), ``'norm'`` sqrt(4 pi / (2l+1)).  m orders (the order of the
2l+1 entries inside a block, applied last): ``'ascending'`` (m = -l..l, rstref's),
``'descending'`` (m = l..-l) and ``'zero-first'`` (m = 0, 1, -1, 2, -2, ...).

Sources: 'standard' and 'e3nn' are rstref's own conventions (checked against sphericart
2.0.4 and e3nn 0.6.0 in validation/RESULTS.md); 'scipy-complex' is verified against the
installed ``scipy.special.sph_harm_y`` in the tests; featomic's own reference-data
generator builds exactly this real form from scipy's complex harmonics (read, not run;
featomic was not installed), so 'featomic' is an alias of 'standard'.  dscribe's and
QUIP's conventions are not included (not pinned down).  See docs/conventions.md.
"""

import functools
import math

import numpy as np

from rstref._checks import as_float_array, check_choice, check_int

#: convention name -> (canonical name, kind, how it was pinned down)
SPH_CONVENTIONS = {
    "standard": ("standard", "real", "rstref's definition; equal to sphericart 2.0.4 (validation/)"),
    "rstref": ("standard", "real", "alias of 'standard'"),
    "sphericart": ("standard", "real", "alias of 'standard'; verified against sphericart 2.0.4 (validation/)"),
    "featomic": ("standard", "real",
                 "alias of 'standard': the real form of featomic's reference-data generator (code read, not run)"),
    "e3nn": ("e3nn", "real", "standard at (z, x, y); verified against e3nn 0.6.0 (validation/)"),
    "real-cs": ("real-cs", "real", "(-1)^m x 'standard' (the real basis documented for sympy's real_gaunt)"),
    "sympy-znm": ("sympy-znm", "real", "sympy's Znm: (-1)^m x 'standard' for m >= 0, -1 x for m < 0 "
                  "(verified against sympy in the tests)"),
    "scipy-complex": ("scipy-complex", "complex",
                      "Condon-Shortley complex; verified against scipy.special.sph_harm_y (tests)"),
    "complex-no-cs": ("complex-no-cs", "complex", "(-1)^m x 'scipy-complex' for m > 0 (definition)"),
}
CANONICAL_CONVENTIONS = ("standard", "e3nn", "real-cs", "sympy-znm", "scipy-complex", "complex-no-cs")
NORMALIZATIONS = ("integral", "component", "norm")
M_ORDERS = ("ascending", "descending", "zero-first")

#: P @ (x, y, z) == (z, x, y): e3nn's axis permutation (det +1)
E3NN_PERMUTATION = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def canonical(convention, name="convention"):
    """The canonical name of a spherical-harmonics convention (aliases resolved)."""
    convention = check_choice(convention, name, tuple(SPH_CONVENTIONS))
    return SPH_CONVENTIONS[convention][0]


def is_complex(convention):
    """True for the complex conventions ('scipy-complex', 'complex-no-cs')."""
    return SPH_CONVENTIONS[canonical(convention)][1] == "complex"


def normalization_scale(l, normalization):
    """Factor turning 'integral' harmonics of degree l into ``normalization``."""
    normalization = check_choice(normalization, "normalization", NORMALIZATIONS)
    if normalization == "integral":
        return 1.0
    if normalization == "component":
        return math.sqrt(4 * math.pi)
    return math.sqrt(4 * math.pi / (2 * l + 1))


def real_from_complex(l):
    """Unitary U, shape (2l+1, 2l+1), with ``Y_real = U @ Y_complex`` (Condon-Shortley).

    Rows are real m = -l..l (standard real form), columns complex m = -l..l::

        m > 0:  Y_lm = ((-1)^m Y_l^m + Y_l^-m) / sqrt2
        m = 0:  Y_l0 = Y_l^0
        m < 0:  Y_lm = i (Y_l^m - (-1)^m Y_l^-m) / sqrt2      (m = -|m|)
    """
    l = check_int(l, "l", low=0)
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    s = 1 / math.sqrt(2)
    u[l, l] = 1.0
    for m in range(1, l + 1):
        sign = (-1) ** m
        u[l + m, l + m] = sign * s
        u[l + m, l - m] = s
        u[l - m, l - m] = 1j * s
        u[l - m, l + m] = -1j * sign * s
    return u


def m_order(l, order):
    """Indices ``k`` such that ``block_in_order = block_ascending[k]``, shape (2l+1,)."""
    order = check_choice(order, "m_order", M_ORDERS)
    ms = np.arange(-l, l + 1)
    if order == "descending":
        ms = ms[::-1]
    elif order == "zero-first":
        ms = np.array([0] + [s * m for m in range(1, l + 1) for s in (1, -1)], dtype=np.int64)
    return ms + l


@functools.lru_cache(maxsize=256)
def _e3nn_block(l):
    from rstref.rotations import wigner_D

    block = np.asarray(wigner_D(l, E3NN_PERMUTATION))
    # entries of D^l(P) are algebraic numbers; those that are 0 or +-1 exactly are snapped
    block = np.where(np.abs(block) < 1e-14, 0.0, block)
    block = np.where(np.abs(np.abs(block) - 1) < 1e-14, np.sign(block), block)
    block.setflags(write=False)
    return block


def _real_signs(l, convention):
    ms = np.arange(-l, l + 1)
    if convention == "real-cs":
        return (-1.0) ** np.abs(ms)
    return np.where(ms >= 0, (-1.0) ** np.abs(ms), -1.0)


def _convention_block(l, convention):
    if convention == "standard":
        return np.eye(2 * l + 1)
    if convention in ("real-cs", "sympy-znm"):
        return np.diag(_real_signs(l, convention))
    if convention == "e3nn":
        return _e3nn_block(l)
    u_h = real_from_complex(l).conj().T
    if convention == "complex-no-cs":
        signs = np.array([(-1.0) ** m if m > 0 else 1.0 for m in range(-l, l + 1)])
        u_h = signs[:, None] * u_h
    return u_h


def block_matrix(l, convention="standard", normalization="integral", order="ascending"):
    """The map M_l with ``Y_conv_l = M_l @ Y_standard_l`` ('integral' standard input).

    Parameters
    ----------
    l : int
    convention : str
        A name of :data:`SPH_CONVENTIONS`.
    normalization : {'integral', 'component', 'norm'}
    order : {'ascending', 'descending', 'zero-first'}
        m order of the rows (the convention's block layout).

    Returns
    -------
    ndarray, shape (2l+1, 2l+1)
        Real for real conventions, complex for complex ones; a scaled orthogonal
        (unitary) matrix.
    """
    l = check_int(l, "l", low=0)
    block = _convention_block(l, canonical(convention))
    block = block * normalization_scale(l, normalization)
    return block[m_order(l, order)]


def _blocks(l_max, convention, normalization, order):
    return [block_matrix(l, convention, normalization, order) for l in range(l_max + 1)]


def _check_last_axis(Y, l_max, name="Y"):
    L = (l_max + 1) ** 2
    Y = np.asarray(Y)
    if Y.ndim < 1 or Y.shape[-1] != L:
        raise ValueError(f"{name} must have a last axis of length (l_max+1)**2 = {L}, got shape {Y.shape}")
    if not (np.issubdtype(Y.dtype, np.floating) or np.issubdtype(Y.dtype, np.complexfloating)
            or np.issubdtype(Y.dtype, np.integer)):
        raise TypeError(f"{name} must be a real or complex numeric array, got dtype {Y.dtype}")
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} must be finite")
    return Y


def convert_sph(Y, l_max, source, target, source_normalization="integral",
                target_normalization="integral", source_order="ascending", target_order="ascending"):
    """Spherical-harmonics values (or derivatives) from one convention to another.

    Parameters
    ----------
    Y : array_like, shape (..., (l_max+1)**2)
        Values, gradients (n, 3, L) or Hessians (n, 3, 3, L) in the ``source``
        convention, blocks l = 0..l_max in the source m order.
    l_max : int
    source, target : str
        Names of :data:`SPH_CONVENTIONS`.
    source_normalization, target_normalization : {'integral', 'component', 'norm'}
    source_order, target_order : {'ascending', 'descending', 'zero-first'}

    Returns
    -------
    ndarray, same shape as ``Y``
        Real when the target is a real convention (the imaginary part must be at
        round-off level, else ValueError), complex otherwise.
    """
    l_max = check_int(l_max, "l_max", low=0)
    Y = _check_last_axis(Y, l_max)
    src = _blocks(l_max, source, source_normalization, source_order)
    dst = _blocks(l_max, target, target_normalization, target_order)
    out = np.empty(Y.shape, dtype=complex if (np.iscomplexobj(Y) or is_complex(target)) else float)
    for l in range(l_max + 1):
        A = dst[l] @ np.linalg.inv(src[l])
        out[..., l * l:(l + 1) ** 2] = Y[..., l * l:(l + 1) ** 2] @ A.T
    if not is_complex(target):
        out = _real_part(out, "Y")
    return out


def _real_part(values, name):
    """The real part, refusing an imaginary part above round-off (never dropped silently)."""
    if np.iscomplexobj(values):
        scale = max(float(np.abs(values).max(initial=0.0)), 1e-300)
        imag = float(np.abs(values.imag).max(initial=0.0))
        if imag > 1e-10 * scale:
            raise ValueError(f"{name} in a real target convention has an imaginary part {imag:.3g} (relative "
                             f"{imag / scale:.3g}): the input is not the complex form of real harmonics")
    return np.real(values).copy()


def convert_wigner_D(D, l, source, target, source_order="ascending", target_order="ascending"):
    """A Wigner matrix of degree l from one convention's basis to another's.

    With ``Y_t = A Y_s`` (``A = M_t M_s^-1``), ``Y_s(R r) = D_s Y_s(r)`` becomes
    ``Y_t(R r) = A D_s A^-1 Y_t(r)``.  Normalisations cancel.

    Parameters
    ----------
    D : array_like, shape (2l+1, 2l+1)
    l : int
    source, target : str

    Returns
    -------
    ndarray, shape (2l+1, 2l+1)
    """
    l = check_int(l, "l", low=0)
    D = np.asarray(D)
    if D.shape != (2 * l + 1, 2 * l + 1):
        raise ValueError(f"D must have shape (2l+1, 2l+1) = {(2 * l + 1,) * 2}, got {D.shape}")
    A = block_matrix(l, target, order=target_order) @ np.linalg.inv(block_matrix(l, source, order=source_order))
    out = A @ D @ np.linalg.inv(A)
    return out if is_complex(target) else _real_part(out, "D")


def standard_harmonics(xyz, l_max):
    """rstref's standard 'integral' harmonics at ``xyz`` (n, 3), shape (n, (l_max+1)**2)."""
    from rstref.harmonics import spherical_harmonics

    xyz = as_float_array(xyz, "xyz", trailing_shape=(3,), ndim=2)
    return spherical_harmonics(xyz, l_max)
