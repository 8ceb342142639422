#!/usr/bin/env bash
# Run one issue-5 experiment on the GPU machine in one device call, and pack its results into $OUT.
#
#   bash benchmarks/gpu_experiments.sh EXPERIMENT [SHARED]
#
# from the repository root; EXPERIMENT: bacteria | apes; SHARED: the shared folder whose data/ the
# experiments' sample sheets name as ../shared/data (default: GPU_EXPERIMENT_SHARED, else ../shared
# beside the repository, as benchmarks/gpu_prepare.sh takes it).
#
# Needs, carried with the repository: .whl (wheels of snakemake, zarr, pysam, biopython and their
# dependencies for Python 3.12, pulp left out) and .data (a copy of SHARED/data); both are made
# once by benchmarks/gpu_prepare.sh. The packages are installed into a `mktemp -d` folder only where
# snakemake, zarr, pysam or Bio do not import already (so the script also runs on a development machine).
#
# Environment (all optional):
#   OUT                          where the results go (required on the device; default ./benchmarks/out/EXPERIMENT)
#   GPU_EXPERIMENT_SECONDS       time guard for install + snakemake, in seconds (default 540 of the
#                                device's 600 s per command, the rest packs)
#   GPU_EXPERIMENT_WORKDIR       snakemake --directory (default: EXPERIMENT in a new `mktemp -d` folder)
#   GPU_EXPERIMENT_SHARED        the shared folder, when the SHARED argument is not given
#   GPU_EXPERIMENT_CONFIG        further --configfile(s), space-separated, after the experiment's own
#                                (e.g. a CPU-sized override to check this script)
#   GPU_EXPERIMENT_CORES         snakemake --cores (default 16)
#
# Writes $OUT/EXPERIMENT.tar.gz (metrics, whole-sequence calls, report.html, figures, split, config,
# model directories, training logs, snakemake logs and job benchmarks, the machine's description) and,
# if it fits in 15 MiB, $OUT/EXPERIMENT-fragments.tar.gz (the per-fragment and per-read calls tables).
# Exit status: snakemake's (124 when the time guard stopped it); the archives are written either way.
set -uo pipefail

exp=${1:?usage: benchmarks/gpu_experiments.sh bacteria|apes}
case "$exp" in
    bacteria) configs=(config/experiments/bacteria.yaml config/experiments/bacteria_mamba.yaml) ;;
    apes) configs=(config/experiments/apes.yaml config/experiments/apes_gpu.yaml) ;;
    *) echo "gpu_experiments: unknown experiment '$exp' (bacteria or apes)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2206  # word splitting wanted: a list of paths
configs+=(${GPU_EXPERIMENT_CONFIG:-})
repo=$(pwd)
for c in "${configs[@]}" Snakefile; do
    [ -f "$c" ] || { echo "gpu_experiments: $c not found (run from the repository root)" >&2; exit 2; }
done
mapfile -t configs < <(realpath "${configs[@]}")   # snakemake runs in the work directory
budget=${GPU_EXPERIMENT_SECONDS:-540}
if [ -n "${GPU_EXPERIMENT_WORKDIR:-}" ]; then
    workdir=$GPU_EXPERIMENT_WORKDIR
else
    scratch=$(mktemp -d -t "gpu_experiments.XXXXXX") || exit 2
    workdir=$scratch/$exp
fi
shared=${2:-${GPU_EXPERIMENT_SHARED:-$(dirname "$repo")/shared}}
out=${OUT:-$repo/benchmarks/out/$exp}
mkdir -p "$out" "$workdir" || exit 2
log="$workdir/gpu_experiments.log"
export PYTHONUNBUFFERED=1
started=$SECONDS
say() { echo "[gpu_experiments $(date -u +%H:%M:%S) +$((SECONDS - started))s] $*" | tee -a "$log"; }

# 1. packages: only where missing (the GPU machine has torch, numpy, pandas, sklearn, matplotlib)
if ! python3 -c "import snakemake, zarr, pysam, Bio" 2>/dev/null; then
    [ -d .whl ] || { say "no snakemake here and no .whl folder carried (benchmarks/gpu_prepare.sh)"; exit 2; }
    site=$(mktemp -d -t "gpu_experiments_site.XXXXXX") || exit 2
    say "installing $(ls .whl/*.whl | wc -l) wheels into $site"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" .whl/*.whl >> "$log" 2>&1 || { say "pip install failed"; tail -n 20 "$log"; exit 2; }
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi

# 2. data: the experiments' sheets name ../shared/data/..., looked up under the run directory and
#    then beside the repository; point both (and SHARED/data) at the carried copy
if [ -d .data ]; then
    for dir in "$(dirname "$workdir")/shared" "$(dirname "$repo")/shared" "$shared"; do
        mkdir -p "$dir" && { [ -e "$dir/data" ] || ln -s "$repo/.data" "$dir/data"; }
    done
fi

{
    echo "experiment: $exp; configs: ${configs[*]}; workdir: $workdir; commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
    echo "cpus: $(nproc)"
    python3 -c 'import sys, torch, triton, snakemake, zarr
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "triton", triton.__version__, "snakemake", snakemake.__version__, "zarr", zarr.__version__)' 2>&1
} > "$workdir/machine.txt"
tee -a "$log" < "$workdir/machine.txt"

# 3. the workflow, under the time guard (SIGTERM: snakemake stops its jobs and marks them incomplete);
#    targets: everything (`all`) and the simulated long reads (`reads`) where the config enables them
snake=(python3 -m snakemake --snakefile "$repo/Snakefile" --directory "$workdir" --configfile "${configs[@]}")
targets=(all)
"${snake[@]}" --list-rules 2>> "$log" | grep -qx reads && targets+=(reads)
remaining=$((budget - (SECONDS - started)))
say "snakemake ${targets[*]} --cores ${GPU_EXPERIMENT_CORES:-16}, at most ${remaining}s"
timeout --kill-after=30 "$remaining" "${snake[@]}" --cores "${GPU_EXPERIMENT_CORES:-16}" \
    --scheduler greedy --keep-going --rerun-incomplete --nolock "${targets[@]}" > "$workdir/snakemake.log" 2>&1
status=$?
say "snakemake exit status $status ($( ((status == 124)) && echo 'stopped by the time guard' || echo done))"
tail -n 15 "$workdir/snakemake.log"

# 4. pack: what exists of the results (a stopped run leaves some of it)
cd "$workdir" || exit 2
wanted=(gpu_experiments.log machine.txt snakemake.log logs results/split.tsv results/config.json
        results/metrics results/report.html results/figures results/benchmarks results/calls
        results/compare results/models)
present=()
for p in "${wanted[@]}"; do [ -e "$p" ] && present+=("$p"); done
tar -czf "$out/$exp.tar.gz" "${present[@]}"
calls=()
for p in results/fragments results/reads/calls; do [ -d "$p" ] && calls+=("$p"); done
if (( ${#calls[@]} )); then
    tar -czf "$out/$exp-fragments.tar.gz" "${calls[@]}"
    if (( $(stat -c %s "$out/$exp-fragments.tar.gz") > 15 * 1024 * 1024 )); then
        say "fragment calls over 15 MiB packed: left out"
        rm -f "$out/$exp-fragments.tar.gz"
    fi
fi
ls -l "$out" | tee -a "$log"
say "results in $out"
exit "$status"
