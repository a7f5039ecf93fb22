"""Hypothesis strategies for atomic environments, rotations, cells and cutoff crossings.

Every strategy draws plain NumPy float64 arrays (or a small dataclass around them), so the
examples can be fed to any featurizer, not only rstref's.  Shrinking goes towards few atoms,
simple coordinates and the identity rotation, so a failing property is reported on a small
input.

Conventions
-----------
* positions are ``(N, 3)`` arrays of Cartesian coordinates of the neighbours of a centre at
  the origin (environments) or of the atoms of a structure (periodic structures);
* rotations act on column vectors, ``r -> R @ r``, i.e. positions transform as
  ``positions @ R.T``;
* a cell is a ``(3, 3)`` array whose **rows** are the lattice vectors (ase convention).

Example
-------
>>> from hypothesis import given
>>> from rstref.testing import strategies as rst_st
>>> @given(rst_st.environments(r_cut=2.0, max_atoms=5), rst_st.rotations())
... def test_my_featurizer_is_invariant(positions, rotation):
...     ...
"""

from dataclasses import dataclass

import numpy as np

try:
    from hypothesis import assume
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(
        "rstref.testing.strategies needs the 'hypothesis' package: pip install hypothesis "
        "(the checkers in rstref.testing.checks work without it)"
    ) from exc

__all__ = [
    "rotations",
    "quaternion_to_rotation",
    "environments",
    "species_assignments",
    "permutations",
    "translations",
    "CutoffCrossing",
    "cutoff_crossings",
    "near_pole_vectors",
    "tiny_vectors",
    "cells",
    "periodic_structures",
    "periodic_min_distance",
]


# ---------------------------------------------------------------------------------------
# rotations
# ---------------------------------------------------------------------------------------

def quaternion_to_rotation(q):
    """Proper rotation matrix of the (not necessarily unit, non-zero) quaternion ``q``.

    ``q = (w, x, y, z)`` is normalised first; the result acts on column vectors.
    """
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


_UNIT = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)

#: the same uniform distribution on [-1, 1], rearranged (a measure-preserving piecewise
#: translation, u -> u + 1 for u <= 0, u - 1 otherwise) so that hypothesis' simplest draw
#: u = 0 becomes 1: the simplest unit vector is then e_0 and the simplest rotation the identity
_SHIFTED_UNIT = _UNIT.map(lambda u: u + 1.0 if u <= 0.0 else u - 1.0)


def _ball_point(draw, dimension, min_norm):
    """A point uniform in the unit ``dimension``-ball minus the ball of radius ``min_norm``.

    Rejection from the cube [-1, 1]^dimension; the first coordinate uses the rearranged
    uniform draw so that the simplest example, e_0, is accepted at once.
    """
    for _ in range(100):
        p = np.array([draw(_SHIFTED_UNIT)] + [draw(_UNIT) for _ in range(dimension - 1)])
        if min_norm <= float(np.linalg.norm(p)) <= 1.0:
            return p
    assume(False)  # pragma: no cover - probability < 0.7**100


@st.composite
def _unit_quaternions(draw):
    """Uniform on S^3: a point uniform in a shell of the 4-ball, normalised.

    The inner radius 0.05 only avoids catastrophic normalisation of a near-zero vector; the
    direction of a point uniform in a spherical shell is uniform on the sphere.
    """
    q = _ball_point(draw, 4, 0.05)
    return q / np.linalg.norm(q)


def rotations(kind="proper", from_seed=False):
    """Strategy of 3x3 orthogonal matrices, uniform (Haar) on SO(3) or O(3).

    Parameters
    ----------
    kind : {'proper', 'improper', 'any'}
        ``'proper'``: det = +1 (SO(3)); ``'improper'``: det = -1 (the proper rotation times
        the inversion -I); ``'any'``: uniform on O(3) (a fair sign).
    from_seed : bool
        If False (default) the quaternion components are drawn by hypothesis (rejection in
        the 4-ball, then normalised), so shrinking moves towards simple rotations.  If True
        a 64-bit seed drives ``numpy.random.default_rng`` (Gaussian quaternion); use this
        when many independent rotations are wanted and shrinking does not matter.

    Returns
    -------
    strategy of ndarray, shape (3, 3)
    """
    if kind not in ("proper", "improper", "any"):
        raise ValueError(f"kind must be one of ['any', 'improper', 'proper'], got {kind!r}")
    if from_seed:
        quaternions = st.integers(0, 2**64 - 1).map(
            lambda seed: np.random.default_rng(seed).normal(size=4))
    else:
        quaternions = _unit_quaternions()
    proper = quaternions.map(quaternion_to_rotation)
    if kind == "proper":
        return proper
    if kind == "improper":
        return proper.map(lambda r: -r)
    return st.tuples(proper, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


# ---------------------------------------------------------------------------------------
# environments, species, permutations, translations
# ---------------------------------------------------------------------------------------

def _coordinate(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


def _far_from_all(p, points, min_separation):
    return all(np.linalg.norm(p - q) >= min_separation for q in points)


@st.composite
def environments(draw, r_cut=1.0, min_atoms=0, max_atoms=8, min_separation=None,
                 min_radius=None, max_radius=None):
    """Strategy of neighbour positions around a centre at the origin.

    Parameters
    ----------
    r_cut : float
        Cutoff radius; positions lie in the shell ``min_radius <= |r| <= max_radius``
        (bounds hold to rounding: a radius times a unit vector).
    min_atoms, max_atoms : int
        Range of the number of neighbours N (N = 0 is drawn when ``min_atoms == 0``).
    min_separation : float, optional
        Minimum distance between any two neighbours; default ``0.1 * r_cut``.
    min_radius : float, optional
        Minimum distance from the centre; default ``0.05 * r_cut`` (atoms do not sit on
        the centre).  Pass 0 to allow neighbours arbitrarily close to the centre.
    max_radius : float, optional
        Maximum distance from the centre; default ``0.95 * r_cut``, which keeps finite
        differences of step << 0.05 r_cut on one side of the cutoff.

    Returns
    -------
    strategy of ndarray, shape (N, 3)
        Each atom is a radius drawn in [min_radius, max_radius] times a direction uniform
        on the sphere (so not volume-uniform: shells are sampled evenly, which exercises
        both the centre and the cutoff).  Atoms are placed one after the other; an atom that
        finds no room (after a bounded
        number of tries) ends the environment, which is rejected if it has fewer than
        ``min_atoms`` atoms.
    """
    r_cut = float(r_cut)
    min_separation = 0.1 * r_cut if min_separation is None else float(min_separation)
    min_radius = 0.05 * r_cut if min_radius is None else float(min_radius)
    max_radius = 0.95 * r_cut if max_radius is None else float(max_radius)
    if not 0.0 <= min_radius < max_radius:
        raise ValueError(f"need 0 <= min_radius < max_radius, got {min_radius}, {max_radius}")
    n = draw(st.integers(min_atoms, max_atoms))
    radius = st.floats(min_radius, max_radius)
    points = []
    for _ in range(n):
        for _ in range(60):
            p = draw(radius) * _unit_vector(draw)
            if _far_from_all(p, points, min_separation):
                points.append(p)
                break
        else:
            break
    assume(len(points) >= min_atoms)
    return np.array(points, dtype=np.float64).reshape(len(points), 3)


def species_assignments(n_atoms, species=(1, 6, 7, 8)):
    """Strategy of a species label per atom: an array of length ``n_atoms``.

    ``species`` may be atomic numbers (ints) or any labels, e.g. peak heights
    ``(1.0, -1.0)`` for rstref's ``values``; the array has the dtype NumPy infers.
    """
    return st.lists(st.sampled_from(list(species)), min_size=n_atoms, max_size=n_atoms).map(np.array)


def permutations(n_atoms):
    """Strategy of a permutation of ``range(n_atoms)`` as an int array ``perm``.

    Permuted inputs are ``positions[perm]`` (and ``species[perm]``).
    """
    return st.permutations(list(range(n_atoms))).map(lambda p: np.array(p, dtype=np.intp))


def translations(max_norm=10.0):
    """Strategy of translation vectors, shape (3,), with components in [-max_norm, max_norm]."""
    c = _coordinate(float(max_norm))
    return st.tuples(c, c, c).map(lambda t: np.array(t, dtype=np.float64))


# ---------------------------------------------------------------------------------------
# cutoff crossings
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CutoffCrossing:
    """A straight path on which one atom crosses the cutoff sphere at t = 0.

    ``positions_at(t)`` returns ``positions`` with atom ``index`` moved to
    ``positions[index] + t * direction``.  At t = 0 that atom sits on the sphere
    |r| = r_cut (to rounding); ``direction`` is a unit vector pointing outwards
    (``direction @ positions[index] > 0``), so t < 0 is inside and t > 0 outside.
    The other atoms stay inside, at least ``clearance`` away from the cutoff and from the
    moving atom along the sampled part of the path.
    """

    positions: np.ndarray
    index: int
    direction: np.ndarray
    r_cut: float

    def positions_at(self, t):
        """Positions at path parameter ``t`` (a new (N, 3) array)."""
        x = np.array(self.positions, dtype=np.float64, copy=True)
        x[self.index] = x[self.index] + float(t) * self.direction
        return x

    def __call__(self, t):
        return self.positions_at(t)


def _unit_vector(draw):
    """Uniform on S^2 (simplest example: e_x)."""
    v = _ball_point(draw, 3, 0.1)
    return v / np.linalg.norm(v)


@st.composite
def cutoff_crossings(draw, r_cut=1.0, max_other_atoms=5, min_separation=None,
                     min_cos_angle=0.3, clearance=None):
    """Strategy of :class:`CutoffCrossing` paths through |r| = r_cut.

    Parameters
    ----------
    r_cut : float
        Cutoff radius of the sphere crossed.
    max_other_atoms : int
        The other (static) atoms: 0 to ``max_other_atoms`` atoms, inside
        ``0.9 * r_cut`` (see :func:`environments`).
    min_separation : float, optional
        Minimum distance between atoms, default ``0.1 * r_cut``; the moving atom keeps it
        from the other atoms for |t| <= 0.05 r_cut.
    min_cos_angle : float
        The crossing is transversal: cos(angle between path and radial direction) is at
        least this (default 0.3), so |r(t)| - r_cut changes sign at a rate >= 0.3.
    clearance : float, optional
        Half-length of the path kept free of other events, default ``0.05 * r_cut``.
    """
    r_cut = float(r_cut)
    min_separation = 0.1 * r_cut if min_separation is None else float(min_separation)
    clearance = 0.05 * r_cut if clearance is None else float(clearance)
    others = draw(environments(r_cut, 0, max_other_atoms, min_separation=min_separation,
                               max_radius=0.9 * r_cut))
    u = _unit_vector(draw)
    v = _unit_vector(draw)
    assume(float(v @ u) >= min_cos_angle)
    crossing = r_cut * u
    for q in others:
        # distance from q to the segment crossing + t v, |t| <= clearance
        t = np.clip((q - crossing) @ v, -clearance, clearance)
        assume(np.linalg.norm(crossing + t * v - q) >= min_separation)
    index = draw(st.integers(0, len(others)))
    positions = np.insert(others, index, crossing, axis=0)
    return CutoffCrossing(positions=positions, index=index, direction=v, r_cut=r_cut)


# ---------------------------------------------------------------------------------------
# special vectors
# ---------------------------------------------------------------------------------------

@st.composite
def near_pole_vectors(draw, axis="z", min_offset=1e-300, max_offset=1e-6, radius=(0.5, 2.0)):
    """Strategy of vectors within a tiny angle of the ±``axis`` pole, shape (3,).

    The two components across the axis have magnitudes in [min_offset, max_offset] times
    the radius (or are exactly zero), the axial component has magnitude in ``radius`` and
    either sign.  ``axis='z'`` is the polar axis of the standard real spherical harmonics,
    ``axis='y'`` that of e3nn.
    """
    k = {"x": 0, "y": 1, "z": 2}[axis]
    r = draw(st.floats(*radius))
    sign = draw(st.sampled_from([1.0, -1.0]))
    v = np.zeros(3)
    v[k] = sign * r
    log_lo, log_hi = np.log10(min_offset), np.log10(max_offset)
    for j in (j for j in range(3) if j != k):
        if draw(st.booleans()):
            v[j] = draw(st.sampled_from([1.0, -1.0])) * r * 10.0 ** draw(st.floats(log_lo, log_hi))
    return v


@st.composite
def tiny_vectors(draw, min_norm=1e-100, max_norm=1e-3):
    """Strategy of vectors with |v| in [min_norm, max_norm] (log-uniform), any direction.

    The default ``min_norm=1e-100`` keeps |v|^2 representable; lower it to probe underflow.
    """
    u = _unit_vector(draw)
    return u * 10.0 ** draw(st.floats(np.log10(min_norm), np.log10(max_norm)))


# ---------------------------------------------------------------------------------------
# periodic cells and structures
# ---------------------------------------------------------------------------------------

def _cell_volume(cell):
    return abs(float(np.linalg.det(cell)))


@st.composite
def cells(draw, min_length=0.5, max_length=6.0, max_skew=0.5, min_volume=None, rotated=True):
    """Strategy of periodic cells: (3, 3) arrays whose rows are the lattice vectors.

    The cell is upper-triangular in the lattice-vector sense, ``a = (a1, 0, 0)``,
    ``b = (b1, b2, 0)``, ``c = (c1, c2, c3)``, with diagonal entries in
    [min_length, max_length] and off-diagonal entries up to ``max_skew`` times the
    diagonal entry of their row (skewed cells), optionally rotated by a random proper
    rotation.  Cells smaller than a cutoff (``min_length`` < r_cut) are drawn on purpose:
    they exercise many periodic images.

    Parameters
    ----------
    min_volume : float, optional
        Reject cells of smaller volume; default ``0.5 * min_length**3``.
    """
    min_volume = 0.5 * min_length ** 3 if min_volume is None else float(min_volume)
    length = st.floats(min_length, max_length)
    skew = st.floats(-max_skew, max_skew)
    a1, b2, c3 = draw(length), draw(length), draw(length)
    cell = np.array([[a1, 0.0, 0.0],
                     [draw(skew) * b2, b2, 0.0],
                     [draw(skew) * c3, draw(skew) * c3, c3]])
    if rotated:
        cell = cell @ draw(rotations()).T
    assume(_cell_volume(cell) >= min_volume)
    return cell


def _image_ranges(cell, distance):
    """Numbers of images per lattice direction needed to see every point within ``distance``."""
    volume = _cell_volume(cell)
    ranges = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        spacing = volume / np.linalg.norm(np.cross(cell[j], cell[k]))  # distance between planes
        ranges.append(int(np.ceil(distance / spacing)))
    return ranges


def _lattice_shifts(cell, distance):
    """Lattice vectors n @ cell that can join two points of the cell closer than ``distance``.

    Two points with fractional coordinates in [0, 1) differ by less than 1 per direction,
    so images closer than ``distance`` need |n_i| <= ceil(distance / spacing_i) + 1, where
    spacing_i is the distance between lattice planes i (exact, also for skewed cells).
    """
    n = [r + 1 for r in _image_ranges(cell, distance)]
    grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij"), -1)
    return grid.reshape(-1, 3) @ cell


def periodic_min_distance(p, q, cell, shifts=None):
    """Smallest distance between ``p`` and the periodic images of ``q`` (points in the cell).

    ``shifts`` (from :func:`_lattice_shifts`) limits the images searched; by default all
    images that can be closer than the cell's diagonal extent are searched.
    """
    if shifts is None:
        shifts = _lattice_shifts(cell, float(np.abs(cell).sum()))
    return float(np.min(np.linalg.norm(q + shifts - p, axis=1)))


@st.composite
def periodic_structures(draw, min_atoms=1, max_atoms=4, species=(1, 6, 8), min_separation=0.4,
                        **cell_kwargs):
    """Strategy of periodic structures ``(positions, species, cell)``.

    Atoms are at fractional coordinates in [0, 1) of a cell drawn by :func:`cells`
    (keyword arguments are passed on), and every pair of atoms, periodic images included
    (also an atom and its own images), is at least ``min_separation`` apart.

    Returns
    -------
    strategy of tuple (ndarray (N, 3), ndarray (N,), ndarray (3, 3))
    """
    cell = draw(cells(**cell_kwargs))
    shifts = _lattice_shifts(cell, min_separation)
    # an atom and its own images: every non-zero lattice vector must be long enough
    lengths = np.linalg.norm(shifts, axis=1)
    assume(np.min(lengths[lengths > 0]) >= min_separation)
    n = draw(st.integers(min_atoms, max_atoms))
    fraction = st.floats(0.0, 1.0, exclude_max=True)
    points = []
    for _ in range(n):
        for _ in range(40):
            p = np.array([draw(fraction), draw(fraction), draw(fraction)]) @ cell
            if all(periodic_min_distance(p, q, cell, shifts) >= min_separation for q in points):
                points.append(p)
                break
        else:
            break
    assume(len(points) >= min_atoms)
    positions = np.array(points, dtype=np.float64).reshape(len(points), 3)
    labels = draw(species_assignments(len(points), species))
    return positions, labels, cell
