"""Features of one or several structures: the result of :class:`rstref.Featurizer`.

Position gradients are species-sparse (docs/gradients.md): the centre's own term is kept
whole, one dense row per atom, and each (centre, neighbour atom) pair keeps only the
features that involve the neighbour's density channel.
"""

from dataclasses import dataclass, fields, replace
from typing import Optional

import numpy as np

#: pair rows per block in :meth:`Features.gradient_dot` (bounds its temporaries)
_DOT_BLOCK_ROWS = 4096
#: output dtypes: computed in float64, optionally stored as float32
OUTPUT_DTYPES = ("float64", "float32")
_FLOAT_FIELDS = ("features", "gradient_values", "self_gradients", "strain_derivatives")


def output_dtype(dtype, name="dtype"):
    """``'float64'`` or ``'float32'`` from ``dtype`` (None: float64); ValueError otherwise."""
    if dtype is None:
        return "float64"
    try:
        text = np.dtype(dtype).name
    except TypeError:
        text = None
    if text not in OUTPUT_DTYPES:
        raise ValueError(f"{name} must be one of {list(OUTPUT_DTYPES)}, got {dtype!r}")
    return text


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
        Atom indices (in this object's atom numbering) of each pair row ``(i, j)``,
        ``j != i``, all periodic images of ``j`` summed; sorted by centre, then neighbour.
    gradient_values : (G, 3, F_s) float64 or None
        ``gradient_values[g, a, k] = d features[i, f] / d positions[j, a]`` with ``(i, j) =
        (gradient_centers[g], gradient_neighbors[g])`` and ``f =
        gradient_feature_index[gradient_channels[g], k]``; the other features of row ``g``
        are zero (they do not involve ``j``'s channel).
    gradient_channels : (G,) int64 or None
        Density channel of each row's neighbour (0 in 'values' mode).
    gradient_feature_index : (n_channels, F_s) int64 or None
        The features each channel touches (ascending); ``arange(F)`` in 'values' mode.
    self_gradients : (n_atoms, 3, F) float64 or None
        ``d features[i] / d positions[i]``: the whole term of each centre, periodic images
        of ``i`` itself included (``-sum`` of its pair terms).
    strain_derivatives : (n_atoms, 3, 3, F) float64 or None
        ``d features[i] / d eps_ab`` (see :mod:`rstref.features` for the convention).

    :meth:`dense_gradients` expands the gradients to one dense row per (centre,
    neighbour) entry; :meth:`gradient_dot` contracts them with weights without expanding.
    """

    features: np.ndarray
    atom_offsets: np.ndarray
    atomic_numbers: np.ndarray
    gradient_centers: Optional[np.ndarray] = None
    gradient_neighbors: Optional[np.ndarray] = None
    gradient_values: Optional[np.ndarray] = None
    strain_derivatives: Optional[np.ndarray] = None
    self_gradients: Optional[np.ndarray] = None
    gradient_channels: Optional[np.ndarray] = None
    gradient_feature_index: Optional[np.ndarray] = None

    @property
    def n_structures(self):
        return int(self.atom_offsets.shape[0] - 1)

    @property
    def n_atoms(self):
        return int(self.features.shape[0])

    def arrays(self):
        """The non-None fields as a dict of arrays."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def astype(self, dtype, in_place=False):
        """These features with the float arrays cast to ``dtype`` ('float64' or 'float32';
        the index arrays unchanged); ``self`` when nothing changes.  ``in_place``: replace
        the arrays of ``self`` one by one (each float64 array is freed before the next is
        cast, when nothing else holds it) and return ``self``.

        float32: each entry is the float64 value rounded to nearest, relative error at most
        ``2**-24`` (values beyond float32's range, ~3.4e38, become +-inf).
        """
        dtype = output_dtype(dtype)
        if all(getattr(self, k) is None or getattr(self, k).dtype == dtype for k in _FLOAT_FIELDS):
            return self
        if in_place:
            for k in _FLOAT_FIELDS:
                if getattr(self, k) is not None:
                    setattr(self, k, getattr(self, k).astype(dtype))
            return self
        changes = {k: getattr(self, k).astype(dtype) for k in _FLOAT_FIELDS
                   if getattr(self, k) is not None}
        return replace(self, **changes)

    def _require_gradients(self, caller):
        if self.self_gradients is None or self.gradient_values is None:
            raise ValueError(f"{caller}: these features have no gradients; compute them with "
                             "gradients=True")

    def dense_gradients(self):
        """The gradients with one dense row per (centre, neighbour) entry.

        Returns
        -------
        centers, neighbors : (G + n_atoms,) int64
            Sorted by centre, then neighbour; ``(i, i)`` present for every atom ``i``.
        values : (G + n_atoms, 3, F) float64
            ``d features[centers[r]] / d positions[neighbors[r], a]`` (``self_gradients``
            in the ``(i, i)`` rows, zeros outside each pair row's features).

        Raises
        ------
        ValueError
            Without gradients, or when the dense array would exceed
            ``rstref.limits.MAX_ALLOCATION_BYTES`` (checked before allocating).
        """
        from rstref._checks import check_allocation

        self._require_gradients("dense_gradients")
        n, F = self.n_atoms, self.features.shape[1]
        G = int(self.gradient_values.shape[0])
        check_allocation(8 * (G + n) * (3 * F + 2), f"dense_gradients() of {G} pair rows and {n} "
                         f"atoms with {F} features",
                         "use gradient_dot(), or the species-sparse rows (gradient_values, "
                         "gradient_feature_index), or fewer structures at a time")
        own = np.arange(n, dtype=np.int64)
        centers = np.concatenate([np.asarray(self.gradient_centers, dtype=np.int64), own])
        neighbors = np.concatenate([np.asarray(self.gradient_neighbors, dtype=np.int64), own])
        order = np.lexsort((neighbors, centers))
        row = np.empty(G + n, dtype=np.int64)
        row[order] = np.arange(G + n)
        values = np.zeros((G + n, 3, F), dtype=np.result_type(self.self_gradients.dtype,
                                                               self.gradient_values.dtype))
        values[row[G:]] = np.asarray(self.self_gradients)
        table = np.asarray(self.gradient_feature_index)
        channels = np.asarray(self.gradient_channels)
        pair_values = np.asarray(self.gradient_values)
        for ch in range(table.shape[0]):
            sel = np.flatnonzero(channels == ch)
            if sel.size:
                values[np.ix_(row[sel], np.arange(3), table[ch])] = pair_values[sel]
        return centers[order], neighbors[order], values

    def gradient_dot(self, weights):
        """``d (sum_i weights_i . features[i]) / d positions``, (n_atoms, 3), never expanded.

        Parameters
        ----------
        weights : (F,) or (n_atoms, F) array_like
            One weight vector for all centres, or one per centre atom (e.g. a per-species
            linear model: ``W[species_of_atom]``).

        Returns
        -------
        (n_atoms, 3) float64
            ``out[j, a] = sum_i sum_f weights[i, f] d features[i, f] / d positions[j, a]``;
            for a linear energy model ``E = sum_i w_i . features[i]`` the forces are
            ``-gradient_dot(w)``.
        """
        from rstref._checks import as_float_array

        self._require_gradients("gradient_dot")
        n, F = self.n_atoms, self.features.shape[1]
        w = np.asarray(weights)
        w = as_float_array(w, "weights", trailing_shape=(F,), ndim=max(min(w.ndim, 2), 1))
        if w.shape not in ((F,), (n, F)):
            raise ValueError(f"weights: expected shape ({F},) or ({n}, {F}), got {w.shape}")
        per_atom = w.ndim == 2
        sg = np.asarray(self.self_gradients)
        out = np.einsum("iaf,if->ia", sg, w) if per_atom else sg @ w
        table = np.asarray(self.gradient_feature_index)
        channels = np.asarray(self.gradient_channels)
        centers, neighbors = np.asarray(self.gradient_centers), np.asarray(self.gradient_neighbors)
        for ch in range(table.shape[0]):
            rows = np.flatnonzero(channels == ch)
            w_ch = w[:, table[ch]] if per_atom else w[table[ch]]
            for start in range(0, rows.size, _DOT_BLOCK_ROWS):
                block = rows[start:start + _DOT_BLOCK_ROWS]
                values = np.asarray(self.gradient_values[block])
                if per_atom:
                    part = np.einsum("gak,gk->ga", values, w_ch[centers[block]])
                else:
                    part = values @ w_ch
                np.add.at(out, neighbors[block], part)
        return out

    @classmethod
    def concatenate(cls, parts, n_features, gradients=False, stress=False, feature_index=None):
        """Concatenate ``parts`` (in order), renumbering atoms.

        ``feature_index``: the (n_channels, F_s) table of the gradient rows when there may
        be no parts (default: that of the first part, else ``arange(n_features)``).
        """
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
            if feature_index is None:
                feature_index = (parts[0].gradient_feature_index if parts else
                                 np.arange(n_features, dtype=np.int64)[None])
            out.gradient_feature_index = feature_index
            none = np.zeros(0, np.int64)
            out.gradient_centers = np.concatenate(
                [p.gradient_centers + atom_shift[k] for k, p in enumerate(parts)] or [none])
            out.gradient_neighbors = np.concatenate(
                [p.gradient_neighbors + atom_shift[k] for k, p in enumerate(parts)] or [none])
            out.gradient_channels = np.concatenate([p.gradient_channels for p in parts] or [none])
            out.gradient_values = np.concatenate(
                [p.gradient_values for p in parts] or [np.zeros((0, 3, feature_index.shape[1]))])
            out.self_gradients = np.concatenate(
                [p.self_gradients for p in parts] or [np.zeros((0, 3, n_features))])
        if stress:
            out.strain_derivatives = np.concatenate(
                [p.strain_derivatives for p in parts] or [np.zeros((0, 3, 3, n_features))])
        return out
