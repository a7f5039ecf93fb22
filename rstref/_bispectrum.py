"""The bispectrum descriptor (:class:`Bispectrum`) and the one bispectrum set-up of the
package (:func:`bispectrum_kernel`).  Both are public from :mod:`rstref.invariants`.
"""

import numpy as np

from rstref._checks import check_choice
from rstref._engine import invariants as _engine
from rstref._invariant_checks import check_hessian_size, coefficients, derivatives, hessian_inputs
from rstref._invariants_base import Invariants
from rstref.layouts import BISPECTRUM_PARITIES, bispectrum_range


class Bispectrum(Invariants):
    """Bispectrum of a radial-spherical tensor from the real Clebsch-Gordan table.

    ``B[n1 l1, n2 l2, n3 l3] = sum_{m1 m2 m3} C^{l1 l2 l3}[m1, m2, m3]
    c[n1,l1,m1] c[n2,l2,m2] c[n3,l3,m3]`` with the real Clebsch-Gordan coefficients of
    :func:`rstref.coupling.clebsch_gordan` (orthonormal, ``= sqrt(2 l3 + 1) *
    e3nn.o3.wigner_3j``).  Invariant because ``C`` couples ``l1 x l2`` equivariantly
    to ``l3`` and ``D^{l3}`` is orthogonal; one CG table serves both conventions.

    Which triples are kept (:func:`bispectrum_range`), and why:

    * **Permutations.** The real 3j symbol ``W = C / sqrt(2 l3 + 1)`` is invariant under
      cyclic permutations of its columns and changes by ``(-1)^(l1+l2+l3)`` under odd
      ones, so permuting the three blocks of a triple only multiplies ``B`` by
      ``+-sqrt((2 l3' + 1) / (2 l3 + 1))``.  One ordering is kept: blocks sorted by
      ``(l, n)``, hence ``l1 <= l2 <= l3`` and the triangle rule is ``l3 <= l1 + l2``.
      This removes the ``(n1, l1) <-> (n2, l2)`` swap and every other reordering.
    * **Identically zero.** If two blocks are equal and ``l1 + l2 + l3`` is odd, ``W``
      is antisymmetric in those two columns while the product of coefficients is
      symmetric: ``B = 0`` for every environment.  These are dropped.
    * **Parity.** Under inversion of the environment ``c_l -> (-1)^l c_l``, so ``B``
      gets ``(-1)^(l1+l2+l3)``: even sums are true scalars (e3nn ``0e`` for
      ``p_arg=-1``), odd sums are pseudoscalars (``0o``) -- nonzero for chiral
      environments and identically zero for any environment with a mirror plane or an
      inversion centre through the origin (e.g. planar ones).  ``parity`` selects
      'all' (default, SO(3) invariants), 'even' (O(3) invariants) or 'odd'.

    No further (non-trivial, polynomial) relations between the kept invariants are
    removed.

    Parameters
    ----------
    rst : RadialSphericalTensor
        ``l_max`` must not exceed the CG table's ``l_max`` (10 for the shipped table).
    parity : {'all', 'even', 'odd'}
    table : rstref.coupling.CouplingTable, optional
        Default: the shipped table.

    Attributes
    ----------
    rst, parity, n_features
    triples : ndarray of int64, shape (n_features, 6)
        ``bispectrum_range(n_max, l_max, parity)`` as an array.
    """

    #: public home (pickles and reprs name rstref.invariants)
    __module__ = "rstref.invariants"

    degree = 3

    def __init__(self, rst, parity="all", table=None):
        super().__init__(rst)
        self.parity = check_choice(parity, "parity", BISPECTRUM_PARITIES)
        self.table, self._kernel = bispectrum_kernel(rst.n_max, rst.l_max, self.parity, table,
                                                     "rst.l_max")
        self.triples = self._kernel.triples
        self.n_features = self._kernel.n_features
        self._cg = self._kernel.cg

    def __repr__(self):
        return f"Bispectrum({self.rst!r}, parity={self.parity!r})"

    def feature_range(self):
        """``bispectrum_range(n_max, l_max, parity)``: labels ``(n1, l1, n2, l2, n3, l3)``."""
        return [tuple(int(v) for v in row) for row in self.triples]

    def from_coefficients(self, c):
        """``B`` of shape ``(..., F)`` from ``c`` of shape ``(..., dim)``."""
        c = self.rst.check_coefficients(c)
        flat = c.reshape(-1, self.rst.dim)
        out = np.stack([self._kernel.values(row) for row in flat]) if flat.shape[0] else \
            np.zeros((0, self.n_features))
        return out.reshape(c.shape[:-1] + (self.n_features,))

    def from_coefficients_with_gradients(self, c, dc):
        """``B`` (F,) and ``dB`` (..., F) from ``c`` (dim,) and ``dc`` (..., dim), via ``dB/dc``."""
        c = coefficients(c, self.rst.n_max, self.rst.l_max, vector=True)
        dc = derivatives(dc, self.rst.dim, "dc")
        return self._kernel.gradients(c, dc)

    def from_coefficients_with_hessians(self, c, dc, d2c):
        """``B``, ``dB`` (N, 3, F), ``d2B`` (N, 3, N, 3, F) from ``c``, ``dc`` (N, 3, dim), ``d2c`` (N, 3, 3, dim).

        ``d2B[i,a,j,b] = delta_ij dB/dc . d2c[i,a,b] + sum over the three pairs of blocks
        of the CG-contracted products of dc[i,a] and dc[j,b]`` (numba kernel per
        environment; memory and time grow like ``(3N)^2 F``).
        """
        c = coefficients(c, self.rst.n_max, self.rst.l_max, vector=True)
        dc, d2c = hessian_inputs(dc, d2c, self.rst.dim)
        check_hessian_size(dc.shape[0], self.n_features, "Bispectrum.from_coefficients_with_hessians")
        return self._kernel.hessian(c, dc, d2c)

    def _from_checked(self, c, dc, d2c, order):
        if order == 0:
            return self._kernel.values(c), None, None
        if order == 1:
            return (*self._kernel.gradients(c, dc), None)
        return self._kernel.hessian(c, dc, d2c)


def bispectrum_kernel(n_eff, l_max, parity, table=None, l_max_name="l_max"):
    """The coupling table and the engine's bispectrum arrays for ``n_eff`` radial rows.

    The one bispectrum setup of the package (:class:`Bispectrum` and
    :class:`rstref.Featurizer`, whose species channels are radial offsets): triples
    ``bispectrum_range(n_eff, l_max, parity)`` and the table's kernel arrays.

    Returns
    -------
    table : rstref.coupling.CouplingTable
    kernel : rstref._engine.invariants.BispectrumKernel
    """
    from rstref import coupling

    table = coupling.load_table() if table is None else table
    if not isinstance(table, coupling.CouplingTable):
        raise TypeError(f"table must be a CouplingTable, got {type(table).__name__}")
    if l_max > table.l_max:
        raise ValueError(f"{l_max_name}={l_max} exceeds the Clebsch-Gordan table's "
                         f"l_max={table.l_max}; pass a bigger table "
                         "(rstref.coupling.generate_table / load_table)")
    triples = np.array(bispectrum_range(n_eff, l_max, parity), dtype=np.int64).reshape(-1, 6)
    block_offsets, m1, m2, M, values, cg_l_max = table.kernel_arrays()
    cg = (block_offsets, m1, m2, M, values, int(cg_l_max))
    return table, _engine.BispectrumKernel(triples, cg, n_eff, l_max)
