"""Figures of the seed experiment (needs matplotlib: ``pip install 'rstref[plot]'``).

:func:`write_demo_figures` writes the six figures described in ``docs/figures.md``
from a :func:`rstref.demo.seed_experiment` result.  All share one style
(:data:`STYLE`): Angstrom axes, atoms with peak value +1 (heavy atoms) in
:data:`HEAVY_COLOUR`, atoms with peak -1 (hydrogens) in :data:`HYDROGEN_COLOUR`,
positive signal red and negative blue.

Importing this module without matplotlib raises ``ImportError`` with that hint.
"""

import functools
import os

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.lines import Line2D
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("matplotlib is not installed; pip install 'rstref[plot]'") from exc

from rstref.demo import build_descriptors

#: the figures' common matplotlib settings
STYLE = {
    "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "legend.fontsize": 8.5,
    "figure.titlesize": 11.5, "axes.grid": True, "grid.alpha": 0.25, "savefig.dpi": 120,
    "savefig.bbox": "tight", "savefig.pad_inches": 0.08, "image.cmap": "RdBu_r",
}
HEAVY_COLOUR = "#222222"
HYDROGEN_COLOUR = "#1a9850"
POSITIVE_COLOUR = "#c0392b"
NEGATIVE_COLOUR = "#2c6fbb"
POWER_SPECTRUM_COLOUR = "#5e3c99"
BISPECTRUM_COLOUR = "#e66101"
PAIR_COLOURS = ("#009e73", "#cc79a7")
ANGSTROM = "\u00c5"

FIGURE_NAMES = ("radial_basis.png", "signal_slices.png", "signal_isosurfaces.png",
                "reconstruction.png", "hessian_spectrum.png", "homometric_pair.png")


def _styled(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return function(*args, **kwargs)
    return wrapper


def _save(fig, path):
    fig.savefig(path)
    plt.close(fig)
    return path


def _save_cropped_to_ink(fig, path, pad_inches=0.1):
    """Save cropped to the drawn pixels (3D axes reserve blank space that 'tight' keeps)."""
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    ink = rgba[..., :3].min(axis=2) < 235
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    height = rgba.shape[0]
    dpi = fig.dpi
    box = Bbox([[cols[0] / dpi - pad_inches, (height - rows[-1]) / dpi - pad_inches],
                [cols[-1] / dpi + pad_inches, (height - rows[0]) / dpi + pad_inches]])
    fig.savefig(path, bbox_inches=box)
    plt.close(fig)
    return path


def _atom_colours(values):
    return np.where(np.asarray(values) > 0, HEAVY_COLOUR, HYDROGEN_COLOUR)


def _atom_legend_handles(values, symbols=None, marker="o", size=7, filled=True):
    """One legend entry per peak sign present: 'N (peak +1)', 'H (peak -1)'."""
    handles = []
    for sign, colour in ((1, HEAVY_COLOUR), (-1, HYDROGEN_COLOUR)):
        mask = np.sign(values) == sign
        if not np.any(mask):
            continue
        names = sorted({symbols[i] for i in np.flatnonzero(mask)}) if symbols is not None else []
        label = f"{', '.join(names) + ' ' if names else ''}(peak {sign:+d})"
        handles.append(Line2D([], [], ls="none", marker=marker, markersize=size, markeredgecolor=colour,
                              markerfacecolor=colour if filled else "none", label=label))
    return handles


# --------------------------------------------------------------------------- radial basis


@_styled
def plot_radial_basis(radial, path):
    """Primitives and orthonormal radial functions R_n(r) on [0, r_cut], one colour per n."""
    r = np.linspace(0.0, radial.r_cut, 400, endpoint=False)  # every function is 0 from r_cut on
    primitives, functions = radial.primitives(r), radial(r)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True, layout="constrained")
    for n in range(functions.shape[1]):
        axes[0].plot(r, primitives[:, n], label=f"n = {n}")
        axes[1].plot(r, functions[:, n], label=f"n = {n}")
    axes[0].set_title(f"primitives ('{radial.primitive}')")
    axes[0].set_ylabel("primitive value (dimensionless)")
    axes[1].set_title(r"orthonormal $R_n(r)$: $\int_0^{r_c} R_n R_{n'}\, 4\pi r^2\, dr = \delta_{nn'}$")
    axes[1].set_ylabel(rf"$R_n(r)$ ({ANGSTROM}$^{{-3/2}}$)")
    axes[1].axhline(0.0, color="0.5", lw=0.6)
    for ax in axes:
        ax.set_xlabel(f"r ({ANGSTROM})")
        ax.set_xlim(0.0, radial.r_cut * 1.07)
        ax.axvline(radial.r_cut, color="0.4", lw=0.8, ls="--")
        ax.annotate(" r_cut: 0 beyond", (radial.r_cut, 0.5), xycoords=("data", "axes fraction"),
                    rotation=90, ha="left", va="center", fontsize=8, color="0.35")
    axes[1].legend(title="radial index", loc="upper right", ncols=2)
    fig.suptitle(f"Radial basis: {functions.shape[1]} functions, r_cut = {radial.r_cut:g} {ANGSTROM}")
    return _save(fig, path)


# --------------------------------------------------------------------------- signal


def _signal_on_plane(rst, c, lin, axis, r_cut):
    """The expansion on the plane ``r[axis] = 0``: ``out[i, j]`` at the other two axes' ``lin[i], lin[j]``."""
    u, v = np.meshgrid(lin, lin, indexing="ij")
    points = np.zeros((u.size, 3))
    others = [k for k in range(3) if k != axis]
    points[:, others[0]], points[:, others[1]] = u.ravel(), v.ravel()
    values = rst.signal_at(c, points)
    values[np.linalg.norm(points, axis=1) > r_cut] = 0.0
    return values.reshape(u.shape)


@_styled
def plot_signal_slices(rst, c, positions, values, r_cut, path, res=81, symbols=None):
    """The expansion on the planes x = 0, y = 0, z = 0, with the atoms projected onto them."""
    lin = np.linspace(-r_cut, r_cut, res)
    slices = [(_signal_on_plane(rst, c, lin, 0, r_cut), "plane x = 0", (1, 2)),
              (_signal_on_plane(rst, c, lin, 1, r_cut), "plane y = 0", (0, 2)),
              (_signal_on_plane(rst, c, lin, 2, r_cut), "plane z = 0", (0, 1))]
    vmax = max(float(np.max(np.abs(plane))) for plane, _, _ in slices) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 4.6), layout="constrained")
    colours = _atom_colours(values)
    circle = np.linspace(0, 2 * np.pi, 200)
    for ax, (plane, title, (i, j)) in zip(axes, slices):
        im = ax.imshow(plane.T, origin="lower", extent=[lin[0], lin[-1], lin[0], lin[-1]],
                       vmin=-vmax, vmax=vmax, interpolation="bilinear")
        ax.plot(r_cut * np.cos(circle), r_cut * np.sin(circle), color="0.4", lw=0.8, ls="--")
        ax.scatter(positions[:, i], positions[:, j], c=colours, s=40, edgecolors="white", linewidths=0.8,
                   zorder=3)
        ax.set_title(title)
        ax.set_xlabel(f"{'xyz'[i]} ({ANGSTROM})")
        ax.set_ylabel(f"{'xyz'[j]} ({ANGSTROM})")
        ax.grid(False)
        ax.set_aspect("equal")
    fig.colorbar(im, ax=axes, shrink=0.85, pad=0.01,
                 label=r"signal $\rho(\mathbf{r})$ (arb. units)")
    handles = _atom_legend_handles(values, symbols)
    handles.append(Line2D([], [], color="0.4", lw=0.8, ls="--", label=f"r_cut = {r_cut:g} {ANGSTROM}"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               title="atoms projected onto each plane")
    fig.suptitle(r"The seed's signal $\rho(\mathbf{r}) = \sum_{nlm} c_{nlm} R_n(r) Y_{lm}(\hat r)$ "
                 "on three planes through the centre")
    return _save(fig, path)


_TETRAHEDRA = np.array([[0, 1, 3, 7], [0, 3, 2, 7], [0, 2, 6, 7], [0, 6, 4, 7], [0, 4, 5, 7], [0, 5, 1, 7]])


def isosurface(grid, lin, level):
    """Triangles ``(T, 3, 3)`` of the surface ``grid == level`` (marching tetrahedra).

    ``grid[i, j, k]`` is the value at ``(lin[i], lin[j], lin[k])``.  Each grid cube is
    split into six tetrahedra along its main diagonal; a tetrahedron whose corners
    straddle ``level`` contributes one or two triangles with vertices linearly
    interpolated along its edges.  Pure numpy (no scikit-image needed).
    """
    n = len(lin)
    i, j, k = np.meshgrid(np.arange(n - 1), np.arange(n - 1), np.arange(n - 1), indexing="ij")
    base = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    corner = np.array([[(c >> 0) & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)])
    idx = base[:, None, :] + corner[None, :, :]                       # (cubes, 8, 3)
    tets = idx[:, _TETRAHEDRA, :].reshape(-1, 4, 3)                    # (tets, 4, 3)
    f = grid[tets[..., 0], tets[..., 1], tets[..., 2]] - level         # (tets, 4)
    xyz = lin[tets]                                                    # (tets, 4, 3)
    inside = f > 0
    count = inside.sum(axis=1)
    triangles = []
    for lone_count in (1, 3):  # one corner alone on its side of the level: one triangle
        rows = np.flatnonzero(count == lone_count)
        # stable sort puts the lone corner first: the inside one (count 1) or the outside one (count 3)
        order = np.argsort(~inside[rows] if lone_count == 1 else inside[rows], axis=1, kind="stable")
        triangles.append(np.stack([_edge_cut(f, xyz, rows, order[:, 0], order[:, q]) for q in (1, 2, 3)], axis=1))
    rows = np.flatnonzero(count == 2)  # two corners on each side: a quadrilateral, two triangles
    order = np.argsort(~inside[rows], axis=1, kind="stable")
    a, b, c, d = (order[:, q] for q in range(4))
    ac, ad = _edge_cut(f, xyz, rows, a, c), _edge_cut(f, xyz, rows, a, d)
    bc, bd = _edge_cut(f, xyz, rows, b, c), _edge_cut(f, xyz, rows, b, d)
    triangles += [np.stack([ac, ad, bd], axis=1), np.stack([ac, bd, bc], axis=1)]
    return np.concatenate(triangles, axis=0)


def _edge_cut(f, xyz, rows, a, b):
    """Points where the edge (a, b) of each tetrahedron in ``rows`` crosses the level."""
    fa, fb = f[rows, a], f[rows, b]
    t = (fa / (fa - fb))[:, None]
    pa, pb = xyz[rows, a], xyz[rows, b]
    return pa + t * (pb - pa)


def _shaded(triangles, colour, light=(0.4, -0.5, 0.75)):
    """Face colours of ``triangles`` lit two-sidedly from ``light`` (RGBA, alpha 1)."""
    from matplotlib.colors import to_rgb

    normal = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
    light = np.asarray(light) / np.linalg.norm(light)
    brightness = 0.45 + 0.55 * np.abs(normal @ light)
    rgb = np.clip(np.asarray(to_rgb(colour))[None, :] * brightness[:, None], 0, 1)
    return np.concatenate([rgb, np.ones((len(rgb), 1))], axis=1)


@_styled
def plot_signal_isosurfaces(rst, c, positions, values, r_cut, path, symbols=None, res=44, fraction=0.25):
    """Isosurfaces of the expansion at +-``fraction`` of max |signal|, with the atoms."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    lin, grid = rst.signal_on_grid(c, r_cut, res)
    vmax = float(np.max(np.abs(grid))) or 1.0
    level = fraction * vmax
    fig = plt.figure(figsize=(11, 5.2), layout="constrained")
    views = ((22, -60, "oblique view"), (8, 0, "side view along x (the N-N axis is y)"))
    for k, (elev, azim, title) in enumerate(views):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        for sign, colour in ((1, POSITIVE_COLOUR), (-1, NEGATIVE_COLOUR)):
            tri = isosurface(sign * grid, lin, level)
            if len(tri):
                ax.add_collection3d(Poly3DCollection(tri, facecolors=_shaded(tri, colour), alpha=0.38,
                                                     linewidths=0))
        ax.scatter(positions[:, 0], positions[:, 1], positions[:, 2], c=_atom_colours(values), s=60,
                   edgecolors="white", linewidths=0.8, depthshade=False)
        if symbols is not None:
            for p, s in zip(positions, symbols):
                ax.text(p[0], p[1], p[2] + 0.12, s, fontsize=8, ha="center")
        half = r_cut * 0.8
        for set_lim in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            set_lim(-half, half)
        ax.set_box_aspect((1, 1, 1), zoom=1.12)
        ax.view_init(elev=elev, azim=azim)
        ax.set_xlabel(f"x ({ANGSTROM})")
        ax.set_ylabel(f"y ({ANGSTROM})")
        ax.set_zlabel(f"z ({ANGSTROM})")
        if azim == 0:  # x points at the viewer: its ticks would pile up
            ax.set_xticks([])
            ax.set_xlabel("")
        ax.set_title(title, pad=0)
    handles = [Line2D([], [], ls="none", marker="s", markersize=9, color=POSITIVE_COLOUR, alpha=0.6,
                      label=f"signal = +{fraction:g} max|signal|"),
               Line2D([], [], ls="none", marker="s", markersize=9, color=NEGATIVE_COLOUR, alpha=0.6,
                      label=f"signal = -{fraction:g} max|signal|")]
    handles += _atom_legend_handles(values, symbols)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    fig.suptitle(rf"The seed's signal in real space: isosurfaces of $\sum c_{{nlm}} R_n(r) Y_{{lm}}(\hat r)$ "
                 f"(l_max = {rst.l_max}, n_max = {rst.n_max}, r_cut = {r_cut:g} {ANGSTROM})")
    return _save_cropped_to_ink(fig, path)


# --------------------------------------------------------------------------- reconstruction


@_styled
def plot_reconstruction(reference, reconstructed, values, path, symbols=None, caption=None):
    """Reference and registered reconstructed positions in three projections of equal size."""
    reference, reconstructed = np.asarray(reference), np.asarray(reconstructed)
    both = np.vstack([reference, reconstructed])
    half = 1.15 * float(np.max(np.abs(both))) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.9), layout="constrained")
    colours = _atom_colours(values)
    for ax, (i, j) in zip(axes, [(0, 1), (0, 2), (1, 2)]):
        for p, q in zip(reference, reconstructed):
            ax.plot([p[i], q[i]], [p[j], q[j]], color="0.55", lw=0.8, zorder=1)
        ax.scatter(reference[:, i], reference[:, j], s=110, facecolors="none", edgecolors=colours,
                   linewidths=1.4, zorder=2)
        ax.scatter(reconstructed[:, i], reconstructed[:, j], s=28, c=colours, marker="x", linewidths=1.6,
                   zorder=3)
        ax.set_xlim(-half, half)
        ax.set_ylim(-half, half)
        ax.set_aspect("equal")
        ax.set_title(f"projection on the {'xyz'[i]}{'xyz'[j]} plane")
        ax.set_xlabel(f"{'xyz'[i]} ({ANGSTROM})")
        ax.set_ylabel(f"{'xyz'[j]} ({ANGSTROM})")
    handles = _atom_legend_handles(values, symbols, filled=False, size=9)
    handles = [Line2D([], [], ls="none", marker="o", markersize=9, markerfacecolor="none",
                      markeredgecolor="0.3", label="reference (open circles)"),
               Line2D([], [], ls="none", marker="x", markersize=7, color="0.3", markeredgewidth=1.6,
                      label="reconstructed, registered (crosses)"),
               Line2D([], [], color="0.55", lw=0.8, label="displacement")] + handles
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    fig.suptitle(caption or "Reconstruction from the power spectrum")
    return _save(fig, path)


# --------------------------------------------------------------------------- Hessian


@_styled
def plot_hessian_spectrum(degeneracies, path):
    """Eigenvalues of the loss Hessian relative to the largest, with the nullity threshold.

    ``|lambda| / lambda_max`` on a log axis: filled markers for lambda > 0, open ones
    for lambda < 0 (round-off around zero); an eigenvalue that is exactly 0 is drawn on
    the bottom edge as a triangle pointing down.  No floor is invented.
    """
    fig, axes = plt.subplots(1, len(degeneracies), figsize=(5.6 * len(degeneracies), 4.4), sharey=True,
                             layout="constrained", squeeze=False)
    axes = axes[0]
    all_rel = []
    for deg in degeneracies.values():
        ev = np.sort(np.asarray(deg["eigenvalues"], dtype=float))[::-1]
        all_rel.append(np.abs(ev[ev != 0]) / ev[0])
    floor = 10.0 ** np.floor(np.log10(min(float(r.min()) for r in all_rel if r.size) / 3))
    colours = (POWER_SPECTRUM_COLOUR, BISPECTRUM_COLOUR, "C2", "C3")
    for ax, (name, deg), colour in zip(axes, degeneracies.items(), colours):
        ev = np.sort(np.asarray(deg["eigenvalues"], dtype=float))[::-1]
        rel, index = ev / ev[0], np.arange(len(ev))
        pos, neg, zero = rel > 0, rel < 0, rel == 0
        ax.semilogy(index[pos], rel[pos], "o", color=colour, label=r"$\lambda > 0$")
        if np.any(neg):
            ax.semilogy(index[neg], -rel[neg], "o", mfc="none", color=colour,
                        label=r"$\lambda < 0$ (round-off; $|\lambda|$ plotted)")
        if np.any(zero):
            ax.semilogy(index[zero], np.full(zero.sum(), floor), "v", color=colour, clip_on=False,
                        label=r"$\lambda = 0$ exactly (bottom edge)")
        threshold = deg["threshold"] / ev[0]
        ax.axhline(threshold, ls="--", lw=1.0, color="0.3",
                   label=f"nullity threshold {threshold:.0e} x " + r"$\lambda_{max}$")
        ax.axhspan(floor, threshold, color="0.85", alpha=0.5, zorder=0,
                   label=f"null space: {deg['nullity']} directions")
        ax.set_ylim(floor, 3.0)
        ax.set_xlabel("eigenvalue index (descending)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_title(f"{name}: nullity {deg['nullity']} = {deg['n_rotations_in_null']} rotations + "
                     f"{deg['n_symmetry_forced']} symmetry-forced + {deg['n_genuine']} genuine", fontsize=9)
        ax.legend(loc="upper right")
    axes[0].set_ylabel(r"$|\lambda| / \lambda_{max}$ of the loss Hessian at the reference")
    fig.suptitle("Hessian of the invariant loss at the reference (3N coordinates)")
    return _save(fig, path)


# --------------------------------------------------------------------------- homometric pair


@_styled
def plot_homometric_pair(a, b, power, bispectrum, path):
    """Two non-congruent environments with equal power spectra and different bispectra."""
    ones = np.ones(len(a))
    pa, pb = power.compute(a, ones), power.compute(b, ones)
    ba, bb = bispectrum.compute(a, ones), bispectrum.compute(b, ones)
    radius = float(np.linalg.norm(a[0, :2]))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), layout="constrained")
    octagon = radius * np.exp(2j * np.pi * np.arange(9) / 8)
    for ax, env, name, colour in ((axes[0], a, "A: ring points {0, 1, 2, 5}", PAIR_COLOURS[0]),
                                  (axes[1], b, "B: ring points {0, 1, 3, 4}", PAIR_COLOURS[1])):
        ax.plot(octagon.real, octagon.imag, ls=":", color="0.5", lw=0.8)
        for k in range(8):
            ax.annotate(str(k), (1.13 * octagon[k].real, 1.13 * octagon[k].imag), ha="center", va="center",
                        fontsize=8, color="0.4")
        ring = env[np.abs(env[:, 2]) < 1e-12]
        ax.fill(ring[:, 0], ring[:, 1], color=colour, alpha=0.15)
        ax.scatter(ring[:, 0], ring[:, 1], s=70, color=colour, zorder=3, label="ring atom (z = 0)")
        apex = env[np.abs(env[:, 2]) >= 1e-12]
        ax.scatter(apex[:, 0], apex[:, 1], s=90, marker="^", color="0.2", zorder=3,
                   label=f"apex (z = {apex[0, 2]:.2f} {ANGSTROM})")
        lim = 1.3 * radius
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(name)
        ax.set_xlabel(f"x ({ANGSTROM})")
        ax.set_ylabel(f"y ({ANGSTROM})")
        ax.legend(loc="lower left", fontsize=7.5)
    ax = axes[2]
    ax.plot(pa, pb, "o", ms=4, color=POWER_SPECTRUM_COLOUR,
            label=f"power spectrum ({pa.size}): max|diff| {np.abs(pa - pb).max():.0e}")
    ax.plot(ba, bb, "x", ms=4, color=BISPECTRUM_COLOUR, alpha=0.7,
            label=f"bispectrum ({ba.size}): max|diff| {np.abs(ba - bb).max():.0e}")
    span = [min(pa.min(), ba.min(), bb.min()), max(pa.max(), ba.max(), bb.max())]
    ax.plot(span, span, color="0.6", lw=0.8, ls="--", label="A = B")
    ax.set_xlabel("invariant of A")
    ax.set_ylabel("invariant of B")
    ax.set_title("invariants of B against those of A")
    ax.legend(loc="upper left", fontsize=7.5)
    fig.suptitle("A homometric pair: equal power spectra, not congruent (the bispectrum tells them apart)")
    return _save(fig, path)


# --------------------------------------------------------------------------- all figures


def _best_run(result):
    runs = result["reconstructions"]
    k = min(range(len(runs)), key=lambda i: runs[i]["newton"]["loss"])
    return k, runs[k]


def write_demo_figures(result, directory):
    """Write the figures of a :func:`rstref.demo.seed_experiment` result; return their paths.

    Files (see ``docs/figures.md``): ``radial_basis.png``, ``signal_slices.png``,
    ``signal_isosurfaces.png``, ``reconstruction.png``, ``hessian_spectrum.png``,
    ``homometric_pair.png`` in ``directory`` (created if needed).
    """
    from rstref.analysis import homometric_pair

    os.makedirs(directory, exist_ok=True)
    s = result["settings"]
    radial, rst, power, bispectrum = build_descriptors(s["r_cut"], s["l_max"], s["n_max"])
    positions, values = result["positions"], result["values"]
    symbols = result.get("symbols")
    c = rst.with_peaks_at(positions, values)
    k, best = _best_run(result)
    newton = best["newton"]
    caption = (f"Reconstruction from the power spectrum: start {k} of starts 0-{len(result['reconstructions']) - 1}"
               f" (lowest loss after Newton): loss {newton['loss']:.1e}, rmsd {newton['rmsd']:.3f} {ANGSTROM} "
               "after registration")
    paths = dict(zip(FIGURE_NAMES, (os.path.join(directory, name) for name in FIGURE_NAMES)))
    plot_radial_basis(radial, paths["radial_basis.png"])
    plot_signal_slices(rst, c, positions, values, s["r_cut"], paths["signal_slices.png"], symbols=symbols)
    plot_signal_isosurfaces(rst, c, positions, values, s["r_cut"], paths["signal_isosurfaces.png"],
                            symbols=symbols)
    plot_reconstruction(positions, newton["aligned"], values, paths["reconstruction.png"], symbols=symbols,
                        caption=caption)
    plot_hessian_spectrum({"power spectrum": result["degeneracy"]["power_spectrum"],
                           "bispectrum": result["degeneracy"]["bispectrum"]}, paths["hessian_spectrum.png"])
    a, b = homometric_pair(radius=0.6 * s["r_cut"], apex=0.4 * s["r_cut"])  # as the demo's report
    plot_homometric_pair(a, b, power, bispectrum, paths["homometric_pair.png"])
    return list(paths.values())
