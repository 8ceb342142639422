#!/usr/bin/env bash
# benchmarks/neural_experiment.py on the GPU machine in one device call, one process per seed: the
# seeds as runs of benchmarks/neural_runs_gpu.sh, which installs the carried wheels, trains and packs.
#
#   bash benchmarks/neural_experiment_gpu.sh SHEET PARAMS "SEED..." MAX_MINUTES [more arguments]
#
# Carried with the repository: .whl and .data (see neural_runs_gpu.sh); optionally .resume/seed-<seed>/,
# the unpacked archive of an earlier call, which continues that seed. Writes $OUT/seed-<seed>.tar.gz
# (checkpoint while unfinished, model, calls table, fragments list, log) and $OUT/logs.txt; the
# archives unpacked into one folder give its calls-<seed>.tsv side by side.
set -uo pipefail
sheet=$1 params=$2 seeds=$3 minutes=$4
shift 4
runs=$(mktemp)
for seed in $seeds; do
    printf 'seed-%s\t%s\t%s\t%s\n' "$seed" "$sheet" "$params" "$seed"
done > "$runs"
bash "$(dirname "$0")/neural_runs_gpu.sh" "$runs" "$minutes" "$@"
status=$?
rm -f "$runs"
exit "$status"
