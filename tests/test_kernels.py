"""Triton kernels against the float64 reference: outputs, carried states and every gradient.

On a machine without CUDA the kernels run in Triton's interpreter (TRITON_INTERPRET=1, small sizes,
started by test_kernels_interpreted.py), and what those runs launch is also compiled for an H100
(compile_for_sm90.py), which checks what the interpreter does not; with CUDA they run compiled at
medium sizes. Inputs are random from a fixed seed (GENOMAMBA_TEST_SEED, 0 by default), so a run is
repeatable; GENOMAMBA_KERNEL_SOAK=1 draws a fresh seed instead, for soak runs that look for rare
failures (the seed is in each failure message: set GENOMAMBA_TEST_SEED to replay one).
"""

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch

ON_GPU = torch.cuda.is_available()
DEVICE = "cuda" if ON_GPU else "cpu"


if not ON_GPU and os.environ.get("TRITON_INTERPRET") != "1":
    # Triton reads the switch when kernels are defined: test_kernels_interpreted.py runs this
    # module in a fresh interpreter with it set.
    pytest.skip("CPU runs go through test_kernels_interpreted.py", allow_module_level=True)

from genomamba.kernels import add_norm  # noqa: E402
from genomamba.kernels import causal_conv1d as conv  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402
from genomamba import kernels  # noqa: E402
from genomamba.bench.kernels import launch_record  # noqa: E402
from genomamba.kernels import layout, reference  # noqa: E402

if os.environ.get("GENOMAMBA_KERNEL_SOAK") == "1" and "GENOMAMBA_TEST_SEED" not in os.environ:
    SEED = int.from_bytes(os.urandom(4), "little")
else:
    SEED = int(os.environ.get("GENOMAMBA_TEST_SEED", "0"))
FP32_TOL = 1e-4
BF16_TOL = 1e-2


@pytest.fixture
def gen(request):
    # the run's seed, offset per test so cases differ (crc32: stable across processes)
    return torch.Generator().manual_seed(SEED + zlib.crc32(request.node.name.encode()) % 100003)


@pytest.fixture(autouse=True)
def _default_scan_config():
    previous = ss.set_config()
    yield
    ss.set_config(**previous.__dict__)


def _rel(out, ref):
    out = out.double().cpu()
    assert torch.isfinite(out).all(), "non-finite values"
    return ((out - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def _scan_inputs(gen, batch, dim, L, N, groups, with_all):
    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
    bc_shape = (batch, groups, N, L) if groups else (batch, N, L)
    return dict(
        u=r(batch, dim, L), delta=r(batch, dim, L, scale=0.5),
        A=-(torch.rand(dim, N, generator=gen, dtype=torch.float64) * 2 + 0.05),
        B=r(*bc_shape), C=r(*bc_shape),
        D=r(dim) if with_all else None, z=r(batch, dim, L) if with_all else None,
        delta_bias=r(dim, scale=0.3) if with_all else None,
        initial_state=r(batch, dim, N) if with_all else None)


def _leaves(inputs, dtype, device):
    return {k: (v.detach().to(device=device, dtype=dtype).clone().requires_grad_()
                if v is not None else None) for k, v in inputs.items()}


def _compare_scan(gen, batch, dim, L, N, groups=0, with_all=True, softplus=True,
                  dtype=torch.float32, noncontiguous=False, loss_on=("y", "last_state")):
    inputs = _scan_inputs(gen, batch, dim, L, N, groups, with_all)
    if not softplus:  # delta is used as given: keep it a step size (>= 0), as softplus would, or
        # the states grow like exp(a random walk) and overflow fp32 for some seeds at GPU sizes
        inputs["delta"] = inputs["delta"].abs()
    # the reference sees the same (rounded) values as the kernel: only its arithmetic is measured
    inputs = {k: (v.to(dtype).double() if v is not None else None) for k, v in inputs.items()}
    ref_in = _leaves(inputs, torch.float64, "cpu")
    tri_in = _leaves(inputs, dtype, DEVICE)
    call_in = dict(tri_in)
    if noncontiguous:  # same values, strided storage (z channels-last, as the model passes it)
        for key in ("u", "delta", "B", "C", "z"):
            if call_in[key] is not None:
                call_in[key] = call_in[key].transpose(-1, -2).contiguous().transpose(-1, -2)
    y_ref, last_ref = reference.selective_scan_ref(**ref_in, delta_softplus=softplus,
                                                   return_last_state=True)
    y, last = ss.selective_scan_triton(**call_in, delta_softplus=softplus, return_last_state=True)
    assert y.dtype == dtype and y.shape == (batch, dim, L) and last.shape == (batch, dim, N)
    # y's gradient reaches the kernels in y's dtype: the reference gets the same values
    gy = torch.randn(y_ref.shape, generator=gen, dtype=torch.float64).to(dtype).double()
    gl = torch.randn(last_ref.shape, generator=gen, dtype=torch.float64)
    def loss(y, last, device):
        # strided: through a transpose, so y's gradient arrives channels-last (as in the model)
        y_term = ((y.double().transpose(-1, -2) * gy.to(device).transpose(-1, -2).contiguous())
                  if noncontiguous else y.double() * gy.to(device))
        terms = {"y": y_term.sum(),
                 "last_state": (last.double() * gl.to(device)).sum()}
        return sum(terms[name] for name in loss_on)
    loss(y_ref, last_ref, "cpu").backward()
    loss(y, last, DEVICE).backward()  # one output alone: the other's gradient is None
    tol = BF16_TOL if dtype == torch.bfloat16 else FP32_TOL
    errors = {"y": _rel(y, y_ref), "last_state": _rel(last, last_ref)}
    for key, leaf in tri_in.items():
        if leaf is not None and ref_in[key].grad is None:  # z and D do not reach the last state
            assert leaf.grad is None or not leaf.grad.any(), f"d{key} should be zero"
        elif leaf is not None:
            assert leaf.grad is not None, f"no gradient for {key}"
            errors[f"d{key}"] = _rel(leaf.grad, ref_in[key].grad)
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"seed {SEED}: relative errors over {tol}: {bad}"


# several programs, chunks and tiles at small sizes, in both forwards
SMALL = dict(bwd_block_k=2, bwd_tile_t=4, tile_t=4, fwd_chunks=3, step_block_d=2, bwd_step_block_d=2,
             step_unroll=4)


@pytest.mark.parametrize("case", [
    # name, shape (batch, dim, L, N), groups, config, options
    ("chunked", (2, 6, 37, 4), 0, dict(SMALL, bwd_chunks=3), {}),
    ("long_bwd_tiles", (1, 4, 45, 4), 0, dict(SMALL, bwd_tile_t=8, bwd_chunks=2), {}),
    ("groups", (2, 8, 29, 3), 2, dict(SMALL, bwd_block_k=8, bwd_chunks=2), {}),
    ("bare", (1, 5, 20, 4), 0, dict(tile_t=8, bwd_tile_t=8), dict(with_all=False, softplus=False)),
    ("step_unroll_16", (1, 8, 70, 4), 0, dict(SMALL, step_unroll=16, bwd_tile_t=16), {}),
    ("length_one", (2, 3, 1, 4), 0, {}, {}),
    ("bf16", (2, 6, 33, 4), 0, dict(SMALL, bwd_chunks=3), dict(dtype=torch.bfloat16)),
    ("strided", (1, 4, 24, 4), 0, dict(SMALL, bwd_chunks=2), dict(noncontiguous=True)),
    ("loss_on_y", (1, 4, 26, 4), 0, dict(SMALL, bwd_chunks=2), dict(loss_on=("y",))),
    ("loss_on_last_state", (1, 4, 26, 4), 0, dict(SMALL, bwd_chunks=2),
     dict(loss_on=("last_state",))),
    ("two_states", (1, 4, 23, 2), 0, dict(SMALL, bwd_chunks=2), {}),
    ("six_states", (2, 4, 23, 6), 0, dict(SMALL, bwd_chunks=2), {}),  # B, C rows padded to 8
], ids=lambda c: c[0])
@pytest.mark.parametrize("kernels", ["step/step", "tiled/tiled", "step/tiled", "tiled/step"])
def test_selective_scan_matches_reference(gen, case, kernels):
    _, shape, groups, cfg, options = case
    if ON_GPU:  # medium sizes with the default launch plan
        shape, cfg = (shape[0], shape[1] * 16, shape[2] * 31, 16 if shape[3] == 4 else shape[3]), {}
    forward, backward = kernels.split("/")
    ss.set_config(**cfg, fwd_kernel=forward, bwd_kernel=backward)
    _compare_scan(gen, *shape, groups=groups, **options)


@pytest.mark.parametrize("kernel", ["step", "tiled"])
def test_scan_state_carries_across_calls(gen, kernel):
    """Two calls with the state carried equal one call; gradients cross the boundary."""
    ss.set_config(**SMALL, fwd_kernel=kernel, bwd_kernel=kernel)
    batch, dim, L, N = 1, 4, 30, 4
    inputs = _scan_inputs(gen, batch, dim, L, N, 0, True)
    whole = _leaves(inputs, torch.float32, DEVICE)
    parts = _leaves(inputs, torch.float32, DEVICE)
    y_whole = ss.selective_scan_triton(**whole, delta_softplus=True)

    def piece(sl, state):
        kw = {k: (v[..., sl] if k in ("u", "delta", "z", "B", "C") else v) for k, v in parts.items()}
        kw["initial_state"] = state
        return ss.selective_scan_triton(**kw, delta_softplus=True, return_last_state=True)
    y1, s1 = piece(slice(0, 13), parts["initial_state"])
    y2, _ = piece(slice(13, L), s1)
    y_parts = torch.cat([y1, y2], dim=-1)
    assert _rel(y_parts, y_whole.detach().double().cpu()) < FP32_TOL
    weights = torch.randn(y_whole.shape, generator=gen).to(DEVICE)
    (y_whole * weights).sum().backward()
    (y_parts * weights).sum().backward()
    for key in ("u", "A", "B", "initial_state"):
        assert _rel(parts[key].grad, whole[key].grad.double().cpu()) < FP32_TOL, key
    # the loss on the second piece alone reaches the first piece's inputs through the state
    assert parts["u"].grad[..., :13].abs().sum() > 0


@pytest.mark.parametrize("with_z", [False, True])
def test_auto_plan_picks_kernels_by_size(gen, monkeypatch, with_z):
    """'auto' takes each step kernel from its threshold on, with or without z."""
    used = []

    def spy(name):
        original = getattr(ss, name)

        def launch(*args, **kwargs):
            used.append(name)
            return original(*args, **kwargs)
        return launch
    for name in ("fwd_step", "fwd_tiled", "bwd_step", "bwd_tiled"):
        monkeypatch.setattr(ss, name, spy(name))
    inputs = _scan_inputs(gen, 1, 4, 24, 4, 0, True)
    if not with_z:
        inputs["z"] = None
    leaves = _leaves(inputs, torch.float32, DEVICE)
    size = 1 * 4 * 24
    for fwd_min, bwd_min, expected in ((1, 1, ["fwd_step", "bwd_step"]),
                                       (size + 1, size, ["fwd_tiled", "bwd_step"]),
                                       (size, size + 1, ["fwd_step", "bwd_tiled"]),
                                       (10 ** 9, 10 ** 9, ["fwd_tiled", "bwd_tiled"])):
        ss.set_config(**SMALL, fwd_step_min_elements=fwd_min, bwd_step_min_elements=bwd_min)
        used.clear()
        ss.selective_scan_triton(**leaves, delta_softplus=True).sum().backward()
        assert used == expected


def test_scan_config_rejects_unknown_plans():
    with pytest.raises(ValueError, match="fwd_kernel"):
        ss.set_config(fwd_kernel="fastest")
    with pytest.raises(ValueError, match="step_unroll"):
        ss.set_config(step_unroll=6)
    assert ss.get_config() == ss.DEFAULT_CONFIG  # a refused change leaves the plan as it was


def test_scan_rejects_bad_shapes(gen):
    inputs = _leaves(_scan_inputs(gen, 1, 4, 10, 4, 0, True), torch.float32, DEVICE)
    with pytest.raises(ValueError, match="A must be"):
        ss.selective_scan_triton(**{**inputs, "A": inputs["A"][:2]})
    with pytest.raises(ValueError, match="initial_state"):
        ss.selective_scan_triton(**{**inputs, "initial_state": inputs["initial_state"][..., :2]})


@pytest.mark.parametrize("batch,dim,L,width,bias,init,act,dtype", [
    (2, 20, 300, 4, True, True, "silu", torch.float32),
    (1, 3, 2, 4, True, True, None, torch.float32),      # L shorter than the carried state
    (2, 5, 1, 4, True, True, "silu", torch.float32),
    (1, 4, 17, 1, True, False, "swish", torch.float32),  # width 1: nothing carried
    (2, 20, 100, 3, False, False, "silu", torch.bfloat16),
    (3, 7, 90, 2, True, True, "silu", torch.float32),      # width 2, channels past one block
])
@pytest.mark.parametrize("channels_last", [False, True], ids=["tiles", "walk"])
def test_causal_conv1d_matches_reference(gen, batch, dim, L, width, bias, init, act, dtype,
                                         channels_last):
    """Both kernel pairs: tiles for contiguous x, walks along L for channels-last x."""
    if ON_GPU:
        dim, L = dim * 16, L * 37
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64)  # noqa: E731
    inputs = dict(x=r(batch, dim, L), weight=r(dim, width), bias=r(dim) if bias else None,
                  initial_states=r(batch, dim, width - 1) if init else None)
    ref_in = _leaves(inputs, torch.float64, "cpu")
    tri_in = _leaves(inputs, dtype, DEVICE)
    if channels_last:
        tri_in["x"] = _channels_last(tri_in["x"])
        assert layout.is_channels_last(tri_in["x"]) or L == 1   # one column: both layouts
    out_ref, fin_ref = reference.causal_conv1d_ref(**ref_in, return_final_states=True,
                                                   activation=act)
    out, fin = conv.causal_conv1d_triton(**tri_in, return_final_states=True, activation=act)
    assert out.dtype == dtype and fin.shape == (batch, dim, width - 1)
    go, gf = r(*out_ref.shape), r(*fin_ref.shape)
    ((out_ref * go).sum() + (fin_ref * gf).sum()).backward()
    ((out.double() * go.to(DEVICE)).sum() + (fin.double() * gf.to(DEVICE)).sum()).backward()
    tol = BF16_TOL if dtype == torch.bfloat16 else FP32_TOL
    errors = {"out": _rel(out, out_ref)}
    if width > 1:
        errors["final_states"] = _rel(fin, fin_ref)
    errors.update({f"d{k}": _rel(v.grad, ref_in[k].grad) for k, v in tri_in.items() if v is not None})
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"seed {SEED}: relative errors over {tol}: {bad}"


@pytest.mark.parametrize("with_out,out_dtype,normed_dtype", [
    (True, torch.float32, torch.float32),
    (False, None, torch.float32),                 # the first block: nothing to add
    (True, torch.bfloat16, torch.bfloat16),       # under autocast: a bf16 output, a bf16 norm
])
def test_add_rms_norm_matches_reference(gen, with_out, out_dtype, normed_dtype):
    """The residual stream and its norm, and the gradients of h, out and the weight (which the
    kernel sums over rows in per-program parts), from gradients reaching both outputs."""
    rows, d = (3 * 37, 20) if not ON_GPU else (8 * 3001, 128)
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64)  # noqa: E731
    h, out, weight = r(rows, d), r(rows, d) if with_out else None, r(d)
    ref = [x.clone().requires_grad_() if x is not None else None for x in (h, out, weight)]
    tri = [x.to(DEVICE, dtype).requires_grad_() if x is not None else None
           for x, dtype in ((h, torch.float32), (out, out_dtype), (weight, torch.float32))]
    normed_ref, r_ref = reference.add_rms_norm_ref(*ref, 1e-5, torch.float64)
    normed, res = add_norm.add_rms_norm_triton(*tri, 1e-5, normed_dtype)
    assert normed.dtype == normed_dtype and res.dtype == torch.float32
    g_normed, g_r = r(rows, d), r(rows, d)
    ((normed_ref * g_normed).sum() + (r_ref * g_r).sum()).backward()
    ((normed.double() * g_normed.to(DEVICE)).sum() + (res.double() * g_r.to(DEVICE)).sum()).backward()
    tol = BF16_TOL if normed_dtype == torch.bfloat16 else FP32_TOL
    errors = {"normed": _rel(normed, normed_ref), "r": _rel(res, r_ref)}
    errors.update({name: _rel(t.grad, f.grad) for name, t, f in zip(("dh", "dout", "dweight"), tri, ref)
                   if t is not None})
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"seed {SEED}: relative errors over {tol}: {bad}"


def _channels_last(x):
    """The same values as x (batch, dim, L), stored channels-last, as a new leaf."""
    return x.detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()


@pytest.mark.parametrize("kernels", ["step/step", "tiled/tiled"])
def test_scan_keeps_the_channels_last_layout(gen, kernels):
    """Channels-last u, delta and z (the model's in_proj and dt_proj outputs): the step kernels
    write y, du and ddelta channels-last (the model's projections then read them without a copy),
    every kernel dz in y's layout; the values are those of contiguous inputs."""
    forward, backward = kernels.split("/")
    ss.set_config(**SMALL, bwd_chunks=2, fwd_kernel=forward, bwd_kernel=backward)
    shape = (2, 6, 21, 4) if not ON_GPU else (2, 96, 651, 16)
    inputs = {k: (v.float().to(DEVICE) if v is not None else None)
              for k, v in _scan_inputs(gen, *shape, 0, True).items()}
    weights = torch.randn(shape[:3], generator=gen).to(DEVICE)
    grads = {}
    for name, arrange in (("channels_last", _channels_last),
                          ("contiguous", lambda x: x.detach().contiguous().requires_grad_())):
        u, delta, z = (arrange(inputs[k]) for k in ("u", "delta", "z"))
        y = ss.selective_scan_triton(u, delta, inputs["A"], inputs["B"], inputs["C"], inputs["D"],
                                     z, delta_bias=inputs["delta_bias"], delta_softplus=True)
        grads[name] = (y, *torch.autograd.grad((y * weights).sum(), (u, delta, z)))
    y, du, ddelta, dz = grads["channels_last"]
    assert layout.is_channels_last(y) == (forward == "step")
    assert layout.is_channels_last(du) == layout.is_channels_last(ddelta) == (backward == "step")
    assert layout.is_channels_last(dz) == (forward == "step")
    for got, want in zip(grads["channels_last"], grads["contiguous"]):
        assert _rel(got, want.detach().double().cpu()) < FP32_TOL


def test_conv_keeps_the_channels_last_layout(gen):
    """A channels-last x gives a channels-last output and dx, with the values of a contiguous x."""
    batch, dim, L = (2, 20, 150) if not ON_GPU else (2, 320, 5550)
    x = torch.randn(batch, dim, L, generator=gen).to(DEVICE)
    weight = torch.randn(dim, 4, generator=gen).to(DEVICE)
    bias = torch.randn(dim, generator=gen).to(DEVICE)
    go = torch.randn(batch, dim, L, generator=gen).to(DEVICE)
    results = {}
    for name, leaf in (("channels_last", _channels_last(x)),
                       ("contiguous", x.clone().requires_grad_())):
        out = conv.causal_conv1d_triton(leaf, weight, bias, activation="silu")
        results[name] = (out, *torch.autograd.grad((out * go).sum(), leaf))
    out, dx = results["channels_last"]
    assert layout.is_channels_last(out) and layout.is_channels_last(dx)
    for got, want in zip(results["channels_last"], results["contiguous"]):
        assert _rel(got, want.detach().double().cpu()) < FP32_TOL


@pytest.mark.parametrize("kernel", ["step", "tiled"])
def test_mixer_core_matches_its_steps(gen, kernel):
    """The mixer as one autograd node (xz's gradient written in place by the scan's and the conv's
    kernels, x_proj's input gradient added into du by the product) gives the outputs and gradients
    of its steps one by one on the same kernels, with carried states; training on Triton takes it."""
    from genomamba.kernels import mixer
    ss.set_config(**SMALL, bwd_chunks=2, fwd_kernel=kernel, bwd_kernel=kernel)
    batch, di, L, n, rank, width = 2, 6, 21, 4, 3, 4
    shapes = dict(xz=(batch, L, 2 * di), conv_weight=(di, width), conv_bias=(di,),
                  x_proj_weight=(rank + 2 * n, di), dt_proj_weight=(di, rank), A_log=(di, n),
                  D=(di,), dt_bias=(di,), conv_state=(batch, di, width - 1),
                  ssm_state=(batch, di, n))
    values = {k: torch.randn(*shape, generator=gen) * (0.5 if k != "A_log" else 0.3)
              for k, shape in shapes.items()}
    weights = [torch.randn(*shape, generator=gen).to(DEVICE)
               for shape in ((batch, L, di), shapes["conv_state"], shapes["ssm_state"])]
    previous = kernels.get_backend()
    kernels.set_backend("triton")
    try:
        results = {}
        for name, core in (("one node", kernels.mixer_core), ("steps", mixer.mixer_core_composed)):
            leaves = [v.to(DEVICE).requires_grad_() for v in values.values()]
            outputs = core(*leaves)
            assert (type(outputs[0].grad_fn).__name__ == "MixerCoreBackward") == (name == "one node")
            loss = sum((out * w).sum() for out, w in zip(outputs, weights))
            results[name] = (*outputs, *torch.autograd.grad(loss, leaves))
    finally:
        kernels.set_backend(previous)
    for got, want in zip(results["one node"], results["steps"]):
        assert _rel(got, want.detach().double().cpu()) < FP32_TOL


def test_dispatch_switch(gen, monkeypatch):
    inputs = _leaves(_scan_inputs(gen, 1, 4, 12, 4, 0, True), torch.float32, "cpu")
    calls = []
    monkeypatch.setattr(
        ss, "selective_scan_triton",
        lambda *a, **k: calls.append("triton") or reference.selective_scan_ref(*a, **k))
    previous = kernels.get_backend()
    try:
        kernels.set_backend("auto")
        kernels.selective_scan_fn(**inputs)
        assert calls == []  # CPU tensors take the reference
        kernels.set_backend("triton")
        kernels.selective_scan_fn(**inputs)
        assert calls == ["triton"]
        with pytest.raises(ValueError):
            kernels.set_backend("cuda")
    finally:
        kernels.set_backend(previous)


def test_conv_refuses_a_contiguous_row_past_32_bit_indexing():
    """The tiled kernels (contiguous x) index a batch row with 32 bits: past that, a clear error
    before any launch (shapes only: a meta tensor)."""
    with pytest.raises(ValueError, match="below 2\\^31"):
        conv._check_tiled(torch.empty(1, 2 ** 16, 2 ** 15, device="meta"))
    conv._check_tiled(torch.empty(1, 2 ** 16, 2 ** 15 - 1, device="meta"))


def test_conv_wider_than_the_kernel_takes_the_reference(gen):
    """The Triton conv takes widths 1 to MAX_WIDTH; the dispatch gives a wider conv to the
    reference, with the same arguments, under the 'triton' backend too."""
    x = torch.randn(1, 3, 20, generator=gen, dtype=torch.float64)
    weight = torch.randn(3, conv.MAX_WIDTH + 1, generator=gen, dtype=torch.float64)
    with pytest.raises(ValueError, match="widths 1 to"):
        conv.causal_conv1d_triton(x, weight)
    previous = kernels.get_backend()
    try:
        kernels.set_backend("triton")
        out, final = kernels.causal_conv1d_fn(x, weight, return_final_states=True, activation="silu")
    finally:
        kernels.set_backend(previous)
    want, want_final = reference.causal_conv1d_ref(x, weight, return_final_states=True, activation="silu")
    assert torch.equal(out, want) and torch.equal(final, want_final)


@pytest.mark.skipif(ON_GPU, reason="on a GPU every launch above was compiled")
def test_every_launch_compiles_for_sm90(gen, tmp_path, monkeypatch):
    """The interpreter runs kernels as Python and misses what only Triton's compiler checks (a
    loop-carried variable that changes type, say): the launches of small scans (both kernel pairs,
    with and without z and gradients, fp32 and bf16), convolutions and residual norms, recorded
    here, compile for an H100 in a process where Triton compiles."""
    from triton.runtime.interpreter import InterpretedFunction
    launches = {}
    run = InterpretedFunction.run

    def record(self, *args, grid, warmup, **kwargs):
        launches[json.dumps(launch_record(self, args, kwargs), sort_keys=True)] = None
        return run(self, *args, grid=grid, warmup=warmup, **kwargs)
    monkeypatch.setattr(InterpretedFunction, "run", record)
    for dtype in (torch.float32, torch.bfloat16):
        for kernel in ("step", "tiled"):
            ss.set_config(**SMALL, bwd_chunks=2, fwd_kernel=kernel, bwd_kernel=kernel)
            for with_all in (False, True):
                inputs = _leaves(_scan_inputs(gen, 1, 4, 21, 4, 0, with_all), dtype, DEVICE)
                y, last = ss.selective_scan_triton(**inputs, delta_softplus=True,
                                                   return_last_state=True)
                (y.float().sum() + last.sum()).backward()
                with torch.no_grad():
                    ss.selective_scan_triton(**inputs, delta_softplus=True)
            if kernel == "step":  # the step backward's other access path: channels-last inputs
                inputs = {k: (_channels_last(v) if k in ("u", "delta", "z") and v is not None else v)
                          for k, v in inputs.items()}
                ss.selective_scan_triton(**inputs, delta_softplus=True).float().sum().backward()
        x, weight, bias, init = (torch.randn(*s, generator=gen).to(dtype).requires_grad_()
                                 for s in ((1, 4, 9), (4, 4), (4,), (1, 4, 3)))
        for conv_x in (x, _channels_last(x)):   # the tiled and the walking kernels
            out, final = conv.causal_conv1d_triton(conv_x, weight, bias, initial_states=init,
                                                   return_final_states=True, activation="silu")
            (out.float().sum() + final.float().sum()).backward()
        h, out, weight = (torch.randn(*s, generator=gen).to(dtype).requires_grad_()
                          for s in ((5, 20), (5, 20), (20,)))
        normed, res = add_norm.add_rms_norm_triton(h, out, weight.float(), 1e-5, dtype)
        (normed.float().sum() + res.sum()).backward()
        add_norm.add_rms_norm_triton(h, None, weight.float(), 1e-5, dtype)[0].float().sum().backward()
    path = tmp_path / "launches.json"
    path.write_text(json.dumps([json.loads(key) for key in launches]))
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "compile_for_sm90.py"),
                           str(path)], env=dict(os.environ, TRITON_INTERPRET="0"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert len(launches) >= 20  # every kernel, in several specializations
