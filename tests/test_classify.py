"""`genomamba classify`: the calls table from files and stores, fragments, and bad inputs."""

import csv
import json
import shutil

import numpy as np
import pytest

from genomamba.calls import prob_column
from genomamba.cli import main
from genomamba.calls import read_calls

from test_classify_support import fit_small_kmer, genome_path

TEST_FILES = [genome_path("Helicobacter pylori", "ELS37"), genome_path("Staphylococcus aureus", "RF122"),
              genome_path("Homo sapiens", "chr22_slice")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    directory = tmp_path_factory.mktemp("classify")
    split, model = fit_small_kmer(directory)
    return directory, split, model


def classify(model_dir, inputs, out, *options):
    return main(["classify", "--model", str(model_dir), *map(str, inputs), "-o", str(out), *options])


def rows_of(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_calls_table_rows_columns_and_assembly_rows(setup, tmp_path):
    directory, _, model = setup
    out = tmp_path / "calls.tsv"
    assert classify(directory / "model", TEST_FILES, out) == 0
    rows = rows_of(out)
    assert list(rows[0]) == ["file", "record", "length", "call", "confidence",
                             *(prob_column(s) for s in model.species)]
    assert "p_Helicobacter_pylori" in rows[0]
    assert [r["record"] == "*" for r in rows] == [False] * 3 + [True] + [False] * 3 + [True] + [False, True]
    assert [r["file"] for r in rows] == [str(f) for f in TEST_FILES for _ in range(4 if "Homo" not in
                                                                                   str(f) else 2)]
    stars = [r for r in rows if r["record"] == "*"]
    assert [r["call"] for r in stars] == ["Helicobacter pylori", "Staphylococcus aureus", "unclassified"]
    assert [int(r["length"]) for r in stars] == [120000, 120000, 60000]
    for r in rows:  # the species' probabilities leave the k-mer model's "no species" class its share
        assert 0 < sum(float(r[prob_column(s)]) for s in model.species) <= 1 + 1e-4
    # the assembly row is the length-weighted mean of its records (here equal lengths: the mean)
    records = [float(r["p_Helicobacter_pylori"]) for r in rows[:3]]
    assert float(rows[3]["p_Helicobacter_pylori"]) == pytest.approx(np.mean(records), abs=1e-5)
    assert len(read_calls(out, model.species)) == 10  # the evaluator reads it


def test_stores_give_the_same_calls_as_files_and_chunking_does_not_matter(setup, tmp_path, capsys):
    directory, split, _ = setup
    store = next(r.store for r in split.rows if r.sample == "RF122")
    assert classify(directory / "model", [TEST_FILES[1]], tmp_path / "file.tsv") == 0
    assert classify(directory / "model", [store], tmp_path / "store.tsv", "--chunk-size", "4099") == 0
    from_file, from_store = rows_of(tmp_path / "file.tsv"), rows_of(tmp_path / "store.tsv")
    for a, b in zip(from_file, from_store, strict=True):
        assert {k: v for k, v in a.items() if k != "file"} == {k: v for k, v in b.items() if k != "file"}
    # --min-length skips short records in stores as in files; an input left with none is refused
    # (the input rules tokenize applies too)
    for source in (store, TEST_FILES[0]):
        assert classify(directory / "model", [source], tmp_path / "long.tsv", "--min-length", "40001") == 2
        assert f"{source}: no records of at least 40001 bases" in capsys.readouterr().err
    assert not (tmp_path / "long.tsv").exists()


def test_fragment_mode(setup, tmp_path):
    directory, _, model = setup
    out = tmp_path / "fragments.tsv"
    assert classify(directory / "model", [TEST_FILES[0]], out, "--fragment-length", "15000") == 0
    rows = rows_of(out)
    # 40 kb records: 0-15000, 15000-30000, and the last 10 kb (>= 7.5 kb) kept
    first = next(iter(rows))["record"].rsplit(":", 1)[0]
    assert [r["record"] for r in rows[:3]] == [f"{first}:0-15000", f"{first}:15000-30000",
                                               f"{first}:30000-40000"]
    assert [int(r["length"]) for r in rows[:3]] == [15000, 15000, 10000]
    assert len(rows) == 3 * 3 + 1 and rows[-1]["record"] == "*" and rows[-1]["length"] == "120000"
    assert sum(r["call"] == "Helicobacter pylori" for r in rows) >= 9


def test_missing_input_bad_model_and_bad_file_exit_2_without_output(setup, tmp_path, capsys):
    directory, _, _ = setup
    out = tmp_path / "out" / "calls.tsv"
    assert classify(directory / "model", [TEST_FILES[0], tmp_path / "absent.fa"], out) == 2
    assert "absent.fa" in capsys.readouterr().err
    assert classify(tmp_path / "no_model", TEST_FILES[:1], out) == 2
    broken = tmp_path / "broken_model"
    shutil.copytree(directory / "model", broken)
    (broken / "weights.safetensors").unlink()
    assert classify(broken, TEST_FILES[:1], out) == 2
    (broken / "config.json").write_text(json.dumps({"kind": "kmer"}))
    assert classify(broken, TEST_FILES[:1], out) == 2
    bad = tmp_path / "bad.fa"
    bad.write_text(">ok\nACGTACGTAC\n>empty\n")
    assert classify(directory / "model", [TEST_FILES[0], bad], out) == 2  # fails after a good file
    err = capsys.readouterr().err
    assert "bad.fa" in err
    assert not out.exists() and not any(p.name != "bad.fa" and p.is_file() for p in tmp_path.rglob("*")
                                        if "broken_model" not in str(p))


def write_bam(path, tokens, read_length, mapqs):
    """A coordinate-sorted BAM of reads cut from ``tokens``, one per entry of ``mapqs``."""
    import pysam

    from genomamba.alphabet import decode

    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "ref", "LN": len(tokens)}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i, mapq in enumerate(mapqs):
            read = pysam.AlignedSegment(bam.header)
            read.query_name, read.reference_id = f"read{i}", 0
            read.reference_start, read.mapping_quality = i * read_length, mapq
            read.query_sequence = decode(tokens[i * read_length:(i + 1) * read_length]).decode()
            read.cigarstring = f"{read_length}M"
            bam.write(read)


def test_bam_reads_are_records_and_min_mapq_filters(setup, tmp_path):
    directory, split, _ = setup
    from genomamba.store import SequenceStore

    tokens = SequenceStore.open(next(r.store for r in split.rows if r.sample == "ELS37")).read(0)
    write_bam(tmp_path / "reads.bam", tokens, 5000, [60, 3, 60, 60])
    out = tmp_path / "calls.tsv"
    assert classify(directory / "model", [tmp_path / "reads.bam"], out, "--min-mapq", "20") == 0
    rows = rows_of(out)
    assert [r["record"] for r in rows] == ["read0", "read2", "read3", "*"]
    assert all(r["call"] == "Helicobacter pylori" for r in rows)
    assert rows[-1]["length"] == "15000"
