"""Fuzz test over the public entry points: bad input gives a clear error or a sound number.

For every entry point below (the names of ``rstref.__all__`` and the public functions and
methods of harmonics, radial, rotations, coupling, layouts, tensor, invariants, batched,
neighbors, features, analysis and potential), hypothesis replaces one argument of a valid
call by a bad one: NaN, +-inf, +-0, 1e308, 5e-324, subnormals, huge or tiny finite
scalings, wrong shapes, ragged lists, strings, complex, bool and object arrays, extreme
integers, None.  Each call must either

* raise ``TypeError`` or ``ValueError`` whose message names the replaced argument (and is
  not numpy's "inhomogeneous shape" or "could not convert string to float"), or
* return numbers that are finite or +-inf, never NaN,

and never crash, within a time bound (pytest-timeout) and a memory bound
(``rstref.limits.MAX_ALLOCATION_BYTES`` lowered to 256 MB for the test, so a request that
grows with an argument must be refused by its allocation check).

The example count follows the hypothesis profile (``ci``: bounded and derandomized).
"""

import dataclasses
import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rstref
from rstref import analysis, batched, coupling, layouts, neighbors
from rstref.rotations import random_rotation
from rstref.tensor import grid_local_maxima

from conftest import thorough

pytestmark = pytest.mark.timeout(120)

# ----------------------------------------------------------------------------- valid calls

X = np.array([[0.3, 0.1, 0.2], [-0.5, 0.4, 0.1], [0.2, -0.6, 0.3]])
V = np.array([1.0, -1.0, 0.5])
ROT = random_rotation(7)
BASIS = rstref.OrthonormalRadialBasis(3, 2.0)
RST = rstref.RadialSphericalTensor(3, BASIS, 2)
PS = rstref.PowerSpectrum(RST)
BS = rstref.Bispectrum(RST)
C, DC, D2C = RST.with_peaks_at_with_hessians(X, V)
DIM = RST.dim


def _atoms():
    from ase.build import molecule

    return molecule("H2O")


def _featurize(**kw):
    args = dict(atoms_or_list=_atoms(), r_cut=3.0, n_max=3, l_max=2, species_mode="values",
                species_values={"H": -1.0, "O": 1.0})
    args.update(kw)
    return rstref.featurize(**args)


def _linear_potential(**kw):
    from rstref.potential import LinearPotential

    featurizer = rstref.Featurizer(r_cut=3.0, n_max=3, l_max=2, species=["H", "O"])
    args = dict(featurizer=featurizer, weights=np.ones(featurizer.n_features), bias=0.0)
    args.update(kw)
    return LinearPotential(**args)


#: name -> (callable, valid keyword arguments, {argument: names its message may use})
ENTRIES = {
    "spherical_harmonics": (rstref.spherical_harmonics, dict(xyz=X, l_max=3), {}),
    "spherical_harmonics_with_gradients": (rstref.spherical_harmonics_with_gradients,
                                           dict(xyz=X, l_max=3), {}),
    "spherical_harmonics_with_hessians": (rstref.spherical_harmonics_with_hessians,
                                          dict(xyz=X, l_max=3, solid=True), {}),
    "SphericalHarmonics": (rstref.SphericalHarmonics,
                           dict(l_max=3, normalization="norm", convention="e3nn", solid=False),
                           {}),
    "lm_index": (rstref.lm_index, dict(l=2, m=-1), {}),
    "lm_size": (rstref.lm_size, dict(l_max=3), {}),
    "lm_range": (rstref.lm_range, dict(l_max=3), {}),
    "lm_block": (rstref.lm_block, dict(l=2), {}),
    "nlm_index": (rstref.nlm_index, dict(n=1, l=2, m=0, n_max=3), {}),
    "nlm_size": (rstref.nlm_size, dict(n_max=3, l_max=2), {}),
    "nlm_range": (rstref.nlm_range, dict(n_max=3, l_max=2), {}),
    "nlm_block": (rstref.nlm_block, dict(l=1, n_max=3), {}),
    "power_spectrum_size": (rstref.power_spectrum_size, dict(n_max=3, l_max=2), {}),
    "power_spectrum_range": (rstref.power_spectrum_range, dict(n_max=3, l_max=2), {}),
    "power_spectrum_index": (rstref.power_spectrum_index, dict(l=1, n=0, n2=2, n_max=3), {}),
    "power_spectrum_cross_index": (layouts.power_spectrum_cross_index,
                                   dict(l=1, n=2, n2=0, n_max=3), {}),
    "power_spectrum_cross_range": (layouts.power_spectrum_cross_range, dict(n_max=3, l_max=2),
                                   {}),
    "bispectrum_size": (rstref.bispectrum_size, dict(n_max=3, l_max=2, parity="even"), {}),
    "bispectrum_range": (rstref.bispectrum_range, dict(n_max=2, l_max=2, parity="odd"), {}),
    "bispectrum_index": (rstref.bispectrum_index,
                         dict(n1=0, l1=1, n2=0, l2=1, n3=1, l3=2, n_max=2, l_max=2), {}),
    "coupling_block_index": (layouts.coupling_block_index, dict(l1=1, l2=1, L=2, l_max=3), {}),
    "coupling_block_range": (layouts.coupling_block_range, dict(l_max=3), {}),
    "wigner_D": (rstref.wigner_D, dict(l=2, R=ROT, convention="e3nn"), {}),
    "wigner_D_blocks": (rstref.wigner_D_blocks, dict(l_max=2, R=ROT), {}),
    "random_rotation": (rstref.random_rotation, dict(rng_or_seed=3, n=2), {}),
    "check_rotation": (rstref.check_rotation, dict(R=ROT), {}),
    "clebsch_gordan": (rstref.clebsch_gordan, dict(l1=1, l2=2, L=2), {}),
    "wigner_3j": (rstref.wigner_3j, dict(l1=1, l2=2, l3=2), {}),
    "gaunt": (rstref.gaunt, dict(l1=1, l2=1, l3=2), {}),
    "load_table": (coupling.load_table, dict(path=None), {}),
    "OrthonormalRadialBasis": (rstref.OrthonormalRadialBasis,
                               dict(n_max=3, r_cut=2.0, primitive="cosines", envelope_power=2),
                               {}),
    "OrthonormalRadialBasis.__call__": (BASIS.__call__, dict(r=np.array([0.0, 0.5, 1.9])), {}),
    "OrthonormalRadialBasis.with_derivatives": (BASIS.with_derivatives,
                                                dict(r=np.array([0.0, 0.5, 1.9])), {}),
    "RadialSphericalTensor": (rstref.RadialSphericalTensor,
                              dict(n_max=3, radial_basis=BASIS, l_max=2, p_val=1, p_arg=-1,
                                   convention="standard"), {}),
    "with_peaks_at": (RST.with_peaks_at, dict(positions=X, values=V, normalize=True), {}),
    "with_peaks_at_with_gradients": (RST.with_peaks_at_with_gradients,
                                     dict(positions=X, values=V, normalize=False), {}),
    "with_peaks_at_with_hessians": (RST.with_peaks_at_with_hessians,
                                    dict(positions=X, values=V, normalize=True), {}),
    "basis_at": (RST.basis_at, dict(points=X), {}),
    "signal_at": (RST.signal_at, dict(c=C, points=X), {}),
    "signal_on_grid": (RST.signal_on_grid, dict(c=C, r_cut=2.0, res=6), {}),
    "grid_peaks": (RST.grid_peaks, dict(c=C, threshold=0.1, r_cut=2.0, res=6), {}),
    "grid_local_maxima": (grid_local_maxima, dict(grid=np.arange(27.0).reshape(3, 3, 3),
                                                  threshold=0.5), {}),
    "norms_per_l": (RST.norms_per_l, dict(c=C), {}),
    "rotation_matrix": (RST.rotation_matrix, dict(rotation=ROT), {"rotation": ("rotation", "R")}),
    "power_spectrum": (rstref.power_spectrum, dict(c=C, n_max=3, l_max=2), {}),
    "power_spectrum_with_gradients": (rstref.power_spectrum_with_gradients,
                                      dict(c=C, dc=DC, n_max=3, l_max=2), {}),
    "power_spectrum_with_hessians": (rstref.power_spectrum_with_hessians,
                                     dict(c=C, dc=DC, d2c=D2C, n_max=3, l_max=2), {}),
    "power_spectrum_cross": (rstref.power_spectrum_cross, dict(c_a=C, c_b=-C, n_max=3, l_max=2),
                             {}),
    "power_spectrum_cross_with_gradients": (rstref.power_spectrum_cross_with_gradients,
                                            dict(c_a=C, dc_a=DC, c_b=C, dc_b=DC, n_max=3,
                                                 l_max=2), {}),
    "PowerSpectrum": (rstref.PowerSpectrum, dict(rst=RST), {}),
    "Bispectrum": (rstref.Bispectrum, dict(rst=RST, parity="even"), {}),
    "PowerSpectrum.compute": (PS.compute, dict(positions=X, values=V, normalize=True), {}),
    "PowerSpectrum.compute_with_gradients": (PS.compute_with_gradients,
                                             dict(positions=X, values=V, normalize=False), {}),
    "PowerSpectrum.compute_with_hessians": (PS.compute_with_hessians,
                                            dict(positions=X, values=V), {}),
    "PowerSpectrum.from_coefficients": (PS.from_coefficients, dict(c=C), {}),
    "PowerSpectrum.from_coefficients_with_hessians": (PS.from_coefficients_with_hessians,
                                                      dict(c=C, dc=DC, d2c=D2C), {}),
    "Bispectrum.compute": (BS.compute, dict(positions=X, values=V, normalize=True), {}),
    "Bispectrum.compute_with_hessians": (BS.compute_with_hessians, dict(positions=X, values=V),
                                         {}),
    "Bispectrum.from_coefficients": (BS.from_coefficients, dict(c=C), {}),
    "Bispectrum.from_coefficients_with_gradients": (BS.from_coefficients_with_gradients,
                                                    dict(c=C, dc=DC), {}),
    "Bispectrum.from_coefficients_with_hessians": (BS.from_coefficients_with_hessians,
                                                   dict(c=C, dc=DC, d2c=D2C), {}),
    "batched.expansions": (batched.expansions,
                           dict(rst=RST, positions=X, offsets=np.array([0, 1, 3]), values=V,
                                normalize=True), {}),
    "batched.expansions_with_hessians": (batched.expansions_with_hessians,
                                         dict(rst=RST, positions=X, offsets=np.array([0, 2, 3]),
                                              values=V), {}),
    "batched.power_spectra": (batched.power_spectra,
                              dict(rst=RST, positions=X, offsets=np.array([0, 3]), values=V), {}),
    "batched.power_spectra_with_gradients": (batched.power_spectra_with_gradients,
                                             dict(rst=RST, positions=X,
                                                  offsets=np.array([0, 1, 3]), values=V), {}),
    "neighbor_list": (neighbors.neighbor_list,
                      dict(positions=X, r_cut=0.9, cell=2.0 * np.eye(3), pbc=True,
                           self_interaction=False), {}),
    "featurize": (_featurize, dict(r_cut=3.0, n_max=3, l_max=2,
                                   species_values={"H": -1.0, "O": 1.0}), {}),
    "register": (analysis.register, dict(positions=X, reference=X @ ROT.T, values=V), {}),
    "symmetry_operations": (analysis.symmetry_operations, dict(positions=X, values=V, tol=1e-6),
                            {}),
    "rotation_generators": (analysis.rotation_generators, dict(positions=X), {}),
    "loss": (analysis.loss, dict(x=X.ravel(), target=PS.compute(X, V), values=V, descriptor=PS), {}),
    "LinearPotential": (_linear_potential, dict(weights=None, bias=0.0), {}),
    "SphericalHarmonics.compute_with_hessians": (
        rstref.SphericalHarmonics(3, "component").compute_with_hessians, dict(xyz=X), {}),
    "PowerSpectrum.from_coefficients_with_gradients": (PS.from_coefficients_with_gradients,
                                                       dict(c=C, dc=DC), {}),
    "Bispectrum.compute_with_gradients": (BS.compute_with_gradients,
                                          dict(positions=X, values=V, normalize=False), {}),
    "batched.expansions_with_gradients": (batched.expansions_with_gradients,
                                          dict(rst=RST, positions=X, offsets=np.array([0, 0, 3]),
                                               values=V, normalize=False), {}),
    "neighbor_list(open)": (neighbors.neighbor_list, dict(positions=X, r_cut=0.9), {}),
    "featurize(options)": (_featurize, dict(species_mode="channels", species_values=None,
                                            species=["H", "O"], invariant="bispectrum",
                                            gradients=True, stress=False, normalize=False,
                                            include_center=False), {}),
    "Featurizer": (rstref.Featurizer, dict(r_cut=3.0, n_max=3, l_max=2, species=["H", "O"],
                                           radial="cosines", envelope_power=3), {}),
    "degeneracy": (analysis.degeneracy, dict(positions=X, values=V, descriptor=PS, rtol=1e-6),
                   {}),
    "symmetry_forced_subspace": (analysis.symmetry_forced_subspace,
                                 dict(positions=X, values=V, tol=1e-6), {}),
}

# ----------------------------------------------------------------------------- bad values

SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 1e-310,
                  -1.0, 1e300, 1e-300]
BAD_SCALARS = SPECIAL_FLOATS + [True, False, "abc", "1", None, 1 + 2j, -1, 0, 2 ** 63,
                                -(2 ** 63), 10 ** 30, 10 ** 400, 10 ** 6, 2.5, b"x", [1, 2],
                                object()]


def _bad_arrays(valid):
    """Strategy of arrays derived from the valid array ``valid``."""
    a = np.asarray(valid, dtype=np.float64)
    options = [st.sampled_from(BAD_SCALARS)]
    if a.size:
        def replace(args):
            index, value = args
            b = a.copy().ravel()
            b[index % b.size] = value
            return b.reshape(a.shape)

        options.append(st.tuples(st.integers(0, a.size - 1), st.sampled_from(SPECIAL_FLOATS))
                       .map(replace))
        options.append(st.sampled_from([1e300, 1e150, 1e-300, 1e-150, -1e200, 5e-324 * 2 ** 40])
                       .map(lambda s: a * s))
    shapes = [a[None], a.ravel()[:-1] if a.size else a, np.zeros((0,) + a.shape[1:])]
    if a.ndim >= 1 and a.shape[-1] > 1:
        shapes.append(a[..., :-1])
    if a.ndim >= 2 and a.shape[0] > 1:
        rows = a.tolist()
        rows[-1] = rows[-1][:-1]
        shapes.append(rows)
    dtypes = [a.astype(complex), a.astype(bool), a.astype(str), a.astype(object),
              np.where(a > 0, "x", a.astype(str)).tolist(), np.full(a.shape, 2 ** 62, np.int64),
              np.full(a.shape, np.iinfo(np.uint64).max, np.uint64)]
    options.append(st.sampled_from(shapes + dtypes))
    return st.one_of(options)


def bad_values(valid):
    if isinstance(valid, np.ndarray):
        return _bad_arrays(valid)
    if isinstance(valid, dict):
        return st.sampled_from(BAD_SCALARS).map(lambda v: {k: v for k in valid})
    return st.sampled_from(BAD_SCALARS + ["", "nonsense", np.nan, np.float32(np.nan),
                                          np.int64(-5), np.ones(3)])


# ----------------------------------------------------------------------------- checks


def _arrays_in(result, depth=0):
    """Every float array reachable from ``result`` (tuples, lists, dicts, dataclasses, objects)."""
    if depth > 3 or result is None:
        return
    if isinstance(result, (float, np.floating)):
        yield np.asarray(result)
    elif isinstance(result, np.ndarray):
        if result.dtype.kind in "fc":
            yield result
    elif isinstance(result, (tuple, list)):
        for item in result[:64]:
            yield from _arrays_in(item, depth + 1)
    elif isinstance(result, dict):
        for item in list(result.values())[:64]:
            yield from _arrays_in(item, depth + 1)
    elif dataclasses.is_dataclass(result):
        for field in dataclasses.fields(result):
            yield from _arrays_in(getattr(result, field.name), depth + 1)


def _names(message, name):
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", message)


def check_call(function, kwargs, argument, names):
    """Call; a TypeError/ValueError must name ``argument`` (or the argument it is checked
    against, another of the call's); a result must hold no NaN."""
    try:
        with np.errstate(all="ignore"):
            result = function(**kwargs)
    except OSError:
        assert argument == "path"  # a file that is not there
        return
    except (TypeError, ValueError) as error:
        message = str(error)
        assert any(_names(message, name) for name in (*names, *kwargs)), (
            f"the message does not name {names}: {type(error).__name__}: {message}")
        for obscure in ("inhomogeneous", "could not convert", "did not converge"):
            assert obscure not in message, message
        return
    for array in _arrays_in(result):
        assert not np.isnan(array).any(), f"NaN in the result for {argument}"


@pytest.fixture(autouse=True)
def _bounded_memory(monkeypatch):
    import rstref.limits

    monkeypatch.setattr(rstref.limits, "MAX_ALLOCATION_BYTES", 256 * 2 ** 20)


#: problems the fuzzer found in other modules, now fixed: (entry, argument, bad value, what
#: it did).  Each stays here as a regression case.
FOUND = [
    ("random_rotation", "rng_or_seed", math.nan, "numpy's 'SeedSequence expects int' TypeError"),
    ("LinearPotential", "bias", "abc", "'could not convert string to float'"),
    ("degeneracy", "values", V * 1e300, "numpy's LinAlgError 'Eigenvalues did not converge'"),
    ("Featurizer", "radial", "abc", "'primitive must be one of ...', not naming radial"),
    ("neighbor_list", "cell", [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0]],
     "numpy's 'inhomogeneous shape' message"),
]


def _fuzzed_arguments(entry):
    return sorted(ENTRIES[entry][1])


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@settings(max_examples=int(os.environ.get("RSTREF_FUZZ_EXAMPLES", 300 if thorough() else 12)),
          deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_input_gives_a_clear_error_or_a_sound_number(entry, data):
    function, valid, aliases = ENTRIES[entry]
    argument = data.draw(st.sampled_from(_fuzzed_arguments(entry)), label="argument")
    value = data.draw(bad_values(valid[argument]), label="value")
    kwargs = dict(valid, **{argument: value})
    check_call(function, kwargs, argument, aliases.get(argument, (argument,)))


@pytest.mark.parametrize("entry, argument, value, what", FOUND, ids=[f"{c[0]}-{c[1]}" for c in FOUND])
def test_problems_found_by_the_fuzzer_stay_fixed(entry, argument, value, what):
    function, valid, aliases = ENTRIES[entry]
    check_call(function, dict(valid, **{argument: value}), argument,
               aliases.get(argument, (argument,)))


def test_valid_calls_of_the_table_succeed():
    """The table itself is sound: every valid call returns without error and without NaN."""
    for name, (function, valid, _) in ENTRIES.items():
        for array in _arrays_in(function(**valid)):
            assert not np.isnan(array).any(), name
