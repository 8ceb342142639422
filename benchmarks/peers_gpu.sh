#!/usr/bin/env bash
# Side by side with the Mamba authors' stack in one device call: their CUDA extensions built from
# PEER (layout: benchmarks/model_vs_mamba_ssm.py's docstring), then
#   1. the whole model against theirs, with each model's kernel profile,
#   2. the selective scan against theirs (PEER/side_by_side.py, a copy of
#      ../shared/device/peers/side_by_side.py, if present),
#   3. `genomamba bench kernels --conv` at the model's shapes (training and streaming), the conv in
#      both layouts.
# Usage, from the project root: [PREBUILT=DIR] benchmarks/peers_gpu.sh OUTDIR [PEER, default .peer]
# Writes OUTDIR/build_*.log, *.so.xz (unless PREBUILT), model_vs_mamba_ssm.{log,json},
# side_by_side.{log,json}, conv.{log,json}. The build takes 7-8 minutes on 16 cores; a later call
# on the same machine type skips it with PREBUILT, a folder of the returned .so files (unxz'd).
set -uo pipefail
out=${1:?usage: benchmarks/peers_gpu.sh OUTDIR [PEER]}
peer=$(cd "${2:-.peer}" && pwd) || exit 2
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
shim=$(mktemp -d)   # side_by_side.py imports the kernels as the top-level module "kernels"
echo "from genomamba.kernels import *" > "$shim/kernels.py"
cleanup="$shim"
# one build cache for the three steps (side_by_side.py passes nvcc the same flags); a fresh one is
# removed at the end, one the caller names is kept
if [ -z "${TORCH_EXTENSIONS_DIR:-}" ]; then
    TORCH_EXTENSIONS_DIR=$(mktemp -d)
    cleanup="$cleanup $TORCH_EXTENSIONS_DIR"
fi
export TORCH_EXTENSIONS_DIR
trap 'rm -rf $cleanup' EXIT

# the two extensions compile at once (each file of each is its own ninja job); a folder PREBUILT
# of NAME.so files from an earlier call (see below) skips the compiles
prebuilt=${PREBUILT:+--prebuilt $(cd "$PREBUILT" && pwd)}
started=$SECONDS
for name in selective_scan_cuda causal_conv1d_cuda; do
    python3 benchmarks/model_vs_mamba_ssm.py --peer "$peer" --build-only $name $prebuilt \
        > "$out/build_$name.log" 2>&1 &
done
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
if [ $failed = 1 ]; then tail -n 20 "$out"/build_*.log; exit 1; fi
echo "extensions ready in $((SECONDS - started)) s"
# the compiled extensions, compressed, for PREBUILT in a later call (each under 16 MiB to come back)
if [ -z "${PREBUILT:-}" ]; then
    for so in "$TORCH_EXTENSIONS_DIR"/*/*.so; do xz -T0 -6 -c "$so" > "$out/$(basename "$so").xz"; done
fi
python3 benchmarks/model_vs_mamba_ssm.py --peer "$peer" $prebuilt --out "$out/model_vs_mamba_ssm.json" \
    --long 20 24 --profile > "$out/model_vs_mamba_ssm.log" 2>&1
echo "model_vs_mamba_ssm: exit $?"
grep -v '^ ' "$out/model_vs_mamba_ssm.log" | tail -n 8
if [ -f "$peer/side_by_side.py" ]; then
    # side_by_side.py compiles the scan with cpp_extension.load; with PREBUILT, load imports it
    PEER=$peer OUT=$out PYTHONPATH="$shim:benchmarks${PYTHONPATH:+:$PYTHONPATH}" python3 -c '
import runpy, sys
if sys.argv[1]:
    import torch.utils.cpp_extension as cpp_extension
    from model_vs_mamba_ssm import import_prebuilt
    cpp_extension.load = lambda name, *args, **kwargs: import_prebuilt(name, sys.argv[1])
runpy.run_path(sys.argv[2], run_name="__main__")' "${PREBUILT:+$(cd "$PREBUILT" && pwd)}" "$peer/side_by_side.py" \
        > "$out/side_by_side.log" 2>&1
    echo "side_by_side: exit $?"
fi
python3 -m genomamba.cli bench kernels --conv --reference-max 0 --shapes 8x256,1x256 --lengths 14,18 --json "$out/conv.json" \
    > "$out/conv.log" 2>&1
echo "conv: exit $?"
