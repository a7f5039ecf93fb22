"""Benchmark: rstref power spectrum (values, gradients, Hessians) vs e3nn + torch autograd.

One process, one thread for everybody (``numba.set_num_threads(1)``,
``torch.set_num_threads(1)``; BLAS threads pinned by the environment variables set
below before numpy/torch load), so that the ratio measures the work and not how each
library uses a shared, loaded machine.  Each call is warmed up, then the two
libraries are called in turn (round-robin) and each is timed as its best of several
repeats (wall time, ``time.perf_counter``; CPU time ``time.process_time`` is also
recorded).

Per environment of N = 10, 30, 100 atoms (uniform in the ball of radius 0.95 r_cut,
peak heights +-1), n_max = 8, l_max = 6 (252 invariants), r_cut = 3, cos^2-bump radial
basis, kernel-normalised projection (the seed's), 'e3nn' convention:

* rstref: ``PowerSpectrum(rst).compute / compute_with_gradients /
  compute_with_hessians`` from positions (input checks, projection, invariants and
  output allocation included): p (F,), dp (N, 3, F), d2p (N, 3, N, 3, F).
* e3nn + torch: the same function of the positions written in torch -- e3nn's
  ``o3.spherical_harmonics`` ('component', normalize=True), the orthonormal cos^2-bump
  radial basis in torch (rstref's Gram-Schmidt coefficients), ``c = sum_i v_i phi(r_i) /
  sum_k phi_k(r_i)^2``, and the power spectrum in e3nn's 'ij=ji' order and
  normalisation (per-l block products; e3nn's ``ReducedTensorProducts`` would give the same
  numbers -- see validate_tensor_e3nn.py -- but cannot be built at this size in reasonable
  time) -- differentiated with ``torch.func``: gradients = the faster of ``jacrev`` and
  ``jacfwd``, Hessians = ``torch.func.hessian`` (``jacfwd(jacrev)``), both returning the
  full dense arrays rstref returns.  Values agree with rstref to <= 1e-12 (checked
  before timing, for values, gradients and Hessians).

Writes the table to the section '## Invariants: speed vs e3nn autograd' of
validation/RESULTS.md.

Usage: ``python validation/bench_invariants.py [--atoms 10 30 100] [--no-write]``
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import _peers  # noqa: E402

N_MAX, L_MAX, R_CUT = 8, 6, 3.0
QUANTITIES = ("values", "+gradients", "+Hessians")


def environment(n_atoms, seed):
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n_atoms:
        p = rng.uniform(-R_CUT, R_CUT, 3)
        if np.linalg.norm(p) < 0.95 * R_CUT and all(np.linalg.norm(p - q) > 0.05 for q in points):
            points.append(p)
    return np.array(points), rng.choice([-1.0, 1.0], n_atoms)


def torch_power_spectrum_function(torch, o3, rst, values):
    """p(x) in torch: e3nn harmonics, torch radial basis, kernel-normalised projection."""
    rb = rst.radial_basis
    n = rb.n_max
    delta = rb.r_cut / (n - 1)
    centres = torch.arange(n, dtype=torch.float64) * delta
    C = torch.tensor(rb.coefficients)
    v = torch.tensor(values)
    ls = list(range(rst.l_max + 1))
    K = (rst.l_max + 1) ** 2
    n_a, n_b = np.triu_indices(n)
    n_a, n_b = torch.tensor(n_a), torch.tensor(n_b)
    w = torch.where(n_a == n_b, 1.0, math.sqrt(2.0)).to(torch.float64)

    def radial(r):
        u = (r[:, None] - centres[None, :]) / delta          # (N, n)
        bump = torch.cos(0.5 * math.pi * u) ** 2
        f = torch.where(u.abs() < 1.0, bump, torch.zeros_like(bump))
        f = torch.where((r < rb.r_cut)[:, None], f, torch.zeros_like(f))
        return f @ C.T                                        # (N, n_max)

    def p_of_x(x):
        r = torch.linalg.norm(x, dim=1)
        R = radial(r)
        Y = o3.spherical_harmonics(ls, x, normalize=True, normalization="component")
        norm = K * (R ** 2).sum(dim=1)                        # ||phi(r)||^2
        weights = v / norm
        out = []
        for l in ls:
            Yl = Y[:, l * l:(l + 1) ** 2]
            cl = torch.einsum("i,in,im->nm", weights, R, Yl)  # (n_max, 2l+1)
            G = cl @ cl.T / math.sqrt(2 * l + 1)
            out.append(w * G[n_a, n_b])
        return torch.cat(out)

    return p_of_x


#: torch.func.hessian (jacfwd over jacrev, all 3N tangents at once) needs memory ~ F * 3N *
#: N * dim * 8 bytes for its intermediates (~24 GB at N = 100): beyond this many atoms the
#: Hessian is assembled from forward-mode JVPs of jacrev in chunks of HESSIAN_CHUNK tangents
HESSIAN_DENSE_MAX_ATOMS = 30
HESSIAN_CHUNK = 10


def hessian_in_chunks(f, x, jacrev, jvp, vmap, torch):
    """d2f / dx dx of shape (F, N, 3, N, 3) by jvp(jacrev(f)) on chunks of unit tangents."""
    grad = jacrev(f)
    m = x.numel()
    eye = torch.eye(m, dtype=x.dtype).reshape(m, *x.shape)
    cols = []
    for s in range(0, m, HESSIAN_CHUNK):
        cols.append(vmap(lambda t: jvp(grad, (x,), (t,))[1])(eye[s:s + HESSIAN_CHUNK]))
    H = torch.cat(cols)                                   # (3N, F, N, 3): d/dx_J of dp/dx
    return H.reshape(*x.shape, *H.shape[1:]).permute(2, 3, 4, 0, 1)


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def rstref_only(ps, atoms, repeat):
    """rstref alone (no peer): best wall and CPU time per call, printed, RESULTS.md untouched."""
    print("atoms | features | computes | rstref ms (wall) | rstref ms (CPU)")
    for n_atoms in atoms:
        x, v = environment(n_atoms, 1000 + n_atoms)
        calls = {"values": lambda: ps.compute(x, v),
                 "+gradients": lambda: ps.compute_with_gradients(x, v),
                 "+Hessians": lambda: ps.compute_with_hessians(x, v)}
        for quantity in QUANTITIES:
            wall, cpu = _peers.time_interleaved({"rstref": calls[quantity]}, repeat)
            print(f"{n_atoms} | {ps.n_features} | {quantity} | {wall['rstref'] * 1e3:.3g} | "
                  f"{cpu['rstref'] * 1e3:.3g}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--rstref-only", action="store_true",
                        help="time rstref alone (also the fallback when torch/e3nn are missing)")
    args = parser.parse_args()

    import numba

    import rstref
    from rstref.invariants import PowerSpectrum
    from rstref.tensor import RadialSphericalTensor

    numba.set_num_threads(1)
    report = _peers.Report("invariants benchmark")
    rb = rstref.OrthonormalRadialBasis(N_MAX, R_CUT, primitive="cosine_bumps")
    rst = RadialSphericalTensor(N_MAX, rb, L_MAX, convention="e3nn")
    ps = PowerSpectrum(rst)
    torch = None if args.rstref_only else _peers.import_peer("torch", report)
    o3 = _peers.import_peer("e3nn.o3", report) if torch is not None else None
    if o3 is None:
        rstref_only(ps, args.atoms, args.repeat)
        return report.exit_status()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    from torch.func import hessian, jacfwd, jacrev, jvp, vmap

    rows = []
    for n_atoms in args.atoms:
        x, v = environment(n_atoms, 1000 + n_atoms)
        f = torch_power_spectrum_function(torch, o3, rst, v)
        xt = torch.tensor(x)

        def t_values():
            with torch.no_grad():
                return f(xt)

        def t_jacrev():
            return jacrev(f)(xt)

        def t_jacfwd():
            return jacfwd(f)(xt)

        chunked = n_atoms > HESSIAN_DENSE_MAX_ATOMS

        def t_hessian():
            if not chunked:
                return hessian(f)(xt)                                    # (F, N, 3, N, 3)
            return hessian_in_chunks(f, xt, jacrev, jvp, vmap, torch)   # same layout

        # agreement first (also warms everything up); a slow torch Hessian is timed here, once
        p, dp, d2p = ps.compute_with_hessians(x, v)
        F = ps.n_features
        start = time.perf_counter(), time.process_time()
        torch_hessian = t_hessian()
        once = time.perf_counter() - start[0], time.process_time() - start[1]
        checks = {
            "values": rel(p, t_values().numpy()),
            "gradients": rel(dp, t_jacrev().numpy().transpose(1, 2, 0)),
            "Hessians": rel(d2p, torch_hessian.numpy().transpose(1, 2, 3, 4, 0)),
        }
        del torch_hessian
        for name, dev in checks.items():
            report.check(f"N={n_atoms} {name} rstref vs torch", dev, 1e-12, "relative")
        # which autograd route is faster for the gradients
        grad_wall, _ = _peers.time_interleaved({"jacrev": t_jacrev, "jacfwd": t_jacfwd}, 1, min_time=0.0)
        best_grad = "jacrev" if grad_wall["jacrev"] <= grad_wall["jacfwd"] else "jacfwd"
        t_grad = t_jacrev if best_grad == "jacrev" else t_jacfwd
        pairs = {
            "values": (lambda: ps.compute(x, v), t_values),
            "+gradients": (lambda: ps.compute_with_gradients(x, v), t_grad),
            "+Hessians": (lambda: ps.compute_with_hessians(x, v), t_hessian),
        }
        for quantity in QUANTITIES:
            ours, theirs = pairs[quantity]
            if quantity == "+Hessians" and once[0] > 60.0:
                # too slow to repeat: the single (post-warm-up) call above is the measurement
                wall, cpu = _peers.time_interleaved({"rstref": ours}, args.repeat)
                wall["torch"], cpu["torch"] = once
            else:
                wall, cpu = _peers.time_interleaved({"rstref": ours, "torch": theirs}, args.repeat)
            route = {"values": "forward (no_grad)", "+gradients": f"torch.func.{best_grad}",
                     "+Hessians": (f"jvp(jacrev) in chunks of {HESSIAN_CHUNK} tangents"
                                   if chunked else "torch.func.hessian")}[quantity]
            row = [n_atoms, F, quantity, route, f"{wall['rstref'] * 1e3:.3g}",
                   f"{wall['torch'] * 1e3:.3g}", f"{wall['torch'] / wall['rstref']:.1f}",
                   f"{cpu['torch'] / cpu['rstref']:.1f}"]
            rows.append(row)
            print(" | ".join(str(c) for c in row), flush=True)

    headers = ["atoms", "features", "computes", "e3nn+torch route", "rstref ms", "e3nn+torch ms",
               "speed-up (wall)", "speed-up (CPU)"]
    table = _peers.markdown_table(headers, rows)
    print(table)
    if not args.no_write:
        body = (
            "Written by `validation/bench_invariants.py` "
            f"({_peers.utc_now()}). {_peers.machine_info(peers=['torch', 'e3nn'], threads=1)} "
            f"Load average at the end: {os.getloadavg()[0]:.1f} (shared machine; wall times "
            "are best-of-repeats, CPU-time ratios are the steadier measure).\n\n"
            f"One environment per call, n_max = {N_MAX}, l_max = {L_MAX}, r_cut = {R_CUT}, "
            "cos^2-bump basis, kernel-normalised projection, positions -> power spectrum. "
            "rstref: `PowerSpectrum.compute / compute_with_gradients / compute_with_hessians` "
            "(explicit derivatives, numba). e3nn+torch: e3nn spherical harmonics + the same "
            "radial basis and formula in torch, differentiated by `torch.func` (the faster of "
            "jacrev/jacfwd for gradients, `hessian` = jacfwd(jacrev) for Hessians, in chunks of "
            f"{HESSIAN_CHUNK} tangents beyond {HESSIAN_DENSE_MAX_ATOMS} atoms; a torch Hessian "
            "slower than 60 s is timed once); both "
            "return the full dense p (F,), dp (N,3,F), d2p (N,3,N,3,F), agreeing to <= 1e-12 "
            "relative. Speed-up = e3nn+torch time / rstref time; the issue's target is >= 10x "
            "for gradients and Hessians.\n\n" + table)
        _peers.update_results_section("## Invariants: speed vs e3nn autograd", body)
    return report.exit_status()


if __name__ == "__main__":
    raise SystemExit(main())
