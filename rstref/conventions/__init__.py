"""Conventions as data: exact maps between codes' conventions, a detector, conformance data.

- :mod:`~rstref.conventions.sph`: named spherical-harmonics conventions ('standard' =
  rstref = sphericart = featomic, 'e3nn', 'scipy-complex', 'complex-no-cs'), normalisations
  and m orders as exact per-l maps: :func:`convert_sph`, :func:`convert_wigner_D`,
  :func:`block_matrix`.
- :mod:`~rstref.conventions.cg`: :func:`convert_cg` between rstref, e3nn (3j), featomic,
  Gaunt and complex Condon-Shortley coupling tables.
- :mod:`~rstref.conventions.invariants`: :func:`convert_power_spectrum` between layouts.
- :mod:`~rstref.conventions.detect`: :func:`identify_sph`, :func:`identify_cg`;
  :mod:`~rstref.conventions.detect_ps`: :func:`identify_power_spectrum`.
- :mod:`~rstref.conventions.reference_set` / :mod:`~rstref.conventions.conformance`: the conformance
  data (``rstref conformance export``) and :func:`check` / :func:`assert_conforms`.

See docs/conventions.md.
"""

from rstref._lazy import lazy_attributes

_PUBLIC = {
    "SPH_CONVENTIONS": "rstref.conventions.sph",
    "block_matrix": "rstref.conventions.sph",
    "real_from_complex": "rstref.conventions.sph",
    "convert_sph": "rstref.conventions.sph",
    "convert_wigner_D": "rstref.conventions.sph",
    "CG_CONVENTIONS": "rstref.conventions.cg",
    "convert_cg": "rstref.conventions.cg",
    "PS_LAYOUTS": "rstref.conventions.invariants",
    "convert_power_spectrum": "rstref.conventions.invariants",
    "identify_sph": "rstref.conventions.detect",
    "identify_cg": "rstref.conventions.detect",
    "design_points": "rstref.conventions.detect",
    "identify_power_spectrum": "rstref.conventions.detect_ps",
    "export": "rstref.conventions.reference_set",
    "check": "rstref.conventions.conformance",
    "assert_conforms": "rstref.conventions.conformance",
    "check_values": "rstref.conventions.conformance",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_attributes("rstref.conventions", _PUBLIC, globals(), __all__)
