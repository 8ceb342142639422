"""Canonical k-mer counting and the k-mer classifier's arithmetic (training: test_classify_models.py)."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from genomamba.alphabet import reverse_complement
from genomamba.classifiers.kmer import KmerCounter, canonical_index, softmax_probs
from genomamba.data import window_lengths
from genomamba.errors import ConfigError
from genomamba.io import read_records

SLICE = "resources/genomes/Helicobacter_pylori/G27.fa.gz"


def naive_counts(tokens, k):
    """Canonical k-mers as tuples, by brute force."""
    counts = Counter()
    for i in range(len(tokens) - k + 1):
        window = tokens[i:i + k]
        if (window > 3).any():
            continue
        counts[min(tuple(window), tuple(reverse_complement(window)))] += 1
    return counts


def first_record_tokens(path, limit):
    record = next(iter(read_records(path)))
    return np.concatenate([tokens for tokens, _ in record.chunks()])[:limit]


@pytest.mark.parametrize("k", [4, 5, 6])
def test_canonical_counts_match_brute_force_on_real_sequence(k):
    tokens = first_record_tokens(SLICE, 4000).copy()
    tokens[100:103] = 4  # an N run: windows over it are skipped
    counts, length = KmerCounter(k).count([tokens])
    expected = naive_counts(tokens, k)
    assert length == 4000
    assert counts.sum() == sum(expected.values()) == 4000 - k + 1 - (k + 2)
    assert sorted(counts[counts > 0].tolist()) == sorted(expected.values())


def test_number_of_canonical_kmers():
    # 4^k / 2 pairs, plus half the palindromes (4^(k/2)) for even k
    assert canonical_index(5)[1] == 4 ** 5 // 2
    assert canonical_index(6)[1] == (4 ** 6 + 4 ** 3) // 2


def test_reverse_complement_has_the_same_counts():
    tokens = first_record_tokens(SLICE, 3000)
    counter = KmerCounter(6)
    assert (counter.count([tokens])[0] == counter.count([reverse_complement(tokens)])[0]).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=120),
       st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_counts_do_not_depend_on_chunking(bases, cuts):
    tokens = np.array(bases, dtype=np.uint8)
    counter = KmerCounter(4)
    chunks = np.split(tokens, np.cumsum(cuts)[np.cumsum(cuts) < len(tokens)])
    whole, length = counter.count([tokens])
    pieces, piece_length = counter.count(chunks)
    assert (whole == pieces).all() and length == piece_length == len(tokens)


@pytest.mark.parametrize("k", [3, 9, "6"])
def test_k_out_of_range_is_a_config_error(k):
    with pytest.raises(ConfigError):
        KmerCounter(k)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probabilities_match_scikit_learn(n_classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5))
    y = np.arange(80) % n_classes
    model = LogisticRegression(random_state=0).fit(x + y[:, None], y)
    ours = softmax_probs(x @ model.coef_.T + model.intercept_)
    assert np.allclose(ours, model.predict_proba(x))


def test_window_lengths_are_seeded_and_in_range():
    a = window_lengths(100, 500, 5000, np.random.default_rng(1))
    assert (a == window_lengths(100, 500, 5000, np.random.default_rng(1))).all()
    assert a.min() >= 500 and a.max() <= 5000 and np.median(a) < 2750  # log-uniform: skewed short
