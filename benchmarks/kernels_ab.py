"""Time an older copy of the kernels against the working tree's, side by side in one process (CUDA).

    mkdir -p /tmp/old/kernels_old
    for f in $(git ls-tree --name-only REV kernels/); do git show REV:$f > /tmp/old/kernels_old/${f#kernels/}; done
    python3 benchmarks/kernels_ab.py /tmp/old/kernels_old [--z] [--channels-last]

Prints, per shape (bf16, N 16, D, delta_bias, softplus; z with --z), the forward without gradients,
the forward with gradients (it stores the backward's checkpoints), the backward alone
(`torch.autograd.grad`) and forward + backward, old then new (ms, medians of CUDA-event timings)
and old / new. --channels-last passes z and y's gradient as the model does: views of
(batch, L, dim) tensors, stride 1 along channels (contiguous inputs hid a 5% slowdown of the model's
training step on 2026-12-04). (Named scan_forward_ab.py before the backward column was added.)
"""
import importlib.util
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs, grad_leaves  # noqa: E402
from genomamba.kernels import selective_scan as new  # noqa: E402

SHAPES = [(1, 512, 2 ** 12), (1, 512, 2 ** 14), (1, 512, 2 ** 16), (1, 512, 2 ** 18),
          (1, 512, 2 ** 20), (1, 256, 2 ** 20), (8, 256, 16384), (8, 256, 4096)]


def _load_package(path):
    path = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(path.name, path / "__init__.py",
                                                  submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{path.name}.selective_scan")


def _ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median")


def _channels_last(x):
    """The same values, stride 1 along channels: a (batch, dim, L) view of a (batch, L, dim) tensor."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def _timings(mod, inputs, channels_last=False):
    """fwd (no grad), fwd (grad), bwd, fwd + bwd in ms."""
    with torch.no_grad():
        fwd = _ms(lambda: mod.selective_scan_triton(**inputs, delta_softplus=True))
    leaves, wrt = grad_leaves(inputs)
    fwd_grad = _ms(lambda: mod.selective_scan_triton(**leaves, delta_softplus=True))
    dy = torch.randn_like(inputs["u"])
    if channels_last:
        dy = _channels_last(dy)
    y = mod.selective_scan_triton(**leaves, delta_softplus=True)
    bwd = _ms(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True))

    def step():
        y = mod.selective_scan_triton(**leaves, delta_softplus=True)
        torch.autograd.grad(y, wrt, dy)
    return fwd, fwd_grad, bwd, _ms(step)


def main(argv):
    old = _load_package(argv[0])
    with_z = "--z" in argv[1:]
    channels_last = "--channels-last" in argv[1:]
    gen = torch.Generator(device="cuda").manual_seed(1)
    print(f"{'with' if with_z else 'no'} z" + (", z and dy channels-last" if channels_last else ""))
    print("batch x dim x L | fwd old | new | x | fwd (grad) old | new | x | bwd old | new | x | "
          "fwd+bwd old | new | x")
    for shape in SHAPES:
        inputs = _scan_inputs(*shape, 16, torch.bfloat16, with_z, gen)
        if channels_last and with_z:
            inputs["z"] = _channels_last(inputs["z"])
        pairs = zip(_timings(old, inputs, channels_last), _timings(new, inputs, channels_last))
        print("x".join(map(str, shape)), "|",
              " | ".join(f"{a:.4f} | {b:.4f} | {a / b:.2f}" for a, b in pairs), flush=True)
        del inputs
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main(sys.argv[1:])
