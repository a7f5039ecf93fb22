"""Figures of the seed experiment (needs matplotlib: ``pip install 'rstref[plot]'``).

Importing this module without matplotlib raises ``ImportError`` with that hint.
"""

import os

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("matplotlib is not installed; pip install 'rstref[plot]'") from exc

from rstref.demo import build_descriptors


def plot_radial_basis(radial, path):
    """Primitives and orthonormal functions on [0, r_cut]."""
    r = np.linspace(0.0, radial.r_cut, 400)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    axes[0].plot(r, radial.primitives(r))
    axes[0].set_title(f"primitives ({radial.primitive})")
    axes[1].plot(r, radial(r))
    axes[1].set_title("after Gram-Schmidt (orthonormal, weight 4 pi r^2)")
    for ax in axes:
        ax.set_xlabel("r (A)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_signal_slices(rst, c, positions, values, r_cut, path, res=81):
    """Signal on the three coordinate planes through the centre, atoms projected on them."""
    lin, grid = rst.signal_on_grid(c, r_cut, res)
    mid = res // 2
    slices = [(grid[mid, :, :], "x = 0", (1, 2)), (grid[:, mid, :], "y = 0", (0, 2)),
              (grid[:, :, mid], "z = 0", (0, 1))]
    vmax = float(np.max(np.abs(grid))) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    names = "xyz"
    for ax, (plane, title, (i, j)) in zip(axes, slices):
        im = ax.imshow(plane.T, origin="lower", extent=[lin[0], lin[-1], lin[0], lin[-1]],
                       cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.scatter(positions[:, i], positions[:, j], c=np.where(values > 0, "k", "g"), s=25,
                   marker="x")
        ax.set_title(f"signal, {title}")
        ax.set_xlabel(names[i])
        ax.set_ylabel(names[j])
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reconstruction(reference, reconstructed, values, path):
    """Reference and registered reconstructed positions, three projections."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (i, j) in zip(axes, [(0, 1), (0, 2), (1, 2)]):
        ax.scatter(reference[:, i], reference[:, j], s=80, facecolors="none",
                   edgecolors=np.where(values > 0, "k", "g"), label="reference")
        ax.scatter(reconstructed[:, i], reconstructed[:, j], s=20,
                   c=np.where(values > 0, "k", "g"), label="reconstructed (registered)")
        ax.set_xlabel("xyz"[i])
        ax.set_ylabel("xyz"[j])
        ax.set_aspect("equal")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_hessian_spectrum(degeneracies, path):
    """Eigenvalues of the loss Hessian with the nullity threshold, per descriptor."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, deg), marker in zip(degeneracies.items(), "os^v"):
        ev = np.maximum(np.asarray(deg["eigenvalues"]), 1e-40)
        ax.semilogy(np.arange(len(ev)), ev, marker, label=f"{name} (nullity {deg['nullity']})")
        ax.axhline(deg["threshold"], ls="--", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue of the loss Hessian")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_demo_figures(result, directory):
    """Write the four figures of a :func:`rstref.demo.seed_experiment` result; return paths."""
    os.makedirs(directory, exist_ok=True)
    s = result["settings"]
    radial, rst, _, _ = build_descriptors(s["r_cut"], s["l_max"], s["n_max"])
    positions, values = result["positions"], result["values"]
    c = rst.with_peaks_at(positions, values)
    best = min(result["reconstructions"], key=lambda run: run["newton"]["loss"])
    paths = [os.path.join(directory, name) for name in
             ("radial_basis.png", "signal_slices.png", "reconstruction.png", "hessian_spectrum.png")]
    plot_radial_basis(radial, paths[0])
    plot_signal_slices(rst, c, positions, values, s["r_cut"], paths[1])
    plot_reconstruction(positions, best["newton"]["aligned"], values, paths[2])
    plot_hessian_spectrum({"power spectrum": result["degeneracy"]["power_spectrum"],
                           "bispectrum": result["degeneracy"]["bispectrum"]}, paths[3])
    return paths
