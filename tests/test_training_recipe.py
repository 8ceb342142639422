"""The training recipe: time-boxed segments that continue one run, sequence-length warm-up, the
"no species" class of synthetic negatives, and the throughput a training run records."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from genomamba.classifiers import load
from genomamba.cli import main
from genomamba.commands.train import PAUSED
from genomamba.data import WindowSampler
from genomamba.models import ModelConfig, build_model
from genomamba.train import TrainConfig, Trainer

from test_classify_support import LAYOUT, build_split
from test_train import random_sources

TINY = {"d_model": 8, "n_layers": 1, "d_state": 4, "steps": 4, "pretrain_steps": 2, "window": 64,
        "chunk_size": 32, "batch_size": 4, "warmup": 1, "eval_windows": 4, "log_every": 0,
        "ood_windows": [1, 2]}


@pytest.fixture(scope="module")
def split_path(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stores")
    build_split(directory, [row for row in LAYOUT if row[0] != "Klebsiella pneumoniae"])
    return directory / "split.tsv"


def train(split_path, out, params, *extra):
    return main(["train", "--kind", "mamba", "--split", str(split_path), "--params", json.dumps(params),
                 "--seed", "7", "-o", str(out), *extra])


def test_time_boxed_segments_continue_the_same_run(split_path, tmp_path, capsys):
    straight = tmp_path / "straight"
    assert train(split_path, straight, {**TINY, "checkpoint_dir": str(tmp_path / "ckpt_a")}) == 0
    segmented, params = tmp_path / "segmented", {**TINY, "checkpoint_dir": str(tmp_path / "ckpt_b")}
    statuses = []
    for _ in range(10):   # a limit already past: every call trains one step, then saves and stops
        statuses.append(train(split_path, segmented, params, "--max-minutes", "1e-9"))
        if statuses[-1] == 0:
            break
    assert statuses == [PAUSED] * 5 + [0]
    assert "stopped at step 1 of 6" in capsys.readouterr().err
    a, b = load_file(straight / "model.safetensors"), load_file(segmented / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    history = json.loads((segmented / "training.json").read_text())["history"]
    assert [h["step"] for h in history] == list(range(6))


def test_time_limit_needs_a_checkpoint_dir_and_a_neural_kind(split_path, tmp_path, capsys):
    assert train(split_path, tmp_path / "m", TINY, "--max-minutes", "5") == 2
    assert "checkpoint_dir" in capsys.readouterr().err
    assert main(["train", "--kind", "kmer", "--split", str(split_path), "-o", str(tmp_path / "k"),
                 "--max-minutes", "5"]) == 2
    assert "neural kinds" in capsys.readouterr().err
    assert not (tmp_path / "m").exists() and not (tmp_path / "k").exists()


def test_a_trained_model_records_its_training_throughput(split_path, tmp_path):
    assert train(split_path, tmp_path / "m", TINY) == 0
    throughput = load(tmp_path / "m").metadata["training_throughput"]
    assert throughput["tokens"] == 6 * 4 * 64 and throughput["tokens_per_second"] > 0


def test_window_warm_up_doubles_from_one_chunk_to_the_window_in_each_stage():
    cfg = TrainConfig(steps=10, pretrain_steps=10, batch_size=2, window=256, chunk_size=32, window_warmup=6)
    model = build_model(ModelConfig(d_model=8, n_layers=1, d_state=4, n_classes=2), seed=0)
    trainer = Trainer(model, WindowSampler(random_sources(2, 600), 2, 256, 2, seed=0), cfg, "cpu",
                      log=lambda *_: None)
    widths = [trainer.window_at(step) for step in range(20)]
    assert widths[:10] == [32, 32, 64, 64, 128, 128, 256, 256, 256, 256] == widths[10:]
    trainer.run(until=3)
    assert trainer.tokens_seen == 2 * (32 + 32 + 64)


def test_negatives_are_a_class_of_their_own_in_the_batches():
    sampler = WindowSampler(random_sources(3, 600), 3, 100, 400, seed=2, negatives=0.25)
    tokens, labels = sampler.batch(0)
    share = np.mean(labels == 3)
    assert 0.18 < share < 0.32 and set(labels) == {0, 1, 2, 3} and tokens.shape == (400, 100)
    again = WindowSampler(random_sources(3, 600), 3, 100, 400, seed=2, negatives=0.25).batch(0)
    assert np.array_equal(again[0], tokens) and np.array_equal(again[1], labels)
    plain = WindowSampler(random_sources(3, 600), 3, 100, 400, seed=2).batch(0)[1]
    assert 3 not in plain


def test_a_model_with_negatives_reports_species_probabilities_only(split_path, tmp_path):
    assert train(split_path, tmp_path / "m", {**TINY, "negatives": 0.5}) == 0
    model = load(tmp_path / "m")
    assert model.model.cfg.n_classes == len(model.species) + 1
    probs, confidence = model.score([np.zeros(500, np.uint8)])
    assert probs.shape == (len(model.species),) and probs.sum() < 1 and confidence <= probs.max()
