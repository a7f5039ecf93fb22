"""The :class:`Featurizer`: configuration of per-atom features and their computation."""

import numba
import numpy as np

from rstref._checks import check_bool, check_choice, check_int, check_positive_float
from rstref._engine import Expansion, RaggedBatch
from rstref._engine.structures import structure_invariants
from rstref.features.defaults import (
    BISPECTRUM_PARITIES,
    DEFAULT_BATCH_ATOMS,
    DEFAULT_L_MAX,
    DEFAULT_N_MAX,
    DEFAULT_R_CUT,
    DEFAULT_RADIAL,
    INVARIANTS,
    SPECIES_MODES,
)
from rstref.features.memory import (
    PAIR_BYTES,
    MemoryBudgetError,
    batch_bytes,
    centre_ranges,
    gradient_rows_bound,
    memory_budget,
    too_large_message,
)
from rstref.features.pairs import StructurePairs, structure_pairs
from rstref.features.progress import Progress, progress_enabled
from rstref.features.results import Features, output_dtype
from rstref.features.sparsity import (
    SELF,
    environment_channels,
    feature_channels,
    max_row_features,
    pair_rows,
    row_lengths,
    row_offsets,
)
from rstref.features.species import SpeciesAssignment, species_list, symbol, values_table
from rstref.harmonics import SphericalHarmonics
from rstref.invariants import bispectrum_kernel
from rstref.radial import FAMILIES, OrthonormalRadialBasis


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
    radial : str or OrthonormalRadialBasis, optional
        Deprecated alias of ``primitive`` (a name) or ``radial_basis`` (an object).
    envelope_power : int, optional
        Envelope ``(r_cut - r)^p`` for a family given by name.
    normalize : bool
        False (default): raw delta-density projection ``c = sum_j v_j phi(r_ij)``, smooth
        at the cutoff.  True: the seed's kernel-normalised projection
        ``sum_j v_j phi(r_ij) / ||phi(r_ij)||^2`` (discontinuous at ``r_cut``; docs/conventions.md).
    include_center : bool
        Put the centre atom itself into its own density (a peak at r = 0). Default False.
    bispectrum_parity : {'all', 'even', 'odd'}
        Which bispectrum triples to keep (:func:`rstref.invariants.bispectrum_range`).
    primitive : str, optional
        Radial family, the name :class:`~rstref.OrthonormalRadialBasis` takes (default
        'smooth_cosines', C^2 at ``r_cut``).
    radial_basis : OrthonormalRadialBasis, optional
        A basis object instead of a family name (then ``r_cut`` and ``n_max`` are its own).

    Notes
    -----
    The species channels are radial offsets of one stacked tensor; the numbers come from
    the engine (:mod:`rstref._engine.structures`), the per-atom projection kernel shared
    with :class:`rstref.RadialSphericalTensor`.
    """

    def __init__(self, r_cut=None, n_max=None, l_max=DEFAULT_L_MAX, species=None,
                 species_mode="channels", species_values=None, invariant="power_spectrum",
                 radial=None, envelope_power=None, normalize=False,
                 include_center=False, bispectrum_parity="all", primitive=None, radial_basis=None):
        self.species_mode = check_choice(species_mode, "species_mode", SPECIES_MODES)
        self.invariant = check_choice(invariant, "invariant", INVARIANTS)
        self.l_max = check_int(l_max, "l_max", 0, 64)
        self.normalize = check_bool(normalize, "normalize")
        self.include_center = check_bool(include_center, "include_center")
        self.radial_basis = _radial_basis(_radial_choice(radial, primitive, radial_basis), r_cut, n_max,
                                          envelope_power)
        self.r_cut = float(self.radial_basis.r_cut)
        self.n_max = int(self.radial_basis.n_max)
        self._expansion = Expansion(self.radial_basis, self.l_max,
                                    SphericalHarmonics(self.l_max, "component", "standard"))

        self.species = species_list(species)
        if self.species_mode == "channels":
            if self.species is None:
                raise ValueError("species is required in 'channels' mode (it fixes the feature "
                                 "layout); featurize() infers it from the structures it is given")
            if species_values is not None:
                raise ValueError("species_values is only used in 'values' mode")
            self._species_values = None
        else:
            self._species_values = values_table(species_values, self.species)
        self._assign = SpeciesAssignment(self.species_mode, self.species, self._species_values)
        self.n_channels = self._assign.n_channels
        self.n_eff = self.n_channels * self.n_max

        self._bispectrum = None
        if self.invariant == "bispectrum":
            self.bispectrum_parity = check_choice(bispectrum_parity, "bispectrum_parity",
                                                  BISPECTRUM_PARITIES)
            _, self._bispectrum = bispectrum_kernel(self.n_eff, self.l_max, self.bispectrum_parity)
            self._triples = self._bispectrum.triples
            self.n_features = self._bispectrum.n_features
        else:
            self.bispectrum_parity = None
            self.n_features = (self.l_max + 1) * self.n_eff * (self.n_eff + 1) // 2
        self._sparsity = None

    # ------------------------------------------------------------------ description

    def hyperparameters(self):
        """A JSON-serialisable dict of everything that defines the features."""
        return {
            "r_cut": self.r_cut,
            "n_max": self.n_max,
            "l_max": self.l_max,
            "species": None if self.species is None else [symbol(z) for z in self.species],
            "species_mode": self.species_mode,
            "species_values": None if self._species_values is None else
            {symbol(z): v for z, v in sorted(self._species_values.items())},
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

    def feature_channels(self):
        """(F, k) int64: the density channels of each feature (power spectrum: the pair,
        bispectrum: the triple; all 0 in 'values' mode), which decide the features each
        sparse gradient row holds (docs/gradients.md)."""
        return self._feature_channels().copy()

    def _feature_channels(self):
        if self._sparsity is None:
            table = feature_channels(self)
            self._sparsity = (table, max_row_features(table))
        return self._sparsity[0]

    def _max_row_features(self):
        """Most features one neighbour's gradient row can hold (for memory bounds)."""
        self._feature_channels()
        return self._sparsity[1]

    def __repr__(self):
        return (f"Featurizer(r_cut={self.r_cut}, n_max={self.n_max}, l_max={self.l_max}, "
                f"species_mode={self.species_mode!r}, species={self.hyperparameters()['species']}, "
                f"invariant={self.invariant!r}, n_features={self.n_features})")

    def compute(self, atoms, gradients=False, stress=False, dtype=None):
        """Features of one structure (``Features`` with one structure).

        ``dtype``: 'float64' (default) or 'float32' (computed in float64, the outputs cast:
        relative error at most ``2**-24`` per entry, :meth:`Features.astype`); the same in
        :meth:`compute_many`, :meth:`iter_batches` and :meth:`compute_to`.
        """
        dtype = output_dtype(dtype)
        return self._compute_batch([atoms], gradients, stress, first_index=0).astype(dtype, True)

    def compute_with_hessians(self, atoms):
        """Features, pair-sparse gradients and block-sparse Hessians of one structure.

        Returns
        -------
        features : Features
            As :meth:`compute` with ``gradients=True``.
        hessians : rstref.features.hessians.FeatureHessians
            ``d2 features[i] / d positions[j] d positions[k]`` stored by (centre, j, k) triples
            (memory checked before allocating: it grows like the square of the neighbour
            count).
        """
        from rstref.features.hessians import feature_hessians

        return self.compute(atoms, gradients=True), feature_hessians(self, atoms)

    def compute_many(self, structures, gradients=False, stress=False, batch_atoms=DEFAULT_BATCH_ATOMS,
                     progress=None, max_memory=None, dtype=None):
        """Features of many structures, concatenated in input order."""
        parts = list(self.iter_batches(structures, gradients, stress, batch_atoms, progress,
                                       max_memory, dtype))
        return Features.concatenate(parts, self.n_features, gradients, stress,
                                    self._feature_channels() if gradients else None,
                                    self.n_channels)

    def iter_batches(self, structures, gradients=False, stress=False, batch_atoms=DEFAULT_BATCH_ATOMS,
                     progress=None, max_memory=None, dtype=None):
        """Yield :class:`Features` for consecutive batches of ``structures`` (any iterable).

        A batch collects structures until it holds at least ``batch_atoms`` atoms (a larger
        structure is a batch of its own), or until the next structure would take its
        estimated memory (:func:`rstref.features.memory.batch_bytes`, counted from each
        structure's neighbour pairs before anything else is allocated) above
        ``max_memory``; each batch's atom indices start at 0.  ``max_memory``: bytes or a
        size such as ``'2GB'``; default half of the available memory, at most
        ``rstref.limits.MAX_ALLOCATION_BYTES``.  A structure that needs more on its own
        raises :class:`~rstref.features.memory.MemoryBudgetError` (a ValueError) naming its
        size and the options that shrink it, before its features are allocated.  How the
        structures are batched does not change the numbers (bit for bit).  ``progress``:
        None (on for >= 50 structures when stderr is a terminal), True or False; tqdm is
        used when installed.  ``dtype``: as in :meth:`compute`.
        """
        dtype = output_dtype(dtype)
        units = self._iter_units(structures, gradients, stress, batch_atoms, progress, max_memory,
                                 split=False)
        return units if dtype == "float64" else _cast(units, dtype)

    def _iter_units(self, structures, gradients, stress, batch_atoms, progress, max_memory,
                    split):
        """:meth:`iter_batches`; with ``split`` a structure over the budget is yielded as
        :class:`StructurePieces` (its centres in ranges that fit) instead of refused."""
        batch_atoms = check_int(batch_atoms, "batch_atoms", 1)
        gradients = check_bool(gradients, "gradients")
        stress = check_bool(stress, "stress")
        budget = memory_budget(max_memory)
        total = len(structures) if hasattr(structures, "__len__") else None
        bar = Progress(total, progress_enabled(progress, total))
        try:
            batch, sizes = [], np.zeros(3, dtype=np.int64)  # atoms, pairs, gradient rows
            for k, atoms in enumerate(structures):
                pairs = structure_pairs([atoms], k, self.r_cut, self.include_center, self._assign)
                size = _sizes(pairs)
                needed = self.batch_bytes(*size, gradients, stress)
                if batch and (needed > budget or
                              self.batch_bytes(*(sizes + size), gradients, stress) > budget):
                    yield self._compute_pairs(merge_pairs(batch), gradients, stress)
                    bar.update(len(batch), atoms=sizes[0])
                    batch, sizes = [], np.zeros(3, dtype=np.int64)
                if needed > budget:
                    message = too_large_message(k, *size[:2], needed, budget, gradients, stress)
                    if not split:
                        raise MemoryBudgetError(message)
                    yield self._pieces(pairs, gradients, stress, budget, message)
                    bar.update(1, atoms=size[0])
                    continue
                batch.append(pairs)
                sizes += size
                if sizes[0] >= batch_atoms:
                    yield self._compute_pairs(merge_pairs(batch), gradients, stress)
                    bar.update(len(batch), atoms=sizes[0])
                    batch, sizes = [], np.zeros(3, dtype=np.int64)
            if batch:
                yield self._compute_pairs(merge_pairs(batch), gradients, stress)
                bar.update(len(batch), atoms=sizes[0])
        finally:
            bar.close()

    def _pieces(self, pairs, gradients, stress, budget, message):
        """:class:`StructurePieces` of one structure: centre ranges within ``budget``."""
        per_centre = np.bincount(pairs.centers, minlength=pairs.n_atoms)
        costs = [self.batch_bytes(1, p, p, gradients, stress) for p in per_centre]
        held = PAIR_BYTES * pairs.centers.shape[0]  # the structure's pairs stay in memory
        ranges = centre_ranges(costs, budget - held)
        if ranges is None:
            raise MemoryBudgetError(message + " (even one centre atom at a time does not fit)")
        return StructurePieces(self, pairs, ranges, gradients, stress)

    def compute_to(self, path, structures, gradients=False, stress=False, client=None,
                   batch_atoms=DEFAULT_BATCH_ATOMS, max_memory=None, progress=None,
                   provenance=None, dtype=None):
        """Featurize ``structures`` into a Zarr store at ``path``, batch by batch, resumably.

        Each batch (:meth:`iter_batches`; ``batch_atoms`` and ``max_memory`` as there) is
        appended and committed when done, so an interrupted run leaves a valid store of
        the batches it completed; calling again with the same structures, featurizer and
        ``provenance`` resumes after the last committed structure, and a store written
        with other hyperparameters is refused (ValueError).  ``client``: a
        ``dask.distributed.Client`` to compute the batches on its workers (same numbers,
        same order).  Needs zarr>=3 (the ``rstref[dask]`` extra); the layout is
        described in :mod:`rstref.features.storage`.  Read it with
        :func:`rstref.features.open_features`.  ``dtype``: as in :meth:`compute` (the
        store's float arrays have that dtype; part of what must match on resuming).

        Returns
        -------
        rstref.features.storage.FeatureStore
            The writer (``committed`` counts, ``path``).
        """
        from rstref.features.storage import compute_to

        return compute_to(self, path, structures, gradients, stress, client, batch_atoms,
                          max_memory, progress, provenance, output_dtype(dtype))

    def batch_bytes(self, n_atoms, n_pairs, n_gradient_rows=None, gradients=False, stress=False):
        """Estimated peak bytes of a batch of ``n_atoms`` centres and ``n_pairs`` pairs
        (:func:`rstref.features.memory.batch_bytes` with this featurizer's sizes)."""
        width = self.n_eff * (self.l_max + 1) ** 2 if self._bispectrum is not None else 0
        n_sparse = self._max_row_features() if gradients else None
        return batch_bytes(int(n_atoms), int(n_pairs), self.n_features, self.n_max, self.l_max,
                           gradients, stress, n_gradient_rows, width, numba.get_num_threads(),
                           n_sparse)

    def estimate_bytes(self, structures, gradients=False, stress=False):
        """Estimated peak bytes of featurizing ``structures`` (a list) as one batch.

        Counts their neighbour pairs (the neighbour lists are computed), then
        :meth:`batch_bytes`; what :meth:`iter_batches` compares with ``max_memory``.
        """
        sizes = np.zeros(3, dtype=np.int64)
        for k, atoms in enumerate(structures):
            sizes += _sizes(structure_pairs([atoms], k, self.r_cut, self.include_center,
                                            self._assign))
        return self.batch_bytes(*sizes, gradients, stress)

    def _compute_batch(self, structures, gradients, stress, first_index):
        """:class:`Features` of a list of structures, numbered from ``first_index`` in messages."""
        gradients = check_bool(gradients, "gradients")
        stress = check_bool(stress, "stress")
        pairs = structure_pairs(structures, first_index, self.r_cut, self.include_center,
                                self._assign)
        return self._compute_pairs(pairs, gradients, stress)

    def _compute_centres(self, pairs, start, stop, gradients, stress):
        """:class:`Features` of centres ``start..stop`` of one structure's ``pairs``."""
        lo, hi = np.searchsorted(pairs.centers, [start, stop])
        n, F = stop - start, self.n_features
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs.centers[lo:hi] - start, minlength=n), out=offsets[1:])
        batch = RaggedBatch(offsets, np.ascontiguousarray(pairs.vectors[lo:hi]),
                            np.ascontiguousarray(pairs.channels[lo:hi]),
                            np.ascontiguousarray(pairs.weights[lo:hi]), self.n_channels)
        features = np.zeros((n, F))
        result = Features(features=features, atom_offsets=np.array([0, n], dtype=np.int64),
                          atomic_numbers=pairs.atomic_numbers[start:stop])
        table = self._feature_channels()
        env = environment_channels(pairs.centers[lo:hi] - start, pairs.channels[lo:hi],
                                   pairs.weights[lo:hi], n, self.n_channels)
        if gradients:
            centers, neighbors, channels, pair_slot = centre_slots(pairs, start, stop)
            lengths = row_lengths(table, env, np.concatenate([centers - start, np.arange(n)]),
                                  np.concatenate([channels, np.full(n, SELF)]))
            pair_offsets = row_offsets(lengths[:centers.shape[0]])
            self_offsets = row_offsets(lengths[centers.shape[0]:])
            pair_values, self_values = np.zeros(pair_offsets[-1]), np.zeros(self_offsets[-1])
            result.gradient_centers, result.gradient_neighbors = centers, neighbors
            result.gradient_channels, result.environment_channels = channels, env
            result.gradient_values, result.gradient_offsets = pair_values, pair_offsets
            result.self_gradients, result.self_gradient_offsets = self_values, self_offsets
            result.feature_channels = table
        else:
            pair_slot = np.zeros(hi - lo, dtype=np.int64)
            pair_offsets, self_offsets = np.zeros(2, np.int64), np.zeros(n + 1, np.int64)
            pair_values, self_values = np.zeros(0), np.zeros(0)
        strain = np.zeros((n, 3, 3, F if stress else 0))
        if stress:
            result.strain_derivatives = strain
        structure_invariants(self._expansion, batch, self.normalize, self._bispectrum, pair_slot,
                             (env, table, pair_offsets, self_offsets), features, pair_values,
                             self_values, gradients, strain, stress)
        return result

    def _compute_pairs(self, pairs, gradients, stress):
        """:class:`Features` of the structures whose neighbour pairs are ``pairs``."""
        result = self._compute_centres(pairs, 0, pairs.n_atoms, gradients, stress)
        result.atom_offsets = pairs.atom_offsets
        return result


class StructurePieces:
    """One structure featurized centre range by centre range (a structure over the memory
    budget).  Iterating gives :class:`Features` of consecutive centre atoms, gradient
    indices numbering the structure's atoms; concatenated they equal the whole structure."""

    def __init__(self, featurizer, pairs, ranges, gradients, stress):
        self._featurizer, self._pairs, self.ranges = featurizer, pairs, ranges
        self._gradients, self._stress = gradients, stress
        self.n_atoms = pairs.n_atoms
        self.n_structures = 1

    def __iter__(self):
        for start, stop in self.ranges:
            yield self._featurizer._compute_centres(self._pairs, start, stop, self._gradients,
                                                    self._stress)


def _cast(units, dtype):
    """``units`` (:class:`Features`) cast to ``dtype``, holding no batch between items."""
    iterator = iter(units)
    while True:
        try:
            unit = next(iterator)
        except StopIteration:
            return
        unit.astype(dtype, in_place=True)  # a fresh batch: nothing else holds its arrays
        yield unit
        del unit


def _sizes(pairs):
    """Atoms, pairs and a bound of the gradient rows of one structure's pairs."""
    n_pairs = pairs.centers.shape[0]
    return np.array([pairs.n_atoms, n_pairs, gradient_rows_bound(pairs.n_atoms, n_pairs)],
                    dtype=np.int64)


def centre_slots(pairs, start, stop):
    """Sparse gradient rows of centres ``start..stop`` of one structure's pairs:
    ``(centers, neighbors, channels, pair_slot)``
    (:func:`rstref.features.sparsity.pair_rows`), the rows of
    :meth:`~rstref.features.pairs.StructurePairs.gradient_slots` that belong to them; the
    centres' own rows are their positions ``0..stop - start``."""
    lo, hi = np.searchsorted(pairs.centers, [start, stop])
    return pair_rows(pairs.centers[lo:hi], pairs.neighbors[lo:hi], pairs.channels[lo:hi],
                     pairs.n_atoms)


def merge_pairs(parts):
    """One :class:`~rstref.features.pairs.StructurePairs` of consecutive structures' pairs
    (atom indices shifted), equal to computing the pairs of all of them at once."""
    if len(parts) == 1:
        return parts[0]
    shifts = np.cumsum([0] + [p.n_atoms for p in parts])
    offsets = [np.zeros(1, np.int64)] + [p.atom_offsets[1:] + shifts[k] for k, p in enumerate(parts)]
    return StructurePairs(
        np.concatenate([p.centers + shifts[k] for k, p in enumerate(parts)]),
        np.concatenate([p.neighbors + shifts[k] for k, p in enumerate(parts)]),
        np.ascontiguousarray(np.concatenate([p.vectors for p in parts])),
        np.concatenate([p.channels for p in parts]),
        np.concatenate([p.weights for p in parts]),
        np.concatenate(offsets).astype(np.int64),
        np.concatenate([p.atomic_numbers for p in parts]))


def _radial_choice(radial, primitive, radial_basis):
    """The family name or basis object from ``primitive`` / ``radial_basis`` (or the old ``radial``)."""
    given = [name for name, value in (("radial", radial), ("primitive", primitive),
                                      ("radial_basis", radial_basis)) if value is not None]
    if len(given) > 1:
        raise ValueError(f"give one of primitive= (a family name) or radial_basis= (a basis), got {given}")
    if radial is not None:
        import warnings

        warnings.warn("Featurizer(radial=...) is deprecated: use primitive='name' for a radial family "
                      "or radial_basis=basis for a basis object", DeprecationWarning, stacklevel=3)
        if not isinstance(radial, (str, OrthonormalRadialBasis)):
            raise TypeError(f"radial must be a family name or an OrthonormalRadialBasis, got "
                            f"{type(radial).__name__}")
        if isinstance(radial, str) and radial not in FAMILIES:
            raise ValueError(f"radial must be one of {sorted(FAMILIES)}, got {radial!r}")
        return radial
    if radial_basis is not None:
        if not isinstance(radial_basis, OrthonormalRadialBasis):
            raise TypeError(f"radial_basis must be an OrthonormalRadialBasis, got {type(radial_basis).__name__}")
        return radial_basis
    if primitive is not None and not isinstance(primitive, str):
        raise TypeError(f"primitive must be a radial family name, got {type(primitive).__name__}")
    return DEFAULT_RADIAL if primitive is None else primitive


def _radial_basis(radial, r_cut, n_max, envelope_power):
    """The radial basis of a Featurizer: a family name (with defaults) or a basis object."""
    if isinstance(radial, OrthonormalRadialBasis):
        if r_cut is not None and check_positive_float(r_cut, "r_cut") != radial.r_cut:
            raise ValueError(f"r_cut={r_cut} differs from the radial basis' r_cut={radial.r_cut}")
        if n_max is not None and check_int(n_max, "n_max", 1) != radial.n_max:
            raise ValueError(f"n_max={n_max} differs from the radial basis' n_max={radial.n_max}")
        if envelope_power is not None:
            raise ValueError("envelope_power must be None when radial is a basis object")
        return radial
    if isinstance(radial, str):
        r_cut = DEFAULT_R_CUT if r_cut is None else check_positive_float(r_cut, "r_cut")
        n_max = DEFAULT_N_MAX if n_max is None else check_int(n_max, "n_max", 1)
        return OrthonormalRadialBasis(n_max, r_cut, primitive=radial, envelope_power=envelope_power)
    raise TypeError(f"radial must be a family name or an OrthonormalRadialBasis, "
                    f"got {type(radial).__name__}")
