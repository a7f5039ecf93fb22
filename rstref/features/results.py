"""Features of one or several structures: the result of :class:`rstref.Featurizer`.

Position gradients are sparse (docs/gradients.md): each row, the centre's own and each
(centre, neighbour atom) pair's, keeps only the features whose density channels are present
in the centre's environment (and, for a pair, involve the neighbour's channel).
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
    gradient_channels : (G,) int64 or None
        Density channel of each row's neighbour (0 in 'values' mode).
    gradient_values : (E,) float64 or None
        The pair rows one after the other: row ``g`` is
        ``gradient_values[gradient_offsets[g]:gradient_offsets[g + 1]].reshape(3, k)``,
        ``[a, q] = d features[i, f_q] / d positions[j, a]`` over its ``k`` features ``f_q``
        (:meth:`pair_gradient`); every other feature of the row is exactly zero.
    gradient_offsets : (G + 1,) int64 or None
    self_gradients : (E_s,) float64 or None
        The centres' own rows ``d features[i] / d positions[i]`` (periodic images of ``i``
        itself included, ``-sum`` of its pair terms), stored like the pair rows
        (:meth:`self_gradient`).
    self_gradient_offsets : (n_atoms + 1,) int64 or None
    environment_channels : (n_atoms, n_channels) bool or None
        The density channels present in each centre's environment.
    feature_channels : (F, k) int64 or None
        The density channels of each feature.  Row ``(i, j)`` holds the features (ascending)
        whose channels are all present around ``i`` and include ``j``'s channel; ``i``'s
        own row those whose channels are all present (docs/gradients.md).
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
    gradient_offsets: Optional[np.ndarray] = None
    self_gradient_offsets: Optional[np.ndarray] = None
    environment_channels: Optional[np.ndarray] = None
    feature_channels: Optional[np.ndarray] = None

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

    def pair_gradient(self, g):
        """Row ``g`` of the pair gradients: ``(features, values)``, the (k,) feature
        indices (ascending) and ``values`` (3, k), ``[a, q] = d features[i, features[q]] /
        d positions[j, a]`` with ``(i, j) = (gradient_centers[g], gradient_neighbors[g])``."""
        from rstref.features.sparsity import row_features

        self._require_gradients("pair_gradient")
        g = int(g)
        i, ch = int(self.gradient_centers[g]), int(self.gradient_channels[g])
        idx = row_features(self.feature_channels, self.environment_channels[i], ch)
        start, stop = int(self.gradient_offsets[g]), int(self.gradient_offsets[g + 1])
        return idx, np.asarray(self.gradient_values[start:stop]).reshape(3, idx.size)

    def self_gradient(self, i):
        """The centre's own row of atom ``i``: ``(features, values)``, the (k,) feature
        indices (ascending) and ``values`` (3, k), ``d features[i, features[q]] / d
        positions[i, a]``."""
        from rstref.features.sparsity import row_features

        self._require_gradients("self_gradient")
        i = int(i)
        idx = row_features(self.feature_channels, self.environment_channels[i])
        start, stop = int(self.self_gradient_offsets[i]), int(self.self_gradient_offsets[i + 1])
        return idx, np.asarray(self.self_gradients[start:stop]).reshape(3, idx.size)

    def _row_groups(self):
        """``(own, rows, features, values, offsets, centers, neighbors)`` per group of rows
        that hold the same features: the pair rows, then the centres' own rows (``own``)."""
        from rstref.features.sparsity import SELF, row_patterns

        table, env = np.asarray(self.feature_channels), np.asarray(self.environment_channels)
        centers = np.asarray(self.gradient_centers, dtype=np.int64)
        neighbors = np.asarray(self.gradient_neighbors, dtype=np.int64)
        own = np.arange(self.n_atoms, dtype=np.int64)
        for rows, idx in row_patterns(table, env, centers, self.gradient_channels):
            yield False, rows, idx, self.gradient_values, self.gradient_offsets, centers, neighbors
        for rows, idx in row_patterns(table, env, own, np.full(own.size, SELF)):
            yield True, rows, idx, self.self_gradients, self.self_gradient_offsets, own, own

    def dense_gradients(self):
        """The gradients with one dense row per (centre, neighbour) entry.

        Returns
        -------
        centers, neighbors : (G + n_atoms,) int64
            Sorted by centre, then neighbour; ``(i, i)`` present for every atom ``i``.
        values : (G + n_atoms, 3, F) float64
            ``d features[centers[r]] / d positions[neighbors[r], a]`` (the centres' own
            rows in the ``(i, i)`` rows, zeros outside each row's features).

        Raises
        ------
        ValueError
            Without gradients, or when the dense array would exceed
            ``rstref.limits.MAX_ALLOCATION_BYTES`` (checked before allocating).
        """
        from rstref._checks import check_allocation
        from rstref.features.sparsity import gather_rows

        self._require_gradients("dense_gradients")
        n, F = self.n_atoms, self.features.shape[1]
        G = int(np.asarray(self.gradient_centers).shape[0])
        check_allocation(8 * (G + n) * (3 * F + 2), f"dense_gradients() of {G} pair rows and {n} "
                         f"atoms with {F} features",
                         "use gradient_dot(), or the sparse rows (pair_gradient, "
                         "self_gradient), or fewer structures at a time")
        own = np.arange(n, dtype=np.int64)
        centers = np.concatenate([np.asarray(self.gradient_centers, dtype=np.int64), own])
        neighbors = np.concatenate([np.asarray(self.gradient_neighbors, dtype=np.int64), own])
        order = np.lexsort((neighbors, centers))
        position = np.empty(G + n, dtype=np.int64)
        position[order] = np.arange(G + n)
        values = np.zeros((G + n, 3, F), dtype=np.result_type(self.self_gradients.dtype,
                                                               self.gradient_values.dtype))
        for own_rows, rows, idx, flat, offsets, _, _ in self._row_groups():
            target = position[G + rows] if own_rows else position[rows]
            values[np.ix_(target, np.arange(3), idx)] = gather_rows(flat, offsets, rows, idx.size)
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
        from rstref.features.sparsity import gather_rows

        self._require_gradients("gradient_dot")
        n, F = self.n_atoms, self.features.shape[1]
        w = np.asarray(weights)
        w = as_float_array(w, "weights", trailing_shape=(F,), ndim=max(min(w.ndim, 2), 1))
        if w.shape not in ((F,), (n, F)):
            raise ValueError(f"weights: expected shape ({F},) or ({n}, {F}), got {w.shape}")
        per_atom = w.ndim == 2
        out = np.zeros((n, 3))
        for _, rows, idx, flat, offsets, centers, neighbors in self._row_groups():
            w_k = w[:, idx] if per_atom else w[idx]
            for start in range(0, rows.size, _DOT_BLOCK_ROWS):
                block = rows[start:start + _DOT_BLOCK_ROWS]
                values = gather_rows(flat, offsets, block, idx.size)
                if per_atom:
                    part = np.einsum("gak,gk->ga", values, w_k[centers[block]])
                else:
                    part = values @ w_k
                np.add.at(out, neighbors[block], part)
        return out

    @classmethod
    def concatenate(cls, parts, n_features, gradients=False, stress=False, feature_channels=None,
                    n_channels=1):
        """Concatenate ``parts`` (in order), renumbering atoms and gradient rows.

        ``feature_channels`` (F, k) and ``n_channels``: the gradient tables when there may
        be no parts (default: those of the first part, else one channel).
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
            if parts:
                feature_channels = parts[0].feature_channels
                n_channels = parts[0].environment_channels.shape[1]
            elif feature_channels is None:
                feature_channels = np.zeros((n_features, 1), dtype=np.int64)
            out.feature_channels = feature_channels
            none = np.zeros(0, np.int64)
            out.gradient_centers = np.concatenate(
                [p.gradient_centers + atom_shift[k] for k, p in enumerate(parts)] or [none])
            out.gradient_neighbors = np.concatenate(
                [p.gradient_neighbors + atom_shift[k] for k, p in enumerate(parts)] or [none])
            out.gradient_channels = np.concatenate([p.gradient_channels for p in parts] or [none])
            out.environment_channels = np.concatenate(
                [p.environment_channels for p in parts] or [np.zeros((0, n_channels), bool)])
            for values, offsets in (("gradient_values", "gradient_offsets"),
                                    ("self_gradients", "self_gradient_offsets")):
                setattr(out, values, np.concatenate([getattr(p, values) for p in parts]
                                                    or [np.zeros(0)]))
                setattr(out, offsets, _joined_offsets([getattr(p, offsets) for p in parts]))
        if stress:
            out.strain_derivatives = np.concatenate(
                [p.strain_derivatives for p in parts] or [np.zeros((0, 3, 3, n_features))])
        return out


def _joined_offsets(parts):
    """Row offsets of flat arrays concatenated in order."""
    if not parts:
        return np.zeros(1, dtype=np.int64)
    shifts = np.cumsum([0] + [int(p[-1]) for p in parts])
    return np.concatenate([parts[0][:1]] + [p[1:] + shifts[k] for k, p in enumerate(parts)]
                          ).astype(np.int64)
