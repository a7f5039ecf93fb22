"""The values-only power-spectrum loop equals the general loop bit for bit.

rstref._engine.values computes features without derivatives in one fused loop (radial
values without derivatives, compact coefficients of the channels present, the power
spectrum as a Gram matrix per l).  Its oracle is the general, derivative-capable loop of
rstref._engine.structures on the same batch (forced by asking it for strain derivatives),
and the radial kernel with derivatives for the values-only radial kernel.
"""

import numpy as np
import pytest

import rstref
from rstref._engine import Expansion, RaggedBatch
from rstref._engine.structures import structure_invariants
from rstref._engine.values import power_spectrum_values
from rstref._kernels.radial import orthonormal_radial_point, orthonormal_radial_values_point
from rstref.harmonics import SphericalHarmonics

R_CUT = 3.0


def _batch(n_channels, seed=0, sizes=(5, 0, 7, 1, 3)):
    """Environments with neighbours in random channels (some channels absent, one zero weight)."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    directions = rng.normal(size=(n, 3))
    radii = rng.uniform(0.0, R_CUT, n)
    vectors = directions / np.linalg.norm(directions, axis=1)[:, None] * radii[:, None]
    vectors[0] = 0.0  # a neighbour at the centre
    channels = rng.integers(0, max(n_channels - 1, 1), n).astype(np.int64)  # last channel absent
    weights = rng.uniform(-1.5, 1.5, n)
    weights[3] = 0.0
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return RaggedBatch(offsets, vectors, channels, weights, n_channels)


def _general(expansion, batch, normalize, F):
    """Features from the general loop (strain derivatives requested, then dropped)."""
    n = batch.n_env
    features = np.zeros((n, F))
    strain = np.zeros((n, 3, 3, F))
    pair_slot = np.zeros(batch.n_neighbours, dtype=np.int64)
    layout = (np.ones((n, batch.n_channels), dtype=bool), np.zeros((F, 2), dtype=np.int64),
              np.zeros(2, dtype=np.int64), np.zeros(n + 1, dtype=np.int64))
    structure_invariants(expansion, batch, normalize, None, pair_slot, layout, features,
                         np.zeros(0), np.zeros(0), False, strain, True)
    return features


@pytest.mark.parametrize("primitive, envelope", [("smooth_cosines", None), ("cosine_bumps", None),
                                                 ("cosines", 2)])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n_channels", [1, 3])
def test_values_loop_equals_general_loop(primitive, envelope, normalize, n_channels):
    n_max, l_max = 4, 3
    basis = rstref.OrthonormalRadialBasis(n_max, R_CUT, primitive, envelope_power=envelope)
    expansion = Expansion(basis, l_max, SphericalHarmonics(l_max, "component", "standard"))
    batch = _batch(n_channels)
    n_eff = n_channels * n_max
    F = (l_max + 1) * n_eff * (n_eff + 1) // 2
    features = np.zeros((batch.n_env, F))
    assert power_spectrum_values(expansion, batch, normalize, features)
    want = _general(expansion, batch, normalize, F)
    np.testing.assert_array_equal(features, want)
    assert np.abs(want).max() > 0.0  # the comparison is not between zeros
    np.testing.assert_array_equal(features[1], 0.0)  # the empty environment


def test_values_loop_declines_a_tabulated_basis():
    class Tabulated:
        n_max = 2

        def with_derivatives(self, r):
            return np.ones((len(r), 2)), np.zeros((len(r), 2)), np.zeros((len(r), 2))

    expansion = Expansion(Tabulated(), 1, SphericalHarmonics(1, "component", "standard"))
    features = np.zeros((5, 6))
    assert not power_spectrum_values(expansion, _batch(1), False, features)
    np.testing.assert_array_equal(features, 0.0)


@pytest.mark.parametrize("primitive, envelope", [("smooth_cosines", None), ("cosine_bumps", None),
                                                 ("cosines", 3), ("cosines", None)])
def test_radial_values_kernel_equals_the_kernel_with_derivatives(primitive, envelope):
    basis = rstref.OrthonormalRadialBasis(6, R_CUT, primitive, envelope_power=envelope)
    family, r_cut, n_prim, power, coefficients = basis.kernel_arguments()
    f, df, d2f = np.empty(n_prim), np.empty(n_prim), np.empty(n_prim)
    out, dout, d2out, values = np.empty(6), np.empty(6), np.empty(6), np.empty(6)
    for r in np.concatenate([np.linspace(0.0, R_CUT * 1.1, 301), [R_CUT, np.nextafter(R_CUT, 0.0)]]):
        orthonormal_radial_point(r, family, r_cut, n_prim, power, coefficients, f, df, d2f, out, dout,
                                 d2out)
        orthonormal_radial_values_point(r, family, r_cut, n_prim, power, coefficients, f, values)
        np.testing.assert_array_equal(values, out, err_msg=f"r = {r!r}")
