"""Neural classifiers end to end on stores and a split: fit, save, load (no pickle), chunk-invariant
scores and calls, reverse-complement invariance, params checking, atomic checkpoints."""

import json

import numpy as np
import pytest
import torch

from genomamba import checkpoint
from genomamba.alphabet import reverse_complement
from genomamba.classifiers import load
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.classifiers.mamba import resolve_params
from genomamba.classifiers.transformer import TransformerClassifier
from genomamba.errors import ConfigError, InputError
from genomamba.split import Split, SplitRow
from genomamba.store import SequenceStore, StoreWriter


TINY = {"d_model": 8, "n_layers": 1, "d_state": 4, "window": 64, "chunk_size": 32, "steps": 6,
        "batch_size": 4, "eval_windows": 4, "log_every": 0, "score_chunk": 100}


def genome(gc, length, rng):
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    return rng.choice(4, size=length, p=p).astype(np.uint8)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """Two species of different GC, strains in train/validation/test, each a real zarr store."""
    root = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    rows = []
    for species, gc in (("Lowgc one", 0.3), ("Highgc two", 0.65)):
        for strain, part in (("a", "train"), ("b", "train"), ("c", "validation"), ("d", "test")):
            path = root / f"{species[:2]}{strain}.zarr"
            writer = StoreWriter(path)
            writer.add_record("chr", genome(gc, 700, rng))
            writer.add_record("plasmid", genome(gc, 90, rng))
            writer.close(species=species, strain=strain)
            rows.append(SplitRow(f"{species[:2]}{strain}", species, strain, part, str(path)))
    table = root / "split.tsv"
    Split(rows).write(table)
    return Split.read(table)


@pytest.fixture(scope="module")
def fitted(split):
    return MambaClassifier.fit(split, TINY, seed=1, log=lambda *_: None)


def pieces(tokens, size):
    return [tokens[i:i + size] for i in range(0, len(tokens), size)]


def test_fit_calibrates_a_threshold_and_records_metadata(fitted, split):
    assert fitted.species == split.species == ["Highgc two", "Lowgc one"]
    assert 0 < fitted.threshold <= 1
    meta = fitted.metadata
    assert meta["steps"] == 6 and meta["metrics"]["calibrated_on"] == "validation windows"
    assert len(meta["digests"]["train"]) == 64 and meta["digests"]["train"] != meta["digests"]["validation"]


def test_scores_and_calls_do_not_depend_on_chunking(fitted):
    tokens = genome(0.3, 1000, np.random.default_rng(5))
    reference = fitted.score([tokens])
    for size in (1, 7, 64, 999):
        probs, confidence = fitted.score(pieces(tokens, size))
        np.testing.assert_allclose(probs, reference[0], rtol=1e-5, atol=1e-7)
        assert confidence == pytest.approx(reference[1], rel=1e-5)
    # species probabilities sum to 1 less the "no species" class's share
    assert 0 < reference[0].sum() <= 1 + 1e-9 and 0 <= reference[1] <= 1
    empty = fitted.score([])
    assert np.allclose(empty[0], 0.5) and empty[1] == 0.0


def test_save_and_load_give_the_same_scores_without_pickle(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == ["config.json", "labels.json", "model.safetensors", "training.json"]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["kind"] == "mamba" and config["species"] == fitted.species
    assert config["threshold"] == fitted.threshold
    loaded = load(tmp_path / "model")
    tokens = genome(0.65, 500, np.random.default_rng(6))
    a, b = fitted.score(pieces(tokens, 50)), loaded.score(pieces(tokens, 50))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_sequences_unlike_every_species_are_unclassified(split):
    """The OOD check (mean window distance beyond the calibrated radius) rejects repeats and
    homopolymers that the softmax alone would assign, while held-out strains are not rejected."""
    # without the "no species" class, so that the distance check alone is what rejects them
    clf = MambaClassifier.fit(split, {**TINY, "steps": 40, "eval_windows": 8, "negatives": 0}, seed=5,
                              log=lambda *_: None)
    rejected = [np.tile(np.array(unit, np.uint8), 600 // len(unit))
                for unit in ([0], [2], [0, 1], [0, 0, 2], [1, 3, 2, 0, 3])]
    for tokens in rejected:
        probs, confidence = clf.score([tokens])
        assert confidence == 0.0 and probs.max() > 0.5
    for row in split.samples("test"):   # held-out strains stay inside the radius
        store = SequenceStore.open(row.store)
        assert all(clf.score([store.read(i)])[1] > 0 for i in range(len(store)))


def test_radius_below_one_window_has_points_of_its_own(split, tmp_path):
    """Fractions of a window in ood_windows calibrate the radius for records that short, without
    moving the fit, the threshold or the radius of records of a window or more."""
    params = {**TINY, "steps": 4}
    whole = MambaClassifier.fit(split, params, seed=5, log=lambda *_: None)
    messages = []
    short = MambaClassifier.fit(split, {**params, "ood_windows": [0.25, 1, 4, 16]}, seed=5,
                                log=messages.append)
    assert any("0.25 windows" in m for m in messages), messages
    assert short.threshold == whole.threshold
    assert short.distance.radius_fit == whole.distance.radius_fit
    (size, quantile), = short.distance.short
    assert size == 0.25 and short.distance.radius(0.25) == pytest.approx(quantile)
    assert short.distance.radius(0.1) == pytest.approx(quantile)          # held below the shortest
    for n in (1, 2, 16, 100):
        assert short.distance.radius(n) == pytest.approx(whole.distance.radius(n))
    between = short.distance.radius(0.5)
    assert min(quantile, whole.distance.radius(1)) <= between <= max(quantile, whole.distance.radius(1))
    assert whole.distance.radius(0.25) == pytest.approx(whole.distance.radius(1))  # no points: clamped
    short.save(tmp_path / "m")
    assert load(tmp_path / "m").distance.short == short.distance.short


def test_rc_equivariant_classifier_scores_both_strands_the_same(split):
    clf = MambaClassifier.fit(split, {**TINY, "steps": 2, "rc_equivariant": True}, seed=2, log=lambda *_: None)
    tokens = genome(0.5, 300, np.random.default_rng(7))
    forward, reverse = clf.score(pieces(tokens, 100)), clf.score(pieces(reverse_complement(tokens), 100))
    assert np.array_equal(forward[0], reverse[0]) and forward[1] == reverse[1]


def test_transformer_classifier_fits_and_scores_by_windows(split, tmp_path):
    clf = TransformerClassifier.fit(split, {**TINY, "n_heads": 2}, seed=3, log=lambda *_: None)
    tokens = genome(0.3, 200, np.random.default_rng(8))
    np.testing.assert_allclose(clf.score(pieces(tokens, 13))[0], clf.score([tokens])[0], rtol=1e-5)
    clf.save(tmp_path / "t")
    assert load(tmp_path / "t").kind == "transformer"


def test_fit_resumes_from_its_checkpoint_directory(split, tmp_path):
    params = {**TINY, "checkpoint_dir": str(tmp_path / "ckpt"), "checkpoint_every": 2}
    straight = MambaClassifier.fit(split, {**params, "checkpoint_dir": ""}, seed=4, log=lambda *_: None)
    MambaClassifier.fit(split, params, seed=4, log=lambda *_: None)
    assert checkpoint.is_resumable(tmp_path / "ckpt")
    messages = []
    resumed = MambaClassifier.fit(split, params, seed=4, log=messages.append)   # already at the end
    assert any("resumed" in m and "step 6" in m for m in messages)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name])
    with pytest.raises(ConfigError, match="other data or settings"):
        MambaClassifier.fit(split, {**params, "lr": 1e-4}, seed=4, log=lambda *_: None)


def test_params_are_checked():
    assert resolve_params({})["window"] == 512
    with pytest.raises(ConfigError, match="unknown"):
        resolve_params({"windows": 100})
    with pytest.raises(ConfigError, match="steps"):
        resolve_params({"steps": "ten"})
    with pytest.raises(ConfigError, match="device"):
        resolve_params({"device": "tpu"})
    assert resolve_params({"ood_windows": [0.25, 1, 4]})["ood_windows"] == [0.25, 1, 4]
    for bad in ({"ood_windows": 4}, {"ood_windows": [0, 4]}, {"ood_windows": []},
                {"ood_windows": [-0.5, 1]}, {"ood_windows": [0.5]}):
        with pytest.raises(ConfigError, match="ood_windows"):
            resolve_params(bad)
    with pytest.raises(ConfigError, match="ood_quantile"):
        resolve_params({"ood_quantile": 1.0})


def test_checkpoint_is_written_whole_or_not_at_all(tmp_path):
    with pytest.raises(Exception):
        checkpoint.save(tmp_path / "bad", config={}, tensors={"w": "not a tensor"}, species=[], metadata={})
    assert not (tmp_path / "bad").exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(InputError):
        checkpoint.load(tmp_path)


def test_classify_device_option_moves_the_model(fitted, tmp_path):
    """`genomamba classify --device cpu` reaches the neural classifier (its `to`), same scores."""
    from genomamba.commands.classify import load_model
    fitted.save(tmp_path / "model")
    moved = load_model(tmp_path / "model", "cpu")
    assert moved.device.type == "cpu" and next(moved.model.parameters()).device.type == "cpu"
    tokens = genome(0.35, 400, np.random.default_rng(7))
    assert np.array_equal(moved.score(pieces(tokens, 64))[0], fitted.score(pieces(tokens, 64))[0])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            moved.to("cuda")
