"""Energy, forces, virial and Hessian of a linear power-spectrum model, without the feature axis.

For a centre with weight vector ``w`` (F,) over the power-spectrum features of the stacked
tensor (order ``[(l, N, N2) for l in range(l_max+1) for N in range(n_eff) for N2 in
range(N, n_eff)]``, ``p = w_f (2l+1)^(-1/2) sum_m c[N,l,m] c[N2,l,m]`` with the sqrt(2)
off-diagonal weight) the energy is a quadratic form per ``l``::

    E = sum_l sum_m c_m^T M_l c_m,   M_l[N, N] = w_(l,N,N) / sqrt(2l+1),
                                     M_l[N, N2] = M_l[N2, N] = w_(l,N,N2) / sqrt(2 (2l+1))  (N < N2)

so with ``G_l = 2 M_l C_l`` (the gradient of E with respect to the coefficients)::

    dE / dr_p,a          = sum_l sum_(n,m) dC_l[p,a,n,m] G_l[ch_p n, m]
    d2E / dr_p,a dr_q,b  = sum_l 2 sum_m sum_(n,n2) dC_l[p,a,n,m] M_l[ch_p n, ch_q n2] dC_l[q,b,n2,m]
                           + delta_pq sum_l sum_(n,m) d2C_l[p,a,b,n,m] G_l[ch_p n, m]

The cost per centre is O((3P)^2 n_eff (l_max+1)^2) for P pairs, independent of the number
of features F = (l_max+1) n_eff (n_eff+1)/2; nothing of size F x P is formed.  Block names
(``C``, ``dC``, ``d2C``) are those of :mod:`rstref.potential.environments`.
"""

import numpy as np


def quadratic_forms(w, n_eff, l_max):
    """The symmetric matrices ``M_l`` (n_eff, n_eff), l = 0..l_max, of weight vector ``w`` (F,)."""
    upper = np.triu_indices(n_eff)
    per_l = n_eff * (n_eff + 1) // 2
    out = []
    for l in range(l_max + 1):
        block = np.asarray(w[l * per_l:(l + 1) * per_l], dtype=np.float64)
        M = np.zeros((n_eff, n_eff))
        M[upper] = block / np.sqrt(2.0 * (2 * l + 1))
        M = M + M.T
        M[np.diag_indices(n_eff)] = block[upper[0] == upper[1]] / np.sqrt(2 * l + 1)
        out.append(M)
    return out


def _own_rows(G, channels, n_max):
    """``G[ch_p*n_max + n, m]`` for every pair: (P, n_max, 2l+1)."""
    return G.reshape(-1, n_max, G.shape[1])[channels]


def energy(C, M):
    """``sum_l sum_m c_m^T M_l c_m`` of one environment."""
    return float(sum(np.sum(Cl * (Ml @ Cl)) for Cl, Ml in zip(C, M)))


def pair_gradients(C, dC, M, channels, n_max):
    """``dE / dr_p`` of every pair: (P, 3)."""
    g = np.zeros((channels.shape[0], 3))
    for Cl, dCl, Ml in zip(C, dC, M):
        g += np.einsum("panm,pnm->pa", dCl, _own_rows(2.0 * Ml @ Cl, channels, n_max))
    return g


def pair_hessian(C, dC, d2C, M, channels, n_max):
    """``d2E / dr_p dr_q`` of every pair of pairs: (P, 3, P, 3), symmetric."""
    P = channels.shape[0]
    H = np.zeros((3 * P, 3 * P))
    diagonal = np.zeros((P, 3, 3))
    n_eff = C[0].shape[0]
    rows = np.arange(P)
    for Cl, dCl, d2Cl, Ml in zip(C, dC, d2C, M):
        width = Cl.shape[1]
        D = np.zeros((P, 3, n_eff // n_max, n_max, width))
        D[rows, :, channels] = dCl
        D = D.reshape(3 * P, n_eff, width)
        Y = np.einsum("NK,rKm->rNm", Ml, D)
        H += 2.0 * D.reshape(3 * P, -1) @ Y.reshape(3 * P, -1).T
        diagonal += np.einsum("pabnm,pnm->pab", d2Cl, _own_rows(2.0 * Ml @ Cl, channels, n_max))
    H = H.reshape(P, 3, P, 3)
    H[rows, :, rows, :] += diagonal
    return H


def atom_forces(g, centre, neighbours, n_atoms):
    """Forces ``-dE/dx`` (n_atoms, 3) from the pair gradients ``g`` of one centre."""
    f = np.zeros((n_atoms, 3))
    np.add.at(f, neighbours, -g)
    f[centre] += g.sum(axis=0)
    return f


def atom_hessian_block(Hpairs, centre, neighbours):
    """The Hessian over the atoms one centre depends on.

    ``Hpairs`` (P, 3, P, 3, ...) holds second derivatives with respect to the pair vectors
    (any trailing axes, e.g. features).  Returns ``atoms`` (k,) (sorted global indices) and
    ``H`` (k, 3, k, 3, ...) with ``H[a, :, b, :] = d2 / dx_atoms[a] dx_atoms[b]``, from
    ``r_p = x_(j_p) + S cell - x_i`` (the incidence is +1 on ``j_p`` and -1 on ``i``).
    """
    atoms, local = np.unique(np.append(neighbours, centre), return_inverse=True)
    j, i = local[:-1], local[-1]
    k = atoms.shape[0]
    rows = np.zeros((k, 3) + Hpairs.shape[2:])
    np.add.at(rows, j, Hpairs)
    rows[i] -= Hpairs.sum(axis=0)
    moved = np.moveaxis(rows, (2, 3), (0, 1))  # [q, b, row atom, a, ...]
    cols = np.zeros((k, 3) + moved.shape[2:])
    np.add.at(cols, j, moved)
    cols[i] -= moved.sum(axis=0)
    return atoms, np.moveaxis(cols, (2, 3), (0, 1))
