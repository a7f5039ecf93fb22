"""Features of one or several structures: the result of :class:`rstref.Featurizer`."""

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np


@dataclass
class Features:
    """Features of one or several structures (atoms concatenated in input order).

    Attributes
    ----------
    features : (n_atoms, F) float64
    atom_offsets : (n_structures + 1,) int64
        Structure ``s`` owns atoms ``atom_offsets[s]:atom_offsets[s + 1]``.
    atomic_numbers : (n_atoms,) int64
    gradient_centers, gradient_neighbors : (G,) int64 or None
        Atom indices (in this object's atom numbering) of each gradient entry; sorted by
        centre, then neighbour; ``(i, i)`` present for every atom ``i``.
    gradient_values : (G, 3, F) float64 or None
        ``d features[gradient_centers[g]] / d positions[gradient_neighbors[g], a]``.
    strain_derivatives : (n_atoms, 3, 3, F) float64 or None
        ``d features[i] / d eps_ab`` (see the module docstring for the convention).
    """

    features: np.ndarray
    atom_offsets: np.ndarray
    atomic_numbers: np.ndarray
    gradient_centers: Optional[np.ndarray] = None
    gradient_neighbors: Optional[np.ndarray] = None
    gradient_values: Optional[np.ndarray] = None
    strain_derivatives: Optional[np.ndarray] = None

    @property
    def n_structures(self):
        return int(self.atom_offsets.shape[0] - 1)

    @property
    def n_atoms(self):
        return int(self.features.shape[0])

    def arrays(self):
        """The non-None fields as a dict of arrays."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def concatenate(cls, parts, n_features, gradients=False, stress=False):
        """Concatenate ``parts`` (in order), renumbering atoms."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        atom_shift = np.cumsum([0] + [p.n_atoms for p in parts])
        offsets = [np.zeros(1, np.int64)] + [p.atom_offsets[1:] + atom_shift[k] for k, p in enumerate(parts)]
        out = cls(
            features=np.concatenate([p.features for p in parts] or [np.zeros((0, n_features))]),
            atom_offsets=np.concatenate(offsets).astype(np.int64),
            atomic_numbers=np.concatenate([p.atomic_numbers for p in parts] or [np.zeros(0, np.int64)]),
        )
        if gradients:
            out.gradient_centers = np.concatenate(
                [p.gradient_centers + atom_shift[k] for k, p in enumerate(parts)] or [np.zeros(0, np.int64)])
            out.gradient_neighbors = np.concatenate(
                [p.gradient_neighbors + atom_shift[k] for k, p in enumerate(parts)] or [np.zeros(0, np.int64)])
            out.gradient_values = np.concatenate(
                [p.gradient_values for p in parts] or [np.zeros((0, 3, n_features))])
        if stress:
            out.strain_derivatives = np.concatenate(
                [p.strain_derivatives for p in parts] or [np.zeros((0, 3, 3, n_features))])
        return out
