#!/usr/bin/env bash
# One-time preparation, here (with network), of what benchmarks/gpu_experiments.sh needs on the GPU
# machine, which has no network, no snakemake/zarr/pysam/biopython and no shared folder. SHARED is the
# development machine's shared folder, holding data/ and device/fetch-wheels.sh:
#   .whl/   wheels for Python 3.12 (SHARED/device/fetch-wheels.sh, plus sourmash), pulp left out
#           (size; the experiments run snakemake with --scheduler greedy)
#   .data/  a copy of SHARED/data (genomes/ and apes/, same layout)
# Both are ignored (.git/info/exclude) and travel as the device call's carry list. The whole tree that
# travels must stay under 64 MiB; this script stops if it passes 60 MiB.
# Usage, from the repository root: bash benchmarks/gpu_prepare.sh SHARED
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
shared=${1:?usage: bash benchmarks/gpu_prepare.sh SHARED (the folder holding data/ and device/)}
data=$shared/data
exclude=$(git rev-parse --git-path info/exclude)
for path in /.whl/ /.data/; do
    grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >> "$exclude"
done

rm -rf .whl
bash "$shared/device/fetch-wheels.sh" .whl sourmash   # sourmash: the apes experiment's baseline
# left out: pulp (size), and what sourmash pulls in that the GPU machine has (matplotlib's stack)
for p in pulp matplotlib fonttools pillow kiwisolver contourpy cycler pyparsing python_dateutil tzdata; do
    rm -f .whl/"$p"-*.whl
done

rm -rf .data
mkdir -p .data
cp -r "$data/genomes" "$data/apes" .data/
cp "$data/manifest.tsv" "$data/README.md" .data/ 2>/dev/null || true

# what travels: tracked and untracked-not-ignored files, plus the carried .whl and .data
tree_kib=$(git ls-files -co --exclude-standard -z | du -ck --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
carried_kib=$(du -sk .whl .data | awk '{s += $1} END {print s}')
total_mib=$(( (tree_kib + carried_kib) / 1024 ))
du -sh .whl .data
echo "working tree ${tree_kib} KiB + carried ${carried_kib} KiB = ${total_mib} MiB (limit 64)"
if (( total_mib > 60 )); then
    echo "gpu_prepare: ${total_mib} MiB would travel, over 60 MiB" >&2
    exit 1
fi
