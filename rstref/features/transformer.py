"""A scikit-learn style transformer of structures (``ase.Atoms``) into features.

:class:`FeatureTransformer` works with or without scikit-learn; where it is installed
the class is a ``BaseEstimator`` and ``TransformerMixin`` (``get_params``, ``clone``,
``Pipeline`` and grid searches work)::

    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    model = make_pipeline(FeatureTransformer(r_cut=4.0, reduce="mean"), Ridge())
    model.fit(train_structures, train_energies)
"""

import numpy as np

try:  # scikit-learn is optional
    from sklearn.base import BaseEstimator, TransformerMixin
    _BASES = (TransformerMixin, BaseEstimator)
except ImportError:  # scikit-learn missing: a plain class with the same methods
    _BASES = ()

REDUCTIONS = ("sum", "mean", None)


class FeatureTransformer(*_BASES):
    """Structures -> per-structure (summed or mean) or per-atom features.

    Parameters
    ----------
    r_cut, n_max, l_max, species_mode, invariant, primitive
        As :class:`rstref.Featurizer`.
    species : sequence, optional
        Species list; default: learned by :meth:`fit` (the sorted atomic numbers seen).
    reduce : {'sum', 'mean', None}
        'sum' / 'mean': one row per structure, the sum / mean over its atoms; None: one row
        per atom (all structures' atoms concatenated in order).
    batch_atoms, max_memory
        As :meth:`rstref.Featurizer.iter_batches`.

    Attributes (after :meth:`fit`)
    -------------------------------
    featurizer_ : rstref.Featurizer
    species_ : list of int
    n_features_out_ : int
    """

    def __init__(self, r_cut=None, n_max=None, l_max=6, species=None, species_mode="channels",
                 invariant="power_spectrum", primitive="smooth_cosines", reduce="sum",
                 batch_atoms=4096, max_memory=None):
        self.r_cut, self.n_max, self.l_max = r_cut, n_max, l_max
        self.species, self.species_mode, self.invariant = species, species_mode, invariant
        self.primitive, self.reduce = primitive, reduce
        self.batch_atoms, self.max_memory = batch_atoms, max_memory

    def fit(self, X, y=None):
        """Learn the species list (unless given) and build the featurizer."""
        from rstref._checks import check_choice
        from rstref.features.featurizer import Featurizer
        from rstref.features.species import species_list

        if self.reduce is not None:
            check_choice(self.reduce, "reduce", ("sum", "mean"))
        if self.species is not None:
            species = species_list(self.species)
        else:
            species = sorted({int(z) for atoms in X for z in atoms.get_atomic_numbers()})
            if not species:
                raise ValueError("fit: the structures hold no atoms; pass species=...")
        self.species_ = list(species)
        self.featurizer_ = Featurizer(r_cut=self.r_cut, n_max=self.n_max, l_max=self.l_max,
                                      species=self.species_ if self.species_mode == "channels"
                                      else self.species, species_mode=self.species_mode,
                                      invariant=self.invariant, primitive=self.primitive)
        self.n_features_out_ = self.featurizer_.n_features
        return self

    def transform(self, X):
        """``(n_structures, F)`` (reduce 'sum' / 'mean') or ``(n_atoms, F)`` (None)."""
        if not hasattr(self, "featurizer_"):
            raise ValueError("FeatureTransformer: call fit before transform")
        result = self.featurizer_.compute_many(list(X), batch_atoms=self.batch_atoms,
                                               progress=False, max_memory=self.max_memory)
        if self.reduce is None:
            return result.features
        offsets = result.atom_offsets
        sums = np.zeros((result.n_structures, result.features.shape[1]))
        counts = np.diff(offsets)
        filled = counts > 0
        if result.n_atoms:
            sums[filled] = np.add.reduceat(result.features, offsets[:-1][filled], axis=0)
        if self.reduce == "mean":
            sums[filled] /= counts[filled, None]
        return sums

    def fit_transform(self, X, y=None):
        """:meth:`fit`, then :meth:`transform`."""
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features=None):
        """One name per feature, from :meth:`rstref.Featurizer.feature_labels`."""
        names, labels = self.featurizer_.feature_labels()
        return np.array(["_".join(f"{n}{v}" for n, v in zip(names, row)) for row in labels],
                        dtype=object)
