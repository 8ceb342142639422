"""Metrics on hand-made calls tables whose answers are worked out by hand."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.evaluate import (accuracy, calibration, evaluate, fragment_lengths, macro_f1, read_calls,
                                read_metrics, row_levels, write_metrics)
from genomamba.split import Split, SplitRow

EC, SA, VC = "Escherichia coli", "Staphylococcus aureus", "Vibrio cholerae"
HEADER = "file\trecord\tlength\tcall\tconfidence\tp_Escherichia_coli\tp_Staphylococcus_aureus\n"


def _row(sample, species, split):
    return SplitRow(sample, species, sample, split, f"stores/{sample}.zarr")


SPLIT = Split([_row("ec_a", EC, "train"), _row("sa_a", SA, "train"),
               _row("ec_b", EC, "test"), _row("sa_b", SA, "test"), _row("vc_b", VC, "test"),
               _row("ec_v", EC, "validation")])


def _write(path, rows):
    path.write_text(HEADER + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def _calls(tmp_path):
    """Assembly rows: E. coli right (0.9), S. aureus called E. coli (0.6), Vibrio rejected (0.55).
    Fragments: 100 bp (three, one per sample) and 200 bp (one)."""
    d = tmp_path / "calls"
    d.mkdir()
    return [
        _write(d / "ec_b.tsv", [("ec.fa", "*", 1000, EC, 0.9, 0.9, 0.1),
                                ("ec.fa", "chr", 1000, EC, 0.9, 0.9, 0.1),
                                ("ec.fa", "chr:0-100", 100, EC, 0.8, 0.8, 0.2),
                                ("ec.fa", "chr:100-300", 200, "unclassified", 0.5, 0.5, 0.5)]),
        _write(d / "sa_b.tsv", [("sa.fa", "*", 500, EC, 0.6, 0.6, 0.4),
                                ("sa.fa", "c1", 400, SA, 0.7, 0.3, 0.7),
                                ("sa.fa", "c2", 100, EC, 1.0, 1.0, 0.0),
                                ("sa.fa", "c1:0-100", 100, SA, 0.95, 0.05, 0.95)]),
        _write(d / "vc_b.tsv", [("vc.fa", "*", 300, "unclassified", 0.55, 0.55, 0.45),
                                ("vc.fa", "v:0-100", 100, SA, 0.7, 0.3, 0.7)]),
    ]


def _level(metrics, level, length=None, split="test"):
    return next(m for m in metrics["splits"][split]["levels"]
                if m["level"] == level and m["fragment_length"] == length)


def test_assembly_level_by_hand(tmp_path):
    m = evaluate(SPLIT, _calls(tmp_path), model="mamba")
    a = _level(m, "assembly")
    assert a["n"] == 3 and a["n_ood"] == 1
    assert a["accuracy"] == pytest.approx(2 / 3)
    # F1: E. coli 2/3 (tp 1, fp 1), S. aureus 0, unclassified 1 -> mean 5/9
    assert a["macro_f1"] == pytest.approx(5 / 9)
    assert a["abstention_rate"] == 0 and a["selective_accuracy"] == pytest.approx(0.5)
    assert a["ood_rejection_rate"] == 1.0
    assert a["confusion"] == {"true": [EC, SA, VC], "called": [EC, SA, "unclassified"],
                              "counts": [[1, 0, 0], [1, 0, 0], [0, 0, 1]]}
    # in-distribution only: |1 - 0.9| and |0 - 0.6|, half each
    assert a["calibration"]["ece"] == pytest.approx(0.35)
    assert a["calibration"]["bins"][9]["count"] == 1 and a["calibration"]["bins"][6]["accuracy"] == 0
    # bases: 1000 + 300 of 1800 called right
    assert a["base_accuracy"] == pytest.approx(1300 / 1800)
    assert m["splits"]["test"]["ood_samples"] == ["vc_b"]
    assert m["species"] == [EC, SA]


def test_record_level_and_fragment_groups(tmp_path):
    m = evaluate(SPLIT, _calls(tmp_path), model="mamba")
    r = _level(m, "record")
    assert r["n"] == 3 and r["accuracy"] == pytest.approx(2 / 3)
    # 0.9 (right) and 1.0 (wrong) share the last bin: 2/3 * |0.5 - 0.95| + 1/3 * |1 - 0.7|
    assert r["calibration"]["ece"] == pytest.approx(0.4)
    assert r["calibration"]["bins"][9]["count"] == 2
    lengths = [lv["fragment_length"] for lv in m["splits"]["test"]["levels"] if lv["level"] == "fragment"]
    assert lengths == [100, 200]
    f100 = _level(m, "fragment", 100)
    assert f100["n"] == 3 and f100["accuracy"] == pytest.approx(2 / 3)
    assert f100["ood_rejection_rate"] == 0.0
    f200 = _level(m, "fragment", 200)
    assert f200["abstention_rate"] == 1.0 and f200["selective_accuracy"] is None


def test_fragments_group_by_nominal_length():
    records = ["*", "chr", "a:0-100", "a:100-200", "a:200-250",  # tiling of 100, last one shorter
               "b:0-70",  # a record shorter than one fragment
               "c:0-1000", "c:1000-1500", "c:0-100", "c:100-200",  # two tilings of one record
               "NC_1.1:4598-8598",  # a whole record named after the region it was sliced from
               "NC_1.1:4598-8598:0-100", "NC_1.1:4598-8598:100-200"]  # and its fragments
    assert fragment_lengths(records) == [None, None, 100, 100, 100, 70, 1000, 1000, 100, 100,
                                         None, 100, 100]
    assert row_levels(records)[:3] == ["assembly", "record", "fragment"]
    assert row_levels(records)[10] == "record"


def test_validation_split_and_missing_samples(tmp_path, capsys):
    m = evaluate(SPLIT, _calls(tmp_path), model="mamba", splits=("test", "validation"))
    assert m["splits"]["validation"]["missing_samples"] == ["ec_v"]
    assert m["splits"]["validation"]["levels"] == []
    assert "ec_v" in capsys.readouterr().err


def test_macro_f1_and_calibration_helpers():
    assert macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert macro_f1([], []) is None
    cal = calibration([0.05, 0.15, 0.15, 1.0], [False, True, False, True], n_bins=10)
    assert [b["count"] for b in cal["bins"]] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert cal["ece"] == pytest.approx((0.05 + 2 * 0.35 + 0) / 4)
    assert calibration([], [])["ece"] is None


def test_metrics_round_trip(tmp_path):
    m = evaluate(SPLIT, _calls(tmp_path), model="kmer")
    write_metrics(m, tmp_path / "out" / "kmer.json")
    assert read_metrics(tmp_path / "out" / "kmer.json") == json.loads(json.dumps(m))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["kmer.json"]


@pytest.mark.parametrize("row, message, line", [
    (("f", "chr", "ten", "Escherichia coli", 0.9, 0.9, 0.1), "not a number", 3),
    (("f", "chr", 10, "Bacillus subtilis", 0.9, 0.9, 0.1), "neither a p_ column", 3),
    (("f", "chr", 10, "Escherichia coli", 1.5, 0.9, 0.1), r"in \[0, 1\]", 3),
    (("f", "chr", 10, "Escherichia coli", 0.9), "expected 7 columns", 3),
])
def test_bad_calls_rows_name_file_record_and_line(tmp_path, row, message, line):
    path = _write(tmp_path / "x.tsv", [("f", "*", 10, EC, 0.9, 0.9, 0.1), row])
    with pytest.raises(InputError, match=message) as err:
        read_calls(path)
    assert err.value.line == line and err.value.record == "chr" and err.value.path == path


def test_missing_columns_and_unknown_sample(tmp_path):
    bad = tmp_path / "ec_b.tsv"
    bad.write_text("file\trecord\tcall\n")
    with pytest.raises(InputError, match="lacks column"):
        read_calls(bad)
    stray = _write(tmp_path / "nobody.tsv", [("f", "*", 10, EC, 0.9, 0.9, 0.1)])
    with pytest.raises(InputError, match="not in the split"):
        evaluate(SPLIT, [stray], model="m")


def test_evaluate_command(tmp_path, capsys):
    SPLIT.write(tmp_path / "split.tsv")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"kind": "mamba", "threshold": 0.6}))
    out = tmp_path / "metrics" / "mamba.json"
    rc = main(["evaluate", "--split", str(tmp_path / "split.tsv"), "--calls", *map(str, _calls(tmp_path)),
               "--model-dir", str(model_dir), "--splits", "test", "validation", "-o", str(out)])
    assert rc == 0
    doc = read_metrics(out)
    assert doc["model"] == "mamba" and doc["model_config"]["kind"] == "mamba"
    assert _level(doc, "assembly")["accuracy"] == pytest.approx(2 / 3)
    assert "mamba\ttest\tassembly\tn=3" in capsys.readouterr().out
    # a calls file for an unknown sample: an error naming it, and no metrics file written
    bad = _write(tmp_path / "stray.tsv", [("f", "*", 10, EC, 0.9, 0.9, 0.1)])
    rc = main(["evaluate", "--split", str(tmp_path / "split.tsv"), "--calls", str(bad),
               "-o", str(tmp_path / "none.json")])
    assert rc == 2 and "stray" in capsys.readouterr().err and not (tmp_path / "none.json").exists()


labels = st.sampled_from(["a", "b", "c", "unclassified"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(labels, labels), min_size=1, max_size=40))
def test_macro_f1_agrees_with_scikit_learn(pairs):
    from sklearn.metrics import accuracy_score, f1_score

    truth, pred = [t for t, _ in pairs], [p for _, p in pairs]
    assert macro_f1(truth, pred) == pytest.approx(f1_score(truth, pred, average="macro", zero_division=0))
    assert accuracy(truth, pred) == pytest.approx(accuracy_score(truth, pred))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=50))
def test_calibration_bins_cover_every_row_and_bound_ece(rows):
    cal = calibration([c for c, _ in rows], [ok for _, ok in rows])
    assert sum(b["count"] for b in cal["bins"]) == len(rows)
    assert 0.0 <= cal["ece"] <= 1.0
    for b in cal["bins"]:
        if b["count"]:
            assert b["lower"] <= b["mean_confidence"] <= b["upper"]
