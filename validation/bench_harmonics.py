"""Benchmark rstref's real spherical harmonics against sphericart and e3nn.

For every thread count the libraries run side by side in ONE worker process (a fresh
subprocess per thread count, because sphericart's OpenMP reads ``OMP_NUM_THREADS`` when
it starts): numba via ``numba.set_num_threads``, torch via ``torch.set_num_threads``,
sphericart via ``OMP_NUM_THREADS``.  Each call is warmed up first (numba compilation,
first-touch allocation), then the libraries of a row are called in turn (round-robin,
so they see the same background load) and each is timed as its best of several
repeats (time.perf_counter).

What is timed, on the same 100,000 random points (float64, random norms):

* rstref: ``SphericalHarmonics(l_max).compute / compute_with_gradients /
  compute_with_hessians`` (input checks and output allocation included).
* sphericart: ``sphericart.SphericalHarmonics(l_max)``, same three methods (numpy API).
* e3nn: ``o3.spherical_harmonics(range(l_max+1), x, normalize=True)`` under no_grad for
  values; for gradients the full Jacobian (n, 3, L) by forward-mode autograd: three
  JVPs (``torch.autograd.forward_ad`` dual tensors) with tangent e_x, e_y, e_z at every
  point -- the same quantity
  the others return (a single backward pass would give only a vector-Jacobian product).
  No Hessians; l_max <= 12 only.

Writes the table to the section '## Spherical harmonics: speed' of validation/RESULTS.md.

Usage: ``python validation/bench_harmonics.py [--points 100000] [--l-max 0 1 2 4 8 12 16]
[--threads 1 2] [--peers sphericart e3nn] [--no-write]``
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

import _peers

QUANTITIES = ("values", "+gradients", "+Hessians")
PEERS = ("sphericart", "e3nn")


# ---------------------------------------------------------------------------------------
# worker: one thread count, all libraries in this process
# ---------------------------------------------------------------------------------------

def _points(n, seed):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3))
    return xyz * rng.uniform(0.5, 2.0, size=(n, 1))


def rstref_calls(xyz, l_max):
    import rstref

    sh = rstref.SphericalHarmonics(l_max)
    return {"values": lambda: sh.compute(xyz),
            "+gradients": lambda: sh.compute_with_gradients(xyz),
            "+Hessians": lambda: sh.compute_with_hessians(xyz)}


def sphericart_calls(sphericart, xyz, l_max):
    sh = sphericart.SphericalHarmonics(l_max)
    return {"values": lambda: sh.compute(xyz),
            "+gradients": lambda: sh.compute_with_gradients(xyz),
            "+Hessians": lambda: sh.compute_with_hessians(xyz)}


def e3nn_calls(torch, o3, xyz, l_max):
    if l_max > 12:
        return {}
    x = torch.tensor(xyz, dtype=torch.float64)
    ls = list(range(l_max + 1))

    def values():
        with torch.no_grad():
            return o3.spherical_harmonics(ls, x, normalize=True)

    def f(p):
        return o3.spherical_harmonics(ls, p, normalize=True)

    # the points are independent, so one forward-mode JVP with the tangent e_a at every
    # point gives dY/dx_a for all points: three JVPs make the full Jacobian (dual tensors
    # of torch.autograd.forward_ad; about 2x faster here than torch.func.jvp)
    import torch.autograd.forward_ad as fwAD

    tangents = [torch.zeros_like(x).index_fill_(1, torch.tensor([a]), 1.0) for a in range(3)]

    def gradients():
        columns = []
        with fwAD.dual_level():
            for t in tangents:
                y = fwAD.unpack_dual(f(fwAD.make_dual(x, t)))
                # a constant output (l_max = 0) has no tangent
                columns.append(torch.zeros_like(y.primal) if y.tangent is None else y.tangent)
        return y.primal, torch.stack(columns, dim=1)  # (n, 3, L)

    return {"values": values, "+gradients": gradients}


def worker(args):
    threads = args.threads[0]
    import numba

    numba.set_num_threads(threads)
    load_start = os.getloadavg()[0]
    xyz = _points(args.points, args.seed)
    report = _peers.Report("bench worker")
    sphericart = _peers.import_peer("sphericart", report) if "sphericart" in args.peers else None
    torch = _peers.import_peer("torch", report) if "e3nn" in args.peers else None
    o3 = _peers.import_peer("e3nn.o3", report) if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    results = []
    for l_max in args.l_max:
        calls = {"rstref": rstref_calls(xyz, l_max)}
        if sphericart is not None:
            calls["sphericart"] = sphericart_calls(sphericart, xyz, l_max)
        if o3 is not None:
            calls["e3nn"] = e3nn_calls(torch, o3, xyz, l_max)
        for quantity in QUANTITIES:
            row = {"l_max": l_max, "quantity": quantity, "threads": threads}
            fns = {lib: c[quantity] for lib, c in calls.items() if quantity in c}
            wall, cpu = _peers.time_interleaved(fns, args.repeat)
            for lib in fns:
                row[lib] = wall[lib] / args.points * 1e9
                row[lib + "_cpu"] = cpu[lib] / args.points * 1e9
            results.append(row)
            print(f"# {row}", file=sys.stderr, flush=True)
    info = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "numba_threads": numba.get_num_threads(),
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "skipped": report.skipped,
            "load": [load_start, os.getloadavg()[0]]}
    print(json.dumps({"results": results, "info": info}))
    return 0


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------

def run_worker(threads, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(threads),
           "--points", str(args.points), "--repeat", str(args.repeat), "--seed", str(args.seed),
           "--peers", *args.peers, "--l-max", *map(str, args.l_max)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker with {threads} thread(s) failed "
                           f"(exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value):
    return "n/a" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _ratio(row, a, b):
    return f"{row[a] / row[b]:.2f}" if a in row and b in row else "n/a"


def results_table(rows):
    """Wall-clock ns/point for every row; CPU ns/point and its ratio for 1-thread rows."""
    headers = ["l_max", "computes", "threads", "rstref", "sphericart", "e3nn",
               "rstref / sphericart", "rstref CPU", "sphericart CPU", "e3nn CPU",
               "rstref / sphericart CPU"]
    body = []
    for r in rows:
        line = [r["l_max"], r["quantity"], r["threads"], _fmt(r.get("rstref")),
                _fmt(r.get("sphericart")), _fmt(r.get("e3nn")),
                _ratio(r, "rstref", "sphericart")]
        if r["threads"] == 1:
            line += [_fmt(r.get("rstref_cpu")), _fmt(r.get("sphericart_cpu")),
                     _fmt(r.get("e3nn_cpu")), _ratio(r, "rstref_cpu", "sphericart_cpu")]
        else:
            line += ["", "", "", ""]
        body.append(line)
    return _peers.markdown_table(headers, body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--l-max", type=int, nargs="+", default=[0, 1, 2, 4, 8, 12, 16])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS,
                        help="peers to time beside rstref (default: all)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    rows, infos = [], {}
    for threads in args.threads:
        out = run_worker(threads, args)
        rows += out["results"]
        infos[threads] = out["info"]
    rows.sort(key=lambda r: (r["l_max"], QUANTITIES.index(r["quantity"]), r["threads"]))
    table = results_table(rows)
    print(table)
    skipped = {name: reason for info in infos.values() for name, reason in info["skipped"]}
    for name, reason in skipped.items():
        print(f"SKIPPED  {name}: {reason}")

    if not args.no_write:
        thread_note = "; ".join(
            f"{t} thread(s): OMP_NUM_THREADS={i['omp_num_threads']}, numba {i['numba_threads']}, "
            f"torch {i['torch_threads']}" for t, i in infos.items())
        load_note = ", ".join(f"{t} thread(s) {i['load'][0]:.1f}/{i['load'][1]:.1f}"
                              for t, i in infos.items())
        body = "\n\n".join([
            f"Generated by `validation/bench_harmonics.py` on {_peers.utc_now()}. "
            + _peers.machine_info(["sphericart", "torch", "e3nn"]),
            f"{args.points:,} random points (float64), 'integral' normalisation, standard "
            "convention for rstref and sphericart (e3nn in its own). Nanoseconds per point, "
            f"best of >= {args.repeat} calls after a warm-up call, the libraries called in turn "
            "(round-robin, same background load), output allocation and input "
            "checks included. All libraries of a row ran in the same process: one "
            f"subprocess per thread count ({thread_note}). e3nn: values under no_grad; "
            "'+gradients' is values and the full Jacobian by forward-mode autograd "
            "(three JVPs with `torch.autograd.forward_ad`, tangent e_x, e_y, e_z at every "
            "point); e3nn has "
            "no Hessians and stops at l = 12. "
            "Columns 'rstref', 'sphericart', 'e3nn': best wall-clock ns per point. "
            "'CPU' columns (1-thread rows only): best process CPU time (user + system) "
            "per point, the steadier measure when the machine is shared. 1-minute load "
            f"average at the start/end of each worker: {load_note} on "
            f"{_peers.available_cores()} cores; a load above the core count means other "
            "processes competed for the CPU, wall times are then inflated and noisy, and "
            "ratios closer than ~20% are not significant.",
            table,
            ("Skipped: " + "; ".join(f"{n}: {r}" for n, r in skipped.items()) + ".")
            if skipped else "No peer skipped.",
        ])
        _peers.update_results_section("## Spherical harmonics: speed", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
