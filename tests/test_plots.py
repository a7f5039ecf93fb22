"""The demo's figures (rstref.plots): every figure is written, is a real PNG and is not blank.

A small seed-like result is assembled from real descriptors (N2H4 at l_max = 3) with a
synthetic Hessian spectrum (including exact zeros and round-off negatives), so the test
exercises the plotting code, not the analysis.  Skipped without matplotlib.
"""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rstref import plots  # noqa: E402
from rstref.demo import load_structure  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic_degeneracy(rng, n_coordinates, nullity, exact_zeros=0):
    big = np.sort(10.0 ** rng.uniform(-4, -1, n_coordinates - nullity))[::-1]
    small = rng.normal(0, 1e-18, nullity - exact_zeros)
    ev = np.concatenate([big, small, np.zeros(exact_zeros)])
    return {"eigenvalues": ev, "threshold": 1e-6 * ev.max(), "nullity": nullity, "n_rotations_in_null": 3,
            "n_symmetry_forced": nullity - 3, "n_genuine": 0}


@pytest.fixture(scope="module")
def result():
    positions, values, symbols = load_structure("N2H4")
    rng = np.random.default_rng(0)
    runs = []
    for loss in (3e-3, 2e-9, 5e-5):
        aligned = positions + rng.normal(0, 0.03, positions.shape)
        runs.append({"newton": {"loss": loss, "aligned": aligned,
                                "rmsd": float(np.sqrt(np.mean(np.sum((aligned - positions) ** 2, axis=1))))}})
    n = positions.size
    return {
        "settings": {"r_cut": 2.0, "l_max": 3, "n_max": 4},
        "positions": positions, "values": values, "symbols": symbols, "reconstructions": runs,
        "degeneracy": {"power_spectrum": synthetic_degeneracy(rng, n, 10, exact_zeros=2),
                       "bispectrum": synthetic_degeneracy(rng, n, 10)},
    }


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    directory = tmp_path_factory.mktemp("figures")
    return plots.write_demo_figures(result, str(directory / "sub"))


def test_every_figure_is_written(written):
    names = [p.rsplit("/", 1)[-1] for p in written]
    assert names == list(plots.FIGURE_NAMES)
    assert len(set(names)) == 6


@pytest.mark.parametrize("name", plots.FIGURE_NAMES)
def test_figure_is_a_non_trivial_png(written, name):
    import matplotlib.image

    path = next(p for p in written if p.endswith(name))
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert 300 <= height <= 1200 and 500 <= width <= 2000, (name, image.shape)
    grey = image[..., :3].mean(axis=2)
    assert grey.std() > 0.05, name  # not blank
    assert np.mean(grey < 0.999) > 0.05, name  # ink on more than 5 % of the canvas
    # no wide empty margin: every edge band of 4 % holds some ink (tight bounding box)
    band_h, band_w = max(1, height // 25), max(1, width // 25)
    for edge in (grey[:band_h], grey[-band_h:], grey[:, :band_w], grey[:, -band_w:]):
        assert np.any(edge < 0.9), name


def test_best_start_is_named_in_the_reconstruction(result):
    k, run = plots._best_run(result)
    assert k == 1 and run["newton"]["loss"] == 2e-9


def test_hessian_plot_shows_zeros_without_an_invented_floor(result, tmp_path):
    import matplotlib.pyplot as plt

    captured = {}
    real_save = plots._save

    def keep(fig, path):
        captured["fig"] = fig
        return real_save(fig, path)

    plots._save = keep
    try:
        plots.plot_hessian_spectrum(result["degeneracy"], str(tmp_path / "h.png"))
    finally:
        plots._save = real_save
    fig = captured["fig"]
    labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert any("exactly" in s for s in labels) and any("threshold" in s for s in labels)
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert low > 1e-30 and high <= 10  # relative eigenvalues; no 1e-40 floor
    plt.close(fig)


def test_isosurface_of_a_sphere():
    lin = np.linspace(-1.0, 1.0, 33)
    x, y, z = np.meshgrid(lin, lin, lin, indexing="ij")
    grid = 1.0 - np.sqrt(x**2 + y**2 + z**2)  # level 0.4: the sphere of radius 0.6
    triangles = plots.isosurface(grid, lin, 0.4)
    assert triangles.shape[1:] == (3, 3) and len(triangles) > 500
    radii = np.linalg.norm(triangles, axis=2)
    spacing = lin[1] - lin[0]
    assert np.abs(radii - 0.6).max() < 0.3 * spacing
    area = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]),
                                axis=1).sum()
    assert abs(area - 4 * np.pi * 0.36) < 0.02 * 4 * np.pi * 0.36
    assert len(plots.isosurface(grid, lin, 2.0)) == 0  # level never reached
