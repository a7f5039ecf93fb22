"""Sparse gradient rows: which features each row of the position gradients holds.

A neighbour of density channel ``ch`` only moves the coefficients of its own channel, and
a channel absent from an environment has zero coefficients; so the gradient of a centre's
features is zero outside the features whose channels (the pair of the power spectrum, the
triple of the bispectrum) are all present in the centre's environment, and, for the
derivative with respect to a neighbour, involve the neighbour's channel
(docs/gradients.md).  The rule needs two small tables, both held by
:class:`rstref.features.Features`:

* ``feature_channels`` (F, k) int64: the density channels of each feature
  (:func:`feature_channels`);
* ``environment_channels`` (n_atoms, n_channels) bool: the channels present in each
  centre's environment (:func:`environment_channels`).

Row ``g`` of centre ``i`` and neighbour channel ``ch`` holds, in ascending order, the
features ``f`` with ``environment_channels[i, feature_channels[f]].all()`` and ``ch in
feature_channels[f]`` (:func:`row_features`); the centre's own row the same without the
second condition.  Rows are stored ``(3, k)`` (C order) one after the other in a flat array,
``offsets`` (rows + 1,) giving where each starts (:func:`row_offsets`).
"""

import numpy as np

#: channel of a centre's own row in the pattern keys (no neighbour channel condition)
SELF = -1


def feature_channels(featurizer):
    """(F, k) int64: the density channel of every radial index of each feature.

    Power spectrum ``(l, N, N2)``: ``(N // n_max, N2 // n_max)``; bispectrum: the three
    channels of its triple; 'values' mode: all zero.
    """
    if featurizer.invariant == "bispectrum":
        radial = featurizer._triples[:, [0, 2, 4]]
    else:
        N, N2 = np.triu_indices(featurizer.n_eff)
        radial = np.tile(np.stack([N, N2], axis=1), (featurizer.l_max + 1, 1))
    return np.ascontiguousarray(radial // featurizer.n_max, dtype=np.int64)


def max_row_features(table):
    """Most features a neighbour's row can hold (all channels present), for memory bounds."""
    n_channels = int(table.max()) + 1 if table.size else 1
    return max(int((table == ch).any(axis=1).sum()) for ch in range(n_channels))


def environment_channels(centers, channels, weights, n_atoms, n_channels):
    """(n_atoms, n_channels) bool: channel ``ch`` has a neighbour row with a non-zero
    weight in the environment of centre ``i`` (``centers``, ``channels``, ``weights``: the
    neighbour rows; the same rule the kernels use to skip absent channels)."""
    present = np.zeros((int(n_atoms), int(n_channels)), dtype=bool)
    keep = np.asarray(weights) != 0.0
    present[np.asarray(centers)[keep], np.asarray(channels)[keep]] = True
    return present


def row_features(table, present, channel=SELF):
    """Ascending features of one row: all channels in ``present`` (n_channels,) bool, and,
    unless ``channel`` is :data:`SELF`, ``channel`` among them."""
    keep = np.asarray(present)[table].all(axis=1)
    if channel != SELF:
        keep &= (table == channel).any(axis=1)
    return np.flatnonzero(keep)


def row_patterns(table, environment, centers, channels):
    """Group rows by the features they hold.

    ``centers`` (R,) the centre of each row (into ``environment``), ``channels`` (R,) its
    neighbour channel or :data:`SELF`.  Returns a list of ``(rows, features)``: the rows
    (ascending) that hold exactly ``features`` (ascending), every row in one group.
    """
    centers = np.asarray(centers, dtype=np.int64)
    channels = np.asarray(channels, dtype=np.int64)
    if centers.size == 0:
        return []
    masks, mask_of = np.unique(np.asarray(environment, dtype=bool), axis=0, return_inverse=True)
    mask_of = mask_of.reshape(-1)
    n_channels = environment.shape[1]
    keys = mask_of[centers] * (n_channels + 1) + (channels + 1)
    unique_keys, group = np.unique(keys, return_inverse=True)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(unique_keys.size + 1))
    out = []
    for k, key in enumerate(unique_keys):
        mask, channel = masks[key // (n_channels + 1)], int(key % (n_channels + 1)) - 1
        out.append((order[bounds[k]:bounds[k + 1]], row_features(table, mask, channel)))
    return out


def row_lengths(table, environment, centers, channels):
    """(R,) int64: features held by each row (see :func:`row_patterns`), counted per
    distinct environment (no feature list is built)."""
    centers = np.asarray(centers, dtype=np.int64)
    channels = np.asarray(channels, dtype=np.int64)
    if centers.size == 0:
        return np.zeros(0, dtype=np.int64)
    environment = np.asarray(environment, dtype=bool)
    n_channels = environment.shape[1]
    masks, mask_of = np.unique(environment, axis=0, return_inverse=True)
    mask_of = mask_of.reshape(-1)
    inside = masks[:, table].all(axis=2)  # (masks, F): every channel of the feature present
    involves = (table[:, :, None] == np.arange(n_channels)).any(axis=1)  # (F, n_channels)
    inside = inside.astype(np.float64)  # counts by a (BLAS) product: exact below 2**53
    counts = np.concatenate([inside @ involves, inside.sum(axis=1)[:, None]], axis=1)
    return counts.astype(np.int64)[mask_of[centers],
                                   np.where(channels == SELF, n_channels, channels)]


def row_offsets(lengths):
    """(R + 1,) int64: start of each ``(3, k)`` row in the flat array, and its length."""
    offsets = np.zeros(np.asarray(lengths).shape[0] + 1, dtype=np.int64)
    np.cumsum(3 * np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return offsets


def gather_rows(values, offsets, rows, k):
    """(len(rows), 3, k): rows of length ``k`` of a flat array (numpy or dask)."""
    positions = (np.asarray(offsets)[rows][:, None] + np.arange(3 * k)[None]).reshape(-1)
    return np.asarray(values[positions]).reshape(len(rows), 3, k)


def pair_rows(centers, neighbors, channels, n_atoms):
    """The gradient rows of neighbour pairs (sorted by centre).

    One row per (centre, neighbour atom) with neighbour != centre, all periodic images of
    the neighbour summed into it; images of the centre itself (and the centre with
    ``include_center``) belong to the centre's own row.

    Returns
    -------
    row_centers, row_neighbors, row_channels : (G,) int64
        Sorted by centre, then neighbour; ``row_channels``: the neighbour's channel.
    pair_slot : (P,) int64
        Row of each pair, -1 for the centre's own images.
    """
    width = max(int(n_atoms), 1)
    keys = centers * width + neighbors
    other = centers != neighbors
    rows, first = np.unique(keys[other], return_index=True)
    pair_slot = np.full(keys.shape[0], -1, dtype=np.int64)
    pair_slot[other] = np.searchsorted(rows, keys[other])
    return ((rows // width).astype(np.int64), (rows % width).astype(np.int64),
            channels[other][first].astype(np.int64), pair_slot)


def _flat(values):
    """A (R, 3, k) array (numpy or dask) as its flat rows, and their offsets."""
    R, _, k = values.shape
    return values.reshape(-1), np.arange(R + 1, dtype=np.int64) * 3 * k


def rectangular_rows(fields):
    """Fields of format 2 (``gradient_values`` (G, 3, F_s) over ``gradient_feature_index``
    (n_channels, F_s), ``self_gradients`` (n_atoms, 3, F)) in the flat layout.

    Every channel is marked present in every environment: a format-2 row holds all the
    features of its channel (the table of format 2 is that of all channels present).
    """
    fields = dict(fields)
    table_2 = np.asarray(fields.pop("gradient_feature_index"))
    values, self_values = fields["gradient_values"], fields["self_gradients"]
    F = self_values.shape[2]
    n_channels = table_2.shape[0]
    if n_channels == 1:
        table = np.zeros((F, 1), dtype=np.int64)
    else:  # recover the channels of each feature from the table (pairs or triples)
        involves = np.zeros((F, n_channels), dtype=bool)
        for ch in range(n_channels):
            involves[table_2[ch], ch] = True
        order = max(int(involves.sum(axis=1).max()), 1)
        table = np.array([np.resize(np.flatnonzero(row), order) for row in involves],
                         dtype=np.int64)
    fields["gradient_values"], fields["gradient_offsets"] = _flat(values)
    fields["self_gradients"], fields["self_gradient_offsets"] = _flat(self_values)
    fields["environment_channels"] = np.ones((self_values.shape[0], n_channels), dtype=bool)
    fields["feature_channels"] = table
    return fields


def split_dense_rows(centers, neighbors, values):
    """Dense gradient rows (format 1: ``(i, i)`` present for every centre ``i``, sorted by
    centre) as flat-layout fields with one channel present everywhere.

    ``values`` may be a dask array (the split is then lazy); the index arrays are read.
    Returns a dict of the gradient fields of :class:`rstref.features.Features`.
    """
    centers, neighbors = np.asarray(centers), np.asarray(neighbors)
    own = centers == neighbors
    pairs, selfs = np.flatnonzero(~own), np.flatnonzero(own)
    if not np.array_equal(centers[selfs], np.arange(selfs.size)):
        raise ValueError("dense gradient rows: expected one (i, i) row per atom, in atom order")
    F = values.shape[2]
    return rectangular_rows({
        "gradient_centers": centers[pairs], "gradient_neighbors": neighbors[pairs],
        "gradient_channels": np.zeros(pairs.size, dtype=np.int64),
        "gradient_values": values[pairs], "self_gradients": values[selfs],
        "gradient_feature_index": np.arange(F, dtype=np.int64)[None]})
