"""Second derivatives of per-atom features with respect to atom positions, block-sparse.

For every centre ``i`` the features ``p_i`` (power spectrum or bispectrum) depend on the positions of ``i``
and of the atoms in its environment only, so the Hessian of ``p_i`` is stored by
``(centre, j, k)`` triples of atoms of that environment (``i`` included, periodic images
summed into their atom), never as a dense ``(3N)^2`` array::

    values[t, a, b, f] = d^2 features[centers[t], f] / d positions[first[t], a] d positions[second[t], b]

sorted by centre, then ``first``, then ``second``; both orders of a pair of atoms are stored
(``values`` at ``(i, k, j)`` is the transpose in ``(a, b)`` of ``(i, j, k)``).  The number of
triples grows like the square of the neighbour count: the bytes are estimated before
anything is allocated and checked against ``rstref.limits.MAX_ALLOCATION_BYTES``.  For an
energy linear in the features, :meth:`rstref.potential.LinearPotential.hessian` contracts
inside each environment and needs no feature axis.
"""

from dataclasses import dataclass

import numpy as np

from rstref._checks import check_allocation
from rstref._engine import RaggedBatch
from rstref._engine.invariants import power_spectrum_hessian
from rstref.features.environments import environments, expansion_of

__all__ = ["FeatureHessians", "atom_hessian_block", "feature_hessians", "feature_hessians_bytes"]


@dataclass
class FeatureHessians:
    """Block-sparse feature Hessians of one structure (see the module docstring).

    Attributes
    ----------
    centers, first, second : (T,) int64
    values : (T, 3, 3, F) float64
    """

    centers: np.ndarray
    first: np.ndarray
    second: np.ndarray
    values: np.ndarray

    def dense(self, n_atoms):
        """``(n_atoms, F, 3 n_atoms, 3 n_atoms)``: every centre's full Hessian (small cases only)."""
        F = self.values.shape[-1]
        check_allocation(8 * n_atoms * F * (3 * n_atoms) ** 2, f"dense feature Hessians of {n_atoms} atoms",
                         "use the block-sparse arrays")
        out = np.zeros((n_atoms, F, n_atoms, 3, n_atoms, 3))
        out[self.centers, :, self.first, :, self.second, :] = self.values.transpose(0, 3, 1, 2)
        return out.reshape(n_atoms, F, 3 * n_atoms, 3 * n_atoms)


def feature_hessians_bytes(pairs_per_centre, n_features):
    """Bytes of the stored triples plus the largest per-centre working array."""
    pairs = np.asarray(pairs_per_centre, dtype=np.float64)
    stored = float(np.sum((pairs + 1.0) ** 2)) * 9 * n_features * 8
    working = float((3 * pairs.max(initial=0.0)) ** 2) * n_features * 8 * 3
    return stored + working


def _stacked_derivatives(dc, d2c, channels, n_max, n_channels, l_max):
    """Per-pair ``dc`` (P, 3, n_eff L) and ``d2c`` (P, 3, 3, n_eff L) in the stacked layout.

    The engine returns each pair's derivatives in its own channel's one-channel layout
    (``n_max*l*l + n*(2l+1) + (l+m)``); the stacked index of ``N = ch*n_max + n`` is
    ``n_eff*l*l + N*(2l+1) + (l+m)``.
    """
    n_eff = n_channels * n_max
    P = dc.shape[0]
    target = np.empty((n_channels, dc.shape[2]), dtype=np.int64)
    for l in range(l_max + 1):
        w = 2 * l + 1
        for n in range(n_max):
            src = n_max * l * l + n * w + np.arange(w)
            for ch in range(n_channels):
                target[ch, src] = n_eff * l * l + (ch * n_max + n) * w + np.arange(w)
    width = n_eff * (l_max + 1) ** 2
    full = np.zeros((P, 3, width))
    full2 = np.zeros((P, 3, 3, width))
    rows = np.arange(P)[:, None]
    own = target[channels]  # (P, dim)
    for a in range(3):
        full[rows, a, own] = dc[:, a]
        for b in range(3):
            full2[rows, a, b, own] = d2c[:, a, b]
    return full, full2


def atom_hessian_block(Hpairs, centre, neighbours):
    """The Hessian over the atoms one centre depends on.

    ``Hpairs`` (P, 3, P, 3, ...) holds second derivatives with respect to the pair vectors
    (any trailing axes, e.g. features).  Returns ``atoms`` (k,) (sorted global indices) and
    ``H`` (k, 3, k, 3, ...) with ``H[a, :, b, :] = d2 / dx_atoms[a] dx_atoms[b]``, from
    ``r_p = x_(j_p) + S cell - x_i`` (the incidence is +1 on ``j_p`` and -1 on ``i``).
    """
    atoms, local = np.unique(np.append(neighbours, centre), return_inverse=True)
    j, i = local[:-1], local[-1]
    k = atoms.shape[0]
    rows = np.zeros((k, 3) + Hpairs.shape[2:])
    np.add.at(rows, j, Hpairs)
    rows[i] -= Hpairs.sum(axis=0)
    moved = np.moveaxis(rows, (2, 3), (0, 1))  # [q, b, row atom, a, ...]
    cols = np.zeros((k, 3) + moved.shape[2:])
    np.add.at(cols, j, moved)
    cols[i] -= moved.sum(axis=0)
    return atoms, np.moveaxis(cols, (2, 3), (0, 1))


def feature_hessians(featurizer, atoms):
    """:class:`FeatureHessians` of ``atoms`` (an ``ase.Atoms``) for ``featurizer``.

    Power spectrum or bispectrum, either species mode, either projection.  Raises
    ValueError when :func:`feature_hessians_bytes` exceeds ``rstref.limits.MAX_ALLOCATION_BYTES``.
    """
    species = tuple(sorted(set(int(z) for z in atoms.get_atomic_numbers())))
    env = environments(featurizer, atoms, species)
    F = featurizer.n_features
    check_allocation(feature_hessians_bytes(np.diff(env.offsets), F),
                     f"feature Hessians of {len(atoms)} atoms ({env.vector.shape[0]} neighbour pairs, "
                     f"quadratic in the neighbour count)",
                     "use a smaller r_cut, n_max or l_max, fewer atoms, or, for an energy linear in "
                     "the features, rstref.potential.LinearPotential.hessian")
    n_max, l_max, n_channels = featurizer.n_max, featurizer.l_max, featurizer.n_channels
    batch = RaggedBatch(env.offsets, env.vector, env.channel, env.weight, n_channels)
    c, dc, d2c = expansion_of(featurizer).coefficients(batch, featurizer.normalize, 2)
    parts = []
    for i in range(len(atoms)):
        pairs = slice(env.offsets[i], env.offsets[i + 1])
        full, full2 = _stacked_derivatives(dc[pairs], d2c[pairs], env.channel[pairs], n_max, n_channels,
                                           l_max)
        if featurizer.invariant == "power_spectrum":
            d2p = power_spectrum_hessian(c[i], full, full2, n_channels * n_max, l_max)[2]
        else:
            d2p = featurizer._bispectrum.hessian(c[i], full, full2)[2]
        involved, block = atom_hessian_block(d2p, i, env.neighbour[pairs])
        k = involved.shape[0]
        first, second = np.meshgrid(involved, involved, indexing="ij")
        parts.append((np.full(k * k, i), first.ravel(), second.ravel(),
                      block.transpose(0, 2, 1, 3, 4).reshape(k * k, 3, 3, F)))
    if not parts:
        empty = np.zeros(0, np.int64)
        return FeatureHessians(empty, empty, empty, np.zeros((0, 3, 3, F)))
    return FeatureHessians(*(np.concatenate([p[k] for p in parts]).astype(np.int64) for k in range(3)),
                           np.concatenate([p[3] for p in parts]))
