"""The fast CPU inference kernels (genomamba/kernels/cpu_inference.py) against the float64 reference:
seeded inputs, odd sizes (channels not a multiple of the tile), state carried across chunks, every
option of the scan and the conv; the dispatch picks them only where no gradient is wanted; and a real
model on a real slice, both strands, gives today's probabilities and calls."""

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba import kernels
from genomamba.alphabet import reverse_complement
from genomamba.classifiers import load
from genomamba.io import read_records
from genomamba.kernels import cpu_inference
from genomamba.kernels.reference import causal_conv1d_ref, selective_scan_ref
from genomamba.models import ModelConfig, build_model

pytestmark = pytest.mark.skipif(not cpu_inference.available(), reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[1]


def scan_inputs(seed, batch=2, dim=40, n=16, L=300):
    """The model's layouts: u and z channels-last views of one (batch, L, 2 dim) tensor, delta a view
    of a (batch, L, dim) one; A negative, as -exp(A_log)."""
    g = torch.Generator().manual_seed(seed)
    xz = torch.randn(batch, L, 2 * dim, generator=g)
    u, z = xz[..., :dim].transpose(1, 2), xz[..., dim:].transpose(1, 2)
    delta = (torch.randn(batch, L, dim, generator=g) - 1).transpose(1, 2)
    A = -torch.exp(torch.randn(dim, n, generator=g))
    B, C = torch.randn(batch, n, L, generator=g), torch.randn(batch, n, L, generator=g)
    D, bias = torch.randn(dim, generator=g), 0.5 * torch.randn(dim, generator=g)
    h0 = torch.randn(batch, dim, n, generator=g)
    return u, delta, A, B, C, D, z, bias, h0


def as64(*tensors):
    return [t.double() if t is not None else None for t in tensors]


@pytest.mark.parametrize("n", [8, 16])
@pytest.mark.parametrize("options", ["all", "bare"])
def test_the_fast_scan_matches_the_float64_reference(n, options):
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(1 + n, n=n)
    if options == "bare":   # no D, no gate, no bias, no softplus (delta must stay positive), no state
        D = z = bias = h0 = None
        delta = delta.exp()
    softplus = options == "all"
    y, last = cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, softplus, h0, True)
    y_ref, last_ref = selective_scan_ref(*as64(u, delta, A, B, C, D, z, bias), softplus, *as64(h0), True)
    assert y.dtype == torch.float32 and y.shape == u.shape and last.shape == (2, 40, n)
    scale = y_ref.abs().max().item()
    assert (y.double() - y_ref).abs().max().item() < 2e-5 * scale
    assert (last.double() - last_ref).abs().max().item() < 2e-5 * last_ref.abs().max().item()


def test_the_fast_scan_carries_its_state_across_chunks():
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(7, batch=1, dim=64, n=8, L=500)
    whole, whole_last = cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, True, h0, True)
    pieces, state = [], h0
    for start, end in [(0, 1), (1, 130), (130, 131), (131, 500)]:
        s = slice(start, end)
        y, state = cpu_inference.cpu_selective_scan(u[..., s], delta[..., s], A, B[..., s], C[..., s], D,
                                                    z[..., s], bias, True, state, True)
        pieces.append(y)
    assert torch.equal(torch.cat(pieces, -1), whole)      # each step's arithmetic is the same
    assert torch.equal(state, whole_last)
    y_ref = selective_scan_ref(*as64(u, delta, A, B, C, D, z, bias), True, *as64(h0))
    assert (whole.double() - y_ref).abs().max().item() < 2e-5 * y_ref.abs().max().item()


def test_the_fast_scan_gives_the_same_results_with_any_threads_and_tiles(monkeypatch):
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(3, batch=2, dim=96, n=8, L=200)
    results = []
    try:
        for threads, widest in [(1, 128), (2, 128), (1, 32), (2, 48)]:   # tiles of 96, 32, 48 channels
            cpu_inference.set_threads(threads)
            monkeypatch.setattr(cpu_inference, "_TILE_MAX", widest)
            results.append(cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, True, h0))
    finally:
        cpu_inference.set_threads(0)
    assert all(torch.equal(results[0], r) for r in results[1:])


def test_tiles_give_every_thread_channels_of_its_own():
    """The default model's 64 channels run as two 32-wide tiles on two threads, one 64-wide tile on
    one; wider models' tiles stop at _TILE_MAX, narrower ones' at the channels."""
    assert cpu_inference._tile_width(64, 1, 2) == 32
    assert cpu_inference._tile_width(64, 1, 1) == 64
    assert cpu_inference._tile_width(256, 1, 2) == 128
    assert cpu_inference._tile_width(256, 1, 8) == 32
    assert cpu_inference._tile_width(20, 1, 1) == 32


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_the_worker_threads_serve_a_forked_child():
    """A child forked after the pool's threads started (a multiprocessing worker, say) inherits the
    pool but not its threads: its scans on several threads still finish, with the parent's result."""
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(5, batch=2, dim=96, n=8, L=100)
    try:
        cpu_inference.set_threads(2)
        want = cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, True, h0)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            got = pool.apply_async(cpu_inference.cpu_selective_scan,
                                   (u, delta, A, B, C, D, z, bias, True, h0)).get(timeout=120)
    finally:
        cpu_inference.set_threads(0)
    assert torch.equal(got, want)


def test_the_fast_kernels_give_the_same_results_for_any_memory_layout():
    """The model's views (channels-last rows, z a half of a wider row) are read in place; contiguous
    (batch, dim, L) tensors are copied to rows first: the same numbers either way."""
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(11, batch=2, dim=40, n=8, L=120)
    views = cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, True, h0)
    copies = cpu_inference.cpu_selective_scan(u.contiguous(), delta.contiguous(), A, B, C, D, z.contiguous(),
                                              bias, True, h0)
    assert torch.equal(views, copies)
    weight, conv_bias = torch.randn(40, 4), torch.randn(40)
    views = cpu_inference.cpu_causal_conv1d(z, weight, conv_bias, None, True, "silu")
    copies = cpu_inference.cpu_causal_conv1d(z.contiguous(), weight, conv_bias, None, True, "silu")
    assert all(torch.equal(a, b) for a, b in zip(views, copies))


def test_the_exp2_is_accurate_to_float32_rounding():
    """2^x for x <= 0, the scan's decay and the softplus' and silu's exponential: within 3e-7 relative
    of float64 down to -126 (below, 2^-126), at every rounding boundary's neighbourhood too."""
    exp2 = cpu_inference._exp2_nonpositive
    grid = np.concatenate([np.linspace(-126, 0, 200_001), -np.arange(127) - 0.5, -np.arange(127),
                           -np.arange(1, 127) + 1e-4, [-300.0, -1e30]]).astype(np.float32)
    got = np.array([exp2(x) for x in grid], dtype=np.float64)
    want = np.exp2(np.maximum(grid.astype(np.float64), -126.0))
    assert np.max(np.abs(got - want) / want) < 3e-7


@pytest.mark.parametrize("L", [1, 63, 64, 1000, 70_000])
def test_blocked_time_sums_match_the_float64_sum(L):
    """The GPU path's time sums (float32 blocks, float64 across them) against float64 sums of the same
    float32 values, over a record's worth of steps, for a contiguous x and a strided view."""
    g = torch.Generator().manual_seed(L)
    x = 3 + torch.randn(2, L, 24, generator=g)
    want = x.double().sum(1)
    got = cpu_inference.blocked_time_sums(x)
    assert got.dtype == torch.float64
    assert torch.allclose(got, want, rtol=1e-6, atol=0)
    view = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert torch.allclose(cpu_inference.blocked_time_sums(view), want, rtol=1e-6, atol=0)


def test_extreme_steps_stay_finite_and_match_the_reference():
    """Large delta (decays to 2^-126 and below), large |z| (the gate saturates), softplus of large
    inputs: nothing overflows or turns into NaN."""
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(5, batch=1, dim=32, n=8, L=64)
    delta, z = delta * 60, z * 80
    y = cpu_inference.cpu_selective_scan(u, delta, A, B, C, D, z, bias, True, h0)
    y_ref = selective_scan_ref(*as64(u, delta, A, B, C, D, z, bias), True, *as64(h0))
    assert torch.isfinite(y).all()
    assert (y.double() - y_ref).abs().max().item() < 2e-5 * y_ref.abs().max().item()


@pytest.mark.parametrize("activation", ["silu", None])
@pytest.mark.parametrize("L", [2, 3, 1100])
def test_the_fast_conv_matches_the_reference_and_carries_its_state(activation, L):
    g = torch.Generator().manual_seed(L)
    dim, width = 40, 4
    x = torch.randn(1, L, 2 * dim, generator=g)[..., :dim].transpose(1, 2)
    weight, bias = torch.randn(dim, width, generator=g), torch.randn(dim, generator=g)
    state = torch.randn(1, dim, width - 1, generator=g)
    out, final = cpu_inference.cpu_causal_conv1d(x, weight, bias, state, True, activation)
    out_ref, final_ref = causal_conv1d_ref(*as64(x, weight, bias, state), True, activation)
    assert (out.double() - out_ref).abs().max().item() < 1e-5 * out_ref.abs().max().item()
    assert torch.equal(final.double(), final_ref)      # the last width - 1 inputs, copied
    first = cpu_inference.cpu_causal_conv1d(x[..., :1], weight, bias, None, False, activation)
    assert (first.double() - causal_conv1d_ref(*as64(x[..., :1], weight, bias), None, False,
                                                activation)).abs().max().item() < 1e-5 * out_ref.abs().max().item()


def test_the_dispatch_uses_the_fast_kernels_only_where_no_gradient_is_wanted():
    u, delta, A, B, C, D, z, bias, h0 = scan_inputs(9, batch=1, dim=32, n=8, L=50)
    assert cpu_inference.scan_applies(u, delta, A, B, C, D, z, bias, h0)
    assert not cpu_inference.scan_applies(*as64(u, delta, A, B, C, D, z, bias, h0))      # float64
    assert not cpu_inference.scan_applies(u, delta, A, B.unsqueeze(1), C.unsqueeze(1))   # grouped B, C
    A_trained = A.clone().requires_grad_()
    assert not cpu_inference.scan_applies(u, delta, A_trained, B, C)
    with torch.no_grad():
        assert cpu_inference.scan_applies(u, delta, A_trained, B, C)
    y = kernels.selective_scan_fn(u, delta, A_trained, B, C, D, z, delta_bias=bias, delta_softplus=True,
                                  initial_state=h0)
    assert y.requires_grad                                  # training still gets the blocked scan
    with torch.inference_mode():
        fast = kernels.selective_scan_fn(u, delta, A, B, C, D, z, delta_bias=bias, delta_softplus=True,
                                         initial_state=h0)
    assert (fast - y.detach()).abs().max().item() < 2e-5 * y.abs().max().item()
    with pytest.raises(ValueError, match="blocked"):
        kernels.set_backend("fast")


@pytest.mark.parametrize("size", [dict(d_model=32, n_layers=2, d_state=8),
                                  dict(d_model=48, n_layers=3, d_state=16, dt_rank=5)])
def test_the_models_cpu_inference_matches_its_modules(size):
    """The backbone's CPU inference (its own buffers, dt_proj inside the scan) against the modules'
    forward on today's kernels: a batch of two streamed in chunks shorter and longer than the conv's
    width; its buffers, written under inference_mode, are written again under no_grad."""
    model = build_model(ModelConfig(n_classes=3, **size), seed=4).eval()
    x = torch.as_tensor(np.random.default_rng(4).integers(0, 5, size=(2, 700)), dtype=torch.long)

    def stream():
        state = model.new_state(2)
        bounds = [0, 1, 3, 300, 301, 700]
        hidden = torch.cat([model.feed(x[:, a:b], state) for a, b in zip(bounds, bounds[1:])], 1)
        return hidden, model.pooled(state), state.layers

    with torch.inference_mode():
        fast = stream()
    with torch.no_grad():
        again = stream()
        try:
            kernels.set_backend("blocked")
            today = stream()
        finally:
            kernels.set_backend("auto")
    assert torch.equal(fast[0], again[0]) and torch.equal(fast[1], again[1])
    for a, b in [(fast[0], today[0]), (fast[1], today[1])] + [(s, t) for f, g in zip(fast[2], today[2])
                                                              for s, t in zip(f, g)]:
        assert a.shape == b.shape and (a - b).abs().max().item() < 1e-5 * b.abs().max().item()


@pytest.fixture(scope="module")
def bacteria():
    model = load(ROOT / "resources" / "models" / "bacteria")
    model.params["score_chunk"] = 700     # several chunks, so that conv and SSM states are carried
    return model.to("cpu")


def test_a_real_model_on_a_real_slice_gives_todays_probabilities_on_both_strands(bacteria):
    for record in read_records(ROOT / "tests" / "data" / "ecoli_DH1_slice.fa"):  # read while open
        tokens = np.concatenate([t for t, _ in record.chunks()])[5000:7000]
    for strand in (tokens, reverse_complement(tokens)):
        fast = bacteria.score([strand])
        try:
            kernels.set_backend("blocked")
            today = bacteria.score([strand])
        finally:
            kernels.set_backend("auto")
        assert np.abs(fast[0] - today[0]).max() < 1e-4
        assert abs(fast[1] - today[1]) < 1e-4
        assert np.argmax(fast[0]) == np.argmax(today[0])


@pytest.fixture
def precision():
    """Restores the matrix products' precision after a test that chooses one."""
    yield cpu_inference.set_precision
    cpu_inference.set_precision("float32")


def test_bfloat16_products_move_a_real_models_probabilities_a_little(bacteria, precision, tmp_path):
    with pytest.raises(ValueError, match="float32, bfloat16"):
        precision("float16")
    from genomamba.classifiers.devices import CPU_PRECISIONS   # the command's choices, named without torch

    assert CPU_PRECISIONS == cpu_inference.PRECISIONS
    for record in read_records(ROOT / "tests" / "data" / "ecoli_DH1_slice.fa"):
        tokens = np.concatenate([t for t, _ in record.chunks()])[5000:7000]   # a call of 0.64 against 0.36
    exact = bacteria.score([tokens])
    precision("bfloat16")
    rounded = bacteria.score([tokens])
    difference = np.abs(rounded[0] - exact[0]).max()
    assert 0 < difference < 1e-3 and np.argmax(rounded[0]) == np.argmax(exact[0])

    from genomamba.cli import main

    tables = {}
    for choice in ("bfloat16", "float32"):   # the command's option sets the precision, and sets it back
        tables[choice] = tmp_path / f"{choice}.tsv"
        assert main(["classify", "--model", str(ROOT / "resources" / "models" / "bacteria"), "--no-progress",
                     "--cpu-precision", choice, str(ROOT / "tests" / "data" / "ecoli_DH1_slice.fa"),
                     "-o", str(tables[choice])]) == 0
    rows = {choice: [line.split("\t") for line in path.read_text().splitlines()[1:]]
            for choice, path in tables.items()}
    assert [r[3] for r in rows["bfloat16"]] == [r[3] for r in rows["float32"]]
    assert cpu_inference.get_precision() == "float32"


def test_the_cpu_benchmark_compares_the_paths(tmp_path, capsys):
    from genomamba.bench import cpu as bench_cpu

    tsv = tmp_path / "cpu.tsv"
    assert bench_cpu.main(["--models", "default", "--length", "2048", "--old-length", "512", "--chunk", "1000",
                           "--repeats", "1", "--precision", "bfloat16", "--tsv", str(tsv)]) == 0
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert tuple(rows[0]) == bench_cpu.COLUMNS
    assert [r[1:3] for r in rows[1:]] == [["fast", "float32"], ["fast, bfloat16", "bfloat16"], ["today", "float32"]]
    table = dict(zip(rows[0], rows[1]))
    assert table["bases"] == "2048" and float(table["max_prob_diff"]) < 1e-4 and float(table["kbp_per_s_cpu"]) > 0
    assert 0 < float(dict(zip(rows[0], rows[2]))["max_summary_diff"]) < 1e-2
    assert "genomamba bench cpu" in capsys.readouterr().out and cpu_inference.get_precision() == "float32"
