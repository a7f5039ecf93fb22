"""Energy, forces, virial and Hessian of a linear power-spectrum model, without the feature axis.

For a centre with weight vector ``w`` (F,) over the power-spectrum features of the stacked
tensor (order ``[(l, N, N2) for l in range(l_max+1) for N in range(n_eff) for N2 in
range(N, n_eff)]``, ``p = w_f (2l+1)^(-1/2) sum_m c[N,l,m] c[N2,l,m]`` with the sqrt(2)
off-diagonal weight) the energy is a quadratic form per ``l``::

    E = sum_l sum_m c_m^T M_l c_m,   M_l[N, N] = w_(l,N,N) / sqrt(2l+1),
                                     M_l[N, N2] = M_l[N2, N] = w_(l,N,N2) / sqrt(2 (2l+1))  (N < N2)

so with ``G_l = 2 M_l C_l`` (the gradient of E with respect to the coefficients) and
``E = C . G / 2``::

    dE / dr_p,a          = sum_l sum_(n,m) dC_l[p,a,n,m] G_l[ch_p n, m]
    d2E / dr_p,a dr_q,b  = sum_l 2 sum_m sum_(n,n2) dC_l[p,a,n,m] M_l[ch_p n, ch_q n2] dC_l[q,b,n2,m]
                           + delta_pq sum_l sum_(n,m) d2C_l[p,a,b,n,m] G_l[ch_p n, m]

The cost per centre is O((3P)^2 n_eff (l_max+1)^2) for P pairs, independent of the number
of features F = (l_max+1) n_eff (n_eff+1)/2; nothing of size F x P is formed.  Block names
(``C``, ``dC``, ``d2C``) are those of :mod:`rstref.features.environments`; the pair
Hessian is the numba kernel :func:`rstref._kernels.potential.energy_hessian_pairs`.
"""

import numpy as np

from rstref._kernels.potential import energy_hessian_pairs


def quadratic_forms(w, n_eff, l_max):
    """``M`` (l_max+1, n_eff, n_eff): the symmetric matrices ``M_l`` of weight vector ``w`` (F,)."""
    upper = np.triu_indices(n_eff)
    diagonal = upper[0] == upper[1]
    per_l = n_eff * (n_eff + 1) // 2
    M = np.zeros((l_max + 1, n_eff, n_eff))
    for l in range(l_max + 1):
        block = np.asarray(w[l * per_l:(l + 1) * per_l], dtype=np.float64)
        half = np.zeros((n_eff, n_eff))
        half[upper] = block / np.sqrt(2.0 * (2 * l + 1))
        M[l] = half + half.T
        M[l][np.diag_indices(n_eff)] = block[diagonal] / np.sqrt(2 * l + 1)
    return M


def _per_l(l_max):
    return [slice(l * l, (l + 1) * (l + 1)) for l in range(l_max + 1)]


def coefficient_gradient(C, M):
    """``G = 2 M_l C_l`` per l block: (n_eff, L)."""
    G = np.empty_like(C)
    for l, block in enumerate(_per_l(M.shape[0] - 1)):
        G[:, block] = 2.0 * M[l] @ C[:, block]
    return G


def energy(C, G):
    """``sum_l sum_m c_m^T M_l c_m = C . G / 2`` of one environment."""
    return 0.5 * float(np.sum(C * G))


def pair_gradients(dC, G, channels, n_max):
    """``dE / dr_p`` of every pair: (P, 3)."""
    own = G.reshape(-1, n_max, G.shape[1])[channels]
    return np.einsum("panl,pnl->pa", dC, own)


def pair_hessian(dC, d2C, G, M, channels, n_max):
    """``d2E / dr_p dr_q`` of every pair of pairs: (P, 3, P, 3), symmetric."""
    P = channels.shape[0]
    H = np.empty((P, 3, P, 3))
    Y = np.empty((P, 3, M.shape[1], dC.shape[3]))
    energy_hessian_pairs(dC, d2C, channels, M, G, n_max, M.shape[0] - 1, Y, H)
    return H


def atom_forces(g, centre, neighbours, n_atoms):
    """Forces ``-dE/dx`` (n_atoms, 3) from the pair gradients ``g`` of one centre."""
    f = np.zeros((n_atoms, 3))
    np.add.at(f, neighbours, -g)
    f[centre] += g.sum(axis=0)
    return f
