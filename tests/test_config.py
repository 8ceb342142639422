"""Config and sample sheet checks, through the package and through `snakemake -n` (dry runs only)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate
from snakemake_interface_common.exceptions import WorkflowError

from genomamba.errors import ConfigError, InputError
from genomamba.workflow import check_config, read_samples

REPO = Path(__file__).resolve().parents[1]
GENOME = REPO / "resources" / "genomes" / "Helicobacter_pylori" / "G27.fa.gz"
DEFAULT_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def snakemake(tmp_path, *args):
    """A dry run of the workflow in tmp_path; (exit code, stdout + stderr)."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory",
           str(tmp_path), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def dry_run_with(tmp_path, overrides: dict):
    """Dry run with the default config extended by ``overrides`` (as `--configfile` does)."""
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(overrides))
    return snakemake(tmp_path, "--configfile", str(path))


def write_sheet(tmp_path, rows, header="sample\tspecies\tstrain\tpath"):
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join([header, *("\t".join(r) for r in rows)]) + "\n")
    return path


def test_default_config_dry_run(tmp_path):
    code, out = snakemake(tmp_path)
    assert code == 0, out
    for rule in ("tokenize", "split", "train", "classify", "classify_compare", "evaluate", "report"):
        assert f"\n{rule} " in out, rule
    assert "results/calls/chr22_slice.tsv" in out and "results/compare/kmer/DH1.tsv" in out
    assert "results/models/transformer" not in out  # disabled in the default config


SCHEMA_CASES = [
    ({"extra_key": 1}, ["extra_key"]),
    ({"seed": "abc"}, ["seed", "integer"]),
    ({"split": {"train": "most"}}, ["train", "number"]),
    ({"models": {"kmer": {"kind": "kmer", "epochs": 3}}}, ["epochs"]),
    ({"models": {"kmer": {"kind": "cnn"}}}, ["kind", "cnn"]),
    ({"models": {"kmer": {"kind": "kmer", "resources": {"gpus": 1}}}}, ["gpus"]),
    ({"evaluate": {"splits": ["train"]}}, ["splits", "train"]),
]


def extended(overrides: dict) -> dict:
    """The default config extended by ``overrides``, as snakemake's --configfile does."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    update_config(config, copy.deepcopy(overrides))
    return config


@pytest.mark.parametrize("overrides, names", SCHEMA_CASES)
def test_schema_rejects(overrides, names):
    with pytest.raises(WorkflowError) as err:
        validate(extended(overrides), str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    for name in names:
        assert name in str(err.value), (name, str(err.value))


def test_default_config_passes_schema_with_defaults():
    config = extended({})
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert config["models"]["kmer"]["enabled"] is True and config["evaluate"]["splits"]


@pytest.mark.parametrize("overrides, names", SCHEMA_CASES[:2])
def test_schema_errors_stop_the_run(tmp_path, overrides, names):
    code, out = dry_run_with(tmp_path, overrides)
    assert code != 0
    assert "Error validating config file" in out
    for name in names:
        assert name in out, (name, out)


@pytest.mark.parametrize("overrides, message", [
    ({"split": {"train": 0.5, "validation": 0.2, "test": 0.2}}, "summing to 1"),
    ({"primary_model": "transformer"}, "primary_model 'transformer'"),
    ({"models": {"mamba": {"enabled": False}}}, "primary_model 'mamba'"),
    ({"species": ["Escherichia coli", "Bacillus subtilis"]}, "Bacillus subtilis"),
])
def test_check_config_rejects(overrides, message):
    with pytest.raises(ConfigError) as err:
        check_config(extended(overrides), REPO / "config" / "samples.tsv", base_dirs=[REPO])
    assert message in str(err.value)


def test_inconsistent_config_stops_the_run(tmp_path):
    code, out = dry_run_with(tmp_path, {"primary_model": "transformer"})
    assert code != 0 and "primary_model 'transformer' is not an enabled entry" in out, out


def test_sample_sheet_schema_and_paths_in_dry_run(tmp_path):
    sheet = write_sheet(tmp_path, [("G27", "Helicobacter pylori", "G27", str(GENOME)),
                                   ("bad name", "Helicobacter pylori", "X", str(GENOME))])
    code, out = dry_run_with(tmp_path, {"samples": str(sheet), "species": []})
    assert code != 0 and "bad name" in out and "sample" in out, out

    sheet = write_sheet(tmp_path, [("G27", "Helicobacter pylori", "G27", str(GENOME)),
                                   ("gone", "Helicobacter pylori", "X", "no/such/file.fa")])
    code, out = dry_run_with(tmp_path, {"samples": str(sheet), "species": []})
    assert code != 0
    assert f"{sheet}, line 3, record 'gone'" in out and "no/such/file.fa" in out, out

    other = REPO / "resources" / "genomes" / "Staphylococcus_aureus" / "COL.fa.gz"
    sheet = write_sheet(tmp_path, [("G27", "Helicobacter pylori", "G27", str(GENOME)),
                                   ("COL", "Staphylococcus aureus", "COL", str(other))])
    code, out = dry_run_with(tmp_path, {"samples": str(sheet), "species": []})
    assert code == 0, out


@pytest.mark.parametrize("header, rows, message, line", [
    ("sample\tspecies\tpath", [], "missing column(s) strain", 1),
    ("sample\tspecies\tstrain\tpath\tnotes", [], "unknown column(s) notes", 1),
    (None, [("a", "S", "s")], "3 fields", 2),
    (None, [("a", "S", "", str(GENOME))], "empty 'strain'", 2),
    (None, [("a", "S", "s", str(GENOME)), ("a", "S", "t", str(GENOME))], "repeated (first on line 2)", 3),
    (None, [("../a", "S", "s", str(GENOME))], "letters, digits", 2),
    (None, [("a", "S", "s", "missing.fa")], "does not exist", 2),
])
def test_read_samples_errors(tmp_path, header, rows, message, line):
    sheet = write_sheet(tmp_path, rows, **({"header": header} if header else {}))
    with pytest.raises(InputError) as err:
        read_samples(sheet, check_paths=True)
    assert message in str(err.value)
    assert err.value.path == sheet and err.value.line == line


def test_relative_paths_fall_back_to_workflow_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    samples = read_samples(REPO / "config" / "samples.tsv", base_dirs=[REPO], check_paths=True)
    assert len(samples) == 17 and all(Path(s.path).is_file() for s in samples)
    assert {s.species for s in samples} >= set(DEFAULT_CONFIG["species"]) | {"Homo sapiens"}


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_profiles_dry_run(tmp_path, profile):
    code, out = snakemake(tmp_path, "--profile", str(REPO / "profiles" / profile))
    assert code == 0, out
    assert "This was a dry-run" in out
