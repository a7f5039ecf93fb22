"""The text of the ``rstref demo`` report, one function per section.

Each function takes the (possibly partial) result dict of
:func:`rstref.demo.seed_experiment` and returns the lines of one section, so the demo
can print each section as soon as it is computed, and :func:`format_report` gives the
same text for a finished result.  Only the first line printed by the command (the
note on compiling kernels) and the last (``finished in ... s``) hold timings.
"""

import numpy as np

#: what the first run costs: numba compiles the kernels once and caches them on disk
#: (measured cold, RSTREF_NUMBA_CACHE=0, on a 2-core machine: 8-11 s for the whole demo)
COMPILE_NOTE = ("rstref demo: the first run compiles numba kernels (about 10 s on 2 cores); "
                "later runs load them from the on-disk cache")

#: eps values of the loss-growth lines, as printed
_EPS_TEXT = "1e-2,3e-3,1e-3,3e-4"

#: the article in front of each kind of direction
_ARTICLES = {"rotation": "a", "symmetry_forced": "a", "unseen": "an", "genuine": "a",
             "stiffest": "the"}


def _atom_list(indices, symbols, radii):
    return ", ".join(f"{i} ({symbols[i]}, {radii[i]:.2f} A)" for i in indices)


def environment_lines(result):
    """Which atoms lie inside r_cut; warnings for atoms near r_cut (0-based indices)."""
    env, s, symbols = result["environment"], result["settings"], result["symbols"]
    radii, n = env["radii"], len(symbols)
    if not env["outside"]:
        lines = [f"environment: all {n} atoms inside r_cut={s['r_cut']} A of the centre (the "
                 f"origin), radii {radii.min():.2f} to {radii.max():.2f} A"]
    else:
        lines = [f"environment: {len(env['inside'])} of {n} atoms inside r_cut={s['r_cut']} A "
                 f"of the centre (the origin): atoms {_atom_list(env['inside'], symbols, radii)}",
                 f"  outside r_cut, not seen by the expansion (nothing depends on them): atoms "
                 f"{_atom_list(env['outside'], symbols, radii)}"]
    if env["near_cutoff"]:
        lines.append(
            f"warning: atoms {_atom_list(env['near_cutoff'], symbols, radii)} lie within 10% of "
            "r_cut: their contribution fades to zero at r_cut, so the loss hardly depends on "
            "them (expect near-null Hessian directions; a start perturbation may move them "
            "across r_cut)")
    return lines


def header_lines(result):
    """Settings, the environment, coefficients and invariants."""
    s = result["settings"]
    out = [
        f"rstref seed experiment: {s['molecule']} ({' '.join(result['symbols'])}), "
        f"r_cut={s['r_cut']}, l_max={s['l_max']}, n_max={s['n_max']}, "
        f"radial={s['radial']}, projection={s['projection']}",
        "peaks: +1 on heavy atoms, -1 on hydrogens",
        *environment_lines(result),
        f"irreps: {result['irreps']}  ({result['n_coefficients']} coefficients)",
        "coefficient norm per l: "
        + "  ".join(f"l={l}: {v:.6f}" for l, v in enumerate(result["norms_per_l"])),
        f"power spectrum ({len(result['power_spectrum'])} invariants, order l, n<=n'):",
    ]
    p = result["power_spectrum"]
    per_l = s["n_max"] * (s["n_max"] + 1) // 2
    for l in range(s["l_max"] + 1):
        block = p[l * per_l:(l + 1) * per_l]
        for k in range(0, per_l, 5):
            label = f"l={l}:" if k == 0 else ""
            out.append(f"  {label:5s}" + " ".join(f"{x:+.6e}" for x in block[k:k + 5]))
    out.append(f"bispectrum: {result['n_bispectrum']} invariants")
    out.append("")
    return out


def reconstruction_header_lines(result):
    s = result["settings"]
    return [f"reconstruction from the power spectrum ({s['n_starts']} starts, uniform "
            f"+-{s['perturbation']} A, seed {s['seed']}):",
            "  start  loss(first-order)  rmsd   loss(+newton)  rmsd    radii after newton (A)"]


def reconstruction_row(i, run):
    f, n = run["first_order"], run["newton"]
    radii = " ".join(f"{r:.2f}" for r in n["radii"])
    return (f"  {i:5d}  {f['loss']:.3e}          {f['rmsd']:.3f}  {n['loss']:.3e}      "
            f"{n['rmsd']:.3f}   {radii}")


def reconstruction_summary_lines(result):
    runs = result["reconstructions"]
    n_zero = sum(r["reached_zero_loss"] for r in runs)
    n_diff = sum(r["different_configuration"] for r in runs)
    radii0 = " ".join(f"{r:.2f}" for r in np.linalg.norm(result["positions"], axis=1))
    seen_only = (" (judged on the atoms inside r_cut: nothing depends on the others)"
                 if result["environment"]["outside"] else "")
    return [f"  reference radii (A): {radii0}",
            f"  reached zero loss (< {result['settings']['zero_loss']:g}) after the Newton "
            f"refinement: {n_zero} of {len(runs)}; of those, different from the reference by "
            f"more than a rotation/mirror/permutation{seen_only}: {n_diff}",
            "  (rmsd after Kabsch registration about the centre, best of proper and improper,"
            " equal-valued atoms may be exchanged)",
            ""]


def _growth_line(kind, growth):
    article = _ARTICLES.get(kind, "a")
    label = kind.replace("_", "-")
    if all(x == 0.0 for x in growth["losses"]):
        return (f"    loss along {article} {label} direction: 0 at every eps (flat: nothing "
                "depends on the atoms it moves)")
    losses = " ".join(f"{x:.2e}" for x in growth["losses"])
    order = growth["order"]
    shape = f"grows as eps^{order:.2f}" if np.isfinite(order) else "zero at all but one eps"
    return f"    loss along {article} {label} direction at eps={_EPS_TEXT}: {losses}  ({shape})"


def _degeneracy_block(name, deg, symbols, near_cutoff=()):
    unseen = deg.get("n_unseen", 0)
    lines = [
        f"  {name}: nullity {deg['nullity']} = {deg['n_rotations_in_null']} rotations"
        f" + {deg['n_symmetry_forced']} symmetry-forced"
        + (f" + {unseen} unseen" if unseen else "")
        + f" + {deg['n_genuine']} genuine"
        + (f"   [{deg['n_forced_outside_null']} forced directions missed by the threshold]"
           if deg["n_forced_outside_null"] else "")
    ]
    if unseen:
        atoms = ", ".join(f"{i} ({symbols[i]})" for i in deg["unseen_atoms"])
        lines.append(f"    the {unseen} unseen directions move atoms {atoms}, which the invariants "
                     "do not see: the loss is flat along them because nothing depends on those "
                     "atoms (not a degeneracy of the descriptor)")
    atoms = deg.get("genuine_atoms", [])
    if deg["n_genuine"] and len(atoms) < len(symbols):  # said only when it singles atoms out
        near = [i for i in atoms if i in near_cutoff]
        lines.append("    the genuine directions move mostly atoms "
                     + ", ".join(f"{i} ({symbols[i]})" for i in atoms)
                     + (f"; of those, {', '.join(str(i) for i in near)} lie near r_cut, where "
                        "their contribution fades: the loss barely depends on them there"
                        if near else ""))
    lines.extend(_growth_line(kind, g) for kind, g in deg["growth"].items())
    return lines


def degeneracy_lines(result):
    """The Hessian null space at the reference, split by cause."""
    s, symbols = result["settings"], result["symbols"]
    ops = result["degeneracy"]["power_spectrum"]["operations"]
    out = [f"Hessian of the loss at the reference, null space at relative threshold "
           f"{s['rtol']:g}:",
           f"  symmetry operations of the environment (value-preserving): {len(ops)}: "
           + "; ".join(ops)]
    for name, key in (("power spectrum", "power_spectrum"), ("bispectrum", "bispectrum")):
        out.extend(_degeneracy_block(name, result["degeneracy"][key], symbols,
                                     result["environment"]["near_cutoff"]))
    return out


def generic_lines(result):
    """The same at a generic (symmetry-broken) environment."""
    out = ["generic environment (reference + uniform noise, no symmetry):"]
    for name, key in (("power spectrum", "power_spectrum"), ("bispectrum", "bispectrum")):
        out.extend(_degeneracy_block(name, result["generic"][key], result["symbols"],
                                     result["environment"]["near_cutoff"]))
    return out


def homometric_lines(result):
    """Genuine degeneracy: the homometric pair."""
    h = result["homometric_pair"]
    return ["genuine degeneracy of the power spectrum: a homometric pair (octagon points "
            "{0,1,2,5} and {0,1,3,4} plus an apex; cf. Pozdnyakov et al., PRL 125, 166001, 2020):",
            f"  power spectra differ by at most {h['power_spectrum_max_abs_difference']:.2e} "
            f"(values up to {h['power_spectrum_max_abs']:.2e}); bispectra by "
            f"{h['bispectrum_max_abs_difference']:.2e} (values up to {h['bispectrum_max_abs']:.2e}); "
            f"best registration rmsd {h['registration_rmsd']:.3f} A (not a rotated or mirrored copy)"]


def footer_lines(result):
    return [f"finished in {result['seconds']:.1f} s"]


#: the sections in order, each ``result -> lines`` (the rows of the reconstruction table
#: are streamed one by one by the demo, see :func:`reconstruction_row`)
def _reconstruction_lines(result):
    return (reconstruction_header_lines(result)
            + [reconstruction_row(i, run) for i, run in enumerate(result["reconstructions"])]
            + reconstruction_summary_lines(result))


SECTIONS = (header_lines, _reconstruction_lines, degeneracy_lines, generic_lines,
            homometric_lines, footer_lines)


def format_report(result):
    """The printed report of :func:`rstref.demo.seed_experiment` (plain text)."""
    return "\n".join(line for section in SECTIONS for line in section(result))
