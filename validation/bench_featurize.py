"""Featurization speed and memory: rstref.featurize vs dscribe SOAP and featomic SoapPowerSpectrum.

Matched sizes: r_cut = 5 Å, n_max = 8 radial functions, l_max = 6, one density channel
per species, power spectrum.  Systems:

(a) 'Cu fcc 500': a 5x5x5 cubic fcc Cu supercell (a = 3.61 Å, periodic), atoms displaced
    by N(0, 0.05 Å) (ase rattle, seed 0);
(b) 'g2 x 100': the first 100 molecules of ase's g2 collection (ase order) whose elements
    are among H, C, N, O, F, S, Cl (open boundaries).

Libraries (one thread each: numba 1 thread, RAYON/OMP_NUM_THREADS=1, dscribe n_jobs=1):

* rstref: ``Featurizer(r_cut=5, n_max=8, l_max=6, species=...)`` (delta density, radial
  family 'smooth_cosines', C^2 at r_cut);
* featomic (Gaussian): ``SoapPowerSpectrum`` with a Gaussian density of width 0.3 Å, GTO
  radial basis (max_radial = 7, i.e. 8 functions), shifted-cosine cutoff of width 0.5 Å;
* featomic (delta): ``SoapPowerSpectrum`` with a Dirac-delta density, a tabulated radial
  basis that is rstref's (Hermite spline of its values and derivatives on 4001 points)
  and a step cutoff: the *same quantity* as rstref, so values and gradients are compared;
* dscribe: ``SOAP(r_cut=5, n_max=8, l_max=6, sigma=0.3, rbf='gto')``.  Its position
  derivatives are analytical only for open systems; for the periodic Cu cell dscribe
  offers numerical derivatives only, measured on a few centres (atoms/s = centres/s).

Measured: atoms per second (best of several calls; wall and process CPU time) with and
without position gradients, peak memory (peak resident set size of a fresh worker process
during one run minus its resident size before the run, after imports and a warm-up call;
one worker per library, system and mode; Linux VmHWM reset through /proc/self/clear_refs),
feature length.  Gradient runs on the molecules go 10 molecules at a time
(outputs dropped), so that no library holds all gradients at once.

Run ``python validation/bench_featurize.py`` (``--quick``: fewer repeats, no memory
workers; ``--no-write``: do not touch RESULTS.md; ``--rstref-only``: rstref alone, for
before/after comparisons of rstref itself; ``--profile``: CPU-time breakdown of rstref's
pipeline by stage on both systems, one thread, nothing written).  The section
'## Featurization: speed vs dscribe and featomic' of validation/RESULTS.md is rewritten.
"""

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _peers import Report, import_peer, machine_info, markdown_table, update_results_section, utc_now

HEADING = "## Featurization: speed vs dscribe and featomic"
R_CUT, N_MAX, L_MAX = 5.0, 8, 6
G2_ELEMENTS = {"H", "C", "N", "O", "F", "S", "Cl"}
MOLECULE_CHUNK = 10
DSCRIBE_PERIODIC_GRADIENT_CENTRES = 4
# tolerances (rstref/tolerances.py): featomic (delta, rstref's basis) vs rstref, and invariance
from rstref.tolerances import PEER_FEATOMIC_DELTA_GRADIENT_RTOL as FEATOMIC_DELTA_GRADIENT_RTOL  # noqa: E402
from rstref.tolerances import PEER_FEATOMIC_DELTA_RTOL as FEATOMIC_DELTA_RTOL  # noqa: E402
from rstref.tolerances import PEER_INVARIANCE_RTOL  # noqa: E402

# ----------------------------------------------------------------------------- systems

def systems():
    from ase.build import bulk
    from ase.collections import g2

    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((5, 5, 5))
    cu.rattle(0.05, seed=0)
    names = [n for n in g2.names if set(g2[n].get_chemical_symbols()) <= G2_ELEMENTS][:100]
    if len(names) < 100:
        raise RuntimeError(f"only {len(names)} g2 molecules with elements in {sorted(G2_ELEMENTS)}")
    molecules = [g2[n] for n in names]
    return {
        "Cu fcc 500": {"structures": [cu], "species": [29], "periodic": True,
                       "warm_up": bulk("Cu", "fcc", a=3.61, cubic=True)},
        "g2 x 100": {"structures": molecules, "species": sorted({int(z) for m in molecules for z in m.numbers}),
                     "periodic": False, "warm_up": molecules[0]},
    }


def chunks(items, size):
    return [items[k:k + size] for k in range(0, len(items), size)]


# ----------------------------------------------------------------------------- libraries

class Rstref:
    name = "rstref"

    def __init__(self, species, periodic):
        from rstref.features import Featurizer

        self.fz = Featurizer(r_cut=R_CUT, n_max=N_MAX, l_max=L_MAX, species=species)
        self.n_features = self.fz.n_features

    def features(self, structures):
        return self.fz.compute_many(structures, batch_atoms=4096).features

    def gradients(self, structures):
        for part in chunks(structures, MOLECULE_CHUNK) if len(structures) > 1 else [structures]:
            out = None  # one chunk's output alive at a time (same for every library)
            out = self.fz.compute_many(part, gradients=True)
        return out


class Dscribe:
    name = "dscribe"

    def __init__(self, species, periodic):
        from dscribe.descriptors import SOAP

        self.periodic = periodic
        self.soap = SOAP(species=species, r_cut=R_CUT, n_max=N_MAX, l_max=L_MAX, sigma=0.3, rbf="gto",
                         periodic=periodic, sparse=False, dtype="float64")
        self.n_features = self.soap.get_number_of_features()

    def features(self, structures):
        return self.soap.create(structures if len(structures) > 1 else structures[0], n_jobs=1)

    def gradients(self, structures):
        if self.periodic:
            # numerical derivatives only; a few centres, all atoms moved
            centres = list(range(DSCRIBE_PERIODIC_GRADIENT_CENTRES))
            return self.soap.derivatives(structures[0], centers=centres, method="numerical", n_jobs=1)
        for atoms in structures:
            out = None
            out = self.soap.derivatives(atoms, method="analytical", n_jobs=1)
        return out

    def centres_per_structure(self, atoms):
        return DSCRIBE_PERIODIC_GRADIENT_CENTRES if self.periodic else len(atoms)


class FeatomicGaussian:
    name = "featomic (Gaussian)"

    def __init__(self, species, periodic):
        from featomic import SoapPowerSpectrum
        from featomic.basis import Gto, TensorProduct
        from featomic.cutoff import Cutoff, ShiftedCosine
        from featomic.density import Gaussian

        self.calc = SoapPowerSpectrum(
            cutoff=Cutoff(radius=R_CUT, smoothing=ShiftedCosine(width=0.5)),
            density=Gaussian(width=0.3),
            basis=TensorProduct(max_angular=L_MAX, radial=Gto(max_radial=N_MAX - 1)))
        self.species = species
        S = len(species)
        self.n_features = S * (S + 1) // 2 * N_MAX * N_MAX * (L_MAX + 1)

    def features(self, structures):
        return self.calc.compute(structures)

    def gradients(self, structures):
        for part in chunks(structures, MOLECULE_CHUNK) if len(structures) > 1 else [structures]:
            out = None  # one chunk's output alive at a time (same for every library)
            out = self.calc.compute(part, gradients=["positions"])
        return out


class FeatomicDelta(FeatomicGaussian):
    name = "featomic (delta, rstref basis)"

    def __init__(self, species, periodic):
        from featomic import SoapPowerSpectrum
        from featomic.basis import Explicit
        from featomic.cutoff import Cutoff, Step
        from featomic.density import DiracDelta
        from featomic.splines import Spline, SplinedRadialBasis

        from rstref.radial import OrthonormalRadialBasis

        rb = OrthonormalRadialBasis(N_MAX, R_CUT, primitive="smooth_cosines")
        r = np.linspace(0.0, R_CUT, 4001)
        values, derivatives, _ = rb.with_derivatives(r)
        spline = Spline(0.0, R_CUT)
        spline.add_points(r, values, derivatives)
        by_angular = {l: SplinedRadialBasis(spline=spline, max_radial=N_MAX - 1, radius=R_CUT)
                      for l in range(L_MAX + 1)}
        self.calc = SoapPowerSpectrum(cutoff=Cutoff(radius=R_CUT, smoothing=Step()),
                                      density=DiracDelta(center_atom_weight=0.0),
                                      basis=Explicit(by_angular=by_angular, spline_accuracy=None))
        self.species = species
        S = len(species)
        self.n_features = S * (S + 1) // 2 * N_MAX * N_MAX * (L_MAX + 1)


LIBRARIES = {"rstref": (Rstref, None), "featomic (Gaussian)": (FeatomicGaussian, "featomic"),
             "featomic (delta, rstref basis)": (FeatomicDelta, "featomic"), "dscribe": (Dscribe, "dscribe")}


# ----------------------------------------------------------------------------- featomic <-> rstref

def featomic_as_rstref(tensor_map, featurizer, n_atoms, gradients=False):
    """featomic's power spectrum (and gradients) in rstref's layout.

    featomic stores every (n1, n2) of every species pair (neighbor_1_type <= neighbor_2_type)
    with 'integral' spherical harmonics, a factor (-1)^l and sqrt(2) on the pairs of
    different species; rstref keeps (a, n) <= (b, n2) with 'component' harmonics
    (c = sqrt(4 pi) c_integral) and sqrt(2) off the (a, n) diagonal:
    ``p_rstref = (-1)^l 4 pi w p_featomic``, ``w = sqrt(2)`` for the same species with
    ``n != n2`` (featomic stores (n, n2) and (n2, n) separately), else 1.
    """
    tm = tensor_map.keys_to_properties(["neighbor_1_type", "neighbor_2_type"])
    tm = tm.keys_to_samples("center_type")
    block = tm.block()
    names = list(block.properties.names)
    index = {tuple(int(v) for v in row): k for k, row in enumerate(block.properties.values)}
    _, labels = featurizer.feature_labels()
    # species pairs absent from every structure have no featomic block: their features are 0
    columns = np.array([index.get(tuple({"neighbor_1_type": za, "neighbor_2_type": zb, "l": l, "n_1": n,
                                         "n_2": n2}[c] for c in names), -1)
                        for (l, za, n, zb, n2) in labels])
    present = columns >= 0
    same_species = labels[:, 1] == labels[:, 3]
    off_diagonal = same_species & (labels[:, 2] != labels[:, 4])
    factor = (-1.0) ** labels[:, 0] * 4 * np.pi * np.where(off_diagonal, np.sqrt(2.0), 1.0)
    samples = block.samples
    system = samples.column("system")
    atom = samples.column("atom")
    offsets = np.concatenate([[0], np.cumsum(n_atoms)])
    rows = offsets[system] + atom
    features = np.zeros((offsets[-1], len(labels)))
    features[np.ix_(rows, np.flatnonzero(present))] = block.values[:, columns[present]] * factor[present]
    if not gradients:
        return features, None
    grad = block.gradient("positions")
    gs = grad.samples
    centre = rows[gs.column("sample")]
    neighbour = offsets[gs.column("system")] + gs.column("atom")
    dense = {}
    values = np.zeros((len(centre), 3, len(labels)))
    values[:, :, present] = grad.values[:, :, columns[present]] * factor[present]
    for k in range(len(centre)):
        dense[(int(centre[k]), int(neighbour[k]))] = values[k]
    return features, dense


def compare_with_featomic_delta(report, cases):
    from rstref.features import Featurizer

    rows = []
    for case, spec in cases.items():
        structures = spec["structures"] if spec["periodic"] else spec["structures"][:20]
        fz = Featurizer(r_cut=R_CUT, n_max=N_MAX, l_max=L_MAX, species=spec["species"])
        ours = fz.compute_many(structures, gradients=True)
        peer = FeatomicDelta(spec["species"], spec["periodic"])
        tm = peer.calc.compute(structures, gradients=["positions"])
        theirs, dense = featomic_as_rstref(tm, fz, [len(a) for a in structures], gradients=True)
        scale = np.abs(ours.features).max()
        dev = np.abs(ours.features - theirs).max() / scale
        report.check(f"{case}: features rstref vs featomic (delta, rstref basis), relative to max |p|",
                     dev, FEATOMIC_DELTA_RTOL)
        gdev, missing = 0.0, 0
        centers, neighbors, values = ours.dense_gradients()  # sparse rows expanded
        gscale = np.abs(values).max()
        for g in range(len(centers)):
            key = (int(centers[g]), int(neighbors[g]))
            if key in dense:
                gdev = max(gdev, np.abs(values[g] - dense.pop(key)).max())
            elif np.abs(values[g]).max() > FEATOMIC_DELTA_RTOL * gscale:
                missing += 1
        leftover = max((np.abs(v).max() for v in dense.values()), default=0.0)
        report.check(f"{case}: position gradients rstref vs featomic (delta), relative to max |dp|",
                     max(gdev, leftover) / gscale, FEATOMIC_DELTA_GRADIENT_RTOL,
                     f"{missing} non-zero rstref entries without a featomic sample")
        rows.append((case, len(structures), f"{dev:.1e}", f"{max(gdev, leftover) / gscale:.1e}"))
    return rows


def invariance_checks(report, cases, available):
    """Rotation and permutation invariance of every library's per-atom features (g2 subset)."""
    from rstref.rotations import random_rotation

    spec = cases["g2 x 100"]
    molecules = spec["structures"][:10]
    rng = np.random.default_rng(5)
    rows = []
    for name, cls in available.items():
        lib = cls(spec["species"], False)
        worst_rot, worst_perm = 0.0, 0.0
        for atoms in molecules:
            f0 = per_atom(lib, atoms)
            rotated = atoms.copy()
            rotated.positions = atoms.positions @ random_rotation(rng).T
            perm = rng.permutation(len(atoms))
            permuted = atoms[perm]
            scale = max(np.abs(f0).max(), 1e-300)
            worst_rot = max(worst_rot, np.abs(per_atom(lib, rotated) - f0).max() / scale)
            worst_perm = max(worst_perm, np.abs(per_atom(lib, permuted) - f0[perm]).max() / scale)
        report.check(f"{name}: rotation invariance (10 g2 molecules, relative)", worst_rot, PEER_INVARIANCE_RTOL)
        report.check(f"{name}: permutation equivariance (10 g2 molecules, relative)", worst_perm, PEER_INVARIANCE_RTOL)
        rows.append((name, f"{worst_rot:.1e}", f"{worst_perm:.1e}"))
    return rows


def per_atom(lib, atoms):
    """(n_atoms, F) features of one structure from any library, rows in atom order."""
    out = lib.features([atoms])
    if isinstance(out, np.ndarray):
        return np.asarray(out).reshape(len(atoms), -1)
    tm = out.keys_to_properties(["neighbor_1_type", "neighbor_2_type"]).keys_to_samples("center_type")
    block = tm.block()
    values = np.zeros((len(atoms), block.values.shape[1]))
    values[block.samples.column("atom")] = block.values
    return values


# ----------------------------------------------------------------------------- timing

def cpu_and_wall(function, repeat, min_time):
    best_wall, best_cpu, spent, calls = float("inf"), float("inf"), 0.0, 0
    while calls < repeat or (spent < min_time and calls < 20):
        w0, c0 = time.perf_counter(), time.process_time()
        function()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        spent += wall
        calls += 1
    return best_wall, best_cpu


def timings(cases, available, repeat):
    """{(case, mode): {library: (atoms/s wall, atoms/s cpu, F)}}, libraries in turn."""
    out = {}
    for case, spec in cases.items():
        libs = {name: cls(spec["species"], spec["periodic"]) for name, cls in available.items()}
        structures = spec["structures"]
        n_atoms = sum(len(a) for a in structures)
        for lib in libs.values():  # warm-up: compilation, first-call allocations
            lib.features(structures[:2])
            lib.gradients([spec["warm_up"]])
        for mode in ("features", "features + position gradients"):
            row = {}
            for name, lib in libs.items():
                fn = (lambda lib=lib: lib.features(structures)) if mode == "features" else \
                    (lambda lib=lib: lib.gradients(structures))
                count = n_atoms
                if mode != "features" and isinstance(lib, Dscribe) and spec["periodic"]:
                    count = DSCRIBE_PERIODIC_GRADIENT_CENTRES
                wall, cpu = cpu_and_wall(fn, repeat if count > 10 or mode == "features" else 1, 0.5)
                row[name] = (count / wall, count / cpu, lib.n_features)
                print(f"{case:12s} {mode:32s} {name:32s} {count / wall:12.1f} atoms/s (wall) "
                      f"{count / cpu:12.1f} atoms/s (cpu)", flush=True)
            out[(case, mode)] = row
    return out


# ----------------------------------------------------------------------------- profile

def _best_cpu(function, repeat):
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        function()
        best = min(best, time.process_time() - c0)
    return best


def _first_touch(shape):
    """A fresh zeroed array with every page written once (the page faults a run pays)."""
    out = np.zeros(shape)
    out.reshape(-1)[::512] = 0.0
    return out


def _common_stages(fz, structures):
    """Inputs and the stages shared by both pipelines (see :func:`profile_stages`)."""
    from rstref.features import pairs as fp
    from rstref.features.featurizer import merge_pairs

    assign = fz._assign
    arrays = [fp.structure_arrays(a, k) for k, a in enumerate(structures)]
    parts = [fp.structure_pairs([a], k, fz.r_cut, fz.include_center, assign) for k, a in enumerate(structures)]
    batch = merge_pairs(parts).ragged_batch(fz.n_channels)
    if hasattr(fp, "_neighbours"):  # the featurizer's own call (small molecules: the kernel)
        def neighbours():
            return [fp._neighbours(p, fz.r_cut, cell, pbc, fz.include_center, k)
                    for k, (p, _, cell, pbc) in enumerate(arrays)]
    else:
        from rstref.neighbors import neighbor_list

        def neighbours():
            return [neighbor_list(p, fz.r_cut, cell, pbc) for p, _, cell, pbc in arrays]
    n, F = batch.n_env, fz.n_features
    stages = {
        "total (compute_many)": lambda: fz.compute_many(structures, batch_atoms=4096),
        "neighbour list": neighbours,
        "structure_pairs": lambda: [fp.structure_pairs([a], k, fz.r_cut, fz.include_center, assign)
                                    for k, a in enumerate(structures)],
        "merge_pairs + ragged batch": lambda: merge_pairs(parts).ragged_batch(fz.n_channels),
        "output: np.zeros (n, F) + first write of each page": lambda: _first_touch((n, F)),
        "spherical harmonics (values)": lambda: fz._expansion.angular(batch.vectors, 0),
    }
    return batch, stages


def _general_stages(fz, batch):
    """Radial, projection and power spectrum of the general (derivative-capable) loop."""
    import numba

    from rstref import limits
    from rstref._engine.expansion import _project_batch
    from rstref._kernels import invariants as ki

    @numba.njit
    def power_spectrum_only(offsets, channels, weights, n_channels, n_max, l_max, c, features):
        n_eff = n_channels * n_max
        present = np.empty(n_channels, dtype=np.bool_)
        for e in range(offsets.shape[0] - 1):
            s, t = offsets[e], offsets[e + 1]
            ki.channels_present(channels[s:t], weights[s:t], present)
            ki.power_spectrum_values_channels(c[e], present, n_max, n_eff, l_max, features[e])

    ex = fz._expansion
    n, n_eff = batch.n_env, fz.n_eff
    factors = ex.factors(batch.vectors, 0)
    c = np.zeros((n, n_eff * (fz.l_max + 1) ** 2))
    features = np.zeros((n, fz.n_features))
    no_dc, no_d2c = np.zeros((batch.n_neighbours, 0, 0)), np.zeros((batch.n_neighbours, 0, 0, 0))

    def project():
        _project_batch(batch.offsets, batch.vectors, batch.channels, batch.weights, *factors, fz.n_max,
                       n_eff, fz.l_max, False, 0, limits.KERNEL_NORM_FLOOR, c, no_dc, no_d2c)

    project()
    return {
        "radial basis": lambda: ex.radial(batch.vectors),
        "projection (coefficients)": project,
        "power spectrum": lambda: power_spectrum_only(batch.offsets, batch.channels, batch.weights,
                                                      fz.n_channels, fz.n_max, fz.l_max, c, features),
    }


def _values_stages(fz, batch):
    """Radial, projection and power spectrum of the fused values-only loop
    (:mod:`rstref._engine.values`): its kernels run cumulatively, differences give stages."""
    import math

    import numba

    from rstref import limits
    from rstref._engine import values as ev
    from rstref._kernels.radial import orthonormal_radial_values_point

    @numba.njit
    def radial_only(vectors, family, r_cut, n_prim, power, coefficients, out):
        f = np.empty(n_prim)
        R = np.empty(coefficients.shape[0])
        for i in range(vectors.shape[0]):
            x = vectors[i]
            rho = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
            orthonormal_radial_values_point(rho, family, r_cut, n_prim, power, coefficients, f, R)
            out[i] = R[0]

    @numba.njit
    def radial_and_projection(offsets, vectors, channels, weights, n_channels, family, r_cut, n_prim,
                              power, coefficients, Y, n_max, l_max, norm_floor):
        L = Y.shape[1]
        n_eff = n_channels * n_max
        c = np.empty(n_eff * L)
        present = np.empty(n_channels, dtype=np.bool_)
        slot = np.empty(n_channels, dtype=np.int64)
        rows = np.empty(n_eff, dtype=np.int64)
        f, R, g = np.empty(n_prim), np.empty(n_max), np.empty(n_max)
        for e in range(offsets.shape[0] - 1):
            s, t = offsets[e], offsets[e + 1]
            n_rows = ev._present_rows(channels[s:t], weights[s:t], n_channels, n_max, present, slot, rows)
            for j in range(n_rows * L):
                c[j] = 0.0
            ev._add_neighbours(vectors, weights, channels, Y, s, t, family, r_cut, n_prim, power,
                               coefficients, n_max, l_max, False, norm_floor, slot, n_rows, f, R, g, c)

    ex = fz._expansion
    radial = ex.radial_kernel_arguments
    Y = ex.angular(batch.vectors, 0)[0]
    features = np.zeros((batch.n_env, fz.n_features))
    out = np.empty(batch.n_neighbours)
    head = (batch.offsets, batch.vectors, batch.channels, batch.weights, fz.n_channels, *radial, Y,
            fz.n_max, fz.l_max)
    return {
        "radial basis": lambda: radial_only(batch.vectors, *radial, out),
        "radial + projection": lambda: radial_and_projection(*head, limits.KERNEL_NORM_FLOOR),
        "radial + projection + power spectrum": lambda: ev._power_spectrum_values_loop(
            *head, False, limits.KERNEL_NORM_FLOOR, features),
    }


def profile(cases, repeat):
    """Print and return the CPU-time breakdown (ms) of rstref's pipeline per system.

    Each stage is timed alone on precomputed inputs (best of ``repeat`` calls, CPU time, one
    thread); 'rest' is the total minus the stages (Python per batch and per structure,
    argument checks, weight scaling, slicing).  Works on the general loop of older
    versions and on the values-only loop.
    """
    import importlib.util

    import numba

    numba.set_num_threads(1)
    fused = importlib.util.find_spec("rstref._engine.values") is not None
    out = {}
    for case, spec in cases.items():
        fz = Rstref(spec["species"], spec["periodic"]).fz
        batch, stages = _common_stages(fz, spec["structures"])
        stages.update((_values_stages if fused else _general_stages)(fz, batch))
        for fn in stages.values():  # warm-up (compilation)
            fn()
        t = {name: 1e3 * _best_cpu(fn, repeat) for name, fn in stages.items()}
        if fused:
            t["power spectrum"] = t["radial + projection + power spectrum"] - t["radial + projection"]
            t["projection (coefficients)"] = t.pop("radial + projection") - t["radial basis"]
            del t["radial + projection + power spectrum"]
        t["pair assembly (structure_pairs minus neighbour list)"] = t.pop("structure_pairs") - t["neighbour list"]
        total = t["total (compute_many)"]
        t["rest (Python per batch/structure, checks, scaling)"] = total - sum(
            v for k, v in t.items() if k != "total (compute_many)")
        print(f"{case}: {batch.n_env} atoms, {batch.n_neighbours} pairs, "
              f"{'values-only loop' if fused else 'general loop'}")
        for name, ms in t.items():
            print(f"  {name:55s} {ms:8.2f} ms {100 * ms / total:6.1f} %")
        out[case] = t
    return out


# ----------------------------------------------------------------------------- memory workers

def memory_worker(library, case, mode):
    """Print the peak-RSS increase (MiB) of one run in this fresh process."""
    cases = systems()
    spec = cases[case]
    cls = LIBRARIES[library][0]
    lib = cls(spec["species"], spec["periodic"])
    warm_up = [spec["warm_up"]]  # small, so that the run's memory is not already resident
    lib.features(warm_up)
    lib.gradients(warm_up)
    # ru_maxrss would carry the parent's peak across fork/exec: use the mm's own high-water
    # mark VmHWM, reset after the warm-up (Linux >= 4.0: write 5 to /proc/self/clear_refs)
    before = _proc_status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    if mode == "features":
        lib.features(spec["structures"])
    else:
        lib.gradients(spec["structures"])
    peak = _proc_status_kib("VmHWM")
    print(json.dumps({"peak_mib": (peak - before) / 1024.0}))


def _proc_status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def memory(cases, available):
    out = {}
    for case in cases:
        for mode in ("features", "features + position gradients"):
            for name in available:
                cmd = [sys.executable, os.path.abspath(__file__), "--memory-worker", name, case, mode]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
                try:
                    out[(case, mode, name)] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"]
                except Exception:
                    out[(case, mode, name)] = float("nan")
                    print(f"memory worker failed: {name} {case} {mode}: {proc.stderr[-500:]}")
                print(f"memory {case:12s} {mode:32s} {name:32s} {out[(case, mode, name)]:9.1f} MiB", flush=True)
    return out


# ----------------------------------------------------------------------------- report

def fmt(x):
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def write_section(cases, times, mem, value_rows, invariance_rows, report, available, load):
    peers = [p for p in ("dscribe", "featomic") if any(LIBRARIES[n][1] == p for n in available)]
    lines = [f"Generated by `validation/bench_featurize.py` on {utc_now()}. "
             + machine_info(peers=peers, threads=1)
             + f" 1-minute load average at start/end: {load[0]:.1f}/{load[1]:.1f} on "
               f"{os.cpu_count()} cores (a load above the core count means other processes competed "
               "for the CPU: wall times are then inflated and CPU times are the steadier measure).",
             "",
             f"Matched sizes: r_cut = {R_CUT} Å, n_max = {N_MAX}, l_max = {L_MAX}, one density channel "
             "per species, power spectrum; everything on one thread. rstref: delta density, "
             "'smooth_cosines' radial basis (C² at r_cut). featomic (Gaussian): Gaussian density "
             "width 0.3 Å, GTO radial basis, shifted-cosine cutoff width 0.5 Å. featomic (delta, "
             "rstref basis): Dirac-delta density with rstref's radial basis tabulated (4001-point "
             "Hermite spline) and a step cutoff, i.e. the same quantity as rstref. dscribe: SOAP "
             "with sigma = 0.3 Å, GTO basis.",
             "",
             "Systems: (a) Cu fcc 500 = 5×5×5 cubic fcc Cu cell, a = 3.61 Å, periodic, rattled "
             "0.05 Å (seed 0); (b) g2 x 100 = the first 100 ase g2 molecules whose elements are "
             f"among {', '.join(sorted(G2_ELEMENTS))} ({sum(len(a) for a in cases['g2 x 100']['structures'])} "
             f"atoms, {len(cases['g2 x 100']['species'])} species).",
             ""]
    headers = ["system", "computes", "library", "features per atom", "atoms/s (CPU)", "atoms/s (wall)",
               "rstref speed-up (CPU)", "peak memory (MiB)"]
    rows = []
    for (case, mode), row in times.items():
        ours_cpu = row["rstref"][1]
        for name, (wall, cpu, F) in row.items():
            speed = "1" if name == "rstref" else f"{ours_cpu / cpu:.2f}×"
            label = name
            if name == "dscribe" and mode != "features":
                label += " (numerical, 4 centres)" if cases[case]["periodic"] else " (analytical)"
            rows.append((case, mode, label, f"{F:,}", fmt(cpu), fmt(wall), speed,
                         fmt(mem.get((case, mode, name), float("nan")))))
    lines.append(markdown_table(headers, rows))
    lines += ["",
              "'rstref speed-up' = rstref atoms/s ÷ the library's (CPU time, best of several calls; "
              "> 1 means rstref is faster). Peak memory: peak resident set size of a fresh worker "
              "process during one run minus its resident size just before (after imports and a "
              "warm-up call; n/a: not measured). Gradient runs on the molecules process 10 molecules "
              "at a time, each chunk's output dropped before the next is computed (one alive at a time, for "
              "every library); rstref stores one gradient row per (centre, neighbour) pair and one "
              "per centre, each over the features whose species are all present around the centre "
              "(and, for a pair, include the neighbour's), "
              "featomic per (sample, atom) gradient sample per species block, dscribe as a dense "
              "(centres, atoms, 3, F) array. dscribe offers only numerical derivatives for periodic "
              "cells: for Cu they were computed for 4 centres (all 500 atoms displaced) and atoms/s "
              "counts those centres.",
              "",
              "Values: featomic with a Dirac-delta density and rstref's tabulated radial basis computes "
              "the same features; after the documented change of convention "
              "(p_rstref = (-1)^l · 4π · w · p_featomic with w = √2 for the same species and n ≠ n2 "
              "(featomic stores (n, n2) and (n2, n) separately and already weights pairs of different "
              "species by √2), else 1; 4π from 'component' vs 'integral' harmonics; (-1)^l is "
              "featomic's) the maximum relative deviations were:",
              "",
              markdown_table(["system", "structures compared", "features", "position gradients"], value_rows),
              "",
              "dscribe and featomic (Gaussian) use other radial bases and a smeared density, so their "
              "values differ by design; only properties were compared: relative deviation of the "
              "per-atom features under a random rotation and under a permutation of the atoms "
              "(10 g2 molecules):",
              "",
              markdown_table(["library", "rotation", "permutation"], invariance_rows),
              "",
              f"Checks: {len(report.passed)} passed, {len(report.failed)} failed"
              + (", skipped: " + "; ".join(f"{n} ({r})" for n, r in report.skipped) if report.skipped else
                 ", no peer skipped") + "."]
    update_results_section(HEADING, "\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no memory workers")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--rstref-only", action="store_true",
                        help="time rstref alone (peers skipped; implies --no-write)")
    parser.add_argument("--profile", action="store_true",
                        help="CPU-time breakdown of rstref's pipeline by stage (implies --no-write)")
    parser.add_argument("--memory-worker", nargs=3, metavar=("LIBRARY", "CASE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return 0
    import numba

    numba.set_num_threads(1)
    report = Report("bench_featurize")
    load0 = os.getloadavg()[0]
    available = {}
    if args.rstref_only:
        args.no_write = True
    for name, (cls, module) in LIBRARIES.items():
        if args.rstref_only and module is not None:
            continue
        if module is None or import_peer(module, report) is not None:
            available[name] = cls
    cases = systems()
    if args.profile:
        profile(cases, repeat=3 if args.quick else 7)
        return 0
    value_rows = compare_with_featomic_delta(report, cases) if "featomic (delta, rstref basis)" in available else []
    invariance_rows = invariance_checks(report, cases, available)
    times = timings(cases, available, repeat=2 if args.quick else 5)
    mem = {} if args.quick else memory(cases, available)
    load1 = os.getloadavg()[0]
    if not args.no_write:
        write_section(cases, times, mem, value_rows, invariance_rows, report, available, (load0, load1))
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
