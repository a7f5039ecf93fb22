"""Per-atom rotation-invariant features of atomic structures (docs/conventions.md).

What is computed
----------------
For every atom ``i`` of a structure (an ``ase.Atoms``, periodic or not) the
environment is the set of neighbour vectors ``r_ij = r_j + S @ cell - r_i`` with
``|r_ij| < r_cut`` (:func:`rstref.neighbors.neighbor_list`; periodic images included,
the centre itself excluded unless ``include_center=True``).  Each neighbour puts a
delta peak into a density that is projected on ``phi_nlm(r) = R_n(|r|) Y_lm(r_hat)``
('component' harmonics, orthonormal radial basis on the ball of radius ``r_cut``;
the raw projection of docs/conventions.md, ``c = sum_j v_j phi(r_ij)``).  The default radial
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

* power spectrum (:mod:`rstref.invariants` applied to the stacked tensor)::

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
* Position gradients are sparse (docs/gradients.md), never a dense N x N array: one
  row per centre ``i`` (``d features[i] / d positions[i]``, ``-sum`` of the pair terms
  of its environment, translation invariance; images of ``i`` itself cancel) and one
  per pair ``(gradient_centers[g], gradient_neighbors[g])``, ``j != i``, sorted by
  centre then neighbour, all periodic images of ``j`` summed.  A row keeps only the
  features whose channels (``feature_channels``) are all present around ``i``
  (``environment_channels[i]``) and, for a pair, include ``j``'s channel; rows are
  stored flat (``gradient_values`` / ``gradient_offsets``, ``self_gradients`` /
  ``self_gradient_offsets``), read one with :meth:`Features.pair_gradient` and
  :meth:`Features.self_gradient`.  :meth:`Features.dense_gradients` expands them,
  :meth:`Features.gradient_dot` contracts them with weights.
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
``batch_atoms`` atoms and within a memory budget ``max_memory`` (estimated from each
structure's neighbour pairs before the batch is allocated), in input order;
:meth:`Featurizer.compute_to` appends the batches to a resumable Zarr store, optionally
computed on Dask workers;
:func:`featurize` on a list concatenates everything with ``atom_offsets``.

Rooms
-----
``defaults`` (choices and default hyperparameters), ``results`` (:class:`Features`),
``progress`` (:class:`Progress`), ``species`` (symbols, atomic numbers, peak heights),
``pairs`` (neighbour pairs of structures -> the engine's ragged batch),
``featurizer`` (:class:`Featurizer`: configuration and compute), ``api``
(:func:`featurize`), ``memory`` (the bytes of a batch, the budget), ``storage`` (Zarr
stores: :meth:`Featurizer.compute_to`, :func:`open_features`), ``distributed`` (batches on
Dask workers), ``transformer`` (:class:`FeatureTransformer`, scikit-learn style).  The
numbers come from the engine (:mod:`rstref._engine`), the same per-atom projection and
invariant kernels as :class:`rstref.RadialSphericalTensor`.
"""


from rstref.features.api import featurize
from rstref.features.defaults import (
    DEFAULT_BATCH_ATOMS,
    DEFAULT_L_MAX,
    DEFAULT_N_MAX,
    DEFAULT_R_CUT,
    DEFAULT_RADIAL,
    INVARIANTS,
    SPECIES_MODES,
)
from rstref.features.featurizer import Featurizer
from rstref.features.hessians import FeatureHessians, feature_hessians
from rstref.features.progress import Progress
from rstref.features.reading import StoredFeatures, open_features
from rstref.features.results import Features
from rstref.features.species import seed_species_value
from rstref.features.transformer import FeatureTransformer

__all__ = ["featurize", "Featurizer", "Features", "FeatureHessians", "feature_hessians", "Progress",
           "SPECIES_MODES", "INVARIANTS",
           "DEFAULT_R_CUT", "DEFAULT_N_MAX", "DEFAULT_L_MAX", "DEFAULT_BATCH_ATOMS",
           "DEFAULT_RADIAL", "seed_species_value", "open_features", "StoredFeatures",
           "FeatureTransformer"]
