"""rstref: reference implementation of radial-spherical tensors for atomic structure.

Public names are resolved lazily (PEP 562) so that ``import rstref`` is cheap and
numba compilation happens only for the objects actually used.  The table below is
the whole public API of the top-level package; each name lives in the module named
after the mathematical object it belongs to.
"""

from rstref._lazy import lazy_attributes

__version__ = "0.1.0"

_PUBLIC = {
    # spherical harmonics
    "spherical_harmonics": "rstref.harmonics",
    "spherical_harmonics_with_gradients": "rstref.harmonics",
    "spherical_harmonics_with_hessians": "rstref.harmonics",
    "SphericalHarmonics": "rstref.harmonics",
    "lm_index": "rstref.harmonics",
    "lm_size": "rstref.harmonics",
    "lm_range": "rstref.harmonics",
    "lm_block": "rstref.layouts",
    # rotations
    "wigner_D": "rstref.rotations",
    "wigner_D_blocks": "rstref.rotations",
    "random_rotation": "rstref.rotations",
    "check_rotation": "rstref.rotations",
    # Clebsch-Gordan
    "clebsch_gordan": "rstref.coupling",
    "wigner_3j": "rstref.coupling",
    "gaunt": "rstref.coupling",
    # radial bases
    "OrthonormalRadialBasis": "rstref.radial",
    # radial-spherical tensor
    "RadialSphericalTensor": "rstref.tensor",
    "nlm_index": "rstref.tensor",
    "nlm_size": "rstref.tensor",
    "nlm_range": "rstref.tensor",
    "nlm_block": "rstref.layouts",
    # invariants
    "power_spectrum": "rstref.invariants",
    "power_spectrum_with_gradients": "rstref.invariants",
    "power_spectrum_with_hessians": "rstref.invariants",
    "power_spectrum_index": "rstref.invariants",
    "power_spectrum_size": "rstref.invariants",
    "power_spectrum_range": "rstref.invariants",
    "power_spectrum_cross": "rstref.invariants",
    "power_spectrum_cross_with_gradients": "rstref.invariants",
    "bispectrum_range": "rstref.invariants",
    "bispectrum_size": "rstref.invariants",
    "bispectrum_index": "rstref.layouts",
    "Invariants": "rstref.invariants",
    "PowerSpectrum": "rstref.invariants",
    "Bispectrum": "rstref.invariants",
    # neighbour lists and featurization of structures
    "neighbor_list": "rstref.neighbors",
    "NeighborList": "rstref.neighbors",
    "featurize": "rstref.features",
    "Featurizer": "rstref.features",
    "Features": "rstref.features",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


__getattr__, __dir__ = lazy_attributes("rstref", _PUBLIC, globals(), __all__)
