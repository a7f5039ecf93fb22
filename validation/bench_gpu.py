"""Benchmark rstref's CUDA path against sphericart (CUDA, via sphericart-torch) and e3nn (CUDA).

What is timed (float64 throughout, inputs already on the device, outputs left there):

* spherical harmonics with gradients on ``--points`` random points (default 10^6) for each
  ``--l-max`` (default 4, 8, 16):
  - rstref: ``rstref.spherical_harmonics_with_gradients(d_xyz, l_max)`` with a numba
    device array (input checks on the device and output allocation included);
  - sphericart: ``sphericart.torch.SphericalHarmonics(l_max).compute_with_gradients(x)``
    on a CUDA tensor;
  - e3nn: ``o3.spherical_harmonics(range(l_max+1), x, normalize=True)`` plus the full
    Jacobian by three forward-mode ``torch.func.jvp`` calls (tangent e_x, e_y, e_z at
    every point); e3nn stops at l = 12, so l_max = 16 is skipped for it.
* power spectra with per-neighbour gradients of a ragged batch of ``--envs``
  environments with ``--neighbours`` neighbours each (rstref.batched,
  ``power_spectra_with_gradients``, n_max = 5, l_max = 4, raw projection).  No peer here
  computes per-neighbour power-spectrum gradients on the GPU, so this row is rstref only.

Each call is warmed up (compilation) and then timed as the best of ``--repeat`` calls,
each followed by a device synchronisation.  Reported: ns per point (or per environment)
and the fraction of the card's peak memory bandwidth reached, where

    bytes moved = input bytes + output bytes  (the minimum any implementation must move:
                  xyz and Y, dY for the harmonics; positions, values, offsets, p, dp for
                  the power spectra; intermediate arrays are not counted)
    peak        = 2 x memory clock x bus width  (device attributes MEMORY_CLOCK_RATE and
                  GLOBAL_MEMORY_BUS_WIDTH, or nvidia-smi, or --peak-gbs)

Peers that cannot be imported or have no CUDA device are reported as SKIPPED.

``--smoke`` runs only the rstref part on tiny sizes; it also works under the CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``) so that CI can check the script runs.  Its
numbers are meaningless and are never written to RESULTS.md.

Writes the section '## GPU' of validation/RESULTS.md (unless --smoke or --no-write).

Before timing, rstref's GPU results are checked against its CPU results (to
``tolerances.CUDA_RTOL``, on the first 1000 points / 200 environments).  Everything goes
to stdout (``> /dev/null`` silences a run); ``--json`` / ``--markdown`` also write the
results to files, and ``--budget-s`` stops starting new rows once that many seconds are
spent (``validation/gpu_check.sh`` uses all three).

Usage: ``python validation/bench_gpu.py [--points 1000000] [--l-max 4 8 16]
[--envs 100000] [--neighbours 16] [--repeat 5] [--smoke] [--no-write] [--budget-s S]
[--json PATH] [--markdown PATH]``
"""

import argparse
import subprocess
import sys
import time

import numpy as np

import _peers

N_MAX, L_MAX_PS = 5, 4


# ---------------------------------------------------------------------------------------
# device
# ---------------------------------------------------------------------------------------

def device_description(cuda, simulator):
    """(name, peak bandwidth in bytes/s or None, how the peak was obtained)."""
    if simulator:
        return "numba CUDA simulator (no GPU)", None, "n/a"
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    try:
        clock_khz = int(dev.MEMORY_CLOCK_RATE)
        bus_bits = int(dev.GLOBAL_MEMORY_BUS_WIDTH)
        if clock_khz > 0 and bus_bits > 0:
            peak = 2.0 * clock_khz * 1e3 * bus_bits / 8.0
            return name, peak, f"device attributes: memory clock {clock_khz / 1e3:.0f} MHz x {bus_bits} bit x 2"
    except Exception:  # attribute not exposed by this driver
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=clocks.max.memory", "--format=csv,noheader,nounits",
             f"--id={dev.id}"], capture_output=True, text=True, timeout=20).stdout.strip()
        bus_bits = int(dev.GLOBAL_MEMORY_BUS_WIDTH)
        mhz = float(out.splitlines()[0])
        return name, 2.0 * mhz * 1e6 * bus_bits / 8.0, f"nvidia-smi: memory clock {mhz:.0f} MHz x {bus_bits} bit x 2"
    except Exception:
        return name, None, "unknown (pass --peak-gbs)"


def timed(fn, sync, repeat):
    """Best wall time of ``fn(); sync()`` over ``repeat`` calls after one warm-up call."""
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def over_budget(args):
    """True once the run has used its ``--budget-s`` seconds (checked between rows)."""
    return args.budget_s is not None and time.perf_counter() - args.started > args.budget_s


def check_gpu_against_cpu(report, name, gpu, cpu):
    """Record ``max |gpu - cpu| / max |cpu|`` over the arrays against ``CUDA_RTOL``."""
    from rstref.tolerances import CUDA_RTOL

    worst = 0.0
    for g, c in zip(gpu, cpu):
        g = g.copy_to_host()
        scale = max(float(np.max(np.abs(c), initial=0.0)), 1e-300)
        worst = max(worst, float(np.max(np.abs(g - c), initial=0.0)) / scale)
    report.check(name, worst, CUDA_RTOL, "relative to the largest entry")


# ---------------------------------------------------------------------------------------
# spherical harmonics
# ---------------------------------------------------------------------------------------

def harmonics_rows(args, cuda, peak, report, torch):
    import rstref

    rng = np.random.default_rng(args.seed)
    xyz = rng.normal(size=(args.points, 3)) * rng.uniform(0.5, 2.0, size=(args.points, 1))
    d_xyz = cuda.to_device(xyz)
    peers = {}
    if torch is not None:
        sct = _peers.import_peer("sphericart.torch", report)
        if sct is not None:
            peers["sphericart"] = sct
        o3 = _peers.import_peer("e3nn.o3", report)
        if o3 is not None:
            peers["e3nn"] = o3
        x = torch.tensor(xyz, dtype=torch.float64, device=args.torch_device)
    def torch_sync():
        if args.torch_device == "cuda":
            torch.cuda.synchronize()

    rows = []
    for l_max in args.l_max:
        if over_budget(args):
            report.skip(f"harmonics l_max={l_max}", f"time budget of {args.budget_s:.0f} s spent")
            continue
        L = (l_max + 1) ** 2
        nbytes = args.points * 8 * (3 + L + 3 * L)
        row = {"l_max": l_max}
        seconds = timed(lambda: rstref.spherical_harmonics_with_gradients(d_xyz, l_max),
                        cuda.synchronize, args.repeat)
        row["rstref"] = seconds
        reference = rstref.spherical_harmonics(xyz[:1000], l_max)
        check_gpu_against_cpu(report, f"rstref GPU vs CPU, Y and dY, l_max={l_max}",
                              rstref.spherical_harmonics_with_gradients(d_xyz[:1000], l_max),
                              rstref.spherical_harmonics_with_gradients(xyz[:1000], l_max))
        if "sphericart" in peers:
            calc = peers["sphericart"].SphericalHarmonics(l_max)
            row["sphericart"] = timed(lambda: calc.compute_with_gradients(x), torch_sync,
                                      args.repeat)
            dev = float(np.max(np.abs(calc.compute(x[:1000]).cpu().numpy() - reference)))
            report.check(f"sphericart ({args.torch_device}) values vs rstref, l_max={l_max}", dev,
                         1e-12 * (l_max + 1) ** 2)
        if "e3nn" in peers:
            if l_max > 12:
                report.skip(f"e3nn l_max={l_max}", "e3nn's spherical harmonics stop at l = 12")
            else:
                o3 = peers["e3nn"]
                ls = list(range(l_max + 1))
                tangents = [torch.zeros_like(x).index_fill_(1, torch.tensor([a], device=x.device), 1.0)
                            for a in range(3)]

                def f(p):
                    return o3.spherical_harmonics(ls, p, normalize=True)

                def e3nn_gradients():
                    cols = [torch.func.jvp(f, (x,), (t,)) for t in tangents]
                    return cols[0][0], torch.stack([c[1] for c in cols], dim=1)

                row["e3nn"] = timed(e3nn_gradients, torch_sync, args.repeat)
                e3nn_ref = rstref.spherical_harmonics(xyz[:1000], l_max, convention="e3nn")
                with torch.no_grad():
                    dev = float(np.max(np.abs(f(x[:1000]).cpu().numpy() - e3nn_ref)))
                report.check(f"e3nn ({args.torch_device}) values vs rstref (e3nn convention), l_max={l_max}", dev,
                             1e-12 * (l_max + 1) ** 2)
        for lib in ("rstref", "sphericart", "e3nn"):
            if lib in row:
                seconds = row[lib]
                row[lib] = (seconds / args.points * 1e9,
                            None if peak is None else nbytes / seconds / peak)
        rows.append(row)
        print(f"l_max={l_max}: " + ", ".join(f"{lib} {row[lib][0]:,.1f} ns/pt"
                                             for lib in ("rstref", "sphericart", "e3nn")
                                             if lib in row), flush=True)
    return rows


# ---------------------------------------------------------------------------------------
# batched power spectra
# ---------------------------------------------------------------------------------------

def power_spectrum_row(args, cuda, peak, report):
    import rstref
    from rstref import batched

    if over_budget(args):
        report.skip("power spectra", f"time budget of {args.budget_s:.0f} s spent")
        return None

    rng = np.random.default_rng(args.seed + 1)
    n_env, k = args.envs, args.neighbours
    n = n_env * k
    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    positions = directions * rng.uniform(0.3, 1.9, size=(n, 1))
    values = rng.choice([-1.0, 1.0], size=n)
    offsets = np.arange(0, n + 1, k, dtype=np.int64)
    basis = rstref.OrthonormalRadialBasis(N_MAX, 2.0, "smooth_cosines")
    rst = rstref.RadialSphericalTensor(N_MAX, basis, L_MAX_PS)
    F = rstref.PowerSpectrum(rst).n_features
    d_pos, d_val, d_off = (cuda.to_device(a) for a in (positions, values, offsets))
    few = min(n_env, 200)
    check_gpu_against_cpu(
        report, "rstref GPU vs CPU, power spectra and gradients",
        batched.power_spectra_with_gradients(rst, d_pos[:few * k], d_off[:few + 1], d_val[:few * k],
                                             False),
        batched.power_spectra_with_gradients(rst, positions[:few * k], offsets[:few + 1],
                                             values[:few * k], False))
    seconds = timed(lambda: batched.power_spectra_with_gradients(rst, d_pos, d_off, d_val, False),
                    cuda.synchronize, args.repeat)
    nbytes = 8 * (4 * n + (n_env + 1) + n_env * F + 3 * n * F)
    return {"envs": n_env, "neighbours": k, "F": F, "seconds": seconds,
            "ns_per_env": seconds / n_env * 1e9,
            "fraction": None if peak is None else nbytes / seconds / peak}


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------

def _cell(entry):
    if entry is None:
        return "skipped", "n/a"
    ns, fraction = entry
    return f"{ns:,.1f}", ("n/a" if fraction is None else f"{100 * fraction:.1f} %")


def harmonics_table(rows):
    headers = ["l_max"]
    for lib in ("rstref", "sphericart", "e3nn"):
        headers += [f"{lib} ns/pt", f"{lib} % peak BW"]
    headers += ["rstref / sphericart", "rstref / e3nn"]
    body = []
    for r in rows:
        line = [r["l_max"]]
        for lib in ("rstref", "sphericart", "e3nn"):
            line += list(_cell(r.get(lib)))
        for lib in ("sphericart", "e3nn"):
            line.append(f"{r['rstref'][0] / r[lib][0]:.2f}" if lib in r else "n/a")
        body.append(line)
    return _peers.markdown_table(headers, body)


def power_spectrum_table(row):
    if row is None:
        return "(not run: time budget spent)"
    headers = ["environments", "neighbours each", "features", "rstref ms", "rstref ns/env",
               "rstref % peak BW", "peers"]
    frac = "n/a" if row["fraction"] is None else f"{100 * row['fraction']:.1f} %"
    body = [[f"{row['envs']:,}", row["neighbours"], row["F"], f"{row['seconds'] * 1e3:.2f}",
             f"{row['ns_per_env']:,.0f}", frac, "none (see text)"]]
    return _peers.markdown_table(headers, body)


def write_outputs(args, run, text_sh, text_ps):
    """The ``--json`` and ``--markdown`` files (meaningless numbers of --smoke are marked)."""
    import json

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(run, fh, indent=2, default=str)
    if args.markdown:
        checks = run["checks"]
        lines = [f"# GPU benchmark ({'SMOKE RUN, numbers meaningless' if args.smoke else 'measured'})",
                 "", f"Device: {run['device']}; peak memory bandwidth source: {run['peak_source']}.",
                 "", "## Spherical harmonics with gradients (float64)", "", text_sh, "",
                 f"## Power spectra with per-neighbour gradients (n_max={N_MAX}, l_max={L_MAX_PS})",
                 "", text_ps, "", "## Checks", ""]
        lines += [f"- ok: {n} (dev {d:.3e})" for n, d in checks["passed"]]
        lines += [f"- FAILED: {n} ({d})" for n, d in checks["failed"]]
        lines += [f"- skipped: {n}: {r}" for n, r in checks["skipped"]]
        with open(args.markdown, "w") as fh:
            fh.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--l-max", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--envs", type=int, default=100_000)
    parser.add_argument("--neighbours", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--peak-gbs", type=float, default=None,
                        help="peak memory bandwidth in GB/s if the device does not report it")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, rstref only; numbers meaningless (runs under the simulator)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop starting new rows after this many seconds (checked between rows)")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write the results (device, versions, rows, checks) as JSON")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="also write the report (tables, checks) as markdown")
    # checking the script without a GPU: run the peers on the CPU inside a --smoke run
    parser.add_argument("--torch-device", default="cuda", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.started = time.perf_counter()

    import rstref.cuda

    if not rstref.cuda.is_available():
        print("No CUDA GPU is usable and the numba CUDA simulator is off: nothing to benchmark. "
              "Run on a GPU machine (pip install 'rstref[cuda]' with numba-cuda[cu12] or [cu13]), "
              "or with NUMBA_ENABLE_CUDASIM=1 and --smoke to check the script only.")
        return 2
    simulator = rstref.cuda.simulator_enabled()
    if simulator and not args.smoke:
        print("The CUDA simulator is on: only --smoke runs make sense there (tiny sizes).")
        return 2
    if args.smoke:
        args.points, args.l_max, args.envs, args.neighbours, args.repeat = 64, [2, 4], 12, 3, 1
        print("SMOKE RUN: tiny sizes" + (", rstref only" if args.torch_device == "cuda" else
                                         f", peers on torch device {args.torch_device!r}")
              + (", under the CUDA simulator" if simulator else "")
              + ". The timings below are MEANINGLESS; they only show that the script runs.")

    from numba import cuda

    name, peak, peak_source = device_description(cuda, simulator)
    if args.peak_gbs is not None:
        peak, peak_source = args.peak_gbs * 1e9, "--peak-gbs"
    print(f"Device: {name}; peak memory bandwidth: "
          + (f"{peak / 1e9:,.0f} GB/s ({peak_source})" if peak else f"unknown ({peak_source})"))

    report = _peers.Report("GPU benchmark")
    torch = None
    if args.smoke and args.torch_device == "cuda":
        report.skip("peers", "--smoke runs rstref only")
    elif args.smoke:
        torch = _peers.import_peer("torch", report)
    else:
        torch = _peers.import_peer("torch", report)
        if torch is not None and not torch.cuda.is_available():
            report.skip("torch CUDA (sphericart-torch, e3nn)",
                        f"torch {torch.__version__} has no usable CUDA device")
            torch = None

    rows = harmonics_rows(args, cuda, peak, report, torch)
    ps = power_spectrum_row(args, cuda, peak, report)
    text_sh = harmonics_table(rows)
    text_ps = power_spectrum_table(ps)
    print("\nSpherical harmonics with gradients, float64:\n" + text_sh)
    print(f"\nPower spectra with per-neighbour gradients (n_max={N_MAX}, l_max={L_MAX_PS}):\n"
          + text_ps)
    status = report.exit_status()
    run = {"device": name, "simulator": simulator, "smoke": args.smoke,
           "peak_bandwidth_bytes_per_s": peak, "peak_source": peak_source,
           "points": args.points, "repeat": args.repeat, "harmonics": rows, "power_spectra": ps,
           "checks": {"passed": [list(c[:2]) for c in report.passed],
                      "failed": [list(c[:2]) for c in report.failed],
                      "skipped": [list(c) for c in report.skipped]},
           "seconds": time.perf_counter() - args.started}
    write_outputs(args, run, text_sh, text_ps)
    if args.smoke:
        print("SMOKE RUN finished: the numbers above are meaningless and were not recorded.")
        return status
    if not args.no_write and (ps is None or not rows):
        print("\nvalidation/RESULTS.md not written: the time budget cut the run short")
    elif not args.no_write:
        body = "\n\n".join([
            f"Generated by `validation/bench_gpu.py` on {_peers.utc_now()}. GPU: **{name}**, "
            f"peak memory bandwidth {peak / 1e9:,.0f} GB/s ({peak_source}). "
            + _peers.machine_info(["numba-cuda", "sphericart-torch", "torch", "e3nn"]),
            f"Spherical harmonics with gradients on {args.points:,} random points (float64, "
            "'integral' normalisation), inputs on the device, outputs left there; best of "
            f"{args.repeat} calls after a warm-up, each followed by a synchronisation. "
            "'% peak BW': (bytes of xyz + Y + dY) / time / peak bandwidth. e3nn: full "
            "Jacobian by three forward-mode JVPs; no l > 12.",
            text_sh,
            f"Power spectra with per-neighbour gradients of {ps['envs']:,} environments x "
            f"{ps['neighbours']} neighbours (n_max={N_MAX}, l_max={L_MAX_PS}, smooth_cosines, "
            "raw projection), `rstref.batched.power_spectra_with_gradients` on device arrays. "
            "'% peak BW' counts only inputs and outputs (positions, values, offsets, p, dp). "
            "No peer computes per-neighbour power-spectrum gradients on the GPU here.",
            text_ps,
            "Skipped: " + ("; ".join(f"{n}: {r}" for n, r in report.skipped) or "none") + ".",
        ])
        _peers.update_results_section("## GPU", body)
        print("\nwrote section '## GPU' of validation/RESULTS.md")
    return status


if __name__ == "__main__":
    sys.exit(main())
