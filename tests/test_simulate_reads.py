"""genomamba simulate-reads: seeded, traceable, errors at the configured rates, readable by the pipeline."""

import gzip

import numpy as np
import pysam
import pytest
from Bio import Align

from genomamba.alphabet import decode, reverse_complement
from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.io import read_records
from genomamba.simulate import (Assembly, ErrorModel, LengthModel, apply_errors, parse_read_name,
                                simulate_reads, simulate_to_bam)

NO_ERRORS = ErrorModel(0.0, 0.0, 0.0)


@pytest.fixture
def vcholerae(data_dir):
    return data_dir / "vcholerae_O395_2rec_slice.fa"


def source_slice(assembly, name):
    """The forward-strand slice a read name points at, in the read's orientation."""
    where = parse_read_name(name)
    tokens = assembly.sequences[assembly.names.index(where["record"])][where["start"]:where["end"]]
    return reverse_complement(tokens) if where["strand"] == "-" else tokens


def edit_distance(a: bytes, b: bytes) -> int:
    aligner = Align.PairwiseAligner(mode="global", match_score=0, mismatch_score=-1, gap_score=-1)
    return int(-aligner.score(a.decode(), b.decode()))


def test_same_seed_same_bam_other_seed_other_reads(vcholerae, tmp_path):
    paths = []
    for i, seed in enumerate((7, 7, 8)):
        paths.append(tmp_path / f"{i}.bam")
        simulate_to_bam(vcholerae, paths[-1], seed=seed, count=15, lengths=LengthModel(median_length=1500))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    names = [[r.name for r in read_records(p)] for p in paths]
    assert names[0] != names[2]


def test_error_free_reads_are_their_source_slice_on_both_strands_and_records(vcholerae):
    assembly = Assembly.read(vcholerae)
    reads = list(simulate_reads(assembly, seed=3, count=60, errors=NO_ERRORS,
                                lengths=LengthModel(median_length=800, min_length=100)))
    for read in reads:
        assert np.array_equal(read.tokens, source_slice(assembly, read.name))
        assert parse_read_name(read.name)["index"] == reads.index(read)
    assert {r.strand for r in reads} == {"+", "-"}
    assert {r.record for r in reads} == set(assembly.names)


def test_lengths_are_log_normal_around_the_median_and_clipped():
    rng = np.random.default_rng(0)
    model = LengthModel(median_length=6000, sigma=1.0, min_length=300, max_length=50_000)
    lengths = model.sample(rng, 20_000)
    assert lengths.min() >= 300 and lengths.max() <= 50_000
    assert 5600 < np.median(lengths) < 6400
    assert (lengths < 1000).mean() > 0.02 and (lengths > 20_000).mean() > 0.05  # a wide spread


def test_realised_error_rates_match_the_configuration():
    rng = np.random.default_rng(1)
    template = rng.integers(0, 4, size=200_000, dtype=np.uint8)
    errors = ErrorModel(substitution=0.03, insertion=0.01, deletion=0.02)
    read, subs, ins, dels = apply_errors(template, errors, rng)
    n = len(template)
    assert len(read) == n + ins - dels
    for observed, rate in ((subs, 0.03), (ins, 0.01), (dels, 0.02)):
        assert abs(observed / n - rate) < 5 * np.sqrt(rate / n)
    only_subs, subs, _, _ = apply_errors(template, ErrorModel(0.05, 0.0, 0.0), rng)  # changes just those bases
    assert (only_subs != template).sum() == subs and abs(subs / n - 0.05) < 0.005
    assert apply_errors(template, NO_ERRORS, rng)[0].tobytes() == template.tobytes()


def test_noisy_reads_align_to_their_source_at_about_the_error_rate(vcholerae):
    assembly = Assembly.read(vcholerae)
    reads = list(simulate_reads(assembly, seed=5, count=12, lengths=LengthModel(median_length=600, sigma=0.3,
                                                                                   min_length=300, max_length=900)))
    distance = template = events = 0
    for read in reads:
        source = source_slice(assembly, read.name)
        distance += edit_distance(decode(read.tokens), decode(source))
        template += len(source)
        events += read.substitutions + read.insertions + read.deletions
    assert distance <= events  # each error costs at most one edit
    assert 0.035 < distance / template < 0.065  # default 5% in total, a few cancel out


def test_bam_is_read_by_the_pipeline_reader_with_header_provenance(vcholerae, tmp_path):
    out = tmp_path / "reads.bam"
    assert main(["simulate-reads", str(vcholerae), "-o", str(out), "--seed", "2", "--count", "25",
                 "--median-length", "1000", "--species", "Vibrio cholerae", "--strain", "O395",
                 "--sample", "O395"]) == 0
    records = list(read_records(out))
    assert len(records) == 25
    assembly = Assembly.read(vcholerae)
    for record in records:  # the reader returns reads as sequenced; lengths near their templates'
        where = parse_read_name(record.name)
        tokens = np.concatenate([t for t, _ in record.chunks()])
        assert abs(len(tokens) - (where["end"] - where["start"])) <= 0.1 * (where["end"] - where["start"]) + 5
        assert where["record"] in assembly.names
    with pysam.AlignmentFile(str(out), "rb", check_sq=False) as bam:
        group = bam.header.to_dict()["RG"][0]
        assert group["SM"] == "O395" and "species=Vibrio cholerae" in group["DS"] and "strain=O395" in group["DS"]
        assert any("seed" in c and '"count": 25' in c for c in bam.header.to_dict()["CO"])


def test_coverage_reaches_the_target(vcholerae, tmp_path):
    assembly = Assembly.read(vcholerae)
    reads = list(simulate_reads(assembly, seed=4, coverage=2.0, lengths=LengthModel(median_length=1000)))
    total = sum(r.end - r.start for r in reads)
    genome = int(assembly.lengths.sum())
    assert 2 * genome <= total < 2 * genome + max(r.end - r.start for r in reads)


def test_bad_input_is_an_input_error_and_leaves_nothing(tmp_path, write_file):
    bad = write_file("bad.fa", ">x\nACGTQQ\n")
    out = tmp_path / "out.bam"
    with pytest.raises(InputError, match="bad.fa"):
        simulate_to_bam(bad, out, seed=1, count=3)
    assert main(["simulate-reads", str(bad), "-o", str(out), "--seed", "1", "--count", "3"]) == 2
    missing = tmp_path / "missing.fa"
    assert main(["simulate-reads", str(missing), "-o", str(out), "--seed", "1", "--count", "3"]) == 2
    good = write_file("good.fa.gz", gzip.compress(b">x\n" + b"ACGT" * 100 + b"\n"))
    assert main(["simulate-reads", str(good), "-o", str(out), "--seed", "1", "--count", "3",
                 "--insertion-rate", "1.5"]) == 2
    assert main(["simulate-reads", str(good), "-o", str(out), "--seed", "1", "--count", "0"]) == 2
    assert sorted(tmp_path.iterdir()) == sorted([bad, good])  # no output, no temporary left
    assert main(["simulate-reads", str(good), "-o", str(out), "--seed", "1", "--count", "3"]) == 0
    assert len(list(read_records(out))) == 3
