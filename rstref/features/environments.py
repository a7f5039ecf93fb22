"""Atomic environments of a structure: pairs, channels, and coefficient blocks per centre.

Used by the feature Hessians (:mod:`rstref.features.hessians`) and the linear potentials
(:mod:`rstref.potential`).

For every centre atom ``i`` of a structure the environment is the featurizer's: the pairs
``p`` of :func:`rstref.neighbors.neighbor_list` with ``i_p = i`` (periodic images included,
the centre itself only with ``include_center``), each putting a peak of height ``weight_p``
into density channel ``channel_p``.  Coefficients come from the engine
(:mod:`rstref._engine`), stacked as the featurizer stacks them (composite radial index
``N = channel * n_max + n``), and are held with a flat ``lm = l*l + l + m`` axis,
``L = (l_max+1)**2``::

    C   : (n_atoms, n_eff, L)    C[i, N, lm] = c_i[N, l, m]
    dC  : (P, 3, n_max, L)       d c[ch_p*n_max + n, l, m] / d r_p,a   (pair p's own channel)
    d2C : (P, 3, 3, n_max, L)    second derivatives (a pair moves only its own peak)

A pair vector is ``r_p = x_{j_p} + S_p cell - x_{i_p}``, so ``d r_p / d x_j = +1`` for
``j = j_p`` and ``-1`` for ``j = i_p`` (both for a periodic image of the centre itself).
"""

from typing import NamedTuple

import numpy as np

from rstref._checks import check_allocation
from rstref._engine import Expansion, RaggedBatch
from rstref.features.pairs import structure_pairs


class Environments(NamedTuple):
    """Pairs of a structure, sorted by centre (see the module docstring).

    Attributes
    ----------
    offsets : (n_atoms + 1,) int64
        Centre ``i`` owns pairs ``offsets[i]:offsets[i + 1]``.
    centre, neighbour : (P,) int64
        ``i_p`` and ``j_p``.
    vector : (P, 3) float64
        ``r_p``.
    channel : (P,) int64
        Density channel of pair ``p`` (0 in 'values' mode).
    weight : (P,) float64
        Peak height of pair ``p`` (1 in 'channels' mode).
    species : (n_atoms,) int64
        Index of each atom's species in the potential's species list.
    """

    offsets: np.ndarray
    centre: np.ndarray
    neighbour: np.ndarray
    vector: np.ndarray
    channel: np.ndarray
    weight: np.ndarray
    species: np.ndarray


def species_index(numbers, species):
    """Index of every atom's species in ``species`` (a tuple of atomic numbers), checked."""
    numbers = np.asarray(numbers, dtype=np.int64)
    unknown = sorted(set(numbers.tolist()) - set(species))
    if unknown:
        raise ValueError(f"atoms: atomic numbers {unknown} are not in the potential's species "
                         f"{list(species)}")
    index = {z: k for k, z in enumerate(species)}
    return np.array([index[int(z)] for z in numbers], dtype=np.int64)


def environments(featurizer, atoms, species):
    """:class:`Environments` of ``atoms`` (an ``ase.Atoms``) for ``featurizer``.

    The pairs, channels and peak heights are the featurizer's own
    (:func:`rstref.features.pairs.structure_pairs`); ``species`` orders ``species_index``.
    """
    pairs = structure_pairs([atoms], 0, featurizer.r_cut, featurizer.include_center, featurizer._assign)
    batch = pairs.ragged_batch(featurizer.n_channels)
    return Environments(batch.offsets, pairs.centers, pairs.neighbors, pairs.vectors, pairs.channels,
                        pairs.weights, species_index(pairs.atomic_numbers, species))


def expansion_of(featurizer):
    """The engine's density expansion of ``featurizer`` (standard convention, 'component' Y)."""
    from rstref.harmonics import SphericalHarmonics

    return Expansion(featurizer.radial_basis, featurizer.l_max,
                     SphericalHarmonics(featurizer.l_max, "component", "standard"))


def _index_maps(n_max, n_channels, l_max):
    """``stacked[N, lm]`` and ``single[n, lm]``: flat indices of the stacked and one-channel layouts."""
    n_eff = n_channels * n_max
    stacked = np.empty((n_eff, (l_max + 1) ** 2), dtype=np.int64)
    single = np.empty((n_max, (l_max + 1) ** 2), dtype=np.int64)
    for l in range(l_max + 1):
        for k in range(2 * l + 1):
            stacked[:, l * l + k] = n_eff * l * l + np.arange(n_eff) * (2 * l + 1) + k
            single[:, l * l + k] = n_max * l * l + np.arange(n_max) * (2 * l + 1) + k
    return stacked, single


def coefficient_blocks(featurizer, expansion, env, order):
    """``C`` (n_atoms, n_eff, L), ``dC`` (P, 3, n_max, L), ``d2C`` (P, 3, 3, n_max, L) or None.

    One engine call for every environment of the structure (:mod:`rstref._engine`): the
    stacked coefficients and each pair's derivatives in its own channel, rearranged to the
    flat-``lm`` blocks of the module docstring.  The bytes are checked before allocating.
    """
    n_max, l_max, n_channels = featurizer.n_max, featurizer.l_max, featurizer.n_channels
    P = env.vector.shape[0]
    per_pair = 3 * (4 if order >= 2 else 1) * expansion.dim * 8 * 2
    check_allocation(P * per_pair, f"coefficient derivatives of {P} neighbour pairs",
                     "use a smaller r_cut, n_max or l_max, or fewer atoms")
    batch = RaggedBatch(env.offsets, env.vector, env.channel, env.weight, n_channels)
    c, dc, d2c = expansion.coefficients(batch, featurizer.normalize, order)
    stacked, single = _index_maps(n_max, n_channels, l_max)
    return c[:, stacked], dc[:, :, single], (d2c[:, :, :, single] if order >= 2 else None)
