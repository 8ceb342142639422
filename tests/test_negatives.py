"""Synthetic negatives (genomamba.negatives): the generators, the sampler's "no species" windows, and
the models on negatives made from held-out strains: the k-mer and sourmash models call every one
``unclassified`` while the k-mer model still calls the held-out strains right; a Mamba trained for
seconds calls the strains right and learns the "no species" class, not well enough to reject every
negative on its own, but with its Markov check (genomamba/markov.py) it does."""

import json
from itertools import permutations

import numpy as np
import pytest
import torch

from genomamba import negatives
from genomamba.alphabet import N, reverse_complement
from genomamba.calls import decide
from genomamba.classifiers import load
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.classifiers.sketch import SourmashClassifier
from genomamba.data import WindowSampler
from genomamba.errors import ConfigError, InputError
from genomamba.store import SequenceStore

from test_classify_support import build_split
from test_train import random_sources

KMER_PARAMS = {"windows_per_strain": 80, "validation_windows_per_strain": 40}
SOURMASH_PARAMS = {"scaled": 50, "validation_windows_per_strain": 10}


def dinucleotides(tokens):
    return np.bincount(tokens[:-1].astype(np.int64) * 5 + tokens[1:], minlength=25)


def real_tokens(seed=0, length=3000):
    """Tokens with A, C, G, T of unequal frequencies and a few N runs."""
    rng = np.random.default_rng(seed)
    tokens = rng.choice(4, size=length, p=[0.4, 0.1, 0.2, 0.3]).astype(np.uint8)
    tokens[100:110] = N
    tokens[2000:2003] = N
    return tokens


# ---- the generators -----------------------------------------------------------------------------

def test_uniform_and_gc_skewed_are_random_bases_of_the_asked_composition():
    rng = np.random.default_rng(0)
    uniform = negatives.uniform(rng, 100_000)
    assert uniform.dtype == np.uint8 and len(uniform) == 100_000
    assert np.allclose(np.bincount(uniform, minlength=5) / 1e5, [0.25] * 4 + [0], atol=0.01)
    for gc in (0.2, 0.5, 0.75):
        skewed = negatives.gc_skewed(rng, 100_000, gc)
        assert N not in skewed and abs(np.isin(skewed, (1, 2)).mean() - gc) < 0.01
    drawn = [np.isin(negatives.gc_skewed(np.random.default_rng(seed), 20_000), (1, 2)).mean()
             for seed in range(30)]
    assert 0.18 < min(drawn) and max(drawn) < 0.82 and max(drawn) - min(drawn) > 0.3


def test_the_shuffle_keeps_every_dinucleotide_count_and_both_ends():
    tokens = real_tokens()
    for seed in range(5):
        shuffled = negatives.dinucleotide_shuffle(tokens, np.random.default_rng(seed))
        assert shuffled.dtype == np.uint8 and len(shuffled) == len(tokens)
        assert np.array_equal(dinucleotides(shuffled), dinucleotides(tokens))  # N's pairs too
        assert (shuffled[0], shuffled[-1]) == (tokens[0], tokens[-1])
        assert np.mean(shuffled != tokens) > 0.5
    assert np.array_equal(negatives.dinucleotide_shuffle(tokens[:2], np.random.default_rng(0)), tokens[:2])


def test_the_shuffle_draws_every_sequence_of_those_counts_equally_often():
    # A C A G A T A: the only sequences with its dinucleotides are the 3! orders of C, G and T
    tokens = np.array([0, 1, 0, 2, 0, 3, 0], dtype=np.uint8)
    rng = np.random.default_rng(1)
    seen = [tuple(negatives.dinucleotide_shuffle(tokens, rng)[1::2]) for _ in range(1200)]
    counts = {order: seen.count(order) for order in permutations((1, 2, 3))}
    assert sum(counts.values()) == 1200 and min(counts.values()) > 150 and max(counts.values()) < 250


def test_reversed_is_the_sequence_read_backwards_not_complemented():
    tokens = real_tokens()
    backwards = negatives.make("reversed", np.random.default_rng(0), tokens)
    assert np.array_equal(backwards, tokens[::-1]) and backwards.flags["C_CONTIGUOUS"]
    assert np.array_equal(np.flatnonzero(backwards == N), np.sort(len(tokens) - 1 - np.flatnonzero(tokens == N)))


def test_make_is_a_function_of_the_seed_and_checks_its_arguments():
    tokens = real_tokens()
    for kind in negatives.KINDS:
        a = negatives.make(kind, np.random.default_rng(4), tokens)
        b = negatives.make(kind, np.random.default_rng(4), tokens)
        assert np.array_equal(a, b) and len(a) == len(tokens)
        if kind != "reversed":
            assert not np.array_equal(a, negatives.make(kind, np.random.default_rng(5), tokens))
    assert len(negatives.make("uniform", np.random.default_rng(0), length=77)) == 77
    with pytest.raises(ValueError, match="needs a real sequence"):
        negatives.make("shuffled", np.random.default_rng(0), length=100)
    with pytest.raises(ValueError, match="unknown negative kind"):
        negatives.make("inverted", np.random.default_rng(0), tokens)


def test_random_negative_draws_every_kind_and_never_shuffles_windows_of_mostly_n():
    tokens = real_tokens()
    rng = np.random.default_rng(2)
    made = [negatives.random_negative(rng, tokens) for _ in range(40)]
    assert all(len(m) == len(tokens) for m in made)
    with_n = [m for m in made if N in m]  # the shuffled and the reversed keep the N's
    assert 0 < len(with_n) < len(made)
    assert any(np.array_equal(m, tokens[::-1]) for m in made)
    mostly_n = np.full(1000, N, dtype=np.uint8)
    mostly_n[:300] = real_tokens(length=300)
    made = [negatives.random_negative(rng, mostly_n) for _ in range(20)]  # never shuffled: reversed or random
    reversed_ = [np.array_equal(m, mostly_n[::-1]) for m in made]
    assert any(reversed_) and all(r or N not in m for r, m in zip(reversed_, made))


# ---- the training sampler -----------------------------------------------------------------------

def test_the_sampler_replaces_its_share_of_windows_by_negatives_labelled_no_species():
    sources = random_sources(3, length=2000)
    sampler = WindowSampler(sources, 3, window=200, batch_size=64, seed=8, negatives=0.25)
    labelled = [sampler.batch(step) for step in range(8)]
    labels = np.concatenate([l for _, l in labelled])
    assert 0.18 < np.mean(labels == 3) < 0.32 and set(labels) == {0, 1, 2, 3}
    again = WindowSampler(sources, 3, window=200, batch_size=64, seed=8, negatives=0.25)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(labelled, (again.batch(step) for step in range(8))))
    # species windows are slices of a record of either strand, negatives are not
    records = [r.tobytes() for s in sources for r in s.source.records]
    records += [reverse_complement(r).tobytes() for s in sources for r in s.source.records]
    tokens, labels = labelled[0]
    assert tokens.shape == (64, 200) and tokens.max() <= 4
    is_slice = np.array([any(w.tobytes() in r for r in records) for w in tokens])
    assert is_slice[labels < 3].all() and not is_slice[labels == 3].any()
    without = WindowSampler(sources, 3, window=200, batch_size=64, seed=8).batch(0)[1]
    assert 3 not in without


# ---- every model kind on negatives made from held-out strains -----------------------------------

@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return build_split(tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="module")
def held_out(split):
    """(species, the records joined) of each held-out strain of a training species."""
    genomes = []
    for row in split.samples("test"):
        if row.species in split.species:
            store = SequenceStore.open(row.store)
            genomes.append((row.species, np.concatenate([store.read(i) for i in range(len(store))])))
    assert len(genomes) == 3
    return genomes


def negatives_of(genomes, length, seed):
    """One negative of every kind and ``length`` from every genome (a window of it, or the genome
    repeated where it is shorter): (kind, tokens)."""
    rng = np.random.default_rng(seed)
    made = []
    for _, genome in genomes:
        start = int(rng.integers(0, max(len(genome) - length, 0) + 1))
        real = np.resize(genome[start:start + length], length)
        made += [(kind, negatives.make(kind, rng, real)) for kind in negatives.KINDS]
    return made


def call(model, tokens):
    probs, confidence = model.score([tokens])
    assert probs.shape == (len(model.species),) and probs.min() >= 0 and probs.sum() <= 1 + 1e-9
    return decide(probs, confidence, model.species, model.threshold), confidence


@pytest.fixture(scope="module")
def kmer(split):
    return KmerClassifier.fit(split, KMER_PARAMS, seed=3, log=lambda *_: None)


def test_kmer_rejects_negatives_and_calls_held_out_strains(kmer, split, held_out):
    assert kmer.coef.shape[0] == len(kmer.species) + 1  # the "no species" class, last
    for species, genome in held_out:
        assert call(kmer, genome)[0] == species
    for row in split.samples("test"):  # every record, and the human slice unclassified
        store = SequenceStore.open(row.store)
        expected = row.species if row.species in kmer.species else "unclassified"
        assert [call(kmer, store.read(i))[0] for i in range(len(store))] == [expected] * len(store)
    for length in (10_000, 100_000, 1_000_000):
        for kind, tokens in negatives_of(held_out, length, seed=length):
            called, confidence = call(kmer, tokens)
            assert called == "unclassified", (kind, length, called, confidence, kmer.threshold)
    # the species' probabilities leave the "no species" class its share: most of it on a negative
    probs, _ = kmer.score([negatives.uniform(np.random.default_rng(0), 50_000)])
    assert probs.sum() < 0.5


def test_kmer_without_negatives_is_the_plain_regression_and_both_load_back(kmer, split, tmp_path):
    plain = KmerClassifier.fit(split, {**KMER_PARAMS, "negatives": 0}, seed=3, log=lambda *_: None)
    assert plain.coef.shape[0] == len(plain.species)
    tokens = SequenceStore.open(split.samples("test")[0].store).read(0, 0, 8000)
    assert np.isclose(plain.score([tokens])[0].sum(), 1)
    for name, model in (("negatives", kmer), ("plain", plain)):
        model.save(tmp_path / name)
        loaded = load(tmp_path / name)
        assert np.allclose(loaded.score([tokens])[0], model.score([tokens])[0], rtol=1e-12, atol=0)
    # a model saved with params that do not name negatives has none
    config = json.loads((tmp_path / "plain" / "config.json").read_text())
    del config["params"]["negatives"]
    (tmp_path / "plain" / "config.json").write_text(json.dumps(config))
    assert np.allclose(load(tmp_path / "plain").score([tokens])[0], plain.score([tokens])[0], rtol=1e-12, atol=0)
    (tmp_path / "negatives" / "config.json").write_text(json.dumps(config))  # weights with the class, config without
    with pytest.raises(InputError, match="coef"):
        load(tmp_path / "negatives")
    for bad in (1, 1.5, -0.1):
        with pytest.raises(ConfigError, match="negatives"):
            KmerClassifier.fit(split, {"negatives": bad}, seed=0, log=lambda *_: None)


def test_sourmash_rejects_negatives_even_of_its_own_references(split, held_out):
    model = SourmashClassifier.fit(split, SOURMASH_PARAMS, seed=0, log=lambda *_: None)
    # the slices of different strains are different regions: a held-out strain shares nothing with
    # the references, so here only the negatives are checked, also negatives of a reference strain
    train = split.samples("train")[0]
    store = SequenceStore.open(train.store)
    reference = [(train.species, np.concatenate([store.read(i) for i in range(len(store))]))]
    called, confidence = call(model, reference[0][1])
    assert called == train.species and confidence > 0.99  # the k-mers across joined records are new
    for length in (10_000, 100_000, 1_000_000):
        for kind, tokens in negatives_of(held_out + reference, length, seed=length):
            called, confidence = call(model, tokens)
            assert called == "unclassified" and confidence < 0.01, (kind, length, confidence)


# A Mamba that trains in seconds on one CPU core: it learns the species of held-out strains and gives
# negatives more "no species" probability than real DNA, but too little to reject all of them.
TINY_MAMBA = {"d_model": 16, "n_layers": 2, "d_state": 4, "window": 128, "chunk_size": 128, "batch_size": 16,
              "steps": 200, "lr": 0.01, "warmup": 10, "negatives": 0.25, "eval_windows": 8,
              "ood_windows": [1, 4], "log_every": 0}


@pytest.fixture(scope="module")
def mamba_scores(split, held_out):
    """The tiny Mamba and its (call, confidence, "no species" probability) of every held-out genome
    and of the negatives of every kind made from them (10 kb: each genome; 100 kb: the first), with
    its Markov check; and the negatives' calls without it (the model alone).
    Scored on one thread, like the tests (conftest's one_thread is per test, this runs once)."""
    model = MambaClassifier.fit(split, TINY_MAMBA, seed=1, log=lambda *_: None)

    def scored(tokens):
        probs, confidence = model.score([tokens])
        return decide(probs, confidence, model.species, model.threshold), confidence, 1 - probs.sum()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        genomes = [(species, scored(genome)) for species, genome in held_out]
        made = negatives_of(held_out, 10_000, seed=10_000) + negatives_of(held_out[:1], 100_000, seed=100_000)
        checked = [(kind, len(tokens), scored(tokens)) for kind, tokens in made]
        check, model.markov_check = model.markov_check, None
        alone = [(kind, len(tokens), scored(tokens)) for kind, tokens in made]
        model.markov_check = check
        return model, genomes, checked, alone
    finally:
        torch.set_num_threads(threads)


def test_tiny_mamba_calls_held_out_strains_and_learns_the_no_species_class(mamba_scores):
    model, genomes, made, _ = mamba_scores
    assert model.model.cfg.n_classes == len(model.species) + 1
    assert [call for _, (call, _, _) in genomes] == [species for species, _ in genomes]
    real_share = np.mean([share for _, (_, _, share) in genomes])
    negative_share = np.mean([share for _, _, (_, _, share) in made])
    assert 0 < real_share < negative_share - 0.05


def test_tiny_mamba_rejects_every_negative_with_its_markov_check_not_without(mamba_scores):
    model, _, checked, alone = mamba_scores
    assert model.markov_check is not None
    assert [(kind, length) for kind, length, (call, _, _) in checked if call != "unclassified"] == []
    assert [(kind, length) for kind, length, (call, _, _) in alone if call != "unclassified"] != []


def test_the_markov_check_is_saved_with_the_model_and_checked_on_load(mamba_scores, held_out, tmp_path):
    from safetensors.torch import load_file, save_file

    model, _, _, _ = mamba_scores
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["markov"]["order"] == 6 and config["markov"]["min_length"] == 10_000
    loaded = load(tmp_path / "m")
    fake = negatives.make("shuffled", np.random.default_rng(4), held_out[0][1][:20_000])
    for tokens in (held_out[0][1], fake):
        assert loaded.score([tokens])[1] == model.score([tokens])[1]
    weights = tmp_path / "m" / "model.safetensors"
    tensors = load_file(str(weights))
    tensors["markov.log_probs"] = tensors["markov.log_probs"][:, :100].contiguous()
    save_file(tensors, str(weights))
    with pytest.raises(InputError, match="markov.log_probs"):
        load(tmp_path / "m")
