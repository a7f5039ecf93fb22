"""Worked example of rstref.potential: fit to EMT copper, vibrations, force constants, Hessian speed.

1. Fit a LinearPotential (power spectrum, r_cut 5, n_max 8, l_max 6) to energies and forces
   of rattled 32-atom fcc Cu cells computed with ase's EMT; report the held-out errors.
2. Gamma-point vibrational energies of a rattled cell from the analytic Hessian, against
   ase's finite-difference ``Vibrations`` on the same fitted potential (and on EMT, for
   information: that measures the fit, not the derivatives).
3. Speed: the energy Hessian of a 64-atom Cu cell, analytic vs central differences of
   rstref's own analytic forces (6N force calls), CPU time, interleaved repeats.

Usage: ``python validation/potential_example.py [--quick]`` (``--quick``: smaller, for CI).
Prints markdown.
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.vibrations import Vibrations

from rstref.features import Featurizer
from rstref.potential import LinearPotential, to_vibrations_data


def rattled_cells(n, repeat, amplitude, seed):
    out = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * repeat
        atoms.rattle(amplitude, seed=seed + k)
        atoms.calc = EMT()
        out.append(atoms)
    return out


def fit(featurizer, n_train, n_test, repeat):
    train = rattled_cells(n_train, repeat, 0.08, 100)
    test = rattled_cells(n_test, repeat, 0.08, 900)
    energies = [a.get_potential_energy() for a in train]
    forces = [a.get_forces() for a in train]
    pot = LinearPotential(featurizer).fit(train, energies, forces, regularization=1e-10)
    e_err = [(pot.energy(a) - a.get_potential_energy()) / len(a) for a in test]
    f_err = np.concatenate([(pot.forces(a) - a.get_forces()).ravel() for a in test])
    f_ref = np.concatenate([a.get_forces().ravel() for a in test])
    return pot, float(np.sqrt(np.mean(np.square(e_err)))), float(np.sqrt(np.mean(f_err ** 2))), \
        float(np.sqrt(np.mean(f_ref ** 2)))


def finite_difference_energies(atoms, calc, delta=1e-3):
    atoms = atoms.copy()
    atoms.calc = calc
    with tempfile.TemporaryDirectory() as tmp:
        vib = Vibrations(atoms, name=os.path.join(tmp, "vib"), delta=delta, nfree=4)
        vib.run()
        return vib.get_energies()


def fd_hessian(pot, atoms, h=1e-5):
    x0 = atoms.get_positions()
    H = np.zeros((3 * len(atoms), 3 * len(atoms)))
    moved = atoms.copy()
    for k in range(H.shape[0]):
        x = x0.copy()
        x.flat[k] += h
        moved.set_positions(x)
        fp = pot.forces(moved)
        x.flat[k] -= 2 * h
        moved.set_positions(x)
        H[k] = -(fp - pot.forces(moved)).reshape(-1) / (2 * h)
    return H


def signed_wavenumbers(energy_squared):
    """cm^-1 from hbar^2 omega^2 (eV^2), negative for imaginary modes."""
    return np.sign(energy_squared) * np.sqrt(np.abs(energy_squared)) / units.invcm


def cpu_time(f, *args):
    t = time.process_time()
    out = f(*args)
    return time.process_time() - t, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing repeats (default 3)")
    args = parser.parse_args()
    if args.quick:
        featurizer = Featurizer(r_cut=4.0, n_max=4, l_max=3, species=["Cu"])
        n_train, n_test, repeat, bench_repeat = 4, 2, (1, 1, 2), (1, 1, 2)
    else:
        featurizer = Featurizer(r_cut=5.0, n_max=8, l_max=6, species=["Cu"])
        n_train, n_test, repeat, bench_repeat = 12, 4, (2, 2, 2), (2, 2, 4)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}; numpy {np.__version__}")
    print(f"featurizer: {featurizer!r}\n")
    pot, e_rmse, f_rmse, f_scale = fit(featurizer, n_train, n_test, repeat)
    print("## Fit to EMT copper (energies and forces)\n")
    print(f"{n_train} training and {n_test} test cells of {len(rattled_cells(1, repeat, 0, 0)[0])} "
          f"atoms (rattled 0.08 Å); held-out energy RMSE {e_rmse * 1e3:.3f} meV/atom, force RMSE "
          f"{f_rmse:.4f} eV/Å (force RMS {f_scale:.3f} eV/Å)\n")

    atoms = rattled_cells(1, (1, 1, 1) if args.quick else (1, 1, 2), 0.05, 7)[0]
    analytic = to_vibrations_data(pot, atoms).get_energies()
    fd_same = finite_difference_energies(atoms, pot.calculator())
    fd_emt = finite_difference_energies(atoms, EMT())
    a2, f2, e2 = (np.sort((x ** 2).real) for x in (analytic, fd_same, fd_emt))
    a_cm, f_cm, e_cm = (signed_wavenumbers(x) for x in (a2, f2, e2))
    print("## Gamma-point vibrational frequencies of a rattled cell\n")
    print(f"{len(atoms)} atoms; cm^-1, imaginary modes as negative numbers.\n")
    print("| mode | analytic Hessian | ase Vibrations (FD, same potential) | ase Vibrations (FD, EMT) |")
    print("|---:|---:|---:|---:|")
    for k in range(len(a2)):
        print(f"| {k} | {a_cm[k]:.3f} | {f_cm[k]:.3f} | {e_cm[k]:.3f} |")
    print(f"\nmax |analytic - FD (same potential)| over the squared energies = "
          f"{np.abs(a2 - f2).max() / np.abs(a2).max():.1e} of the largest; the three translations at "
          f"{np.sort(np.abs(a_cm))[:3].max():.1e} cm^-1 (analytic)\n")

    big = rattled_cells(1, bench_repeat, 0.02, 11)[0]
    n = len(big)
    analytic_times, fd_times = [], []
    H = Hfd = None
    for _ in range(args.repeats):
        t, H = cpu_time(pot.hessian, big)
        analytic_times.append(t)
        t, Hfd = cpu_time(fd_hessian, pot, big)
        fd_times.append(t)
    ta, tf = min(analytic_times), min(fd_times)
    print("## Speed: energy Hessian of a Cu cell\n")
    print(f"{n} atoms, {featurizer!r}; best of {args.repeats} interleaved repeats, CPU time, one "
          f"process (numpy BLAS threads as configured).\n")
    print("| method | CPU time (s) | ratio |")
    print("|---|---:|---:|")
    print(f"| analytic (contracted per environment) | {ta:.3f} | 1 |")
    print(f"| central differences of analytic forces ({6 * n} force calls) | {tf:.3f} | {tf / ta:.1f} |")
    print("| torch autograd Hessian | not run (needs a torch re-implementation of the descriptor) | |")
    print(f"\nmax |analytic - FD| / max |H| = {np.abs(H - Hfd).max() / np.abs(H).max():.1e}")


if __name__ == "__main__":
    main()
