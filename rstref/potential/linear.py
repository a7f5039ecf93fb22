"""A linear potential on rstref features: energy, forces, stress and analytic Hessians.

The model is ``E = sum_i (w_(s_i) . p_i + b_(s_i))``: one weight vector ``w_s`` (F,) and one
per-atom bias ``b_s`` per centre species ``s``, ``p_i`` the power-spectrum features of atom
``i`` from a :class:`rstref.features.Featurizer` (any species mode, either projection).
Forces, virial stress and the (3N, 3N) Hessian are exact derivatives, computed by
contracting with ``w`` per environment (:mod:`rstref.potential.contraction`), so their
cost does not grow with the number of features.  Units are those of the inputs (ase: eV,
Å; stress in eV/Å^3 with ase's sign, ``sigma = (1/V) dE/d eps``).
"""

import numpy as np

from rstref._checks import as_float_array, check_allocation, check_choice
from rstref.features import Featurizer
from rstref.features.environments import coefficient_blocks, environments, expansion_of, species_index
from rstref.features.hessians import atom_hessian_block
from rstref.potential import contraction as _c

#: output formats of :meth:`LinearPotential.hessian`
HESSIAN_FORMATS = ("dense", "sparse")


class LinearPotential:
    """``E = sum_i (w_(s_i) . p_i + b_(s_i))`` on the power spectrum of ``featurizer``.

    Parameters
    ----------
    featurizer : rstref.features.Featurizer
        Power-spectrum featurizer (``invariant='power_spectrum'``); its ``species`` list
        (required) orders the weight vectors.
    weights : array_like, shape (S, F) or (F,), optional
        One weight vector per species of ``featurizer.species`` (a (F,) vector is shared).
        None: zeros until :meth:`fit`.
    bias : float or array_like, shape (S,)
        Energy per atom of each species.

    Attributes
    ----------
    featurizer, species (tuple of atomic numbers), weights (S, F), bias (S,)
    """

    def __init__(self, featurizer, weights=None, bias=0.0):
        if not isinstance(featurizer, Featurizer):
            raise TypeError(f"featurizer must be an rstref.features.Featurizer, got "
                            f"{type(featurizer).__name__}")
        if featurizer.invariant != "power_spectrum":
            raise ValueError("LinearPotential needs a power-spectrum featurizer "
                             f"(invariant='power_spectrum'), got invariant={featurizer.invariant!r}")
        if featurizer.species is None:
            raise ValueError("featurizer.species must be set: it orders the potential's weights")
        self.featurizer = featurizer
        self.species = tuple(featurizer.species)
        S, F = len(self.species), featurizer.n_features
        if weights is None:
            weights = np.zeros((S, F))
        weights = np.asarray(weights)
        if weights.ndim == 1:
            weights = np.broadcast_to(weights, (S,) + weights.shape)
        self.weights = as_float_array(weights, "weights", trailing_shape=(S, F), ndim=2).copy()
        if np.ndim(bias) == 0:
            bias = np.full(S, as_float_array([bias], "bias", ndim=1)[0])
        self.bias = as_float_array(bias, "bias", trailing_shape=(S,), ndim=1).copy()
        self._expansion = expansion_of(featurizer)
        self._forms = None

    def __repr__(self):
        return f"LinearPotential({self.featurizer!r}, species={list(self.species)})"

    # ------------------------------------------------------------------ fitting

    def fit(self, structures, energies, forces=None, regularization=1e-8, force_weight=1.0):
        """Ridge fit of the weights and biases to energies and, optionally, forces.

        Parameters
        ----------
        structures : sequence of ase.Atoms
        energies : array_like, shape (n_structures,)
        forces : sequence of (n_atoms_s, 3) arrays, optional
            Reference forces (``-dE/dx``) of each structure.
        regularization : float
            Ridge parameter ``lambda >= 0`` on the weights (not the biases), relative to
            the mean squared design entry.
        force_weight : float
            Weight of each force component relative to an energy row.

        Returns
        -------
        self
        """
        structures = list(structures)
        energies = as_float_array(energies, "energies", ndim=1)
        if energies.shape[0] != len(structures):
            raise ValueError(f"energies must have one entry per structure ({len(structures)}), "
                             f"got {energies.shape[0]}")
        if not (np.isfinite(regularization) and regularization >= 0):
            raise ValueError(f"regularization must be a finite number >= 0, got {regularization!r}")
        rows, targets = self._energy_rows(structures, energies)
        if forces is not None:
            forces = list(forces)
            if len(forces) != len(structures):
                raise ValueError(f"forces must have one array per structure ({len(structures)}), "
                                 f"got {len(forces)}")
            frows, ftargets = self._force_rows(structures, forces)
            rows = np.vstack([rows, force_weight * frows])
            targets = np.concatenate([targets, force_weight * ftargets])
        S, F = self.weights.shape
        scale = np.sqrt(regularization * max(np.mean(rows[:, :S * F] ** 2), 1e-300))
        ridge = np.zeros((S * F, S * F + S))
        ridge[:, :S * F] = scale * np.eye(S * F)
        solution = np.linalg.lstsq(np.vstack([rows, ridge]),
                                   np.concatenate([targets, np.zeros(S * F)]), rcond=None)[0]
        self.weights = solution[:S * F].reshape(S, F)
        self.bias = solution[S * F:].copy()
        self._forms = None
        return self

    def _species_of(self, atoms):
        return species_index(atoms.get_atomic_numbers(), self.species)

    def _energy_rows(self, structures, energies):
        S, F = self.weights.shape
        rows = np.zeros((len(structures), S * F + S))
        for k, atoms in enumerate(structures):
            p = self.featurizer.compute(atoms).features
            s = self._species_of(atoms)
            for a in range(S):
                rows[k, a * F:(a + 1) * F] = p[s == a].sum(axis=0)
                rows[k, S * F + a] = np.count_nonzero(s == a)
        return rows, energies

    def _force_rows(self, structures, forces):
        S, F = self.weights.shape
        blocks, targets = [], []
        for atoms, f in zip(structures, forces):
            n = len(atoms)
            f = as_float_array(f, "forces", trailing_shape=(3,))
            if f.shape[0] != n:
                raise ValueError(f"forces: expected ({n}, 3) for a structure of {n} atoms, got {f.shape}")
            out = self.featurizer.compute(atoms, gradients=True)
            centers, neighbors, values = out.dense_gradients()
            s = self._species_of(atoms)
            design = np.zeros((n, 3, S * F + S))
            for a in range(S):
                g = values * (s[centers] == a)[:, None, None]
                part = np.zeros((n, 3, F))
                np.add.at(part, neighbors, g)
                design[:, :, a * F:(a + 1) * F] = -part
            blocks.append(design.reshape(3 * n, -1))
            targets.append(f.reshape(-1))
        return np.vstack(blocks), np.concatenate(targets)

    # ------------------------------------------------------------------ evaluation

    def _quadratic_forms(self):
        if self._forms is None:
            n_eff, l_max = self.featurizer.n_eff, self.featurizer.l_max
            self._forms = [_c.quadratic_forms(w, n_eff, l_max) for w in self.weights]
        return self._forms

    def _centres(self, atoms, order):
        """Yield ``(env, i, pair slice, (C_i, dC, d2C), M)`` for every centre of ``atoms``."""
        env = environments(self.featurizer, atoms, self.species)
        C, dC, d2C = coefficient_blocks(self.featurizer, self._expansion, env, order)
        forms = self._quadratic_forms()
        for i in range(env.offsets.shape[0] - 1):
            pairs = slice(env.offsets[i], env.offsets[i + 1])
            blocks = (C[i], dC[pairs], None if d2C is None else d2C[pairs])
            yield env, i, pairs, blocks, forms[env.species[i]]

    def energy(self, atoms):
        """Potential energy of ``atoms`` (float)."""
        return self._evaluate(atoms)[0]

    def forces(self, atoms):
        """Forces ``-dE/dx``: (n_atoms, 3)."""
        return self._evaluate(atoms)[1]

    def stress(self, atoms, voigt=True):
        """Virial stress ``(1/V) dE/d eps``: Voigt (xx, yy, zz, yz, xz, xy) or (3, 3).

        Raises ValueError for a structure without a 3-d periodic cell (no volume).
        """
        virial = self._evaluate(atoms)[2]
        if not np.all(atoms.get_pbc()):
            raise ValueError("stress needs a structure periodic along all three axes (a volume)")
        sigma = virial / atoms.get_volume()
        if not voigt:
            return sigma
        return sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]

    def hessian(self, atoms, format="dense", atoms_subset=None):
        """Hessian ``d2E / dx dx`` of the energy: (3k, 3k) dense array or scipy CSR matrix.

        Parameters
        ----------
        atoms : ase.Atoms
        format : {'dense', 'sparse'}
            'sparse' is assembled from the per-environment blocks without a dense
            intermediate (memory grows with the number of neighbour pairs, not N^2).
        atoms_subset : sequence of int, optional
            Only the rows and columns of these atoms, in the given order (k atoms), as
            finite-difference codes (phonopy displacements, constrained optimisers) need;
            default all atoms (k = N).

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix, shape (3k, 3k)
            Row ``3 a + alpha`` is atom ``atoms_subset[a]``'s Cartesian component ``alpha``.
        """
        check_choice(format, "format", HESSIAN_FORMATS)
        subset = _checked_subset(atoms_subset, len(atoms))
        return self._evaluate(atoms, hessian=_HessianSum(len(atoms), subset, format))[3]

    def _evaluate(self, atoms, hessian=None):
        """``(energy, forces, virial (3, 3), Hessian or None)``; ``hessian`` a :class:`_HessianSum`."""
        n = len(atoms)
        energy = 0.0
        forces = np.zeros((n, 3))
        virial = np.zeros((3, 3))
        n_max = self.featurizer.n_max
        for env, i, pairs, (C, dC, d2C), M in self._centres(atoms, 1 if hessian is None else 2):
            channels = env.channel[pairs]
            G = _c.coefficient_gradient(C, M)
            energy += _c.energy(C, G) + self.bias[env.species[i]]
            if channels.shape[0] == 0:
                continue
            g = _c.pair_gradients(dC, G, channels, n_max)
            forces += _c.atom_forces(g, i, env.neighbour[pairs], n)
            virial += g.T @ env.vector[pairs]
            if hessian is not None:
                Hp = _c.pair_hessian(dC, d2C, G, M, channels, n_max)
                hessian.add(*atom_hessian_block(Hp, i, env.neighbour[pairs]))
        return energy, forces, virial, None if hessian is None else hessian.result()

    def calculator(self):
        """An ase ``Calculator`` (energy, forces, stress; ``get_hessian``) for this potential."""
        from rstref.potential.interop import LinearPotentialCalculator

        return LinearPotentialCalculator(self)


def _checked_subset(atoms_subset, n_atoms):
    """``atoms_subset`` as int64 indices (all atoms for None), checked."""
    if atoms_subset is None:
        return np.arange(n_atoms)
    idx = np.asarray(atoms_subset)
    if (idx.dtype.kind not in "iu" or idx.ndim != 1 or np.any(idx < 0) or np.any(idx >= n_atoms)
            or np.unique(idx).shape[0] != idx.shape[0]):
        raise ValueError(f"atoms_subset must be a 1-d sequence of distinct atom indices in "
                         f"0..{n_atoms - 1}, got {atoms_subset!r}")
    return idx.astype(np.int64)


class _HessianSum:
    """Sum of per-environment atom blocks into the (3k, 3k) Hessian of a subset of atoms."""

    def __init__(self, n_atoms, subset, format):
        self.position = np.full(n_atoms, -1, dtype=np.int64)
        self.position[subset] = np.arange(subset.shape[0])
        self.size = 3 * subset.shape[0]
        self.format = format
        if format == "dense":
            check_allocation(8.0 * self.size ** 2, f"a dense ({self.size}, {self.size}) Hessian",
                             "use format='sparse' or atoms_subset")
        self.dense = np.zeros((self.size, self.size)) if format == "dense" else None
        self.entries = []

    def add(self, involved, block):
        """Add ``block`` (k, 3, k, 3) over the global atoms ``involved`` (k,)."""
        where = self.position[involved]
        keep = np.flatnonzero(where >= 0)
        if keep.size == 0:
            return
        rows = (3 * where[keep][:, None] + np.arange(3)).reshape(-1)
        part = block[keep][:, :, keep].reshape(rows.shape[0], rows.shape[0])
        if self.dense is not None:
            self.dense[np.ix_(rows, rows)] += part
        else:
            r, c = np.meshgrid(rows, rows, indexing="ij")
            self.entries.append((r.ravel(), c.ravel(), part.ravel()))

    def result(self):
        if self.dense is not None:
            return self.dense
        from scipy import sparse

        if self.entries:
            r, c, v = (np.concatenate(x) for x in zip(*self.entries))
        else:
            r = c = np.zeros(0, np.int64)
            v = np.zeros(0)
        return sparse.coo_matrix((v, (r, c)), shape=(self.size, self.size)).tocsr()
