"""Per-atom rotation-invariant features of atomic structures (DESIGN section 2.7).

What is computed
----------------
For every atom ``i`` of a structure (an ``ase.Atoms``, periodic or not) the
environment is the set of neighbour vectors ``r_ij = r_j + S @ cell - r_i`` with
``|r_ij| < r_cut`` (:func:`rstref.neighbors.neighbor_list`; periodic images included,
the centre itself excluded unless ``include_center=True``).  Each neighbour puts a
delta peak into a density that is projected on ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)``
('component' harmonics, orthonormal radial basis on the ball of radius ``r_cut``;
the raw projection of DESIGN 2.5, ``c = sum_j v_j phi(r_ij)``).  The default radial
family 'smooth_cosines' is C^2 at ``r_cut``, so features, gradients and stress are
continuous when atoms cross the cutoff.

Species
-------
* ``species_mode='values'`` (the seed's way): one density; neighbour ``j`` contributes
  a peak of height ``species_values[Z_j]`` (default: -1 for hydrogen, +1 for every
  other element, as in the seed experiment).
* ``species_mode='channels'`` (SOAP-style): one density per species ``a`` of the
  ``species`` list, ``c^a = sum_{j of species a} phi(r_ij)``.  The channels are
  stacked into one tensor with the composite radial index ``N = a * n_max + n``
  (``a`` = position in ``species``), and its power spectrum contains every
  same-species and cross-species product.

Feature order (deterministic for a given ``species`` list, ``n_eff = n_species *
n_max`` in 'channels' mode and ``n_max`` in 'values' mode):

* power spectrum (DESIGN 2.6 applied to the stacked tensor)::

      [(l, N, N2) for l in range(l_max + 1) for N in range(n_eff) for N2 in range(N, n_eff)]
      p[l, N, N2] = w (2l+1)^(-1/2) sum_m c[N, l, m] c[N2, l, m],  w = 1 if N == N2 else sqrt(2)

  with ``N = a * n_max + n``; the pair ``(a, n), (b, n2)`` is the species pair
  ``(species[a], species[b])``, ``a <= b``.  The sqrt(2) weight makes the Euclidean dot
  product of two feature vectors equal to the full SOAP kernel
  ``sum_{a,b,n,n2,l} p^{ab}_{l n n2} p'^{ab}_{l n n2}`` over ordered species pairs.
  :meth:`Featurizer.feature_labels` returns ``(l, species_a, n, species_b, n2)``.
* bispectrum: :func:`rstref.invariants.bispectrum_range` with ``n_max -> n_eff``,
  labels ``(species_1, n1, l1, species_2, n2, l2, species_3, n3, l3)``.

Derivatives
-----------
* Position gradients are stored per (centre, neighbour atom) pair, never as a dense
  N x N array: ``gradient_values[g, a, f] = d features[gradient_centers[g], f] /
  d positions[gradient_neighbors[g], a]``, sorted by centre, then neighbour.  For every
  centre ``i`` the pair ``(i, i)`` is present and holds ``-sum`` of the pair gradients
  of its environment (translation invariance); all periodic images of one neighbour
  atom are summed into one entry (images of ``i`` itself cancel).
* Strain derivatives (``stress=True``): ``strain_derivatives[i, a, b, f] = d
  features[i, f] / d eps_ab`` at ``eps = 0`` for the homogeneous deformation
  ``r -> (I + eps) r`` of all positions and cell vectors, i.e.
  ``sum_{pairs j of i} (d p_i / d r_ij)_a (r_ij)_b``.  It is symmetric in ``(a, b)`` for
  rotation-invariant features, is *not* divided by the cell volume, and carries no
  sign flip: for a model ``E = sum_i w . features[i]`` the virial stress is
  ``sigma_ab = (1 / V) sum_i w . strain_derivatives[i, a, b]`` (ase's sign convention,
  ``sigma = (1/V) dE/d eps``).  It is defined for open structures too (deformation of
  the positions only).

Many structures
---------------
:meth:`Featurizer.iter_batches` streams any iterable of structures in batches of about
``batch_atoms`` atoms (memory is bounded by one batch), in input order;
:func:`featurize` on a list concatenates everything with ``atom_offsets``.
"""

import math
import numbers
import sys
import time
from dataclasses import dataclass, fields
from typing import Optional

import numba
import numpy as np

from rstref import limits
from rstref._checks import as_float_array, check_choice, check_int, check_positive_float
from rstref._kernels import features as _kf
from rstref._kernels import invariants as _ki
from rstref._numba import njit

__all__ = ["featurize", "Featurizer", "Features", "SPECIES_MODES", "INVARIANTS"]

SPECIES_MODES = ("channels", "values")
INVARIANTS = ("power_spectrum", "bispectrum")

#: default radial basis of featurization: C^2 at r_cut, C^inf inside (DESIGN 2.5)
DEFAULT_RADIAL = "smooth_cosines"
DEFAULT_R_CUT = 5.0
DEFAULT_N_MAX = 8
DEFAULT_L_MAX = 6
DEFAULT_BATCH_ATOMS = 4096


def seed_species_value(z):
    """The seed's peak heights: -1 for hydrogen, +1 for every other element."""
    return -1.0 if int(z) == 1 else 1.0


# ----------------------------------------------------------------------------- results

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


# ----------------------------------------------------------------------------- progress

class _Progress:
    """Progress on stderr: tqdm when installed, else a plain counter (at most 2 lines/s)."""

    def __init__(self, total, enabled, desc="featurize"):
        self.enabled = bool(enabled)
        self.count = 0
        self.total = total
        self.desc = desc
        self._bar = None
        self._last = 0.0
        if not self.enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self._bar = tqdm(total=total, desc=desc, unit="structure", file=sys.stderr)

    def update(self, n):
        if not self.enabled:
            return
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.5 or (self.total is not None and self.count >= self.total):
            self._last = now
            of = f"/{self.total}" if self.total is not None else ""
            sys.stderr.write(f"\r{self.desc}: {self.count}{of} structures")
            sys.stderr.flush()

    def close(self):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _progress_enabled(progress, total):
    if progress is None:
        return bool(total is None or total >= 50) and sys.stderr.isatty()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool or None, got {type(progress).__name__}")
    return bool(progress)


# ----------------------------------------------------------------------------- species

def _atomic_number(value, name):
    from ase.data import atomic_numbers, chemical_symbols

    if isinstance(value, str):
        if value not in atomic_numbers:
            raise ValueError(f"{name}: unknown chemical symbol {value!r}")
        return int(atomic_numbers[value])
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if not 0 < int(value) < len(chemical_symbols):
            raise ValueError(f"{name}: atomic number {value} out of range 1..{len(chemical_symbols) - 1}")
        return int(value)
    raise TypeError(f"{name}: expected a chemical symbol or an atomic number, got {value!r}")


def _species_list(species):
    if species is None:
        return None
    if isinstance(species, (str, numbers.Integral, np.integer)):
        species = [species]
    out = [_atomic_number(s, "species") for s in species]
    if len(set(out)) != len(out):
        raise ValueError(f"species contains duplicates: {list(species)!r}")
    if not out:
        raise ValueError("species must not be empty")
    return tuple(out)


def _symbol(z):
    from ase.data import chemical_symbols

    return chemical_symbols[z]


# ----------------------------------------------------------------------------- CPU loops

@njit(parallel=True)
def _power_spectrum_loop(offsets, channel, weight, R, dR, Y, dY, u, vectors, n_max, l_max, n_eff,
                         pair_slot, self_slot, features, gradients, write_gradients, strain,
                         write_strain):
    dim = n_eff * (l_max + 1) * (l_max + 1)
    for i in numba.prange(offsets.shape[0] - 1):
        c = np.empty(dim)
        present = np.empty(n_eff // n_max, dtype=np.bool_)
        _kf.stacked_density(offsets[i], offsets[i + 1], channel, weight, R, Y, n_max, l_max, n_eff, c)
        _kf.channels_present(offsets[i], offsets[i + 1], channel, weight, present)
        _kf.stacked_power_spectrum(c, present, n_max, l_max, n_eff, features[i])
        if write_gradients or write_strain:
            A = np.empty((l_max + 1, n_eff))
            B = np.empty((3, l_max + 1, n_eff))
            for p in range(offsets[i], offsets[i + 1]):
                _kf.power_spectrum_pair_gradient(p, c, present, channel, weight, R, dR, Y, dY, u,
                                                 n_max, l_max, n_eff, A, B, vectors[p], pair_slot[p],
                                                 self_slot[i], gradients, write_gradients,
                                                 strain[i], write_strain)


@njit(parallel=True)
def _bispectrum_loop(offsets, channel, weight, R, dR, Y, dY, u, vectors, n_max, l_max, n_eff,
                     triples, block_offsets, m1_index, m2_index, M_index, cg, cg_l_max,
                     pair_slot, self_slot, features, gradients, write_gradients, strain,
                     write_strain):
    dim = n_eff * (l_max + 1) * (l_max + 1)
    F = features.shape[1]
    for i in numba.prange(offsets.shape[0] - 1):
        c = np.empty(dim)
        _kf.stacked_density(offsets[i], offsets[i + 1], channel, weight, R, Y, n_max, l_max, n_eff, c)
        _ki.bispectrum_values(c, n_eff, triples, block_offsets, m1_index, m2_index, M_index, cg,
                              cg_l_max, features[i])
        if write_gradients or write_strain:
            jac = np.empty((F, dim))
            _ki.bispectrum_jacobian(c, n_eff, triples, block_offsets, m1_index, m2_index, M_index,
                                    cg, cg_l_max, jac)
            g = np.empty((3, F))
            for p in range(offsets[i], offsets[i + 1]):
                _kf.jacobian_pair_gradient(p, jac, channel, weight, R, dR, Y, dY, u, n_max, l_max,
                                           n_eff, g)
                _kf.scatter_pair_gradient(g, vectors[p], pair_slot[p], self_slot[i], gradients,
                                          write_gradients, strain[i], write_strain)


# ----------------------------------------------------------------------------- featurizer

class Featurizer:
    """Per-atom invariant features of structures (see the module docstring).

    Parameters
    ----------
    r_cut : float, optional
        Cutoff radius in Å (default 5.0, or the radial basis' own when ``radial`` is an
        :class:`~rstref.OrthonormalRadialBasis`).
    n_max : int, optional
        Radial functions per density (default 8, or the radial basis' own).
    l_max : int
        Largest spherical-harmonic degree (default 6).
    species : sequence of str or int, optional
        Species list.  Required in 'channels' mode (it fixes the channel order and the
        feature layout); in 'values' mode, optional (then atoms of other species are
        rejected).  Order is kept as given.
    species_mode : {'channels', 'values'}
    species_values : dict, optional
        'values' mode: peak height per species (keys: symbols or atomic numbers).
        Default: -1 for H, +1 for every other element (the seed's choice).
    invariant : {'power_spectrum', 'bispectrum'}
    radial : str or OrthonormalRadialBasis
        Radial family name (default 'smooth_cosines', C^2 at ``r_cut``) or a basis.
    envelope_power : int, optional
        Envelope ``(r_cut - r)^p`` for a family given by name.
    normalize : bool
        False (default): raw delta-density projection ``c = sum_j v_j phi(r_ij)``, smooth
        at the cutoff.  True: the seed's kernel-normalised projection
        ``sum_j v_j phi(r_ij) / ||phi(r_ij)||^2`` (discontinuous at ``r_cut``; DESIGN 2.5).
    include_center : bool
        Put the centre atom itself into its own density (a peak at r = 0). Default False.
    bispectrum_parity : {'all', 'even', 'odd'}
        Which bispectrum triples to keep (:func:`rstref.invariants.bispectrum_range`).
    """

    def __init__(self, r_cut=None, n_max=None, l_max=DEFAULT_L_MAX, species=None,
                 species_mode="channels", species_values=None, invariant="power_spectrum",
                 radial=DEFAULT_RADIAL, envelope_power=None, normalize=False,
                 include_center=False, bispectrum_parity="all"):
        from rstref.harmonics import SphericalHarmonics
        from rstref.radial import OrthonormalRadialBasis

        self.species_mode = check_choice(species_mode, "species_mode", SPECIES_MODES)
        self.invariant = check_choice(invariant, "invariant", INVARIANTS)
        self.l_max = check_int(l_max, "l_max", 0, 64)
        for flag, name in ((normalize, "normalize"), (include_center, "include_center")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self.normalize = bool(normalize)
        self.include_center = bool(include_center)
        if isinstance(radial, OrthonormalRadialBasis):
            if r_cut is not None and check_positive_float(r_cut, "r_cut") != radial.r_cut:
                raise ValueError(f"r_cut={r_cut} differs from the radial basis' r_cut={radial.r_cut}")
            if n_max is not None and check_int(n_max, "n_max", 1) != radial.n_max:
                raise ValueError(f"n_max={n_max} differs from the radial basis' n_max={radial.n_max}")
            if envelope_power is not None:
                raise ValueError("envelope_power must be None when radial is a basis object")
            self.radial_basis = radial
        elif isinstance(radial, str):
            r_cut = DEFAULT_R_CUT if r_cut is None else check_positive_float(r_cut, "r_cut")
            n_max = DEFAULT_N_MAX if n_max is None else check_int(n_max, "n_max", 1)
            self.radial_basis = OrthonormalRadialBasis(n_max, r_cut, primitive=radial,
                                                       envelope_power=envelope_power)
        else:
            raise TypeError(f"radial must be a family name or an OrthonormalRadialBasis, "
                            f"got {type(radial).__name__}")
        self.r_cut = float(self.radial_basis.r_cut)
        self.n_max = int(self.radial_basis.n_max)
        self._sph = SphericalHarmonics(self.l_max, "component", "standard")

        self.species = _species_list(species)
        if self.species_mode == "channels":
            if self.species is None:
                raise ValueError("species is required in 'channels' mode (it fixes the feature "
                                 "layout); featurize() infers it from the structures it is given")
            if species_values is not None:
                raise ValueError("species_values is only used in 'values' mode")
            self.n_channels = len(self.species)
            self._species_values = None
        else:
            self.n_channels = 1
            self._species_values = self._values_table(species_values)
        self.n_eff = self.n_channels * self.n_max

        if self.invariant == "bispectrum":
            from rstref import coupling
            from rstref.invariants import bispectrum_range

            self.bispectrum_parity = check_choice(bispectrum_parity, "bispectrum_parity",
                                                  ("all", "even", "odd"))
            table = coupling.load_table()
            if self.l_max > table.l_max:
                raise ValueError(f"l_max={self.l_max} exceeds the Clebsch-Gordan table's l_max="
                                 f"{table.l_max} (bispectrum)")
            self._triples = np.array(bispectrum_range(self.n_eff, self.l_max, self.bispectrum_parity),
                                     dtype=np.int64).reshape(-1, 6)
            block_offsets, m1, m2, M, values, cg_l_max = table.kernel_arrays()
            self._cg = (block_offsets, m1, m2, M, values, int(cg_l_max))
            self.n_features = int(self._triples.shape[0])
        else:
            self.bispectrum_parity = None
            self.n_features = (self.l_max + 1) * self.n_eff * (self.n_eff + 1) // 2

    # ------------------------------------------------------------------ description

    def _values_table(self, species_values):
        if species_values is None:
            return None
        if not isinstance(species_values, dict):
            raise TypeError(f"species_values must be a dict {{species: value}}, got "
                            f"{type(species_values).__name__}")
        table = {}
        for key, value in species_values.items():
            z = _atomic_number(key, "species_values")
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"species_values[{key!r}] must be finite, got {value!r}")
            table[z] = v
        if self.species is not None:
            missing = [_symbol(z) for z in self.species if z not in table]
            if missing:
                raise ValueError(f"species_values has no value for species {missing}")
        return table

    def hyperparameters(self):
        """A JSON-serialisable dict of everything that defines the features."""
        return {
            "r_cut": self.r_cut,
            "n_max": self.n_max,
            "l_max": self.l_max,
            "species": None if self.species is None else [_symbol(z) for z in self.species],
            "species_mode": self.species_mode,
            "species_values": None if self._species_values is None else
            {_symbol(z): v for z, v in sorted(self._species_values.items())},
            "invariant": self.invariant,
            "bispectrum_parity": self.bispectrum_parity,
            "radial": {"primitive": self.radial_basis.primitive,
                       "envelope_power": self.radial_basis.envelope_power},
            "normalize": self.normalize,
            "include_center": self.include_center,
            "spherical_harmonics": "real, standard convention, 'component' normalisation",
            "n_features": self.n_features,
        }

    def feature_labels(self):
        """Column names and an int64 array (F, k) labelling each feature.

        Power spectrum: ``('l', 'species_a', 'n', 'species_b', 'n2')``; bispectrum:
        ``('species_1', 'n1', 'l1', 'species_2', 'n2', 'l2', 'species_3', 'n3', 'l3')``.
        Species are atomic numbers; 0 in 'values' mode (one density of all species).
        """
        sp = np.array(self.species if self.species_mode == "channels" else (0,), dtype=np.int64)

        def split(N):
            return sp[N // self.n_max], N % self.n_max

        if self.invariant == "power_spectrum":
            rows = []
            for l in range(self.l_max + 1):
                for N in range(self.n_eff):
                    for N2 in range(N, self.n_eff):
                        rows.append((l, *split(N), *split(N2)))
            return ("l", "species_a", "n", "species_b", "n2"), np.array(rows, dtype=np.int64).reshape(-1, 5)
        rows = [(*split(t[0]), t[1], *split(t[2]), t[3], *split(t[4]), t[5]) for t in self._triples]
        names = ("species_1", "n1", "l1", "species_2", "n2", "l2", "species_3", "n3", "l3")
        return names, np.array(rows, dtype=np.int64).reshape(-1, 9)

    def __repr__(self):
        return (f"Featurizer(r_cut={self.r_cut}, n_max={self.n_max}, l_max={self.l_max}, "
                f"species_mode={self.species_mode!r}, species={self.hyperparameters()['species']}, "
                f"invariant={self.invariant!r}, n_features={self.n_features})")

    # ------------------------------------------------------------------ computing

    def compute(self, atoms, gradients=False, stress=False):
        """Features of one structure (``Features`` with one structure)."""
        return self._compute_batch([atoms], gradients, stress, first_index=0)

    def compute_many(self, structures, gradients=False, stress=False, batch_atoms=DEFAULT_BATCH_ATOMS,
                     progress=None):
        """Features of many structures, concatenated in input order."""
        parts = list(self.iter_batches(structures, gradients, stress, batch_atoms, progress))
        return Features.concatenate(parts, self.n_features, gradients, stress)

    def iter_batches(self, structures, gradients=False, stress=False, batch_atoms=DEFAULT_BATCH_ATOMS,
                     progress=None):
        """Yield :class:`Features` for consecutive batches of ``structures`` (any iterable).

        A batch collects structures until it holds at least ``batch_atoms`` atoms (a larger
        structure is a batch of its own); each batch's atom indices start at 0.  Memory is
        bounded by one batch.  ``progress``: None (on for >= 50 structures when stderr is a
        terminal), True or False; tqdm is used when installed.
        """
        batch_atoms = check_int(batch_atoms, "batch_atoms", 1)
        total = len(structures) if hasattr(structures, "__len__") else None
        bar = _Progress(total, _progress_enabled(progress, total))
        try:
            batch, atoms_in_batch, first = [], 0, 0
            for k, atoms in enumerate(structures):
                batch.append(atoms)
                atoms_in_batch += len(atoms)
                if atoms_in_batch >= batch_atoms:
                    yield self._compute_batch(batch, gradients, stress, first_index=first)
                    bar.update(len(batch))
                    first = k + 1
                    batch, atoms_in_batch = [], 0
            if batch:
                yield self._compute_batch(batch, gradients, stress, first_index=first)
                bar.update(len(batch))
        finally:
            bar.close()

    def _structure_arrays(self, atoms, index):
        where = f"structure {index}"
        if not (hasattr(atoms, "get_positions") and hasattr(atoms, "get_atomic_numbers")):
            raise TypeError(f"{where}: expected an ase.Atoms, got {type(atoms).__name__}")
        positions = as_float_array(atoms.get_positions(), f"positions of {where}", trailing_shape=(3,))
        numbers_ = np.asarray(atoms.get_atomic_numbers(), dtype=np.int64)
        cell = as_float_array(np.asarray(atoms.get_cell()), f"cell of {where}", trailing_shape=(3, 3), ndim=2)
        pbc = np.asarray(atoms.get_pbc(), dtype=bool)
        if self.species_mode == "channels":
            lookup = {z: a for a, z in enumerate(self.species)}
            unknown = sorted({int(z) for z in numbers_} - set(lookup))
            if unknown:
                raise ValueError(f"{where}: species {[_symbol(z) for z in unknown]} not in the "
                                 f"species list {[_symbol(z) for z in self.species]} ('channels' mode)")
            channel = np.array([lookup[int(z)] for z in numbers_], dtype=np.int64)
            weight = np.ones(len(numbers_))
        else:
            if self.species is not None:
                unknown = sorted({int(z) for z in numbers_} - set(self.species))
                if unknown:
                    raise ValueError(f"{where}: species {[_symbol(z) for z in unknown]} not in the "
                                     f"species list {[_symbol(z) for z in self.species]}")
            if self._species_values is None:
                weight = np.array([seed_species_value(z) for z in numbers_], dtype=np.float64)
            else:
                missing = sorted({int(z) for z in numbers_} - set(self._species_values))
                if missing:
                    raise ValueError(f"{where}: species_values has no value for species "
                                     f"{[_symbol(z) for z in missing]}")
                weight = np.array([self._species_values[int(z)] for z in numbers_], dtype=np.float64)
            channel = np.zeros(len(numbers_), dtype=np.int64)
        return positions, numbers_, cell, pbc, channel, weight

    def _pairs(self, structures, first_index):
        """Neighbour pairs of all structures with global atom indices."""
        from rstref.neighbors import neighbor_list

        pieces = []
        atom_offsets = [0]
        numbers_all = []
        for k, atoms in enumerate(structures):
            index = first_index + k
            positions, numbers_, cell, pbc, channel, weight = self._structure_arrays(atoms, index)
            try:
                nl = neighbor_list(positions, self.r_cut, cell, pbc, self_interaction=self.include_center)
            except ValueError as err:
                raise ValueError(f"structure {index}: {err}") from None
            close = nl.distance < limits.COINCIDENT_ATOMS_ATOL
            close &= ~((nl.i == nl.j) & np.all(nl.shift == 0, axis=1))
            if np.any(close):
                p = int(np.flatnonzero(close)[0])
                raise ValueError(
                    f"structure {index}: atoms {nl.i[p]} and {nl.j[p]} (shift {nl.shift[p].tolist()}) "
                    f"coincide (distance {nl.distance[p]:.3e} < COINCIDENT_ATOMS_ATOL = "
                    f"{limits.COINCIDENT_ATOMS_ATOL:.0e})")
            shift = atom_offsets[-1]
            pieces.append((nl.i + shift, nl.j + shift, nl.vector, nl.distance, channel[nl.j], weight[nl.j]))
            atom_offsets.append(shift + positions.shape[0])
            numbers_all.append(numbers_)
        if pieces:
            cols = [np.concatenate([p[c] for p in pieces]) for c in range(6)]
        else:
            cols = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0),
                    np.zeros(0, np.int64), np.zeros(0)]
        numbers_all = np.concatenate(numbers_all) if numbers_all else np.zeros(0, np.int64)
        return cols, np.array(atom_offsets, dtype=np.int64), numbers_all.astype(np.int64)

    def _radial(self, distance, derivatives):
        R, dR, _ = self.radial_basis.with_derivatives(distance)
        R = np.ascontiguousarray(R)
        dR = np.ascontiguousarray(dR)
        if not self.normalize:
            return R, dR
        # kernel normalisation: R / s with s = (l_max+1)^2 sum_n R_n^2 (DESIGN 2.5)
        k = float((self.l_max + 1) ** 2)
        s = k * np.einsum("pn,pn->p", R, R)
        ok = s > limits.KERNEL_NORM_FLOOR
        inv = np.where(ok, 1.0 / np.where(ok, s, 1.0), 0.0)
        ds = 2.0 * k * np.einsum("pn,pn->p", R, dR)
        Rn = R * inv[:, None]
        dRn = dR * inv[:, None] - R * (ds * inv * inv)[:, None]
        return np.ascontiguousarray(Rn), np.ascontiguousarray(dRn)

    def _compute_batch(self, structures, gradients, stress, first_index):
        for flag, name in ((gradients, "gradients"), (stress, "stress")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        gradients, stress = bool(gradients), bool(stress)
        (i, j, vectors, distance, channel, weight), atom_offsets, atomic_numbers = \
            self._pairs(structures, first_index)
        n_atoms = int(atom_offsets[-1])
        F = self.n_features
        L = (self.l_max + 1) ** 2
        derivatives = gradients or stress
        R, dR = self._radial(distance, derivatives)
        if derivatives:
            Y, dY = self._sph.compute_with_gradients(vectors)
        else:
            Y, dY = self._sph.compute(vectors), np.zeros((0, 3, L))
        Y = np.ascontiguousarray(Y)
        dY = np.ascontiguousarray(dY)
        safe = np.where(distance > 0.0, distance, 1.0)
        u = np.where(distance[:, None] > 0.0, vectors / safe[:, None], 0.0)
        counts = np.bincount(i, minlength=n_atoms)
        offsets = np.zeros(n_atoms + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])

        features = np.zeros((n_atoms, F))
        result = Features(features=features, atom_offsets=atom_offsets, atomic_numbers=atomic_numbers)
        if gradients:
            # one entry per (centre, neighbour atom), plus (i, i) for every centre
            keys = np.unique(np.concatenate([i * max(n_atoms, 1) + j,
                                             np.arange(n_atoms, dtype=np.int64) * (n_atoms + 1)]))
            pair_slot = np.searchsorted(keys, i * max(n_atoms, 1) + j).astype(np.int64)
            self_slot = np.searchsorted(keys, np.arange(n_atoms, dtype=np.int64) * (n_atoms + 1)).astype(np.int64)
            grad = np.zeros((keys.shape[0], 3, F))
            result.gradient_centers = (keys // max(n_atoms, 1)).astype(np.int64)
            result.gradient_neighbors = (keys % max(n_atoms, 1)).astype(np.int64)
            result.gradient_values = grad
        else:
            pair_slot = np.zeros(i.shape[0], dtype=np.int64)
            self_slot = np.zeros(n_atoms, dtype=np.int64)
            grad = np.zeros((1, 3, 0))
        strain = np.zeros((n_atoms, 3, 3, F)) if stress else np.zeros((n_atoms, 3, 3, 0))
        if stress:
            result.strain_derivatives = strain
        if n_atoms == 0:
            return result
        common = (offsets, channel, weight, R, dR, Y, dY, u, np.ascontiguousarray(vectors),
                  self.n_max, self.l_max, self.n_eff)
        outputs = (pair_slot, self_slot, features, grad, gradients, strain, stress)
        if self.invariant == "power_spectrum":
            _power_spectrum_loop(*common, *outputs)
        else:
            _bispectrum_loop(*common, self._triples, *self._cg, *outputs)
        return result


# ----------------------------------------------------------------------------- functional API

def _is_atoms(obj):
    return hasattr(obj, "get_positions") and hasattr(obj, "get_atomic_numbers")


def featurize(atoms_or_list, r_cut=None, n_max=None, l_max=DEFAULT_L_MAX, species=None,
              species_mode="channels", species_values=None, invariant="power_spectrum",
              radial=DEFAULT_RADIAL, envelope_power=None, normalize=False, include_center=False,
              bispectrum_parity="all", gradients=False, stress=False,
              batch_atoms=DEFAULT_BATCH_ATOMS, progress=None):
    """Per-atom invariant features of one structure or a list of structures.

    Parameters
    ----------
    atoms_or_list : ase.Atoms or sequence of ase.Atoms
    r_cut, n_max, l_max, species, species_mode, species_values, invariant, radial,
    envelope_power, normalize, include_center, bispectrum_parity
        See :class:`Featurizer`.  In 'channels' mode ``species=None`` means the sorted
        atomic numbers present in the given structures.
    gradients : bool
        Also compute the pair-sparse position gradients.
    stress : bool
        Also compute the strain derivatives.
    batch_atoms : int
        Structures are processed in batches of about this many atoms.
    progress : bool or None
        Progress bar on stderr (None: automatic for >= 50 structures on a terminal).

    Returns
    -------
    Features
        ``features`` (n_atoms, F) etc.; for a list, atoms of all structures in order
        with ``atom_offsets``.  For iterables too large for memory use
        :meth:`Featurizer.iter_batches`.

    Examples
    --------
    >>> from ase.build import bulk
    >>> out = featurize(bulk("Cu", cubic=True), r_cut=4.0, n_max=4, l_max=3, gradients=True)
    >>> out.features.shape, out.gradient_values.shape[1:]
    ((4, 40), (3, 40))
    """
    single = _is_atoms(atoms_or_list)
    structures = [atoms_or_list] if single else list(atoms_or_list)
    if species is None and species_mode == "channels":
        present = set()
        for k, atoms in enumerate(structures):
            if not _is_atoms(atoms):
                raise TypeError(f"structure {k}: expected an ase.Atoms, got {type(atoms).__name__}")
            present.update(int(z) for z in atoms.get_atomic_numbers())
        if not present:
            raise ValueError("species cannot be inferred from structures without atoms; pass species=")
        species = sorted(present)
    featurizer = Featurizer(r_cut=r_cut, n_max=n_max, l_max=l_max, species=species,
                            species_mode=species_mode, species_values=species_values,
                            invariant=invariant, radial=radial, envelope_power=envelope_power,
                            normalize=normalize, include_center=include_center,
                            bispectrum_parity=bispectrum_parity)
    if single:
        return featurizer.compute(structures[0], gradients, stress)
    return featurizer.compute_many(structures, gradients, stress, batch_atoms, progress)
