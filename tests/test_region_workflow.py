"""The workflow in region-block mode on the four real ape slices (12 kb each of the same chr22 region)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

from genomamba.split import Split, parse_block_name

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
APES = {"Hsap": "Homo sapiens", "Ptro": "Pan troglodytes", "Ggor": "Gorilla gorilla", "Ppyg": "Pongo pygmaeus"}
MODELS = {
    "kmer": {"kind": "kmer", "params": {"k": 4, "windows_per_strain": 30, "validation_windows_per_strain": 10,
                                        "window_length": 1000, "min_window_length": 300,
                                        "ood_lengths": [500, 1000]}},
}  # one model keeps the job count (and time) down; every kind's training on blocks: test_region_split.py
# config/config.yaml's models are merged in (a --configfile adds to it): switch them off
OFF = {"mamba": {"kind": "mamba", "enabled": False}, "sourmash": {"kind": "sourmash", "enabled": False},
       "combined": {"kind": "combined", "enabled": False}}


def write_config(work: Path) -> list[str]:
    rows = ["sample\tspecies\tstrain\tpath"]
    rows += [f"{name}\t{species}\t{name}\t{DATA / f'apes_{name}_slice.fa'}" for name, species in APES.items()]
    (work / "samples.tsv").write_text("\n".join(rows) + "\n")
    config = {"samples": "samples.tsv", "seed": 11, "species": sorted(APES.values()),
              "split": {"train": 0.5, "validation": 0.25, "test": 0.25, "mode": "region_blocks",
                        "block_length": 1500, "margin": 100},
              "primary_model": "kmer", "models": {**OFF, **MODELS},
              "evaluate": {"splits": ["test"], "fragment_lengths": [512]}}
    (work / "apes.yaml").write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "--cores", "2", "-s", str(REPO / "Snakefile"),
            "--directory", str(work), "--configfile", str(work / "apes.yaml")]


def test_region_mode_dry_run(tmp_path):
    done = subprocess.run(write_config(tmp_path) + ["-n", "-p"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--mode region_blocks --block-length 1500 --margin 100" in done.stdout
    # calls read the blocks of the evaluated splits from the sample's store
    assert "results/stores/Ggor.zarr  --regions results/split.tsv --sample Ggor --region-splits test" in done.stdout


def test_region_mode_runs_and_scores_test_blocks_only(tmp_path):
    done = subprocess.run(write_config(tmp_path), capture_output=True, text=True, timeout=600)
    logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted((tmp_path / "logs").rglob("*.log")))
    assert done.returncode == 0, done.stderr[-4000:] + logs
    split = Split.read(tmp_path / "results" / "split.tsv")
    assert split.mode == "region_blocks" and {r.split for r in split.rows} == {"train", "validation", "test"}
    test_blocks = {(r.sample, r.record, r.start, r.end) for r in split.samples("test")}
    for model in MODELS:
        folder = "calls"
        for sample in APES:
            for path in (tmp_path / f"results/{folder}/{sample}.tsv",
                         tmp_path / f"results/fragments/{model}/512/{sample}.tsv"):
                with open(path, newline="") as fh:
                    names = [row["record"] for row in csv.DictReader(fh, delimiter="\t") if row["record"] != "*"]
                assert names and all((sample, *parse_block_name(n)) in test_blocks for n in names)
        metrics = json.loads((tmp_path / f"results/metrics/fragments/{model}/512.json").read_text())
        levels = {lv["level"]: lv for lv in metrics["splits"]["test"]["levels"]}
        assert levels["assembly"]["n"] == len(APES)  # the * row: all of a sample's test blocks
        level = levels["fragment"]
        assert level["fragment_length"] == 512
        n_expected = sum((r.end - r.start) // 512 + ((r.end - r.start) % 512 >= 256) for r in split.samples("test"))
        assert level["n"] == n_expected
    assert (tmp_path / "results" / "report.html").is_file()
