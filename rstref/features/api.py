"""The functional API: :func:`featurize` one structure or a list of structures."""

from rstref.features.defaults import DEFAULT_BATCH_ATOMS, DEFAULT_L_MAX
from rstref.features.featurizer import Featurizer


def _is_atoms(obj):
    return hasattr(obj, "get_positions") and hasattr(obj, "get_atomic_numbers")


def featurize(atoms_or_list, r_cut=None, n_max=None, l_max=DEFAULT_L_MAX, species=None,
              species_mode="channels", species_values=None, invariant="power_spectrum",
              radial=None, envelope_power=None, normalize=False, include_center=False,
              bispectrum_parity="all", gradients=False, stress=False,
              batch_atoms=DEFAULT_BATCH_ATOMS, progress=None, primitive=None, radial_basis=None,
              dtype=None):
    """Per-atom invariant features of one structure or a list of structures.

    Parameters
    ----------
    atoms_or_list : ase.Atoms or sequence of ase.Atoms
    r_cut, n_max, l_max, species, species_mode, species_values, invariant, radial,
    envelope_power, normalize, include_center, bispectrum_parity, primitive, radial_basis
        See :class:`Featurizer`.  In 'channels' mode ``species=None`` means the sorted
        atomic numbers present in the given structures.
    gradients : bool
        Also compute the sparse position gradients (docs/gradients.md).
    stress : bool
        Also compute the strain derivatives.
    batch_atoms : int
        Structures are processed in batches of about this many atoms.
    progress : bool or None
        Progress bar on stderr (None: automatic for >= 50 structures on a terminal).
    dtype : {'float64', 'float32'}, optional
        Of the outputs (computed in float64; float32 is the rounding of the cast, relative
        error at most ``2**-24`` per entry).

    Returns
    -------
    Features
        ``features`` (n_atoms, F) etc.; for a list, atoms of all structures in order
        with ``atom_offsets``.  For iterables too large for memory use
        :meth:`Featurizer.iter_batches`.

    Examples
    --------
    >>> from ase.build import bulk
    >>> out = featurize(bulk("Cu", cubic=True), r_cut=4.0, n_max=4, l_max=3, gradients=True)
    >>> out.features.shape, out.self_gradient(0)[1].shape
    ((4, 40), (3, 40))
    """
    single = _is_atoms(atoms_or_list)
    structures = [atoms_or_list] if single else list(atoms_or_list)
    if species is None and species_mode == "channels":
        present = set()
        for k, atoms in enumerate(structures):
            if not _is_atoms(atoms):
                raise TypeError(f"structure {k}: expected an ase.Atoms, got {type(atoms).__name__}")
            present.update(int(z) for z in atoms.get_atomic_numbers())
        if not present:
            raise ValueError("species cannot be inferred from structures without atoms; pass species=")
        species = sorted(present)
    featurizer = Featurizer(r_cut=r_cut, n_max=n_max, l_max=l_max, species=species,
                            species_mode=species_mode, species_values=species_values,
                            invariant=invariant, radial=radial, envelope_power=envelope_power,
                            primitive=primitive, radial_basis=radial_basis,
                            normalize=normalize, include_center=include_center,
                            bispectrum_parity=bispectrum_parity)
    if single:
        return featurizer.compute(structures[0], gradients, stress, dtype)
    return featurizer.compute_many(structures, gradients, stress, batch_atoms, progress,
                                   dtype=dtype)
