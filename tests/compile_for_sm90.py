"""Compile recorded kernel launches for an H100 (sm_90), no GPU needed: Triton's wheel carries
ptxas. Used by test_kernels.py, in a process where Triton compiles instead of interpreting.

    python tests/compile_for_sm90.py LAUNCHES.json

LAUNCHES.json: a list of [module, kernel, signature, constexprs, num_warps]. Prints each launch
that fails to compile, with Triton's message, and exits 1 if any did.
"""

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402


def main(path: str) -> int:
    failures = []
    for module, name, signature, constexprs, num_warps in json.loads(Path(path).read_text()):
        fn = getattr(importlib.import_module(module), name)
        fn = getattr(fn, "jit", fn)  # a fast_launch kernel: its JIT function
        try:
            triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", 90, 32),
                           options={"num_warps": num_warps})
        except Exception as err:  # noqa: BLE001 - every failure is reported, then the exit code
            failures.append(f"{name} {constexprs}:\n{err}")
    print("\n\n".join(failures) or "all compiled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
