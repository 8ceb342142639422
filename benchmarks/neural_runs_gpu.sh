#!/usr/bin/env bash
# Several runs of benchmarks/neural_experiment.py at once on the GPU machine, in one device call: the
# points of a learning curve or of a small sweep, each in a process of its own on the one GPU.
#
#   bash benchmarks/neural_runs_gpu.sh RUNS MAX_MINUTES [arguments for every run]
#
# RUNS: tab-separated lines `name  sheet  params  seed  [arguments of this run]` ('#' lines are
# comments), e.g. `steps-500  config/experiments/neural_bacteria_heldout.tsv
# config/experiments/neural_bacteria.json  1  --set steps=500`. Carried with the repository: .whl
# (wheels of safetensors and isal for Python 3.12, which the GPU machine lacks) and .data (a copy of the
# shared development data, the sheets' paths relative to it); optionally .resume/<name>/, the unpacked
# archive of an earlier call, which continues that run.
# Writes $OUT/<name>.tar.gz (checkpoint while unfinished, model, calls table, fragments, log) and
# $OUT/logs.txt.
set -uo pipefail
runs=$1 minutes=$2
shift 2
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl || exit 2
export PYTHONPATH=$site PYTHONUNBUFFERED=1
work=${NEURAL_WORK:-$(mktemp -d)}
names=()
while IFS=$'\t' read -r name sheet params seed extra; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    names+=("$name")
    mkdir -p "$work/$name"
    [ -d ".resume/$name" ] && cp -r ".resume/$name/." "$work/$name/"
    # shellcheck disable=SC2086   # the run's extra arguments are split on purpose
    python3 benchmarks/neural_experiment.py --sheet "$sheet" --data .data --params "$params" --seeds "$seed" \
        --out "$work/$name" --max-minutes "$minutes" $extra "$@" > "$work/$name/log.txt" 2>&1 &
done < "$runs"
status=0
for job in $(jobs -p); do wait "$job" || status=$?; done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/logs.txt"
for name in "${names[@]}"; do
    dir="$work/$name"
    compgen -G "$dir/model-*" > /dev/null && rm -rf "$dir"/ckpt-*   # finished: the model is all that is needed
    tar -czf "$OUT/$name.tar.gz" -C "$dir" .
    { echo "== $name"; cat "$dir/log.txt"; } >> "$OUT/logs.txt"
done
exit "$status"
