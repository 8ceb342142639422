"""The k-mer and sourmash classifiers trained on stores of the embedded real slices."""

import numpy as np
import pytest

from genomamba.calls import decide
from genomamba.classifiers import load
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.classifiers.sketch import SourmashClassifier, sketch
from genomamba.errors import ConfigError
from genomamba.inputs import fragments, iter_records
from genomamba.split import Split
from genomamba.store import SequenceStore

from test_classify_support import build_split

KMER_PARAMS = {"windows_per_strain": 80, "validation_windows_per_strain": 40}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return build_split(tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="module")
def kmer(split):
    return KmerClassifier.fit(split, KMER_PARAMS, seed=3, log=lambda *_: None)


def record_calls(model, store_path, fragment_length=None):
    calls = []
    for record in iter_records(store_path):
        for piece in fragments(record, fragment_length) if fragment_length else [record]:
            probs, confidence = model.score(piece.chunks())
            # the k-mer model's "no species" class takes a share: its species' probabilities sum to <= 1
            assert probs.shape == (len(model.species),) and 0 < probs.sum() <= 1 + 1e-9
            assert 0 <= confidence <= 1
            calls.append(decide(probs, confidence, model.species, model.threshold))
    return calls


def test_kmer_calls_held_out_strains_and_rejects_human(split, kmer):
    assert kmer.species == sorted(split.species)
    for row in split.samples("test"):
        expected = row.species if row.species in kmer.species else "unclassified"
        assert record_calls(kmer, row.store) == [expected] * len(SequenceStore.open(row.store))


def test_kmer_fragments_of_10kb_are_mostly_right(split, kmer):
    rows = [r for r in split.samples("test") if r.species in kmer.species]
    calls = [(c, r.species) for r in rows for c in record_calls(kmer, r.store, 10000)]
    assert len(calls) == len(rows) * 3 * 4  # 3 records of 40 kb each, 4 fragments per record
    assert np.mean([c == s for c, s in calls]) >= 0.9


def test_kmer_scores_do_not_depend_on_chunking(split, kmer):
    store = SequenceStore.open(split.samples("test")[0].store)
    tokens = store.read(0)
    whole = kmer.score([tokens])
    pieces = kmer.score(np.array_split(tokens, [1, 7, 5000, 5003, 33333]))
    assert np.array_equal(whole[0], pieces[0]) and whole[1] == pieces[1]


def test_kmer_same_seed_same_model_and_save_load_round_trip(split, kmer, tmp_path):
    again = KmerClassifier.fit(split, KMER_PARAMS, seed=3, log=lambda *_: None)
    assert np.array_equal(again.coef, kmer.coef) and again.threshold == kmer.threshold
    kmer.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert isinstance(loaded, KmerClassifier) and loaded.species == kmer.species
    tokens = SequenceStore.open(split.samples("test")[1].store).read(1, 0, 7000)
    assert np.allclose(loaded.score([tokens])[0], kmer.score([tokens])[0])


def test_kmer_bad_params_and_single_species_are_config_errors(split):
    with pytest.raises(ConfigError, match="unknown parameter"):
        KmerClassifier.fit(split, {"window": 10}, seed=0, log=lambda *_: None)
    with pytest.raises(ConfigError, match="parameter k: expected an integer in 4..8"):
        KmerClassifier.fit(split, {"k": 12}, seed=0, log=lambda *_: None)
    for bad in ({"k": 5.5}, {"C": "1"}, {"ood_lengths": 1000}, {"window_length": -1},
                {"min_window_length": 30000}, {"ood_quantile": 1.0}):
        with pytest.raises(ConfigError, match="parameter"):
            KmerClassifier.fit(split, bad, seed=0, log=lambda *_: None)
    with pytest.raises(ConfigError, match="scaled"):
        SourmashClassifier.fit(split, {"scaled": 0}, seed=0, log=lambda *_: None)
    one = Split([r for r in split.rows if r.species == "Vibrio cholerae"])
    with pytest.raises(ConfigError, match="at least 2 species"):
        KmerClassifier.fit(one, {}, seed=0, log=lambda *_: None)


def test_sketch_does_not_depend_on_chunking(split):
    tokens = SequenceStore.open(split.rows[0].store).read(0, 0, 20000).copy()
    tokens[5000:5010] = 4
    whole = sketch([tokens], 31, 10)
    pieces = sketch(np.array_split(tokens, [3, 30, 31, 9000]), 31, 10)
    assert len(whole) > 0 and set(whole.hashes) == set(pieces.hashes)


def test_sourmash_recognises_its_references_and_rejects_the_rest(split, tmp_path):
    # the slices of different strains are different regions, so containment needs shared sequence:
    # a reference strain's own slices are contained in it, a human slice in none
    rows = split.samples("train") + [r for r in split.rows if r.species == "Homo sapiens"]
    model = SourmashClassifier.fit(split, {"scaled": 50, "validation_windows_per_strain": 10},
                                   seed=0, log=lambda *_: None)
    model.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert isinstance(loaded, SourmashClassifier) and loaded.threshold >= 0.05
    for row in rows:
        expected = row.species if row.species in loaded.species else "unclassified"
        assert record_calls(loaded, row.store) == [expected] * len(SequenceStore.open(row.store))
    probs, confidence = loaded.score(iter([SequenceStore.open(rows[0].store).read(0)]))
    assert confidence == 1.0 and probs[loaded.species.index(rows[0].species)] > 0.5
