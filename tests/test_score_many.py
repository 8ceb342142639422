"""Short records scored together (``Classifier.score_many``, the lots of `genomamba classify`) get
what scoring each on its own gives: a tiny Mamba, with and without the reverse-complement option,
trained a few steps on stores of the embedded slices."""

import csv

import numpy as np
import pytest

from genomamba.calls import decide
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.cli import main

from test_classify_support import LAYOUT, QUIET, TINY_MAMBA, build_split, genome_tokens

HOST = ("Staphylococcus aureus", "RF122")
# around the batch limit (score_chunk, 4096) and the edges: empty, one base, longer than a chunk
LENGTHS = (300, 1, 4096, 0, 7, 2500, 64, 4097, 301, 9000, 1000, 299)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return build_split(tmp_path_factory.mktemp("stores"), LAYOUT[:8])


@pytest.fixture(scope="module", params=[False, True], ids=["forward", "both strands"])
def model(split, request):
    return MambaClassifier.fit(split, {**TINY_MAMBA, "rc_equivariant": request.param}, seed=1, **QUIET)


def records(lengths=LENGTHS, seed=0):
    """Slices of a real genome at seeded offsets, of ``lengths`` bases (with an N run in one)."""
    genome, rng = genome_tokens(*HOST), np.random.default_rng(seed)
    starts = [rng.integers(0, len(genome) - n + 1) for n in lengths]
    out = [genome[start:start + n].copy() for n, start in zip(lengths, starts)]
    out[LENGTHS.index(2500)][100:140] = 4
    return out


def assert_same(many, each, species, threshold):
    assert len(many) == len(each)
    for (p, c), (q, d) in zip(many, each):
        assert np.allclose(p, q, atol=1e-5) and c == pytest.approx(d, abs=1e-5)
        assert decide(p, c, species, threshold) == decide(q, d, species, threshold)


def test_scoring_many_records_gives_each_ones_score(model, monkeypatch):
    batches = []
    score_batch = model._score_batch
    monkeypatch.setattr(model, "_score_batch", lambda rs: batches.append(len(rs)) or score_batch(rs))
    many = model.score_many(records())
    each = [model.score([tokens]) for tokens in records()]
    assert_same(many, each, model.species, model.threshold)
    # the nine records of 1 to 4096 bases run in batches of at most 4096 tokens; the empty one and
    # those longer than a chunk are scored on their own
    assert sum(batches) == 9 and len(batches) < 9
    assert many[LENGTHS.index(0)][1] == 0.0


def test_the_markov_check_rejects_noise_in_a_batch_as_it_does_alone(split, monkeypatch):
    model = MambaClassifier.fit(split, TINY_MAMBA, seed=1, **QUIET)
    monkeypatch.setattr(model, "score_chunk", 16_384)   # records of 10 kb and more take the check
    noise = np.random.default_rng(1).integers(0, 4, 12_000).astype(np.uint8)
    batch = [genome_tokens(*HOST)[:12_000], noise, genome_tokens(*HOST)[20_000:21_000]]
    assert [len(tokens) for tokens in batch] == [12_000, 12_000, 1000]
    many, each = model.score_many(batch), [model.score([tokens]) for tokens in batch]
    assert_same(many, each, model.species, model.threshold)
    assert many[1][1] == 0.0 and each[1][1] == 0.0


def write_fasta(path, named_tokens):
    letters = np.frombuffer(b"ACGTN", np.uint8)
    with open(path, "w") as fh:
        for name, tokens in named_tokens:
            fh.write(f">{name}\n{letters[tokens].tobytes().decode()}\n")


def table(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_classify_scores_short_records_in_lots_and_writes_what_one_by_one_gives(split, tmp_path, monkeypatch):
    model = MambaClassifier.fit(split, TINY_MAMBA, seed=1, **QUIET)
    model.save(tmp_path / "model")
    fasta = tmp_path / "reads.fa"
    reads = [(f"r{i}", tokens) for i, tokens in enumerate(records()) if len(tokens)]   # FASTA has no empty ones
    write_fasta(fasta, reads)
    lots = []
    score_many = MambaClassifier.score_many
    monkeypatch.setattr(MambaClassifier, "score_many", lambda self, rs: lots.append(len(rs)) or score_many(self, rs))
    for out, fragment in (("lots.tsv", []), ("fragments.tsv", ["--fragment-length", "700"])):
        assert main(["classify", "--model", str(tmp_path / "model"), str(fasta), "-o", str(tmp_path / out),
                     *fragment]) == 0
    assert lots and sum(lots) > len(lots)
    monkeypatch.setattr(MambaClassifier, "batch_bases", property(lambda self: 0))
    for out, fragment in (("each.tsv", []), ("each_fragments.tsv", ["--fragment-length", "700"])):
        assert main(["classify", "--model", str(tmp_path / "model"), str(fasta), "-o", str(tmp_path / out),
                     *fragment]) == 0
    for batched, alone in (("lots.tsv", "each.tsv"), ("fragments.tsv", "each_fragments.tsv")):
        rows, expected = table(tmp_path / batched), table(tmp_path / alone)
        assert [r[:4] for r in rows] == [r[:4] for r in expected]   # file, record, length, call
        assert np.allclose(np.array([r[4:] for r in rows[1:]], float),
                           np.array([r[4:] for r in expected[1:]], float), atol=2e-6)
    assert [r[1] for r in table(tmp_path / "lots.tsv")[1:-1]] == [name for name, _ in reads]
