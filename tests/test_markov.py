"""The Markov check (genomamba/markov.py) on the embedded genome slices: real held-out records of the
trained species pass, synthetic negatives and the human slice do not, whatever the chunking."""

from pathlib import Path

import numpy as np
import pytest

from genomamba import negatives
from genomamba.io import read_records
from genomamba.kmers import reverse_complements, reversals
from genomamba.markov import MarkovCheck, kmer_counts

GENOMES = Path(__file__).resolve().parents[1] / "resources" / "genomes"
TRAIN = {"Escherichia_coli": ["DH1"], "Helicobacter_pylori": ["G27", "Puno120"],
         "Staphylococcus_aureus": ["COL", "N315"], "Vibrio_cholerae": ["O1_Inaba"],
         "Klebsiella_pneumoniae": ["MGH78578", "NTUH-K2044"]}
VALIDATION = {"Helicobacter_pylori": "Gambia94_24", "Staphylococcus_aureus": "JKD6008",
              "Vibrio_cholerae": "O1_biovar_eltor_N16961", "Klebsiella_pneumoniae": "HS11286"}
TEST = {"Helicobacter_pylori": "ELS37", "Staphylococcus_aureus": "RF122", "Vibrio_cholerae": "O395",
        "Klebsiella_pneumoniae": "Kp1084"}


def records(species, strain):
    return [np.concatenate([t for t, _ in r.chunks()]) for r in read_records(GENOMES / species / f"{strain}.fa.gz")]


@pytest.fixture(scope="module")
def check():
    chk = MarkovCheck.fit([[s for strain in strains for s in records(sp, strain)] for sp, strains in TRAIN.items()])
    rng = np.random.default_rng(20261206)
    windows = []
    for sp, strain in VALIDATION.items():
        for s in records(sp, strain):
            starts = rng.integers(0, len(s) - chk.min_length + 1, size=10)
            windows += [s[a:a + chk.min_length] for a in starts]
    summary = chk.calibrate(windows, rng)
    assert summary["negatives_rejected"] == 1.0 and summary["real_rejected"] <= 0.01
    return chk


def test_permutations():
    rng = np.random.default_rng(1)
    seq = rng.integers(0, 4, 50).astype(np.uint8)
    k = 3
    counts = kmer_counts([seq], k)
    assert np.array_equal(kmer_counts([seq[::-1].copy()], k), counts[reversals(k)])
    assert np.array_equal(kmer_counts([(3 - seq)[::-1].copy()], k), counts[reverse_complements(k)])


def test_counts_do_not_depend_on_chunking():
    rng = np.random.default_rng(2)
    seq = rng.integers(0, 5, 5000).astype(np.uint8)   # N (4) included: its k-mers are skipped
    whole = kmer_counts([seq], 7)
    assert np.array_equal(whole, kmer_counts(np.array_split(seq, [1, 3, 900, 2500, 2501]), 7))
    assert whole.sum() < 5000 - 6


def test_held_out_records_pass(check):
    for sp, strain in TEST.items():
        for s in records(sp, strain):
            assert len(s) >= check.min_length and check.accepts([s]), (strain, check.score([s]), check.threshold)


@pytest.mark.parametrize("kind", negatives.KINDS)
@pytest.mark.parametrize("length", [10_000, 100_000])
def test_negatives_fail(check, kind, length):
    rng = np.random.default_rng([length, len(kind)])
    real = np.concatenate([s for sp, strain in TEST.items() for s in records(sp, strain)])
    for _ in range(4):
        a = int(rng.integers(len(real) - length))
        fake = negatives.make(kind, rng, real[a:a + length])
        assert not check.accepts([fake]), (kind, check.score([fake]), check.threshold)


def test_human_fails_short_passes(check):
    human = records("Homo_sapiens", "chr22_slice")[0]
    assert not check.accepts([human])
    short = negatives.uniform(np.random.default_rng(3), check.min_length // 2)
    assert check.accepts([short])   # too short to judge: left to the classifier's own checks


def test_saved_and_loaded(check):
    again = MarkovCheck.from_saved(check.tensors(), check.config())
    seq = records("Vibrio_cholerae", "O395")[0]
    assert again.accepts([seq]) and abs(again.score([seq]) - check.score([seq])) < 1e-5
