"""Shipped numeric tables and the generators that derive them (docs/conventions.md).

``clebsch_gordan_l10.npz``
    Real Clebsch-Gordan coefficients for every (l1, l2, L) with l1, l2, L <= 10
    satisfying the triangle rule, derived exactly with sympy by
    :mod:`rstref.tables.generate`.  Read it through :mod:`rstref.coupling`
    (``load_table``), which validates it; do not ``np.load`` it by hand.
"""

#: file name of the shipped Clebsch-Gordan table inside this package
CLEBSCH_GORDAN_FILE = "clebsch_gordan_l10.npz"
