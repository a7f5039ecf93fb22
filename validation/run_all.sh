#!/usr/bin/env bash
# Run every validation script (validation/validate_*.py) against the peers that are
# installed; a peer that is missing is reported SKIPPED by the script itself, never
# passed silently.  Exit status: non-zero if any script failed (a comparison above
# tolerance, a sign disagreement, or a crash).
#
#   bash validation/run_all.sh            # comparisons only (what CI runs)
#   bash validation/run_all.sh --bench    # also the benchmarks (validation/bench_*.py)
#
# Each script updates its own section of validation/RESULTS.md.
set -u
cd "$(dirname "$0")"

run_bench=0
for arg in "$@"; do
    case "$arg" in
        --bench) run_bench=1 ;;
        *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
    esac
done

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
[ "${#failed[@]}" -eq 0 ]
