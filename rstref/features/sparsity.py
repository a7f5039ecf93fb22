"""Species-sparse gradient rows: which features a neighbour of each channel touches.

A neighbour of density channel ``ch`` only moves the coefficients of its own channel, so
the gradient of the centre's features with respect to its position is zero outside the
features whose channel pair (power spectrum) or triple (bispectrum) involves ``ch``
(docs/gradients.md).  :func:`channel_feature_table` lists those features per channel;
:func:`pair_rows` numbers the (centre, neighbour atom) rows of a batch.
"""

import numpy as np


def channel_feature_table(featurizer):
    """``(feature_index, compact)`` of ``featurizer``'s species-sparse gradient rows.

    Returns
    -------
    feature_index : (n_channels, F_s) int64
        ``feature_index[ch]``: the features (ascending) that involve channel ``ch``.  One
        channel ('values' mode): ``arange(F)``.  Every channel has the same count ``F_s``
        (power spectrum: ``(l_max + 1) * n_max * (n_eff - (n_max - 1) / 2)``); if some
        invariant's channels differed, every row would be ``arange(F)`` (dense).
    compact : (n_channels, F) int64
        Position of feature ``f`` in ``feature_index[ch]``, -1 where ``f`` does not
        involve ``ch``.
    """
    n_channels, n_max, F = featurizer.n_channels, featurizer.n_max, featurizer.n_features
    if featurizer.invariant == "bispectrum":
        radial = featurizer._triples[:, [0, 2, 4]]
    else:
        N, N2 = np.triu_indices(featurizer.n_eff)
        radial = np.tile(np.stack([N, N2], axis=1), (featurizer.l_max + 1, 1))
    channel = radial // n_max
    involves = np.stack([(channel == ch).any(axis=1) for ch in range(n_channels)])
    counts = involves.sum(axis=1)
    if counts.min() != counts.max():  # not the case for rstref's invariants
        involves[:] = True
    feature_index = np.stack([np.flatnonzero(row) for row in involves]).astype(np.int64)
    compact = np.full((n_channels, F), -1, dtype=np.int64)
    for ch in range(n_channels):
        compact[ch, feature_index[ch]] = np.arange(feature_index.shape[1])
    return feature_index.reshape(n_channels, -1), compact


def pair_rows(centers, neighbors, channels, n_atoms):
    """The species-sparse gradient rows of neighbour pairs (sorted by centre).

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


def split_dense_rows(centers, neighbors, values):
    """Dense gradient rows (format 1: ``(i, i)`` present for every centre ``i``, sorted by
    centre) as species-sparse fields with one all-features channel.

    ``values`` may be a dask array (the split is then lazy); the index arrays are read.
    Returns a dict of ``gradient_centers``, ``gradient_neighbors``, ``gradient_channels``,
    ``gradient_values``, ``self_gradients``, ``gradient_feature_index``.
    """
    centers, neighbors = np.asarray(centers), np.asarray(neighbors)
    own = centers == neighbors
    pairs, selfs = np.flatnonzero(~own), np.flatnonzero(own)
    if not np.array_equal(centers[selfs], np.arange(selfs.size)):
        raise ValueError("dense gradient rows: expected one (i, i) row per atom, in atom order")
    return {"gradient_centers": centers[pairs], "gradient_neighbors": neighbors[pairs],
            "gradient_channels": np.zeros(pairs.size, dtype=np.int64),
            "gradient_values": values[pairs], "self_gradients": values[selfs],
            "gradient_feature_index": np.arange(values.shape[2], dtype=np.int64)[None]}
