"""Mamba/Transformer models: chunked streaming equals the whole sequence, gradients through carried
state, the blocked CPU scan against the kernel reference, RC invariance, seeded construction."""

import numpy as np
import pytest
import torch

from genomamba import kernels
from genomamba.models import ModelConfig, build_model, reverse_complement_tokens
from genomamba.kernels.blocked_scan import blocked_selective_scan
from genomamba.kernels.reference import selective_scan_ref


TINY = dict(d_model=16, n_layers=2, d_state=4, n_classes=3)


def tokens(length, batch=2, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).integers(0, 5, size=(batch, length)), dtype=torch.long)


def stream_hidden(model, x, cuts):
    state = model.new_state(x.shape[0])
    bounds = [0, *cuts, x.shape[1]]
    hidden = [model.feed(x[:, a:b], state) for a, b in zip(bounds, bounds[1:])]
    return torch.cat(hidden, dim=1), model.pooled(state)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("cuts", [[1, 2, 3], [7, 64, 65, 200], [150]])
def test_chunked_stream_equals_whole_sequence(cuts):
    model = build_model(ModelConfig(**TINY), seed=1)
    x = tokens(301)
    with torch.no_grad():
        whole, whole_pooled = stream_hidden(model, x, [])
        chunked, chunked_pooled = stream_hidden(model, x, cuts)
    assert rel_err(chunked, whole) <= 1e-5
    assert rel_err(chunked_pooled, whole_pooled) <= 1e-5
    assert rel_err(whole_pooled, whole.mean(1)) <= 1e-5


def test_chunked_stream_equals_whole_with_kernel_reference():
    model = build_model(ModelConfig(**TINY), seed=2)
    x = tokens(40)
    kernels.set_backend("reference")
    try:
        with torch.no_grad():
            whole, _ = stream_hidden(model, x, [])
            chunked, _ = stream_hidden(model, x, [3, 4, 21])
    finally:
        kernels.set_backend("auto")
    with torch.no_grad():
        blocked, _ = stream_hidden(model, x, [])
    assert rel_err(chunked, whole) <= 1e-5
    assert rel_err(blocked, whole) <= 1e-5  # the CPU default path computes the same model


def test_gradients_through_carried_state_equal_whole_sequence():
    model = build_model(ModelConfig(**TINY), seed=3)
    x, target = tokens(130), torch.tensor([0, 2])

    def grads(cuts):
        model.zero_grad()
        _, pooled = stream_hidden(model, x, cuts)
        torch.nn.functional.cross_entropy(model.head(pooled), target).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole, chunked = grads([]), grads([5, 60, 61, 100])
    assert whole.keys() == chunked.keys() and len(whole) > 10
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("length,groups", [(1, 0), (37, 0), (300, 2)])
def test_blocked_scan_matches_reference(length, groups):
    g = torch.Generator().manual_seed(length)
    b, d, n = 2, 8, 4
    shape_bc = (b, groups, n, length) if groups else (b, n, length)
    u, delta, z = (torch.randn(b, d, length, generator=g, requires_grad=True) for _ in range(3))
    B, C = torch.randn(*shape_bc, generator=g), torch.randn(*shape_bc, generator=g)
    A, D, bias = -torch.rand(d, n, generator=g) * 4, torch.randn(d, generator=g), torch.randn(d, generator=g)
    h0 = torch.randn(b, d, n, generator=g)
    outs = []
    for scan in (selective_scan_ref, blocked_selective_scan):
        y, last = scan(u, delta, A, B, C, D, z, bias, True, h0, True)
        grad = torch.autograd.grad((y * (torch.arange(length) + 1)).sum() + last.sum(), (u, delta, z))
        outs.append((y, last, grad))
    (y1, s1, g1), (y2, s2, g2) = outs
    assert rel_err(y2, y1) <= 1e-5 and rel_err(s2, s1) <= 1e-5
    for a, r in zip(g2, g1):
        assert rel_err(a, r) <= 1e-4


def test_rc_equivariant_model_gives_identical_summaries_for_both_strands():
    model = build_model(ModelConfig(**TINY, rc_equivariant=True), seed=4)
    plain = build_model(ModelConfig(**TINY), seed=4)
    x = tokens(97)
    rc = reverse_complement_tokens(x)
    with torch.no_grad():
        assert torch.equal(model.summarise_windows(x), model.summarise_windows(rc))
        assert torch.equal(model.summarise_windows(x, 10), model.summarise_windows(rc, 10))
        assert not torch.allclose(plain.summarise_windows(x), plain.summarise_windows(rc))


def test_same_config_and_seed_give_bitwise_the_same_model():
    torch.manual_seed(123)
    a = build_model(ModelConfig(**TINY), seed=7).state_dict()
    torch.rand(100)
    b = build_model(ModelConfig(**TINY), seed=7).state_dict()
    c = build_model(ModelConfig(**TINY), seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_transformer_scores_consecutive_windows_whatever_the_chunking():
    cfg = ModelConfig(arch="transformer", d_model=16, n_layers=2, n_heads=2, n_classes=3, max_context=32)
    model = build_model(cfg, seed=5)
    x = tokens(100)

    def pooled(cuts):
        state = model.new_state(2)
        bounds = [0, *cuts, 100]
        for a, b in zip(bounds, bounds[1:]):
            model.feed(x[:, a:b], state)
        model.finish(state)
        return model.pooled(state)

    with torch.no_grad():
        by_window = torch.cat([model.backbone(x[:, a:a + 32])[0] for a in range(0, 100, 32)], 1).mean(1)
        assert rel_err(pooled([]), by_window) <= 1e-5
        assert rel_err(pooled([5, 33, 34, 90]), by_window) <= 1e-5
    with pytest.raises(ValueError):
        model.backbone(tokens(33))


def test_default_transformer_has_about_the_mamba_parameter_count():
    count = lambda m: sum(p.numel() for p in m.parameters())
    mamba = count(build_model(ModelConfig(n_classes=5), 0))
    transformer = count(build_model(ModelConfig(arch="transformer", n_classes=5, max_context=512), 0))
    assert 0.8 < transformer / mamba < 1.25


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_streamed_chunks_replayed_from_a_cuda_graph_give_the_eager_results():
    """``replay_chunks``: the pieces of the chunk length after a record's first replay a CUDA graph
    (genomamba.cuda_graphs.ChunkGraphs); the summaries, windows and states equal the eager stream's,
    records after the first included, and after the model has moved."""
    model = build_model(ModelConfig(d_model=32, n_layers=2, d_state=8, n_classes=3), seed=0).cuda().eval()
    records = [tokens(5 * 512 + 100, batch=1, seed=s).cuda() for s in (1, 2)]

    @torch.inference_mode()
    def stream(record):
        state = model.new_state(1)
        windows = []
        state.watch_windows(700, windows.append)
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            for start in range(0, record.shape[1], 512):
                model.feed(record[:, start:start + 512], state)
        model.finish(state)
        return model.pooled(state), torch.cat(windows), [s.clone() for layer in state.layers for s in layer]

    eager = [stream(r) for r in records]
    model.replay_chunks(512)
    replayed = [stream(r) for r in records]
    assert model.backbone.chunk_graphs.replays.graph is not None
    for (pooled, windows, states), (pooled_e, windows_e, states_e) in zip(replayed, eager):
        torch.testing.assert_close(pooled, pooled_e, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(windows, windows_e, rtol=1e-6, atol=1e-6)
        for s, s_e in zip(states, states_e):
            torch.testing.assert_close(s, s_e, rtol=1e-6, atol=1e-6)
    model.cpu().cuda()   # new weight tensors (a graph reads its capture's: the key holds them)
    torch.testing.assert_close(stream(records[0])[0], eager[0][0], rtol=1e-6, atol=1e-6)


def test_an_empty_chunk_passes_the_state_through_and_trains():
    """A chunk of no bases: no output, the conv's and the scan's states unchanged, and a training
    step through it runs (the conv's reference and the blocked scan take zero steps)."""
    model = build_model(ModelConfig(**TINY), seed=0)
    x = tokens(40, batch=2)
    state = model.new_state(2)
    model.feed(x, state)
    before = [s.clone() for layer in state.layers for s in layer]
    hidden = model.feed(x[:, :0], state)
    assert hidden.shape == (2, 0, TINY["d_model"])
    for s, s_before in zip((s for layer in state.layers for s in layer), before):
        torch.testing.assert_close(s, s_before)
    state = model.new_state(2)   # with gradients (the blocked scan's path)
    model.feed(x, state)
    model.feed(x[:, :0], state)
    model.head(model.pooled(state)).sum().backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
