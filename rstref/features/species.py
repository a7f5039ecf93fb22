"""Species of featurization: chemical symbols / atomic numbers, channels and peak heights."""

import numbers

import numpy as np

from rstref._checks import check_float


def seed_species_value(z):
    """The seed's peak heights: -1 for hydrogen, +1 for every other element."""
    return -1.0 if int(z) == 1 else 1.0


def atomic_number(value, name):
    """Atomic number of a chemical symbol or an atomic number; ``name`` is used in errors."""
    from ase.data import atomic_numbers, chemical_symbols

    if isinstance(value, str):
        if value not in atomic_numbers:
            raise ValueError(f"{name}: unknown chemical symbol {value!r}")
        return int(atomic_numbers[value])
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if not 0 < int(value) < len(chemical_symbols):
            raise ValueError(f"{name}: atomic number {value} out of range 1..{len(chemical_symbols) - 1}")
        return int(value)
    raise TypeError(f"{name}: expected a chemical symbol or an atomic number, got {value!r}")


def species_list(species):
    """``species`` (None, one species or a sequence) as a tuple of atomic numbers, or None."""
    if species is None:
        return None
    if isinstance(species, (str, numbers.Integral, np.integer)):
        species = [species]
    try:
        species = list(species)
    except TypeError:
        raise TypeError("species must be a chemical symbol, an atomic number or a sequence of "
                        f"them, got {type(species).__name__}") from None
    out = [atomic_number(s, "species") for s in species]
    if len(set(out)) != len(out):
        raise ValueError(f"species contains duplicates: {list(species)!r}")
    if not out:
        raise ValueError("species must not be empty")
    return tuple(out)


def symbol(z):
    """Chemical symbol of atomic number ``z``."""
    from ase.data import chemical_symbols

    return chemical_symbols[z]


def values_table(species_values, species):
    """'values' mode: ``{atomic number: peak height}`` from the user's dict, or None.

    A peak height is any finite real number: the features are homogeneous in the heights
    and computed without intermediate overflow, so huge heights give finite features or
    ``+-inf`` where the true value exceeds float64 (never NaN).  Strings, booleans,
    complex numbers, NaN and infinities raise naming the key.
    """
    if species_values is None:
        return None
    if not isinstance(species_values, dict):
        raise TypeError(f"species_values must be a dict {{species: value}}, got "
                        f"{type(species_values).__name__}")
    table = {}
    for key, value in species_values.items():
        z = atomic_number(key, "species_values")
        table[z] = check_float(value, f"species_values[{key!r}]")
    if species is not None:
        missing = [symbol(z) for z in species if z not in table]
        if missing:
            raise ValueError(f"species_values has no value for species {missing}")
    return table


class SpeciesAssignment:
    """Density channel and peak height of every atom (see :mod:`rstref.features`).

    Parameters
    ----------
    mode : {'channels', 'values'}
    species : tuple of int or None
        Channel order ('channels' mode, required) or the allowed species ('values').
    table : dict or None
        'values' mode peak heights (None: :func:`seed_species_value`).
    """

    def __init__(self, mode, species, table):
        self.mode = mode
        self.species = species
        self.table = table
        self.n_channels = len(species) if mode == "channels" else 1

    def _unknown(self, numbers_, allowed, where, suffix=""):
        unknown = sorted({int(z) for z in numbers_} - set(allowed))
        if unknown:
            raise ValueError(f"{where}: species {[symbol(z) for z in unknown]} not in the "
                             f"species list {[symbol(z) for z in self.species]}{suffix}")

    def __call__(self, numbers_, where):
        """``channel`` (n,) int64 and ``weight`` (n,) float64 of atoms ``numbers_``."""
        if self.mode == "channels":
            lookup = {z: a for a, z in enumerate(self.species)}
            self._unknown(numbers_, lookup, where, " ('channels' mode)")
            channel = np.array([lookup[int(z)] for z in numbers_], dtype=np.int64)
            return channel, np.ones(len(numbers_))
        if self.species is not None:
            self._unknown(numbers_, self.species, where)
        if self.table is None:
            weight = np.array([seed_species_value(z) for z in numbers_], dtype=np.float64)
        else:
            missing = sorted({int(z) for z in numbers_} - set(self.table))
            if missing:
                raise ValueError(f"{where}: species_values has no value for species "
                                 f"{[symbol(z) for z in missing]}")
            weight = np.array([self.table[int(z)] for z in numbers_], dtype=np.float64)
        return np.zeros(len(numbers_), dtype=np.int64), weight
