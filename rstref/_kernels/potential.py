"""Per-environment kernel of the energy Hessian of a linear power-spectrum model.

Blocks of one environment with ``P`` pairs, ``L = (l_max+1)**2`` (flat ``lm``)::

    dC  (P, 3, n_max, L)        d c[ch_p*n_max + n, lm] / d r_p,a   (pair p's own channel)
    d2C (P, 3, 3, n_max, L)     second derivatives
    M   (l_max+1, n_eff, n_eff) the model's symmetric quadratic form per l
    G   (n_eff, L)              2 M_l C_l, the energy's gradient in the coefficients

and the Hessian with respect to the pair vectors::

    H[p,a,q,b] = 2 sum_lm sum_(n,n2) dC[p,a,n,lm] M_l[ch_p n, ch_q n2] dC[q,b,n2,lm]
                 + delta_pq sum_(n,lm) d2C[p,a,b,n,lm] G[ch_p n, lm]

evaluated in two stages through ``Y[q,b,N,lm] = sum_n2 M_l[N, ch_q n2] dC[q,b,n2,lm]``
(scratch (P, 3, n_eff, L)), O(P n_eff n_max L + P^2 n_max L) operations.  Nothing here
allocates.
"""

from rstref._numba import njit


@njit
def energy_hessian_pairs(dC, d2C, channels, M, G, n_max, l_max, Y, H):
    """Write ``H`` (P, 3, P, 3) of one environment (module docstring); ``Y`` is scratch."""
    P = dC.shape[0]
    n_eff = M.shape[1]
    for q in range(P):
        base = channels[q] * n_max
        for b in range(3):
            for N in range(n_eff):
                for l in range(l_max + 1):
                    for lm in range(l * l, (l + 1) * (l + 1)):
                        acc = 0.0
                        for n2 in range(n_max):
                            acc += M[l, N, base + n2] * dC[q, b, n2, lm]
                        Y[q, b, N, lm] = acc
    L = (l_max + 1) * (l_max + 1)
    for p in range(P):
        base = channels[p] * n_max
        for a in range(3):
            for q in range(P):
                for b in range(3):
                    acc = 0.0
                    for n in range(n_max):
                        for lm in range(L):
                            acc += dC[p, a, n, lm] * Y[q, b, base + n, lm]
                    H[p, a, q, b] = 2.0 * acc
            for b in range(3):
                acc = 0.0
                for n in range(n_max):
                    for lm in range(L):
                        acc += d2C[p, a, b, n, lm] * G[base + n, lm]
                H[p, a, p, b] += acc
