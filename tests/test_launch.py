"""fast_launch: Triton's own launch on a kernel's first call with a pattern of arguments, then the
compiled kernel launched directly where the arguments specialize the same way. A stand-in JIT
function and compiled kernel record the calls here (the real ones need a GPU, where
tests/test_kernels.py runs every kernel through fast_launch)."""

import pytest
import torch

from genomamba.kernels import launch


class Compiled:
    function = "cu-function"
    packed_metadata = (4, 1, 0)

    def __init__(self):
        self.runs = []

    def run(self, *args):
        self.runs.append(args)


class Jit:
    arg_names = ["x_ptr", "y_ptr", "n", "scale", "BLOCK", "EVEN"]

    def __init__(self):
        self.launches = []
        self.compiled = Compiled()

    def __getitem__(self, grid):
        def launch_(*args, **kwargs):
            self.launches.append((grid, args, kwargs))
            return self.compiled
        return launch_


@pytest.fixture
def kernel(monkeypatch):
    monkeypatch.setattr(launch, "_current_stream", lambda: (0, 777))
    monkeypatch.setattr(launch, "_hooked", lambda: False)
    fast = launch.FastLaunch(Jit())
    fast.interpreted = False
    return fast


def test_a_repeated_call_launches_the_compiled_kernel_with_every_parameter(kernel):
    x, y = torch.zeros(64), torch.zeros(64)
    kernel[(3,)](x, y, 64, 0.5, BLOCK=16, EVEN=True, num_warps=2)
    assert len(kernel.jit.launches) == 1 and not kernel.jit.compiled.runs
    x2 = torch.ones(64)   # other tensors of the same dtype and alignment: the same kernel
    kernel[(3, 2)](x2, y, 64, 0.5, BLOCK=16, EVEN=True, num_warps=2)
    assert len(kernel.jit.launches) == 1
    (run,) = kernel.jit.compiled.runs
    # grid padded to three, the stream, the function and its metadata, no launch metadata or hooks,
    # then every parameter in order: the positional ones, then the constexprs
    assert run[:9] == (3, 2, 1, 777, "cu-function", (4, 1, 0), None, None, None)
    assert run[9] is x2 and run[10] is y and run[11:] == (64, 0.5, 16, True)


@pytest.mark.parametrize("change", ["integer", "float", "dtype", "constexpr", "option", "none"])
def test_what_specializes_otherwise_goes_through_triton(kernel, change):
    x, y = torch.zeros(64), torch.zeros(64)
    args, kwargs = [x, y, 64, 0.5], dict(BLOCK=16, EVEN=True, num_warps=2)
    kernel[(1,)](*args, **kwargs)
    if change == "integer":
        args[2] = 80     # any other value (Triton specializes on divisibility by 16, on 1)
    elif change == "float":
        args[3] = 0.25
    elif change == "dtype":
        args[0] = x.double()
    elif change == "constexpr":
        kwargs["BLOCK"] = 32
    elif change == "option":
        kwargs["num_warps"] = 4
    else:
        args[1] = None   # an absent input is a constexpr to Triton
    kernel[(1,)](*args, **kwargs)
    assert len(kernel.jit.launches) == 2 and not kernel.jit.compiled.runs
    kernel[(1,)](*args, **kwargs)  # and then that pattern is known too
    assert len(kernel.jit.launches) == 2 and len(kernel.jit.compiled.runs) == 1


def test_misaligned_tensors_defaults_hooks_and_the_interpreter_take_tritons_launch(kernel, monkeypatch):
    x = torch.zeros(65)
    for _ in range(2):
        kernel[(1,)](x[1:], x, 64, 0.5, BLOCK=16, EVEN=True)   # 4 bytes past alignment
    assert len(kernel.jit.launches) == 2 and not kernel.jit.compiled.runs
    monkeypatch.setattr(launch, "_hooked", lambda: True)
    for _ in range(2):
        kernel[(1,)](x, x, 64, 0.5, BLOCK=16, EVEN=True)
    assert len(kernel.jit.launches) == 4 and not kernel.jit.compiled.runs
    monkeypatch.setattr(launch, "_hooked", lambda: False)
    for _ in range(2):   # EVEN left to a default
        kernel[(1,)](x, x, 64, 0.5, BLOCK=16)
    assert len(kernel.jit.launches) == 6 and not kernel.jit.compiled.runs
    kernel.interpreted = True
    for _ in range(2):
        kernel[(1,)](x, x, 64, 0.5, BLOCK=16, EVEN=True)
    assert len(kernel.jit.launches) == 8 and not kernel.jit.compiled.runs


def test_the_kept_launches_are_bounded(kernel, monkeypatch):
    monkeypatch.setattr(launch, "_MAX_KEYS", 8)
    x = torch.zeros(64)
    for n in range(20):
        kernel[(1,)](x, x, n, 0.5, BLOCK=16, EVEN=True)
    (pattern,) = kernel.patterns.values()
    assert len(pattern.compiled) <= 8
    kernel[(1,)](x, x, 19, 0.5, BLOCK=16, EVEN=True)   # the newest are kept
    assert len(kernel.jit.compiled.runs) == 1


def test_the_jit_function_stays_reachable():
    from genomamba.kernels import scan_bwd_tiled
    kernel = scan_bwd_tiled._ss_bwd_kernel
    assert kernel.jit.arg_names == kernel.arg_names and "GATE" in kernel.arg_names


def test_host_arithmetic_matches_tritons():
    import triton
    for a in range(0, 300):
        assert launch.next_power_of_2(a) == triton.next_power_of_2(a)
        for b in (1, 2, 3, 16, 128):
            assert launch.cdiv(a, b) == triton.cdiv(a, b)
