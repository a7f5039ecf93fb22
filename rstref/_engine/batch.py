"""The engine's one currency: a ragged batch of environments.

Environment ``e`` owns the neighbour rows ``offsets[e]:offsets[e + 1]``::

    neighbours of environment e = [i for i in range(offsets[e], offsets[e + 1])]

Row ``i`` is a neighbour vector ``vectors[i]`` (relative to the environment's centre), a
density channel ``channels[i]`` (0 for one density; the species channel otherwise) and a
peak height ``weights[i]``.  Channels are radial offsets of one stacked tensor (composite
radial index ``N = channel * n_max + n``, ``n_eff = n_channels * n_max``), see
:mod:`rstref._kernels.tensor`.  A single environment is a batch of one.

A batch holds already-checked arrays (C-contiguous, float64 / int64, finite, offsets
valid, no coincident neighbours): the public entry points validate once and build it.
"""

from typing import NamedTuple

import numpy as np


class RaggedBatch(NamedTuple):
    """Neighbours of ``n_env`` environments, stored flat (see the module docstring).

    Attributes
    ----------
    offsets : ndarray of int64, shape (n_env + 1,)
    vectors : ndarray of float64, shape (P, 3)
    channels : ndarray of int64, shape (P,)
    weights : ndarray of float64, shape (P,)
    n_channels : int
    """

    offsets: np.ndarray
    vectors: np.ndarray
    channels: np.ndarray
    weights: np.ndarray
    n_channels: int

    @property
    def n_env(self):
        return int(self.offsets.shape[0] - 1)

    @property
    def n_neighbours(self):
        return int(self.vectors.shape[0])


def one_density(vectors, weights, offsets):
    """A batch of checked ``vectors`` (P, 3), ``weights`` (P,), ``offsets``, all in channel 0."""
    return RaggedBatch(offsets, vectors, np.zeros(vectors.shape[0], dtype=np.int64), weights, 1)


def single_environment(positions, values):
    """The batch of one environment: checked ``positions`` (N, 3) and ``values`` (N,)."""
    offsets = np.array([0, positions.shape[0]], dtype=np.int64)
    return one_density(positions, values, offsets)
