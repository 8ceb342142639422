"""The whole workflow, for real, on a tiny config: small real slices, tiny models, few steps."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genomamba.split import Split

REPO = Path(__file__).resolve().parents[1]
GENOMES = REPO / "resources" / "genomes"
# species -> strains taken from the embedded data; 3 strains each: one in every split
STRAINS = {"Helicobacter_pylori": ["ELS37", "G27", "Puno120"],
           "Staphylococcus_aureus": ["COL", "N315", "RF122"]}
OOD = ("Homo_sapiens", "chr22_slice")
CONTIG = 10000  # long enough for the neural models' out-of-distribution windows (16 x 512)
CALLS_COLUMNS = ["file", "record", "length", "call", "confidence"]

TINY_MODELS = {
    "mamba": {"kind": "mamba", "params": {"d_model": 16, "n_layers": 1, "steps": 20, "batch_size": 4,
                                          "window": 512, "eval_windows": 4, "device": "cpu"},
              "cpu_precision": "bfloat16"},
    "kmer": {"kind": "kmer", "params": {"k": 4, "windows_per_strain": 20, "validation_windows_per_strain": 10,
                                        "window_length": 2000, "min_window_length": 500,
                                        "ood_lengths": [1000, 3000]}},
    "sourmash": {"kind": "sourmash", "params": {"ksize": 21, "scaled": 20, "window_length": 2000,
                                                "validation_windows_per_strain": 5}},
}


def slice_fasta(source: Path, target: Path, length: int) -> None:
    """The first ``length`` bases of each of the first two records, renamed to keep true coordinates
    (names are ``accession:start-end``, 0-based half-open)."""
    records, header, seq = [], None, []
    for line in gzip.open(source, "rt"):
        if line.startswith(">"):
            if header:
                records.append((header, "".join(seq)))
            header, seq = line[1:].strip(), []
        else:
            seq.append(line.strip())
    records.append((header, "".join(seq)))
    with gzip.open(target, "wt") as out:
        for header, sequence in records[:2]:
            name, _, description = header.partition(" ")
            accession, _, span = name.rpartition(":")
            start = int(span.split("-")[0])
            out.write(f">{accession}:{start}-{start + length} {description}\n")
            out.write("\n".join(sequence[i:i + 60] for i in range(0, length, 60)) + "\n")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("workflow")
    data = work / "data"
    data.mkdir()
    rows = ["sample\tspecies\tstrain\tpath"]
    for folder, strains in STRAINS.items():
        for strain in strains:
            slice_fasta(GENOMES / folder / f"{strain}.fa.gz", data / f"{strain}.fa.gz", CONTIG)
            rows.append(f"{strain}\t{folder.replace('_', ' ')}\t{strain}\tdata/{strain}.fa.gz")
    slice_fasta(GENOMES / OOD[0] / f"{OOD[1]}.fa.gz", data / "human.fa.gz", CONTIG * 2)
    rows.append("human\tHomo sapiens\tHsap\tdata/human.fa.gz")
    (work / "samples.tsv").write_text("\n".join(rows) + "\n")
    config = {"samples": "samples.tsv", "seed": 7,
              "species": ["Helicobacter pylori", "Staphylococcus aureus"],
              "split": {"train": 0.34, "validation": 0.33, "test": 0.33},
              "primary_model": "mamba", "models": TINY_MODELS,
              "evaluate": {"splits": ["test", "validation"], "fragment_lengths": [2000]}}
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "-s", str(REPO / "Snakefile"),
           "--directory", str(work), "--configfile", str(work / "tiny.yaml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in sorted((work / "logs").rglob("*.log")))
    assert done.returncode == 0, done.stderr[-5000:] + logs
    return work


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.slow
def test_split_by_strain(tiny_run):
    split = Split.read(tiny_run / "results" / "split.tsv")
    assert split.species == ["Helicobacter pylori", "Staphylococcus aureus"]
    for species in split.species:
        assert {r.split for r in split.rows if r.species == species} == {"train", "validation", "test"}
    assert [r.split for r in split.rows if r.species == "Homo sapiens"] == ["test"]


@pytest.mark.slow
def test_calls_for_every_sample_and_model(tiny_run):
    samples = [r["sample"] for r in read_tsv(tiny_run / "samples.tsv")]
    expected = {"mamba": tiny_run / "results" / "calls",
                "kmer": tiny_run / "results" / "compare" / "kmer",
                "sourmash": tiny_run / "results" / "compare" / "sourmash"}
    for model, folder in expected.items():
        assert (tiny_run / "results" / "models" / model / "config.json").is_file()
        for sample in samples:
            rows = read_tsv(folder / f"{sample}.tsv")
            columns = list(rows[0])
            assert columns[:5] == CALLS_COLUMNS, columns
            assert len(columns) == 7 and all(c.startswith("p_") for c in columns[5:])
            contigs = 1 if sample == "human" else 2
            assert [r["record"] for r in rows].count("*") == 1 and len(rows) == contigs + 1
            assert all(r["call"] in {"Helicobacter pylori", "Staphylococcus aureus", "unclassified"}
                       for r in rows)
    # the model's cpu_precision reaches its classify jobs (Snakemake keeps each job's command)
    commands = [json.loads(p.read_text()).get("shellcmd") or ""
                for p in (tiny_run / ".snakemake" / "metadata").iterdir()]
    classify = [c for c in commands if c.startswith("genomamba classify")]
    assert classify and all(("--cpu-precision bfloat16" in c) == ("models/mamba" in c) for c in classify)
    # fragments only for the evaluated splits' samples (test, validation), none for training samples
    split = Split.read(tiny_run / "results" / "split.tsv")
    classified = {p.stem for p in (tiny_run / "results" / "fragments" / "kmer" / "2000").glob("*.tsv")}
    assert classified == {r.sample for r in split.rows if r.split != "train"}
    bacterium = next(r.sample for r in split.samples("test") if r.sample != "human")
    fragments = read_tsv(tiny_run / "results" / "fragments" / "kmer" / "2000" / f"{bacterium}.tsv")
    assert len(fragments) == 2 * CONTIG // 2000 + 1


@pytest.mark.slow
def test_metrics_report_and_figures(tiny_run):
    results = tiny_run / "results"
    for model in TINY_MODELS:
        metrics = json.loads((results / "metrics" / f"{model}.json").read_text())
        assert metrics["model"] == model and set(metrics["splits"]) == {"test", "validation"}
        assert json.loads((results / "metrics" / "fragments" / model / "2000.json").read_text())["model"] == model
    html = (results / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert all(sample in html for sample in ("ELS37", "RF122", "human"))
    config = json.loads((results / "config.json").read_text())
    assert config["seed"] == 7 and config["primary_model"] == "mamba"
    assert list((results / "figures").glob("*.png"))
    assert (results / "benchmarks" / "split.tsv").is_file()
    assert (tiny_run / "logs" / "train" / "mamba.log").is_file()


@pytest.mark.slow
def test_snakemake_report(tiny_run):
    """`snakemake --report` collects the outputs flagged with report() and their captions."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tiny_run),
           "--report", "snakemake_report.html", "--configfile", str(tiny_run / "tiny.yaml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    html = (tiny_run / "snakemake_report.html").read_text()
    assert "report.html" in html and "accuracy_vs_length" in html and "RF122.tsv" in html
