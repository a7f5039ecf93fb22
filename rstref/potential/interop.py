"""The potential in other codes' terms: an ase calculator, ase vibrations, phonopy and Sella.

* :class:`LinearPotentialCalculator`: an ase ``Calculator`` (energy, free_energy, forces,
  stress) with ``get_hessian(atoms, format='dense'|'sparse', divide_by_masses=False)`` as
  matscipy's calculators offer it.
* :func:`to_vibrations_data`: ``ase.vibrations.VibrationsData`` from the analytic Hessian
  (frequencies with ``get_frequencies()`` in cm^-1, energies in eV).
* :func:`force_constants`: phonopy's (N, N, 3, 3) layout, ``fc[i, j, a, b] = d2E / dx_ia dx_jb``
  (plain numpy; phonopy is not needed).
* :func:`hessian_function`: a callable ``f(atoms) -> (3N, 3N)`` for Sella's
  ``hessian_function=``.
"""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from rstref._checks import check_bool


class LinearPotentialCalculator(Calculator):
    """ase calculator of a :class:`rstref.potential.LinearPotential`.

    ``stress`` is computed for structures periodic along all three axes only.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces, virial, _ = self.potential._evaluate(self.atoms)
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
        if np.all(self.atoms.get_pbc()):
            sigma = virial / self.atoms.get_volume()
            self.results["stress"] = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]

    def get_hessian(self, atoms=None, format="dense", divide_by_masses=False):
        """Hessian (3N, 3N) of the energy; divided by ``sqrt(m_i m_j)`` if ``divide_by_masses``."""
        atoms = self.atoms if atoms is None else atoms
        check_bool(divide_by_masses, "divide_by_masses")
        H = self.potential.hessian(atoms, format=format)
        if divide_by_masses:
            inv = 1.0 / np.sqrt(np.repeat(atoms.get_masses(), 3))
            if format == "sparse":
                from scipy import sparse

                scale = sparse.diags(inv)
                return (scale @ H @ scale).tocsr()
            H = H * inv[:, None] * inv[None, :]
        return H


def to_vibrations_data(potential, atoms, indices=None):
    """``ase.vibrations.VibrationsData`` of ``atoms`` from the analytic Hessian.

    ``indices``: the atoms allowed to move (default all), as in ase's ``Vibrations``.
    """
    from ase.vibrations import VibrationsData

    idx = np.arange(len(atoms)) if indices is None else np.asarray(indices)
    H = potential.hessian(atoms, atoms_subset=idx)
    return VibrationsData.from_2d(atoms, H, indices=idx)


def force_constants(potential, atoms):
    """Force constants in phonopy's layout (N, N, 3, 3), eV/Å^2 for ase units."""
    n = len(atoms)
    return potential.hessian(atoms).reshape(n, 3, n, 3).transpose(0, 2, 1, 3).copy()


def hessian_function(potential):
    """``f(atoms) -> (3N, 3N)`` analytic Hessian, for ``Sella(..., hessian_function=f)``."""

    def hessian(atoms):
        return potential.hessian(atoms)

    return hessian
