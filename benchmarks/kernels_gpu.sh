#!/usr/bin/env bash
# Check and time the Triton kernels on a CUDA machine in one go (one device call).
# Usage: benchmarks/kernels_gpu.sh OUTDIR [options of `genomamba bench kernels`]
# Writes OUTDIR/gpu.txt, pytest.log (when pytest exists there), bench.log and kernels.json.
set -uo pipefail
out=${1:?usage: benchmarks/kernels_gpu.sh OUTDIR [bench options]}
shift
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv 2>&1 | tee "$out/gpu.txt"
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)' \
    | tee -a "$out/gpu.txt"
status=0
if [ "${KERNELS_PYTEST:-1}" = 1 ] && python3 -c "import pytest" 2>/dev/null; then
    timeout 300 python3 -m pytest -q -p no:cacheprovider tests/test_kernels.py 2>&1 \
        | tee "$out/pytest.log" | tail -n 15
    status=${PIPESTATUS[0]}
else
    echo "pytest is not installed here: the --check of the benchmark is the correctness check"
fi
python3 -m genomamba.cli bench kernels --check --json "$out/kernels.json" "$@" 2>&1 \
    | tee "$out/bench.log"
exit $(( status | PIPESTATUS[0] ))
