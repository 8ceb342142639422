"""Triton launches with less host time: ``@fast_launch`` over ``@triton.jit``.

Triton's launch (``kernel[grid](*args)``) binds and specializes every argument, builds its cache key
and reads its settings on every call: tens of microseconds for kernels of 40-60 arguments, which is
most of a small scan's time. A ``fast_launch`` kernel is called the same way; it keeps the compiled
kernel that Triton's launch returned, per pattern of arguments, and launches it directly when a
later call would specialize the same way:

- the same argument types, constexprs and options (``num_warps`` ...);
- the same tensor dtypes, with every tensor 16-byte aligned (Triton specializes pointers on it);
- the same integer (and float) arguments, exactly. Triton specializes integers on divisibility by
  16, on being 1 and on their width; equal values share all three.

Anything else goes through Triton's launch, which compiles or finds the kernel as always: a
misaligned tensor, a parameter left to its default, a grid given as a function, Triton's
interpreter (``TRITON_INTERPRET=1``), or a launch hook installed (a profiler's, which expects
Triton's launch metadata).
"""

from __future__ import annotations

import functools
import operator
import os

import torch
from triton import knobs
from triton.runtime import driver

_MAX_KEYS = 512  # compiled launches kept per pattern of arguments; then the oldest half goes


def cdiv(a: int, b: int) -> int:
    """a / b rounded up, for grids and plans on the host (``triton.cdiv`` is a constexpr function
    whose every call from Python costs microseconds)."""
    return -(-a // b)


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n (0 for 0), as ``triton.next_power_of_2``."""
    return 1 << (n - 1).bit_length() if n > 0 else 0


def _getter(indices):
    """A function of a tuple returning the tuple of its items at indices (itemgetter, which returns
    a bare item for one index, made uniform)."""
    if not indices:
        return lambda args: ()
    if len(indices) == 1:
        i = indices[0]
        return lambda args: (args[i],)
    return operator.itemgetter(*indices)


def _current_stream():
    """The current CUDA device and its raw stream, as Triton's launch takes them."""
    device = driver.active.get_current_device()
    return device, driver.active.get_current_stream(device)


def _hooked() -> bool:
    """Whether a launch hook is installed (then Triton's own launch runs, with its metadata)."""
    hook = knobs.runtime.launch_enter_hook
    return hook is not None and bool(getattr(hook, "calls", True))


class _Pattern:
    """One kernel's calls with one pattern of argument types and keywords: where its tensors and
    scalars are, the constexpr values that follow the positional arguments (Triton's launcher takes
    every parameter, in order) and the compiled kernels seen, by scalars, dtypes and device."""

    __slots__ = ("tensors", "scalars", "tail", "compiled")

    def __init__(self, arg_names, args, kwargs):
        self.tensors = _getter([i for i, a in enumerate(args) if isinstance(a, torch.Tensor)])
        self.scalars = _getter([i for i, a in enumerate(args)
                                if a is not None and not isinstance(a, torch.Tensor)])
        rest = arg_names[len(args):]
        # None where a parameter is left to its default: such calls keep Triton's launch
        self.tail = tuple(kwargs[name] for name in rest) if set(rest) <= set(kwargs) else None
        self.compiled = {}


class FastLaunch:
    """A ``triton.jit`` kernel launched as ``kernel[grid](*args, **constexprs_and_options)``, with
    Triton's per-call binding skipped where it would give the same compiled kernel (module
    docstring). ``jit`` is the JIT function (``triton.compile`` takes it), whose attributes this
    object also answers."""

    def __init__(self, jit_fn):
        self.jit = jit_fn
        self.interpreted = os.environ.get("TRITON_INTERPRET") == "1"
        self.patterns: dict = {}

    def __getattr__(self, name):
        return getattr(self.jit, name)

    def __getitem__(self, grid):
        if self.interpreted or callable(grid):   # a grid function: Triton's launch evaluates it
            return self.jit[grid]
        return functools.partial(self.run, grid)

    def run(self, grid, *args, **kwargs):
        pattern_key = (tuple(map(type, args)), tuple(kwargs.items()))
        pattern = self.patterns.get(pattern_key)
        if pattern is None:
            pattern = self.patterns[pattern_key] = _Pattern(self.jit.arg_names, args, kwargs)
        tensors = pattern.tensors(args)
        if (pattern.tail is None or any(ptr & 15 for ptr in map(torch.Tensor.data_ptr, tensors))
                or _hooked()):
            return self.jit[grid](*args, **kwargs)
        device, stream = _current_stream()
        key = (pattern.scalars(args), tuple(t.dtype for t in tensors), device)
        compiled = pattern.compiled.get(key)
        if compiled is None:
            compiled = self.jit[grid](*args, **kwargs)
            if len(pattern.compiled) >= _MAX_KEYS:
                for old in list(pattern.compiled)[:_MAX_KEYS // 2]:
                    del pattern.compiled[old]
            pattern.compiled[key] = compiled
            return compiled
        grid = tuple(grid) + (1, 1)
        compiled.run(grid[0], grid[1], grid[2], stream, compiled.function, compiled.packed_metadata,
                     None, None, None, *args, *pattern.tail)
        return compiled


def fast_launch(jit_fn) -> FastLaunch:
    """Decorator, over ``@triton.jit``: see ``FastLaunch``."""
    return FastLaunch(jit_fn)
