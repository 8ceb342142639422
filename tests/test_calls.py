"""The calls table: columns, per-record rows, the `*` aggregate, atomic writing, threshold calibration."""

import csv

import numpy as np
import pytest

from genomamba.calls import CallsWriter, aggregate, calibrate_threshold, decide, header, prob_column
from genomamba.calls import read_calls, species_from_column

SPECIES = ["Escherichia coli", "Helicobacter pylori", "Vibrio cholerae"]


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_prob_columns_are_tsv_safe_and_map_back():
    assert prob_column("Escherichia coli") == "p_Escherichia_coli"
    assert prob_column("a\tb\nc") == "p_a_b_c"
    assert header(SPECIES)[:5] == ["file", "record", "length", "call", "confidence"]
    for name in SPECIES:
        assert species_from_column(prob_column(name), SPECIES) == name


def test_decide_threshold_and_zero_confidence():
    assert decide([0.1, 0.7, 0.2], 0.7, SPECIES, 0.5) == "Helicobacter pylori"
    assert decide([0.1, 0.7, 0.2], 0.4, SPECIES, 0.5) == "unclassified"
    assert decide([0.1, 0.7, 0.2], 0.0, SPECIES, 0.0) == "unclassified"  # no evidence


def test_writer_rows_and_length_weighted_assembly_row(tmp_path):
    out = tmp_path / "calls.tsv"
    with CallsWriter(out, SPECIES, threshold=0.6) as writer:
        assert writer.add("a.fa", "r1", 300, [0.9, 0.05, 0.05], 0.9) == "Escherichia coli"
        assert writer.add("a.fa", "r2", 100, [0.1, 0.5, 0.4], 0.5) == "unclassified"
        writer.end_file("a.fa")
        writer.add("b.fa", "s1", 50, [0.0, 0.0, 1.0], 1.0)
        writer.end_file("b.fa")
        writer.end_file("empty.fa")
    rows = read_rows(out)
    assert [(r["file"], r["record"]) for r in rows] == [
        ("a.fa", "r1"), ("a.fa", "r2"), ("a.fa", "*"), ("b.fa", "s1"), ("b.fa", "*"), ("empty.fa", "*")]
    star = rows[2]
    assert int(star["length"]) == 400
    assert float(star["p_Escherichia_coli"]) == pytest.approx((300 * 0.9 + 100 * 0.1) / 400)
    assert float(star["confidence"]) == pytest.approx((300 * 0.9 + 100 * 0.5) / 400)
    assert star["call"] == "Escherichia coli"
    assert rows[4]["call"] == "Vibrio cholerae" and rows[4]["length"] == "50"
    assert rows[5]["call"] == "unclassified" and rows[5]["length"] == "0"
    table = read_calls(out, SPECIES)  # the evaluator reads what we write
    assert table.species == SPECIES and len(table) == 6


def test_writer_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "calls.tsv"
    with pytest.raises(ValueError):
        with CallsWriter(out, SPECIES, 0.5) as writer:
            writer.add("a.fa", "r1", 10, [0.5, 0.5, 0.0], 0.5)
            writer.add("a.fa", "r2", 10, [1.0], 1.0)  # wrong number of probabilities
    assert list(tmp_path.iterdir()) == []


def test_aggregate_without_bases_is_uniform():
    probs, confidence = aggregate([0, 0], [[1, 0], [0, 1]], [1, 1])
    assert probs.tolist() == [0.5, 0.5] and confidence == 0.0


def test_calibrate_threshold():
    conf = [0.95, 0.9, 0.8, 0.7, 0.6]
    # all right: keep everything (the floor)
    assert calibrate_threshold(conf, [1, 1, 1, 1, 1], 0.99, floor=0.1) == 0.1
    # the 0.6 call is wrong: keeping down to 0.7 is 100% right
    assert calibrate_threshold(conf, [1, 1, 1, 1, 0], 0.99) == 0.7
    # 4/5 right overall reaches a target of 0.8: keep everything
    assert calibrate_threshold(conf, [1, 1, 1, 1, 0], 0.8) == 0.0
    # target never reached: the best kept accuracy (top two: 1/2)
    assert calibrate_threshold([0.9, 0.8, 0.7], [0, 1, 0], 0.99) == 0.8
    # ties are kept together
    assert calibrate_threshold([0.9, 0.9, 0.5], [1, 0, 0], 0.99) == 0.9
    assert calibrate_threshold(np.array([]), np.array([]), 0.9, floor=0.3) == 0.3
