#!/usr/bin/env bash
# One-shot GPU check for a machine with an NVIDIA card (or, for rehearsal, the simulator).
#
#   bash validation/gpu_check.sh OUTDIR [--smoke]
#
# Run from the repository root.  Steps, each with a fixed time limit so that the whole
# check fits a short GPU loan (defaults: tests 300 s, benchmark 300 s hard / 240 s budget):
#   1. install carried wheels, if a wheel folder exists (no network is assumed):
#      $RSTREF_WHEELS, default ./wheels (e.g. ase, hypothesis, sphericart-torch);
#   2. python -m pytest -q tests/test_cuda.py          (CPU vs GPU to CUDA_RTOL);
#   3. python validation/bench_gpu.py within the budget (--no-write: RESULTS.md is not
#      touched; the numbers land in OUTDIR);
#   4. OUTDIR/gpu_check.md and OUTDIR/gpu_check.json: card name, driver and CUDA
#      versions, the test summary, the benchmark tables and checks; the raw logs beside.
# --smoke passes --smoke to the benchmark (tiny sizes, rstref only): the rehearsal under
# NUMBA_ENABLE_CUDASIM=1.  Exit status: 0 if tests and benchmark passed, else 1.
# Limits (seconds) can be changed with RSTREF_GPU_TEST_TIMEOUT, RSTREF_GPU_BENCH_TIMEOUT,
# RSTREF_GPU_BENCH_BUDGET.
set -u

if [ $# -lt 1 ]; then
    echo "usage: bash validation/gpu_check.sh OUTDIR [--smoke]" >&2
    exit 2
fi
OUTDIR=$1
shift
SMOKE=""
if [ "${1:-}" = "--smoke" ]; then
    SMOKE="--smoke"
fi
TEST_TIMEOUT=${RSTREF_GPU_TEST_TIMEOUT:-300}
BENCH_TIMEOUT=${RSTREF_GPU_BENCH_TIMEOUT:-300}
BENCH_BUDGET=${RSTREF_GPU_BENCH_BUDGET:-240}
WHEELS=${RSTREF_WHEELS:-wheels}
PYTHON=${PYTHON:-python}

mkdir -p "$OUTDIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
started=$(date +%s)

# 1. carried wheels
if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl > /dev/null 2>&1; then
    echo "installing the wheels in $WHEELS"
    "$PYTHON" -m pip install -q --no-index --find-links "$WHEELS" "$WHEELS"/*.whl \
        > "$OUTDIR/pip.log" 2>&1
    echo "pip exit status $?" >> "$OUTDIR/pip.log"
else
    echo "no wheel folder $WHEELS: nothing installed" > "$OUTDIR/pip.log"
fi

# 2. the GPU tests
echo "running tests/test_cuda.py (limit ${TEST_TIMEOUT} s)"
timeout "$TEST_TIMEOUT" "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py \
    > "$OUTDIR/test_cuda.log" 2>&1
TEST_RC=$?
tail -n 3 "$OUTDIR/test_cuda.log"

# 3. the benchmark
echo "running validation/bench_gpu.py (budget ${BENCH_BUDGET} s, limit ${BENCH_TIMEOUT} s)"
timeout "$BENCH_TIMEOUT" "$PYTHON" validation/bench_gpu.py $SMOKE --no-write \
    --budget-s "$BENCH_BUDGET" --json "$OUTDIR/bench_gpu.json" \
    --markdown "$OUTDIR/bench_gpu.md" > "$OUTDIR/bench_gpu.log" 2>&1
BENCH_RC=$?
tail -n 1 "$OUTDIR/bench_gpu.log"

# 4. the summary
"$PYTHON" - "$OUTDIR" "$TEST_RC" "$BENCH_RC" "$(( $(date +%s) - started ))" <<'EOF'
import json
import os
import platform
import subprocess
import sys

outdir, test_rc, bench_rc, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])


def run(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as exc:  # no nvidia-smi on this machine
        return f"n/a ({type(exc).__name__})"


def versions():
    info = {"python": platform.python_version()}
    for name in ("numpy", "numba", "numba-cuda", "cuda-bindings", "torch", "sphericart-torch",
                 "e3nn", "ase", "hypothesis"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:
            info[name] = "not installed"
    return info


def cuda_info():
    info = {"simulator": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"}
    smi = run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
               "--format=csv,noheader"])
    info["nvidia-smi"] = smi
    header = run(["nvidia-smi"])
    info["nvidia-smi CUDA version"] = next(
        (part.split("CUDA Version:")[1].split("|")[0].strip()
         for part in header.splitlines() if "CUDA Version:" in part), "n/a")
    try:
        from numba import cuda

        if info["simulator"]:
            info["card"] = "numba CUDA simulator (no GPU)"
        else:
            device = cuda.get_current_device()
            name = device.name
            info["card"] = name.decode() if isinstance(name, bytes) else str(name)
            info["compute capability"] = ".".join(map(str, device.compute_capability))
            getters = {"CUDA driver version": lambda: cuda.cudadrv.driver.driver.get_version(),
                       "CUDA runtime version": lambda: cuda.runtime.get_version()}
            for key, get in getters.items():
                try:
                    info[key] = ".".join(map(str, get()))
                except Exception as exc:  # API differs between numba-cuda versions
                    info[key] = f"n/a ({type(exc).__name__})"
    except Exception as exc:  # no usable device: say why
        info.setdefault("card", f"n/a ({type(exc).__name__}: {exc})")
    return info


def last_line(path):
    try:
        with open(path) as fh:
            lines = [line.strip() for line in fh if line.strip()]
        return lines[-1] if lines else "(empty)"
    except OSError:
        return "(missing)"


def exit_text(rc):
    return "passed" if rc == 0 else ("TIMED OUT" if rc == 124 else f"FAILED (exit status {rc})")


bench = None
try:
    with open(os.path.join(outdir, "bench_gpu.json")) as fh:
        bench = json.load(fh)
except (OSError, ValueError):
    pass
summary = {
    "seconds": seconds,
    "device": cuda_info(),
    "versions": versions(),
    "tests": {"status": exit_text(test_rc), "exit_status": test_rc,
              "summary": last_line(os.path.join(outdir, "test_cuda.log"))},
    "benchmark": {"status": exit_text(bench_rc), "exit_status": bench_rc, "results": bench},
}
with open(os.path.join(outdir, "gpu_check.json"), "w") as fh:
    json.dump(summary, fh, indent=2, default=str)
device = summary["device"]
lines = ["# rstref GPU check", "",
         f"Card: {device.get('card')}; nvidia-smi: {device['nvidia-smi']}; "
         f"CUDA (nvidia-smi): {device['nvidia-smi CUDA version']}; "
         f"CUDA driver: {device.get('CUDA driver version', 'n/a')}; "
         f"CUDA runtime: {device.get('CUDA runtime version', 'n/a')}.", "",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()) + ".", "",
         f"- `tests/test_cuda.py`: {summary['tests']['status']}: {summary['tests']['summary']}",
         f"- `validation/bench_gpu.py`: {summary['benchmark']['status']}",
         f"- total: {seconds} s", ""]
try:
    with open(os.path.join(outdir, "bench_gpu.md")) as fh:
        lines.append(fh.read())
except OSError:
    lines.append("(no benchmark report: see bench_gpu.log)")
with open(os.path.join(outdir, "gpu_check.md"), "w") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"wrote {outdir}/gpu_check.md and {outdir}/gpu_check.json")
EOF

if [ "$TEST_RC" -eq 0 ] && [ "$BENCH_RC" -eq 0 ]; then
    exit 0
fi
exit 1
