"""Registers, spills and the hot loop's instruction mix of the step scan kernels, compiled for an H100
(sm_90) on a machine without a GPU.

    python3 benchmarks/kernel_resources.py [--block-d 32 16 8] [--warps 1 2] [--unroll 8]
        [--triton DIR] [--json FILE]

A small scan runs in Triton's interpreter (a subprocess with TRITON_INTERPRET=1) to record the step
kernels' launches: the forward's summary and output passes with and without gradients (with z) and
the backward, with contiguous and with channels-last inputs. Each launch is then compiled at the
model's tile sizes (BLOCK_D channels of BLOCK_N = 16 states, ``num_warps``) with the installed
Triton, assembled by the ptxas its wheel carries (the one Triton takes for sm_90), and
disassembled: the table gives the registers per thread, the bytes spilled, and the
counts of the instructions in the longest loop (the loop over time): spill loads and stores,
warp shuffles, shared-memory accesses, exponentials (MUFU.EX2) and float arithmetic. Each kernel
does a fixed number of exponentials per (state, step), so instructions per exponential compare
plans of one kernel; that is work per element, not time, which only the GPU measures
(``benchmarks/kernels_ab.py``, ``genomamba bench kernels --configs``).

Register allocation depends on the Triton version: to see what the GPU machine compiles, compile
with its Triton, installed into a folder (``pip install --no-deps --target DIR triton==X``) and
passed as ``--triton DIR`` (the recording runs with the installed one).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KERNELS = ("_ss_fwd_step_kernel", "_ss_bwd_step_kernel")

RECORD = r"""
import json, sys, torch
from triton.runtime.interpreter import InterpretedFunction
from genomamba.bench.kernels import launch_record
from genomamba.kernels import selective_scan as ss

launches = {}
run = InterpretedFunction.run

def record(self, *args, grid, warmup, **kwargs):
    launches[json.dumps(launch_record(self, args, kwargs), sort_keys=True)] = None
    return run(self, *args, grid=grid, warmup=warmup, **kwargs)

InterpretedFunction.run = record
ss.set_config(fwd_kernel="step", bwd_kernel="step", step_block_d=2, bwd_step_block_d=2,
              step_unroll=4, bwd_tile_t=4, bwd_chunks=2, fwd_chunks=3)
g = torch.Generator().manual_seed(0)
batch, dim, L, N = 1, 4, 21, 4
r = lambda *s: torch.randn(*s, generator=g)
inputs = dict(u=r(batch, dim, L), delta=r(batch, dim, L), A=-torch.rand(dim, N, generator=g),
              B=r(batch, N, L), C=r(batch, N, L), D=r(dim), z=r(batch, dim, L), delta_bias=r(dim))
inputs = {k: v.bfloat16() if v.dim() == 3 else v for k, v in inputs.items()}
with torch.no_grad():
    ss.selective_scan_triton(**inputs, delta_softplus=True)
leaves = {k: v.detach().requires_grad_() for k, v in inputs.items()}
y = ss.selective_scan_triton(**leaves, delta_softplus=True)
y.float().sum().backward()
last = lambda x: x.detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()
leaves = {k: last(v) if v.dim() == 3 and k in ("u", "delta", "z") else v for k, v in leaves.items()}
ss.selective_scan_triton(**leaves, delta_softplus=True).float().sum().backward()
json.dump([json.loads(k) for k in launches], open(sys.argv[1], "w"))
"""


def record_launches() -> list:
    """[module, kernel, signature, constexprs, num_warps] of the step kernels' launches of a small
    scan (``genomamba.bench.kernels.launch_record``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "launches.json"
        subprocess.run([sys.executable, "-c", RECORD, str(path)], cwd=REPO, check=True,
                       env=dict(os.environ, TRITON_INTERPRET="1"), capture_output=True)
        return [launch for launch in json.loads(path.read_text()) if launch[1] in KERNELS]


def hot_loop(sass: list[str]) -> list[str]:
    """The instructions of the longest loop: from a backward branch's target to the branch."""
    address = [int(re.search(r"/\*([0-9a-f]+)\*/", line).group(1), 16) for line in sass]
    best = []
    for i, line in enumerate(sass):
        target = re.search(r"BRA (0x[0-9a-f]+)", line)
        if target and int(target.group(1), 16) < address[i]:
            start = next(j for j, a in enumerate(address) if a >= int(target.group(1), 16))
            if i + 1 - start > len(best):
                best = sass[start:i + 1]
    return best


def resources(launch, block_d: int, warps: int, unroll: int, ptxas: str, tools: Path,
              tmp: Path) -> dict:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    module, name, signature, constexprs = launch[:4]
    constexprs = dict(constexprs, BLOCK_D=block_d, BLOCK_N=16)
    if "UNROLL" in constexprs:
        constexprs["UNROLL"] = unroll
    fn = getattr(importlib.import_module(module), name)
    fn = getattr(fn, "jit", fn)  # a fast_launch kernel: its JIT function
    kernel = triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", 90, 32),
                            options={"num_warps": warps})
    (tmp / "k.ptx").write_text(kernel.asm["ptx"])
    report = subprocess.run([ptxas, "-arch=sm_90a", "-v", tmp / "k.ptx", "-o", tmp / "k.cubin"],
                            capture_output=True, text=True, check=True).stderr
    dump = subprocess.run([tools / "cuobjdump", "-sass", tmp / "k.cubin"], capture_output=True,
                          text=True, check=True).stdout
    instructions = [line for line in dump.splitlines() if re.search(r"/\*[0-9a-f]{4,}\*/\s+\S", line)]
    loop = hot_loop(instructions)
    count = lambda pattern: sum(1 for line in loop if re.search(pattern, line))  # noqa: E731
    return {"registers": int(re.search(r"Used (\d+) registers", report).group(1)),
            "spill_store_bytes": int(re.search(r"(\d+) bytes spill stores", report).group(1)),
            "loop": len(loop), "spill_ops": count(r"\b(STL|LDL)\b"), "shuffles": count(r"\bSHFL\b"),
            "shared": count(r"\b(LDS|STS)\b"), "ex2": count(r"MUFU\.EX2"),
            "float": count(r"\b(FFMA|FMUL|FADD)\b")}


def describe(launch) -> str:
    name, c = launch[1], launch[3]
    if name == "_ss_bwd_step_kernel":
        return "backward" + (", channels-last" if c.get("PER_STEP") else "")
    return ("forward summary" if c["SUMMARY"] else "forward output") + (
        ", checkpoints" if c.get("STORE_CKPT") else "") + (", z" if c.get("HAS_Z") else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--block-d", type=int, nargs="+", default=[32, 16, 8])
    p.add_argument("--warps", type=int, nargs="+", default=[1, 2])
    p.add_argument("--unroll", type=int, default=8, help="the forward's steps per iteration")
    p.add_argument("--triton", type=Path, help="compile with the Triton installed in this folder")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    launches = record_launches()
    sys.path[:0] = ([str(args.triton)] if args.triton else []) + [str(REPO)]
    import triton
    from triton.backends.nvidia.compiler import get_ptxas

    ptxas = get_ptxas(90).path   # the assembler Triton itself takes for sm_90
    tools = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    print(f"Triton {triton.__version__}, sm_90; loop: instructions of the loop over time "
          f"(counts per iteration)")
    print(f"{'kernel':34s} {'BLOCK_D':>7s} {'warps':>5s} {'regs':>4s} {'spill B':>7s} {'loop':>5s} "
          f"{'spill':>5s} {'shfl':>5s} {'smem':>5s} {'ex2':>4s} {'float':>5s} {'per ex2':>7s}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for launch in launches:
            for block_d in args.block_d:
                for warps in args.warps:
                    row = {"kernel": describe(launch), "block_d": block_d, "warps": warps,
                           **resources(launch, block_d, warps, args.unroll, ptxas, tools,
                                       Path(tmp))}
                    rows.append(row)
                    print(f"{row['kernel']:34s} {block_d:7d} {warps:5d} {row['registers']:4d} "
                          f"{row['spill_store_bytes']:7d} {row['loop']:5d} {row['spill_ops']:5d} "
                          f"{row['shuffles']:5d} {row['shared']:5d} {row['ex2']:4d} "
                          f"{row['float']:5d} "
                          f"{row['loop'] / max(row['ex2'], 1):7.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"triton": triton.__version__, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
