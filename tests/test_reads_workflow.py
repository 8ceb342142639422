"""`snakemake reads`: with reads.enabled, held-out assemblies become simulated BAMs, called per read and
scored by read length; without it the target does not exist."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from test_workflow import GENOMES, REPO, STRAINS, TINY_MODELS, slice_fasta

READS = {"enabled": True, "count": 30, "median_length": 1500, "max_length": 8000}
# config/config.yaml's other models are merged in (a --configfile adds to it): one tiny model is enough
OFF = {name: {"kind": spec["kind"], "enabled": False}
       for name, spec in yaml.safe_load((REPO / "config" / "config.yaml").read_text())["models"].items()
       if name != "kmer"}


def snakemake(work, *args):
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "-s", str(REPO / "Snakefile"),
           "--directory", str(work), "--configfile", str(work / "tiny.yaml")]  # after the target: nargs="+"
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def write_config(work, reads):
    data = work / "data"
    data.mkdir(exist_ok=True)
    rows = ["sample\tspecies\tstrain\tpath"]
    for folder, strains in STRAINS.items():
        for strain in strains:
            slice_fasta(GENOMES / folder / f"{strain}.fa.gz", data / f"{strain}.fa.gz", 20000)
            rows.append(f"{strain}\t{folder.replace('_', ' ')}\t{strain}\tdata/{strain}.fa.gz")
    (work / "samples.tsv").write_text("\n".join(rows) + "\n")
    config = {"samples": "samples.tsv", "seed": 7, "species": [s.replace("_", " ") for s in STRAINS],
              "split": {"train": 0.34, "validation": 0.33, "test": 0.33},
              "primary_model": "kmer", "models": {**OFF, "kmer": TINY_MODELS["kmer"]}, "reads": reads}
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))


def test_reads_target_is_absent_when_disabled(tmp_path):
    write_config(tmp_path, {"enabled": False})
    done = snakemake(tmp_path, "-n", "reads")
    assert done.returncode != 0 and "No rule to produce reads" in done.stdout + done.stderr


@pytest.mark.slow
def test_reads_target_simulates_classifies_and_scores(tmp_path):
    write_config(tmp_path, READS)
    done = snakemake(tmp_path, "reads")
    logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted((tmp_path / "logs").rglob("*.log")))
    assert done.returncode == 0, done.stderr[-4000:] + logs
    test_samples = sorted(p.stem for p in (tmp_path / "results" / "reads").glob("*.bam"))
    assert len(test_samples) == len(STRAINS)  # one held-out strain per species
    metrics = json.loads((tmp_path / "results" / "metrics" / "reads" / "kmer.json").read_text())
    test = metrics["splits"]["test"]
    assert test["samples"] == test_samples
    bins = test["read_length_bins"]
    assert sum(b["n"] for b in bins[:-1]) == READS["count"] * len(test_samples)
    assert bins[-1]["label"] == ">= 2 kb" and bins[-1]["accuracy"] is not None
