#!/usr/bin/env bash
# Run every validation script (validation/validate_*.py) against the peers that are
# installed; a peer that is missing is reported SKIPPED by the script itself, never
# passed silently.  Exit status: non-zero if any script failed (a comparison above
# tolerance, a sign disagreement, or a crash).
#
#   bash validation/run_all.sh                  # comparisons only (what CI runs)
#   bash validation/run_all.sh --bench          # also the benchmarks (validation/bench_*.py)
#   bash validation/run_all.sh --out DIR        # put the run's artefacts in DIR
#   bash validation/run_all.sh --write-results  # regenerate sections of validation/RESULTS.md
#
# Artefacts: each script writes its own section of a results file.  By default that
# file is a copy of validation/RESULTS.md in a fresh temporary directory (or in DIR
# given by --out or $RSTREF_VALIDATION_OUT), so a run leaves the checkout exactly as
# it found it (`git status` stays clean); the path is printed at the end.  Only
# --write-results updates the tracked validation/RESULTS.md, on purpose.
set -u
cd "$(dirname "$0")"
self=$(basename "$0")

usage() {
    sed -n '2,16p' "$self" | sed 's/^# \{0,1\}//'
}

run_bench=0
write_results=0
out_dir=${RSTREF_VALIDATION_OUT:-}
while [ "$#" -gt 0 ]; do
    case "$1" in
        --bench) run_bench=1 ;;
        --write-results) write_results=1 ;;
        --out)
            [ "$#" -ge 2 ] || { echo "run_all.sh: --out needs a directory" >&2; exit 2; }
            out_dir=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run_all.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$write_results" = 1 ]; then
    unset RSTREF_RESULTS_FILE
    results_note="sections of validation/RESULTS.md regenerated (--write-results)"
else
    if [ -z "$out_dir" ]; then
        out_dir=$(mktemp -d "${TMPDIR:-/tmp}/rstref-validation.XXXXXX")
    fi
    mkdir -p "$out_dir" || { echo "run_all.sh: cannot create $out_dir" >&2; exit 2; }
    cp RESULTS.md "$out_dir/RESULTS.md"
    export RSTREF_RESULTS_FILE="$out_dir/RESULTS.md"
    results_note="results written to $RSTREF_RESULTS_FILE (validation/RESULTS.md untouched; --write-results updates it)"
fi
# byte-compiled files of the scripts go nowhere near the checkout either
export PYTHONDONTWRITEBYTECODE=1

scripts=(validate_*.py)
if [ "$run_bench" = 1 ]; then
    scripts+=(bench_*.py)
fi

ok=()
failed=()
total_start=$SECONDS
for script in "${scripts[@]}"; do
    [ -f "$script" ] || continue
    echo "=== validation/$script"
    start=$SECONDS
    if python "$script"; then
        ok+=("$script")
        echo "=== validation/$script: ok ($((SECONDS - start)) s)"
    else
        failed+=("$script")
        echo "=== validation/$script: FAILED ($((SECONDS - start)) s)"
    fi
done

echo "=== validation summary ($((SECONDS - total_start)) s): scripts ok: ${#ok[@]}, failed: ${#failed[@]}"
for script in "${failed[@]}"; do
    echo "FAILED  validation/$script"
done
echo "=== $results_note"
[ "${#failed[@]}" -eq 0 ]
