"""Per-read accuracy by read length: the bin arithmetic by hand, and simulated reads called end to end."""

import json

import pytest

from genomamba.calls import read_calls
from genomamba.cli import main
from genomamba.errors import ConfigError
from genomamba.evaluate import read_length_bins
from genomamba.simulate import parse_read_name
from genomamba.workflow import held_out_samples, sample_seed
from genomamba.split import Split, SplitRow

from test_classify_support import fit_small_kmer, genome_path

EC, SA = "Escherichia coli", "Staphylococcus aureus"


def _read(length, call, species=EC):
    return {"species": species, "call": call, "confidence": 0.9, "top": call if call != "unclassified" else EC,
            "length": length}


def test_bins_by_hand():
    rows = [_read(999, EC), _read(1000, SA), _read(1999, EC), _read(2000, EC), _read(4999, SA),
            _read(5000, EC), _read(9999, "unclassified"), _read(10000, EC), _read(60000, EC)]
    bins = {b["label"]: b for b in read_length_bins(rows, [EC, SA])}
    assert list(bins) == ["< 1 kb", "1-2 kb", "2-5 kb", "5-10 kb", ">= 10 kb", ">= 2 kb"]
    expected = {"< 1 kb": (1, 1.0), "1-2 kb": (2, 0.5), "2-5 kb": (2, 0.5), "5-10 kb": (2, 0.5),
                ">= 10 kb": (2, 1.0), ">= 2 kb": (6, 4 / 6)}
    for label, (n, acc) in expected.items():
        assert bins[label]["n"] == n and bins[label]["accuracy"] == pytest.approx(acc), label
    assert bins["5-10 kb"]["abstention_rate"] == 0.5
    assert (bins["2-5 kb"]["min_length"], bins["2-5 kb"]["max_length"]) == (2000, 5000)
    assert bins[">= 10 kb"]["max_length"] is None and bins[">= 2 kb"]["min_length"] == 2000
    # the bins below the last partition the reads
    assert sum(b["n"] for b in list(bins.values())[:5]) == len(rows)


def test_empty_bins_are_kept_and_other_edges_work():
    bins = read_length_bins([_read(3000, EC)], [EC, SA], edges=(0, 500, 3000), at_least=2500)
    assert [(b["label"], b["n"]) for b in bins] == [("< 0.5 kb", 0), ("0.5-3 kb", 0), (">= 3 kb", 1),
                                                    (">= 2.5 kb", 1)]
    assert bins[0]["accuracy"] is None


def test_sample_seeds_differ_by_sample_and_are_fixed():
    assert sample_seed(7, "a") == sample_seed(7, "a") != sample_seed(7, "b")
    assert sample_seed(7, "a") != sample_seed(8, "a") and 0 <= sample_seed(2**40, "a") < 2**32


def test_held_out_samples_are_test_assemblies_of_training_species():
    split = Split([SplitRow("a", EC, "a", "train", "a.zarr"), SplitRow("b", EC, "b", "test", "b.zarr"),
                   SplitRow("h", "Homo sapiens", "h", "test", "h.zarr"), SplitRow("v", EC, "v", "validation", "v.zarr")])
    assert held_out_samples(split) == ["b"]
    assert held_out_samples(split, ["test", "validation"]) == ["b", "v"]
    blocks = Split([SplitRow("a", EC, "a", "train", "a.zarr", "chr", 0, 100),
                    SplitRow("a", EC, "a", "test", "a.zarr", "chr", 100, 200)])
    with pytest.raises(ConfigError, match="strain"):
        held_out_samples(blocks)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("reads")
    split, _ = fit_small_kmer(directory)
    return directory, split


def test_simulated_reads_are_called_one_by_one_and_scored_by_length(trained, tmp_path):
    directory, split = trained
    calls = []
    for sample in held_out_samples(split):
        row = next(r for r in split.samples("test") if r.sample == sample)
        bam = tmp_path / f"{sample}.bam"
        assert main(["simulate-reads", str(genome_path(row.species, row.strain)), "-o", str(bam), "--seed", "3",
                     "--count", "40", "--median-length", "2000", "--max-length", "20000"]) == 0
        calls.append(tmp_path / "calls" / f"{sample}.tsv")
        assert main(["classify", "--model", str(directory / "model"), str(bam), "-o", str(calls[-1])]) == 0
    out = tmp_path / "reads.json"
    assert main(["evaluate", "--split", str(directory / "stores" / "split.tsv"), "--calls", *map(str, calls),
                 "--read-length-bins", "-o", str(out)]) == 0
    bins = {b["label"]: b for b in json.loads(out.read_text())["splits"]["test"]["read_length_bins"]}
    # recompute the >= 2 kb bin from the calls tables: one row per read, named after its source
    right = total = 0
    for path in calls:
        truth = next(r.species for r in split.samples("test") if r.sample == path.stem)
        table = read_calls(path, split.species)
        for record, length, call in zip(table.record, table.length, table.call):
            if record == "*":
                continue
            parse_read_name(record)
            if length >= 2000:
                total += 1
                right += call == truth
    assert total > 0 and bins[">= 2 kb"]["n"] == total
    assert bins[">= 2 kb"]["accuracy"] == pytest.approx(right / total)
    assert sum(bins[k]["n"] for k in ("< 1 kb", "1-2 kb", "2-5 kb", "5-10 kb", ">= 10 kb")) == 40 * len(calls)
    page = tmp_path / "report.html"
    assert main(["report", "--split", str(directory / "stores" / "split.tsv"), "--read-metrics", str(out),
                 "-o", str(page)]) == 0
    section = page.read_text().split('<section id="reads">')[1].split("</section>")[0]
    n = bins[">= 2 kb"]["n"]
    assert "&gt;= 2 kb" in section and f"{round(bins['>= 2 kb']['accuracy'] * n)}/{n}</span>" in section
