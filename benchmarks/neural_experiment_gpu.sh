#!/usr/bin/env bash
# benchmarks/neural_experiment.py on the GPU machine in one device call, its results packed into $OUT.
#
#   bash benchmarks/neural_experiment_gpu.sh SHEET PARAMS "SEED..." MAX_MINUTES [more arguments]
#
# Carried with the repository: .whl (wheels of safetensors and isal for Python 3.12, which the GPU
# machine lacks) and .data (a copy of the shared development data, the sheet's paths relative to it);
# optionally .resume, the unpacked archives of an earlier call, which continues its unfinished seeds.
# Each seed trains in a process of its own on the one GPU. Writes $OUT/seed-<seed>.tar.gz (checkpoint
# while unfinished, model, calls table, fragments list, log) and the logs.
set -uo pipefail
sheet=$1 params=$2 seeds=$3 minutes=$4
shift 4
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl || exit 2
export PYTHONPATH=$site PYTHONUNBUFFERED=1
work=${NEURAL_WORK:-$(mktemp -d)}   # the run's folder; NEURAL_WORK names one to keep between calls
mkdir -p "$work"
[ -d .resume ] && cp -r .resume/. "$work"/
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/machine.txt"
for seed in $seeds; do
    python3 benchmarks/neural_experiment.py --sheet "$sheet" --data .data --params "$params" --seeds "$seed" \
        --out "$work" --max-minutes "$minutes" "$@" > "$work/log-$seed.txt" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=$?; done
for seed in $seeds; do
    [ -d "$work/model-$seed" ] && rm -rf "$work/ckpt-$seed"   # finished: the model is all that is needed
    files=(machine.txt fragments.tsv "log-$seed.txt")
    for f in "ckpt-$seed" "model-$seed" "calls-$seed.tsv"; do [ -e "$work/$f" ] && files+=("$f"); done
    tar -czf "$OUT/seed-$seed.tar.gz" -C "$work" "${files[@]}"
    cp "$work/log-$seed.txt" "$OUT/"
done
ls -l "$OUT"
exit "$status"
