"""Training: window sampling, truncated backpropagation through time, next-base pretraining,
learning on real DNA slices, and interrupted + resumed == uninterrupted (bitwise on CPU)."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from genomamba import checkpoint
from genomamba.data import ArraySource, LabelledSource, WindowSampler
from genomamba.errors import ConfigError
from genomamba.models import ModelConfig, build_model
from genomamba.train import TrainConfig, Trainer


GENOMES = Path(__file__).resolve().parents[1] / "resources" / "genomes"
_CODES = np.full(256, 4, np.uint8)
for _i, _base in enumerate(b"ACGT"):
    _CODES[_base] = _CODES[_base + 32] = _i


def fasta_tokens(path, limit=40_000):
    """First record of a gzip'd FASTA slice as tokens (test helper; the pipeline reads via genomamba.io)."""
    lines = []
    with gzip.open(path, "rb") as fh:
        next(fh)
        for line in fh:
            if line.startswith(b">") or sum(map(len, lines)) >= limit:
                break
            lines.append(line.strip())
    return _CODES[np.frombuffer(b"".join(lines), np.uint8)][:limit]


def real_sources(species_strains, limit):
    return [LabelledSource(strain, label, ArraySource([fasta_tokens(GENOMES / sp / f"{strain}.fa.gz", limit)]))
            for label, (sp, strains) in enumerate(species_strains) for strain in strains]


def random_sources(n_classes=2, length=600, seed=0):
    rng = np.random.default_rng(seed)
    return [LabelledSource(f"s{c}", c, ArraySource([rng.integers(0, 4, length), rng.integers(0, 4, length // 2)]))
            for c in range(n_classes)]


def test_sampler_batches_are_a_function_of_seed_and_step():
    sources = random_sources(3)
    a = WindowSampler(sources, 3, window=50, batch_size=8, seed=1)
    b = WindowSampler(sources, 3, window=50, batch_size=8, seed=1)
    tokens, labels = a.batch(5)
    assert tokens.shape == (8, 50) and tokens.dtype == np.uint8 and set(labels) <= {0, 1, 2}
    assert all(np.array_equal(x, y) for x, y in zip(a.batch(5), b.batch(5)))
    assert not np.array_equal(a.batch(5)[0], a.batch(6)[0])
    fixed, fixed_labels = a.fixed_windows(4)
    assert fixed.shape == (12, 50) and list(fixed_labels) == [0] * 4 + [1] * 4 + [2] * 4
    # every window is a real slice of a record of its class (no augmentation in fixed windows)
    for window, label in zip(fixed, fixed_labels):
        records = sources[label].source.records
        assert any(window.tobytes() in r.tobytes() for r in records)


def test_sampler_rejects_windows_longer_than_every_record():
    with pytest.raises(ConfigError, match="s0"):
        WindowSampler(random_sources(2, length=40), 2, window=100, batch_size=2, seed=0)


def test_truncated_backprop_matches_full_backprop_only_when_it_spans_the_window():
    sources = random_sources(2)

    def grads(tbptt):
        model = build_model(ModelConfig(d_model=8, n_layers=1, d_state=4, n_classes=2), seed=0)
        cfg = TrainConfig(steps=1, batch_size=4, window=96, chunk_size=16, tbptt_chunks=tbptt)
        trainer = Trainer(model, WindowSampler(sources, 2, 96, 4, seed=0), cfg, "cpu", log=lambda *_: None)
        tokens, labels = trainer.sampler.batch(0)
        trainer.classification_loss(torch.as_tensor(tokens, dtype=torch.long), torch.as_tensor(labels))
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    full, spanning, truncated = grads(99), grads(6), grads(1)
    torch.testing.assert_close(spanning, full, rtol=1e-4, atol=1e-7)
    assert not torch.allclose(truncated, full, rtol=1e-3)


def test_short_training_on_real_dna_learns_and_beats_chance_on_held_out_strains():
    species = [("Staphylococcus_aureus", ["COL", "N315"]), ("Klebsiella_pneumoniae", ["HS11286", "Kp1084"]),
               ("Helicobacter_pylori", ["ELS37", "G27"])]
    held_out = [("Staphylococcus_aureus", ["RF122"]), ("Klebsiella_pneumoniae", ["MGH78578"]),
                ("Helicobacter_pylori", ["Puno120"])]
    model = build_model(ModelConfig(d_model=16, n_layers=2, d_state=4, n_classes=3), seed=0)
    cfg = TrainConfig(steps=60, batch_size=16, window=128, chunk_size=64, tbptt_chunks=2, lr=1e-2, warmup=5)
    sampler = WindowSampler(real_sources(species, 20_000), 3, 128, 16, seed=0)
    trainer = Trainer(model, sampler, cfg, "cpu", log=lambda *_: None)
    trainer.run()
    losses = [h["loss"] for h in trainer.history]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.2
    test_tokens, test_labels = WindowSampler(real_sources(held_out, 20_000), 3, 128, 1, seed=9).fixed_windows(30)
    model.eval()
    with torch.no_grad():
        logits = model.head(model.summarise_windows(torch.as_tensor(test_tokens, dtype=torch.long)))
    accuracy = (logits.argmax(1).numpy() == test_labels).mean()
    assert accuracy > 0.6  # chance: 1/3


def test_next_base_pretraining_lowers_its_loss_then_fine_tunes_with_a_fresh_optimizer():
    rng = np.random.default_rng(0)
    repeat = np.tile(np.array([0, 1, 2, 3, 3, 2], np.uint8), 100)         # predictable sequence
    sources = [LabelledSource("a", 0, ArraySource([repeat])), LabelledSource("b", 1, ArraySource([rng.integers(0, 4, 600)]))]
    model = build_model(ModelConfig(d_model=16, n_layers=1, d_state=4, n_classes=2), seed=0)
    cfg = TrainConfig(steps=2, pretrain_steps=25, batch_size=8, window=64, chunk_size=32, lr=1e-2, warmup=2)
    trainer = Trainer(model, WindowSampler(sources, 2, 64, 8, seed=0), cfg, "cpu", log=lambda *_: None)
    trainer.run(until=25)
    first_optimizer = trainer.optimizer
    pre = [h["loss"] for h in trainer.history]
    assert {h["stage"] for h in trainer.history} == {"pretrain"}
    assert np.mean(pre[-5:]) < np.mean(pre[:5]) - 0.1
    trainer.run()
    assert [h["stage"] for h in trainer.history[25:]] == ["classify", "classify"]
    assert trainer.optimizer is not first_optimizer


def test_interrupted_and_resumed_run_ends_with_bitwise_the_same_model(tmp_path):
    sources = random_sources(2)
    cfg = TrainConfig(steps=4, pretrain_steps=2, batch_size=4, window=48, chunk_size=16, tbptt_chunks=2, warmup=2)

    def trainer():
        model = build_model(ModelConfig(d_model=8, n_layers=2, d_state=4, n_classes=2), seed=3)
        return Trainer(model, WindowSampler(sources, 2, 48, 4, seed=3), cfg, "cpu", log=lambda *_: None)

    straight = trainer()
    straight.run()
    for stop in (1, 3):                       # interrupted in pretraining, and after the stage switch
        first = trainer()
        first.run(until=stop)
        first.save(tmp_path / f"ckpt{stop}", config={"kind": "test"}, species=["a", "b"], metadata={})
        del first
        resumed = trainer()
        resumed.restore(checkpoint.load(tmp_path / f"ckpt{stop}"))
        assert resumed.step == stop
        resumed.run()
        for name, value in straight.model.state_dict().items():
            assert torch.equal(value, resumed.model.state_dict()[name]), name
        assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_cuda_graphs_train_as_the_eager_steps_do():
    """The training step through CUDA graphs (genomamba.cuda_graphs) gives the eager step's losses
    and weights: next-base pretraining, then classification, two backpropagation segments a window,
    windows that grow (a new graph per shape)."""
    sources = random_sources(3, length=4000)
    cfg = TrainConfig(steps=6, pretrain_steps=3, batch_size=4, window=512, chunk_size=128,
                      tbptt_chunks=2, window_warmup=4, warmup=2)

    def train(graphs: bool):
        model = build_model(ModelConfig(d_model=32, n_layers=2, d_state=8, n_classes=3), seed=0).cuda()
        trainer = Trainer(model, WindowSampler(sources, 3, 512, 4, seed=0), cfg, "cuda", log=print)
        assert trainer.graphs is not None
        if not graphs:
            trainer.graphs = None
        trainer.run(log_every=0)
        return trainer, [h["loss"] for h in trainer.history], model.state_dict()

    graphed, graphed_losses, graphed_weights = train(True)
    _, eager_losses, eager_weights = train(False)
    assert graphed.graphs.replays.enabled and graphed.graphs.replays.graph is not None   # it replayed a graph
    np.testing.assert_allclose(graphed_losses, eager_losses, rtol=1e-5)
    for name, value in eager_weights.items():
        torch.testing.assert_close(graphed_weights[name], value, rtol=1e-5, atol=1e-6, msg=name)
