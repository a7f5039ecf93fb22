"""Choices and default hyperparameters of featurization."""

SPECIES_MODES = ("channels", "values")
INVARIANTS = ("power_spectrum", "bispectrum")
BISPECTRUM_PARITIES = ("all", "even", "odd")

#: default radial basis of featurization: C^2 at r_cut, C^inf inside (docs/conventions.md)
DEFAULT_RADIAL = "smooth_cosines"
DEFAULT_R_CUT = 5.0
DEFAULT_N_MAX = 8
DEFAULT_L_MAX = 6
DEFAULT_BATCH_ATOMS = 4096
