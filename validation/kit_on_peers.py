"""Run the property kit (rstref.testing) against the peers and rstref itself.

For every (implementation, property) pair the kit's checker is driven by hypothesis:
``hypothesis.find`` searches the kit's strategies for an input on which the checker fails
and, if it finds one, shrinks it to the smallest such input, which is printed.  Otherwise
the property passes, and the largest deviation seen (relative to its tolerance) is
reported.  Implementations:

* e3nn: spherical harmonics (O(3) equivariance with e3nn's own ``Irreps.D_from_matrix``,
  autograd gradients vs finite differences) and a pure-e3nn invariant featurizer
  (density of smooth radial functions ``soft_one_hot_linspace(..., 'smooth_finite',
  cutoff=True)`` times e3nn harmonics, contracted by ``ReducedTensorProducts('ij=ji')``,
  0e outputs): invariances, autograd gradients, cutoff smoothness.
* sphericart: spherical harmonics equivariance with rstref's ``wigner_D`` (standard
  convention; parity (-1)^l for improper rotations), analytic gradients and Hessians vs
  finite differences, points including r = 0.
* dscribe SOAP and featomic SoapPowerSpectrum, as structure featurizers (per-atom
  outputs): rotation (O(3)), permutation (equivariance of the per-atom rows) and
  translation invariance; analytic gradients vs finite differences; smoothness across
  the cutoff of the values (C^0, C^1, C^2) and of the analytic gradients (C^0), along a
  path on which one neighbour of atom 0 (at the origin) crosses r_cut.
* rstref: the same properties for its harmonics and power spectrum (raw projection with
  the C^2 'smooth_cosines' basis, and the kernel-normalised projection).

A peer that is not installed is reported as SKIPPED.  Results go to
``validation/RESULTS.md``, section '## Property kit applied to peers'.

Usage: ``python validation/kit_on_peers.py [--examples N] [--no-write]``
"""

import argparse
import sys
import time
import traceback

import numpy as np
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import rstref
from rstref.testing import (
    block_diagonal_representation,
    check_cutoff_smoothness,
    check_equivariance,
    check_gradient,
    check_hessian,
    check_permutation_equivariance,
    check_rotation_invariance,
    check_translation_invariance,
)
from rstref.testing import strategies as kst

from _peers import import_peer, machine_info, markdown_table, package_version, update_results_section, utc_now

HEADING = "## Property kit applied to peers"
L_MAX_SH = 6
R_CUT = 3.0          # environments and SOAP cutoff
SPECIES = (1, 6)


# ---------------------------------------------------------------------------------------
# driving the checkers with hypothesis
# ---------------------------------------------------------------------------------------

class Outcome:
    """Result of one (implementation, property) run."""

    def __init__(self, status, report=None, minimal=None, worst=None, note="", examples=0):
        self.status, self.report, self.minimal, self.worst = status, report, minimal, worst
        self.note, self.examples = note, examples

    def cell(self):
        if self.status in ("SKIPPED", "ERROR", "n/a"):
            return self.status + (f" ({self.note})" if self.note and self.status != "n/a" else "")
        rep = self.report if self.status == "FAIL" else self.worst
        if rep is None:
            return self.status
        dev = rep.max_deviation
        text = f"{self.status} {dev:.1e}" if np.isfinite(dev) else f"{self.status} (non-finite)"
        if np.isfinite(rep.tolerance) and np.isfinite(dev):
            text += f" / {rep.tolerance:.0e}"
        return text


def _ratio(report):
    if not np.isfinite(report.max_deviation):
        return np.inf
    if report.tolerance > 0:
        return report.max_deviation / report.tolerance
    return 0.0 if report.max_deviation == 0 else np.inf


SHRINK_BUDGET_S = 60.0


def run_property(check, strategy, examples, label=""):
    """Search ``strategy`` for an input where ``check(example)`` fails; shrink it.

    Shrinking stops after SHRINK_BUDGET_S seconds (later candidates are declined), so the
    input reported is the smallest found within that budget.
    """
    worst = {"ratio": -1.0, "report": None}
    count = {"n": 0}
    start = time.time()

    def fails(example):
        if worst["report"] is not None and not worst["report"].passed and time.time() - start > SHRINK_BUDGET_S:
            return False
        count["n"] += 1
        report = check(example)
        r = _ratio(report)
        if r > worst["ratio"]:
            worst.update(ratio=r, report=report)
        return not report.passed

    config = settings(max_examples=examples, database=None, derandomize=True, deadline=None,
                      suppress_health_check=list(HealthCheck))
    try:
        minimal = find(strategy, fails, settings=config)
    except NoSuchExample:
        outcome = Outcome("PASS", worst=worst["report"], examples=count["n"])
    else:
        outcome = Outcome("FAIL", report=check(minimal), minimal=minimal, worst=worst["report"],
                          examples=count["n"])
    print(f"  {label}: {outcome.cell()}  ({count['n']} evaluations, {time.time() - start:.1f} s)", flush=True)
    return outcome


def guarded(function, *args, label=""):
    try:
        return function(*args, label=label)
    except Exception as exc:  # a peer crashing on an input is a result, not a script error
        traceback.print_exc()
        return Outcome("ERROR", note=f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}")


# ---------------------------------------------------------------------------------------
# strategies shared by the implementations
# ---------------------------------------------------------------------------------------

def points(min_radius=0.2):
    return kst.environments(r_cut=3.0, min_atoms=1, max_atoms=5, min_separation=0.0,
                            min_radius=min_radius, max_radius=2.5)


def structures(min_atoms=2, max_atoms=5):
    """Finite clusters (x, species): atom 0 at the origin, neighbours within 0.8 R_CUT."""
    return kst.environments(r_cut=R_CUT, min_atoms=min_atoms - 1, max_atoms=max_atoms - 1,
                            min_separation=0.8, min_radius=0.8, max_radius=0.8 * R_CUT).flatmap(
        lambda x: st.tuples(st.just(np.vstack([np.zeros((1, 3)), x])),
                            kst.species_assignments(len(x) + 1, SPECIES)))


def crossings(radius=R_CUT):
    return kst.cutoff_crossings(r_cut=radius, max_other_atoms=3, min_separation=0.8).flatmap(
        lambda p: st.tuples(st.just(p), kst.species_assignments(len(p.positions) + 1, SPECIES)))


def with_centre(path):
    """The crossing path with atom 0 at the origin (the centre whose row is tracked)."""
    return kst.CutoffCrossing(np.vstack([np.zeros((1, 3)), path.positions]), path.index + 1,
                              path.direction, path.r_cut)


def o3_harmonics_representation(l_max):
    def representation(R):
        sign = np.sign(np.linalg.det(R))
        blocks = [lambda _, l=l: sign ** l * rstref.wigner_D(l, sign * R) for l in range(l_max + 1)]
        return block_diagonal_representation(*blocks)(R)

    return representation


# ---------------------------------------------------------------------------------------
# property suites
# ---------------------------------------------------------------------------------------

def harmonics_suite(values, with_gradients, with_hessians, representation, examples, fd_with_values=True):
    """Spherical-harmonics properties of a pointwise function of (n, 3) points."""
    out = {}
    out["SH equivariance O(3)"] = (lambda e: check_equivariance(
        values, e[0], e[1], representation), st.tuples(points(), kst.rotations(kind="any")), examples)
    out["SH equivariance near the poles / at tiny |r|"] = (lambda e: check_equivariance(
        values, e[0][None], e[1], representation),
        st.tuples(kst.near_pole_vectors() | kst.tiny_vectors(min_norm=1e-30), kst.rotations()), examples)
    out["SH finite and equivariant incl. r = 0"] = (lambda e: check_equivariance(
        values, e[0], e[1], representation),
        st.tuples(points(min_radius=0.0), kst.rotations()), examples)
    if with_gradients is not None:
        out["SH gradient vs FD"] = (lambda x: check_gradient(
            with_gradients, x, layout="pointwise", value_func=values if fd_with_values else None),
            points(min_radius=0.5), examples)
    if with_hessians is not None:
        out["SH Hessian vs FD"] = (lambda x: check_hessian(
            with_hessians, x, layout="pointwise", gradient_func=with_gradients), points(min_radius=0.5), examples)
    return out


def featurizer_suite(per_atom, with_gradients, examples, smooth_orders=(0, 1, 2), crossing_radius=R_CUT):
    """Invariance, gradient and cutoff properties of a per-atom structure featurizer.

    ``per_atom(x, species) -> (N, F)``; ``with_gradients(x, species) -> (value (N, F),
    gradient (N, 3, N, F))`` (total layout) or None.  The cutoff rows are measured where
    neighbours enter the implementation's neighbour list, ``crossing_radius``.
    """
    out = {}
    out["rotation invariance O(3)"] = (lambda e: check_rotation_invariance(
        per_atom, e[0][0], e[1], species=e[0][1]), st.tuples(structures(), kst.rotations(kind="any")), examples)
    out["permutation (per-atom rows follow)"] = (lambda e: check_permutation_equivariance(
        per_atom, e[0], e[2], species=e[1]), structures(min_atoms=2).flatmap(
        lambda s: st.tuples(st.just(s[0]), st.just(s[1]), kst.permutations(len(s[0])))), examples)
    out["translation invariance"] = (lambda e: check_translation_invariance(
        per_atom, e[0][0], e[1], species=e[0][1]), st.tuples(structures(), kst.translations(5.0)), examples)
    if with_gradients is not None:
        out["gradient vs FD"] = (lambda e: check_gradient(
            with_gradients, e[0], species=e[1], value_func=per_atom), structures(max_atoms=4), max(examples // 2, 5))

    def centre_row(f):
        return lambda x, s: np.asarray(f(x, s))[0]

    for order in smooth_orders:
        out[f"cutoff: values C^{order}"] = (lambda e, order=order: check_cutoff_smoothness(
            centre_row(per_atom), with_centre(e[0]), order, species=e[1]), crossings(crossing_radius), examples)
    if with_gradients is not None:
        out["cutoff: analytic gradient C^0"] = (lambda e: check_cutoff_smoothness(
            lambda x, s: np.asarray(with_gradients(x, s)[1])[:, :, 0], with_centre(e[0]), 0, species=e[1]),
            crossings(crossing_radius), examples)
    return out


# ---------------------------------------------------------------------------------------
# implementations
# ---------------------------------------------------------------------------------------

def rstref_suites(examples):
    suites = {}
    suites["rstref SH"] = harmonics_suite(
        lambda x: rstref.spherical_harmonics(x, L_MAX_SH),
        lambda x: rstref.spherical_harmonics_with_gradients(x, L_MAX_SH),
        lambda x: rstref.spherical_harmonics_with_hessians(x, L_MAX_SH),
        o3_harmonics_representation(L_MAX_SH), examples)
    rb = rstref.OrthonormalRadialBasis(4, R_CUT, "smooth_cosines")
    ps = rstref.PowerSpectrum(rstref.RadialSphericalTensor(4, rb, 3))
    for normalize, name in ((False, "rstref PS (raw)"), (True, "rstref PS (kernel-normalised)")):
        def per_atom(x, s, normalize=normalize):
            return np.array([_rstref_row(ps, x, s, k, normalize) for k in range(len(x))])

        def with_gradients(x, s, normalize=normalize):
            rows = [_rstref_row_with_gradients(ps, x, s, k, normalize) for k in range(len(x))]
            value = np.array([r[0] for r in rows])
            grad = np.stack([r[1] for r in rows], axis=2)  # (N, 3, N, F)
            return value, grad

        suites[name] = featurizer_suite(per_atom, with_gradients, examples)
    return suites


def _neighbours(x, k):
    """Neighbour indices of atom k within R_CUT (strictly inside) and their vectors."""
    d = x - x[k]
    r = np.linalg.norm(d, axis=1)
    idx = np.flatnonzero((r < R_CUT) & (np.arange(len(x)) != k))
    return idx, d[idx]


def _species_values(s):
    return np.where(np.asarray(s) == SPECIES[0], -1.0, 1.0)


def _rstref_row(ps, x, s, k, normalize):
    idx, vec = _neighbours(x, k)
    return ps.compute(vec, _species_values(s)[idx], normalize=normalize)


def _rstref_row_with_gradients(ps, x, s, k, normalize):
    idx, vec = _neighbours(x, k)
    p, dp = ps.compute_with_gradients(vec, _species_values(s)[idx], normalize=normalize)
    grad = np.zeros((len(x), 3, p.size))
    grad[idx] += dp
    grad[k] -= dp.sum(axis=0)  # the centre moves the other way
    return p, grad


def e3nn_suites(examples):
    torch = import_peer("torch")
    e3nn = import_peer("e3nn")
    if torch is None or e3nn is None:
        return {"e3nn SH": None, "e3nn RTP invariants": None}
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace

    torch.set_default_dtype(torch.float64)
    sh_irreps = o3.Irreps.spherical_harmonics(L_MAX_SH, p=-1)

    def sh(x):
        return o3.spherical_harmonics(sh_irreps, torch.as_tensor(x), normalize=True,
                                      normalization="integral").detach().numpy()

    def sh_with_gradients(x):
        xt = torch.as_tensor(x).clone().requires_grad_(True)
        jac = torch.autograd.functional.jacobian(
            lambda p: o3.spherical_harmonics(sh_irreps, p, normalize=True, normalization="integral"), xt,
            vectorize=True)
        n = len(x)
        grad = np.stack([jac[i, :, i, :].numpy().T for i in range(n)]) if n else np.zeros((0, 3, sh_irreps.dim))
        return sh(x), grad

    def sh_representation(R):
        return sh_irreps.D_from_matrix(torch.as_tensor(R)).numpy()

    suites = {"e3nn SH": harmonics_suite(sh, sh_with_gradients, None, sh_representation, examples)}

    # a pure-e3nn invariant featurizer: radial x harmonics density, 'ij=ji' contraction, 0e
    n_radial, l_max = 2, 2
    t0 = time.time()
    irreps = o3.Irreps("+".join(f"{n_radial}x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(l_max + 1)))
    rtp = o3.ReducedTensorProducts("ij=ji", i=irreps)
    scalar_idx = []
    i = 0
    for mul, ir in rtp.irreps_out:
        if ir.l == 0 and ir.p == 1:
            scalar_idx += list(range(i, i + mul))
        i += mul * ir.dim
    print(f"e3nn ReducedTensorProducts('ij=ji', {irreps}) built in {time.time() - t0:.1f} s; "
          f"{len(scalar_idx)} 0e outputs")
    scalar_idx = torch.as_tensor(scalar_idx)
    sh_l = o3.Irreps.spherical_harmonics(l_max, p=-1)

    def density(vec, weights):
        r = vec.norm(dim=1)
        radial = soft_one_hot_linspace(r, 0.0, R_CUT, n_radial, basis="smooth_finite", cutoff=True)  # (n, nr)
        y = o3.spherical_harmonics(sh_l, vec, normalize=True, normalization="component")  # (n, L)
        blocks = []
        for l in range(l_max + 1):
            yl = y[:, l * l:(l + 1) ** 2]
            blocks.append(torch.einsum("i,in,im->nm", weights, radial, yl).reshape(-1))
        return torch.cat(blocks)

    def row(xt, s, k):
        vec = torch.cat([xt[:k], xt[k + 1:]]) - xt[k]
        w = torch.as_tensor(np.delete(_species_values(s), k))
        if len(vec) == 0:
            return torch.zeros(len(scalar_idx))
        c = density(vec, w)
        return rtp(c, c)[scalar_idx]

    def per_atom_t(xt, s):
        return torch.stack([row(xt, s, k) for k in range(len(xt))])

    def per_atom(x, s):
        return per_atom_t(torch.as_tensor(x), s).detach().numpy()

    def with_gradients(x, s):
        xt = torch.as_tensor(x).clone()
        jac = torch.autograd.functional.jacobian(lambda p: per_atom_t(p, s), xt, vectorize=True)  # (N, F, N, 3)
        return per_atom(x, s), jac.numpy().transpose(2, 3, 0, 1)

    suites["e3nn RTP invariants"] = featurizer_suite(per_atom, with_gradients, examples)
    return suites


def sphericart_suites(examples):
    sphericart = import_peer("sphericart")
    if sphericart is None:
        return {"sphericart SH": None}
    calc = sphericart.SphericalHarmonics(L_MAX_SH)
    return {"sphericart SH": harmonics_suite(
        lambda x: calc.compute(np.ascontiguousarray(x)),
        lambda x: calc.compute_with_gradients(np.ascontiguousarray(x)),
        lambda x: calc.compute_with_hessians(np.ascontiguousarray(x)),
        o3_harmonics_representation(L_MAX_SH), examples)}


def dscribe_suites(examples):
    dscribe = import_peer("dscribe")
    ase = import_peer("ase")
    if dscribe is None or ase is None:
        return {"dscribe SOAP": None}
    from dscribe.descriptors import SOAP

    soap = SOAP(species=list(SPECIES), r_cut=R_CUT, n_max=3, l_max=3, sigma=0.5, periodic=False)

    def atoms(x, s):
        return ase.Atoms(numbers=np.asarray(s), positions=x)

    def per_atom(x, s):
        return soap.create(atoms(x, s))

    def with_gradients(x, s):
        d, f = soap.derivatives(atoms(x, s), method="analytical", attach=True)
        return f, d.transpose(1, 2, 0, 3)  # (centres, atoms, 3, F) -> (atoms, 3, centres, F)

    # dscribe includes neighbours up to r_cut + padding (Gaussians decayed to 1e-3 there):
    # that, not r_cut, is where its features can be non-smooth; at r_cut nothing happens
    effective = R_CUT + soap.get_cutoff_padding()
    suite = featurizer_suite(per_atom, with_gradients, examples, crossing_radius=effective)
    suite["cutoff at nominal r_cut: values C^2"] = (
        lambda e: check_cutoff_smoothness(lambda x, s: per_atom(x, s)[0], with_centre(e[0]), 2, species=e[1]),
        crossings(R_CUT), examples)
    print(f"dscribe: nominal r_cut {R_CUT}, neighbour cutoff r_cut + padding = {effective:.4f}")

    # with a weighting that vanishes at r0 = r_cut: w = (1 + 2 x^3 - 3 x^2)^2 = (1 - x)^4 (1 + 2x)^2,
    # x = r / r0, is C^3 at r0; dscribe offers only numerical derivatives with a weighting
    weighted = SOAP(species=list(SPECIES), r_cut=R_CUT, n_max=3, l_max=3, sigma=0.5, periodic=False,
                    weighting={"function": "poly", "r0": R_CUT, "c": 1, "m": 2})

    def weighted_per_atom(x, s):
        return weighted.create(atoms(x, s))

    def weighted_with_gradients(x, s):
        d, f = weighted.derivatives(atoms(x, s), method="numerical", attach=True)
        return f, d.transpose(1, 2, 0, 3)

    weighted_suite = featurizer_suite(weighted_per_atom, weighted_with_gradients, examples)
    weighted_suite["cutoff at r_cut + padding: values C^2"] = (
        lambda e: check_cutoff_smoothness(lambda x, s: weighted_per_atom(x, s)[0], with_centre(e[0]), 2,
                                          species=e[1]),
        crossings(effective), examples)
    return {"dscribe SOAP": suite, "dscribe SOAP (poly weighting, m=2)": weighted_suite}


def featomic_suites(examples):
    featomic = import_peer("featomic")
    metatensor = import_peer("metatensor")
    ase = import_peer("ase")
    if featomic is None or metatensor is None or ase is None:
        return {"featomic SOAP PS": None}
    from featomic.basis import Gto, TensorProduct
    from featomic.cutoff import Cutoff, ShiftedCosine
    from featomic.density import Gaussian

    calc = featomic.SoapPowerSpectrum(
        cutoff=Cutoff(radius=R_CUT, smoothing=ShiftedCosine(width=0.5)),
        density=Gaussian(width=0.5),
        basis=TensorProduct(max_angular=3, radial=Gto(max_radial=3)))
    pairs = metatensor.Labels(["neighbor_1_type", "neighbor_2_type"],
                              np.array([[a, b] for a in SPECIES for b in SPECIES if a <= b], dtype=np.int32))

    def block(x, s, gradients):
        tm = calc.compute(ase.Atoms(numbers=np.asarray(s), positions=x),
                          gradients=["positions"] if gradients else [])
        tm = tm.keys_to_samples("center_type").keys_to_properties(pairs)
        return tm.block()

    def dense_values(b, n):
        atom = b.samples.column("atom")
        out = np.zeros((n, b.values.shape[-1]))
        out[np.asarray(atom)] = b.values
        return out

    def per_atom(x, s):
        return dense_values(block(x, s, False), len(x))

    def with_gradients(x, s):
        b = block(x, s, True)
        n = len(x)
        value = dense_values(b, n)
        g = b.gradient("positions")
        sample_atom = np.asarray(b.samples.column("atom"))
        grad = np.zeros((n, 3, n, value.shape[1]))
        for row, (sample, _system, atom) in enumerate(np.asarray(g.samples.values)):
            grad[atom, :, sample_atom[sample]] += g.values[row]
        return value, grad

    return {"featomic SOAP PS": featurizer_suite(per_atom, with_gradients, examples)}


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------

def short(value):
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=6, separator=", ", suppress_small=False).replace("\n", "")
    if isinstance(value, tuple):
        return "(" + ", ".join(short(v) for v in value) + ")"
    if isinstance(value, kst.CutoffCrossing):
        return (f"crossing(neighbours of atom 0 at the origin={short(value.positions)}, moving neighbour="
                f"{value.index}, direction={short(value.direction)}, radius={value.r_cut:.4f})")
    return repr(value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="hypothesis examples per property")
    parser.add_argument("--no-write", action="store_true", help="do not update validation/RESULTS.md")
    parser.add_argument("--only", default=None, help="comma-separated implementation prefixes")
    args = parser.parse_args(argv)

    builders = [rstref_suites, e3nn_suites, sphericart_suites, dscribe_suites, featomic_suites]
    suites = {}
    for build in builders:
        name = build.__name__.replace("_suites", "")
        if args.only and not any(name.startswith(p) for p in args.only.split(",")):
            continue
        t0 = time.time()
        try:
            planned = build(args.examples)
        except Exception as exc:
            traceback.print_exc()
            planned = {name: {"(setup)": Outcome("ERROR", note=f"{type(exc).__name__}: {exc}")}}
        for implementation, plan in planned.items():
            print(implementation, flush=True)
            if plan is None:
                suites[implementation] = None
                continue
            suites[implementation] = {
                prop: (job if isinstance(job, Outcome) else guarded(run_property, *job, label=prop))
                for prop, job in plan.items()}
        print(f"{name}: {time.time() - t0:.1f} s", flush=True)

    properties = []
    for res in suites.values():
        for prop in (res or {}):
            if prop not in properties:
                properties.append(prop)
    names = list(suites)
    rows = []
    for prop in properties:
        row = [prop]
        for name in names:
            res = suites[name]
            if res is None:
                row.append("SKIPPED (not installed)")
            else:
                row.append(res.get(prop, Outcome("n/a")).cell())
        rows.append(row)
    table = markdown_table(["property"] + names, rows)

    failures = []
    for name in names:
        for prop, outcome in (suites[name] or {}).items():
            if outcome.status == "FAIL":
                rep = outcome.report
                detail = rep.details.get("problem") or (
                    f"first discontinuous derivative {rep.details['first discontinuous derivative']}, "
                    f"estimated jump {rep.details['orders'][rep.details['worst derivative']]['estimated jump']:.3e}"
                    if "orders" in rep.details else rep.summary())
                failures.append(f"- **{name} / {prop}**: {detail}; smallest input found: `{short(outcome.minimal)}`")
            elif outcome.status == "ERROR":
                failures.append(f"- **{name} / {prop}**: ERROR {outcome.note}")

    versions = ", ".join(f"{p} {package_version(p)}" for p in
                         ("e3nn", "torch", "sphericart", "dscribe", "featomic", "hypothesis"))
    body = f"""Written by `validation/kit_on_peers.py` ({utc_now()}; {args.examples} hypothesis examples per
property, shrunk to the smallest failing input with `hypothesis.find`). {machine_info()} Peers: {versions}.

Each cell: PASS/FAIL, the measured max deviation / the kit's tolerance (for PASS: the worst
example; for FAIL: the smallest failing input). Cutoff rows: D(h/4) = left/right discrepancy
of the one-sided estimates of the derivative at the crossing and its tolerance (see
`rstref.testing.check_cutoff_smoothness`). Settings: spherical harmonics l <= {L_MAX_SH};
SOAP-like featurizers with r_cut = {R_CUT}, species {SPECIES}, per-atom outputs of finite
clusters; dscribe SOAP(n_max=3, l_max=3, sigma=0.5, rbf='gto', no weighting, analytical
derivatives; and with weighting poly(r0=r_cut, c=1, m=2), numerical derivatives); featomic
SoapPowerSpectrum(Gto max_radial=3, max_angular=3, Gaussian width 0.5, ShiftedCosine width
0.5). The cutoff rows move one neighbour of atom 0 (at the origin) across the radius where
neighbours enter the implementation's neighbour list (or their weight vanishes): r_cut, except
for dscribe without weighting, which includes neighbours up to r_cut + sigma sqrt(-2 ln 1e-3)
(its `get_cutoff_padding()`; here {R_CUT + 0.5 * np.sqrt(-2 * np.log(1e-3)):.4f}), where its Gaussians
have decayed to 1e-3; e3nn invariants: 2 'smooth_finite' radial functions x l <= 2 harmonics,
ReducedTensorProducts('ij=ji') 0e outputs, gradients by autograd; rstref PS: n_max=4,
l_max=3, 'smooth_cosines' (C^2 at r_cut), values +-1 by species.

{table}

Failures (smallest input found):

{chr(10).join(failures) if failures else "none"}
"""
    print(body)
    if not args.no_write:
        update_results_section(HEADING, body)
        print("updated", HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
