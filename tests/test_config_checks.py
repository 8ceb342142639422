"""What used to fail only in a late job is refused (or warned about) when the workflow is parsed:
model params per kind, fewer than two training species, one genome under two samples, and training
species that no evaluated split gets a strain of."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from genomamba import workflow
from genomamba.errors import ConfigError, InputError
from genomamba.workflow import check_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
SHEET = REPO / "config" / "samples.tsv"
GENOMES = REPO / "resources" / "genomes"


def extended(*overrides: dict) -> dict:
    """The default config extended by ``overrides`` in order, as snakemake's --configfile does."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    for override in overrides:
        update_config(config, copy.deepcopy(override))
    return config


def checked(config, sheet=SHEET) -> list[str]:
    """check_config's warnings (it raises on errors)."""
    warnings = []
    check_config(config, sheet, base_dirs=[REPO], warn=warnings.append)
    return warnings


def write_sheet(tmp_path, rows) -> Path:
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join(["sample\tspecies\tstrain\tpath", *("\t".join(map(str, r)) for r in rows)]) + "\n")
    return path


def genome(species: str, strain: str) -> Path:
    return GENOMES / species.replace(" ", "_") / f"{strain}.fa.gz"


@pytest.mark.parametrize("models, names", [
    ({"mamba": {"params": {"stepz": 300}}}, ["models.mamba.params", "stepz"]),
    ({"mamba": {"params": {"steps": "many"}}}, ["models.mamba.params", "steps"]),
    ({"mamba": {"params": {"batch_size": 0}}}, ["models.mamba.params", "batch_size"]),
    ({"kmer": {"params": {"k": 12}}}, ["models.kmer.params", "parameter k: expected an integer in 4..8"]),
    ({"kmer": {"params": {"windows": 10}}}, ["models.kmer.params", "windows"]),
    ({"sourmash": {"params": {"ksize": 0}}}, ["models.sourmash.params", "ksize"]),
    ({"transformer": {"enabled": True, "params": {"d_model": 30, "n_heads": 4}}},
     ["models.transformer.params", "n_heads"]),
    ({"transformer": {"enabled": True, "params": {"pretrain_steps": 100}}},
     ["models.transformer.params", "pretrain_steps"]),
])
def test_model_params_are_checked_per_kind(models, names):
    with pytest.raises(ConfigError) as err:
        checked(extended({"models": models}))
    for name in names:
        assert name in str(err.value), (name, str(err.value))


def test_disabled_models_params_are_not_checked():
    checked(extended({"models": {"transformer": {"enabled": False, "params": {"anything": 1}}}}))


def test_one_training_species_is_refused():
    with pytest.raises(ConfigError, match="at least two training species; config 'species' lists only "
                                          "'Helicobacter pylori'"):
        checked(extended({"species": ["Helicobacter pylori"]}))


def test_one_species_in_the_sheet_is_refused(tmp_path):
    sheet = write_sheet(tmp_path, [(s, "Helicobacter pylori", s, genome("Helicobacter pylori", s))
                                   for s in ("G27", "ELS37")])
    with pytest.raises(ConfigError, match="sample sheet .* has only 'Helicobacter pylori'"):
        checked(extended({"species": [], "samples": str(sheet)}), sheet)


def two_species(extra_rows):
    return [("G27", "Helicobacter pylori", "G27", genome("Helicobacter pylori", "G27")),
            ("COL", "Staphylococcus aureus", "COL", genome("Staphylococcus aureus", "COL")), *extra_rows]


@pytest.mark.parametrize("same_path", [True, False])
def test_one_genome_under_two_samples_is_refused(tmp_path, same_path):
    source = genome("Helicobacter pylori", "ELS37")
    copy_path = source if same_path else shutil.copy(source, tmp_path / "renamed.fa.gz")
    sheet = write_sheet(tmp_path, two_species([("ELS37", "Helicobacter pylori", "ELS37", source),
                                               ("mystery", "Staphylococcus aureus", "X", copy_path)]))
    with pytest.raises(InputError) as err:
        checked(extended({"species": []}), sheet)
    assert err.value.path == sheet and err.value.line == 5
    assert "samples 'ELS37' (line 4) and 'mystery' are the same genome" in str(err.value)


def test_files_of_equal_size_are_hashed_to_tell_them_apart(tmp_path, monkeypatch):
    hashed = []
    monkeypatch.setattr(workflow, "file_sha256", lambda path: hashed.append(path) or Path(path).read_bytes())
    a, b = tmp_path / "a.fa", tmp_path / "b.fa"
    a.write_text(">a\nACGT\n")
    b.write_text(">b\nACGA\n")
    checked(extended({"species": []}), write_sheet(tmp_path, two_species([("a", "Helicobacter pylori", "A", a),
                                                                        ("b", "Staphylococcus aureus", "B", b)])))
    assert sorted(hashed) == [str(a), str(b)]  # equal sizes: hashed, different
    hashed.clear()
    checked(extended({}))
    assert hashed == []  # the default sheet's files all differ in size: none is read


def test_default_config_warns_about_its_one_strain_species():
    warnings = checked(extended({}))
    assert len(warnings) == 1
    assert warnings[0].startswith("Escherichia coli: 1 strain(s) (DH1), which the split puts in train only")
    assert "never evaluated" in warnings[0] and "\n" not in warnings[0]


def test_species_with_no_strain_in_the_evaluated_splits_is_warned():
    """Two strains are train and test; with only validation evaluated, neither species of two is."""
    warnings = checked(extended({"evaluate": {"splits": ["validation"]}}))
    assert any(w.startswith("Escherichia coli") for w in warnings)
    assert not any(w.startswith("Helicobacter pylori") for w in warnings)  # four strains: one in validation


def test_region_blocks_put_every_sample_in_every_split():
    assert checked(extended({"split": {"mode": "region_blocks"}})) == []


EXPERIMENTS = [("bacteria.yaml",), ("bacteria.yaml", "bacteria_mamba.yaml"), ("apes.yaml",),
               ("apes.yaml", "apes_gpu.yaml")]


@pytest.mark.parametrize("files", EXPERIMENTS, ids=["+".join(f) for f in EXPERIMENTS])
def test_experiment_configs_pass(files):
    config = extended(*(yaml.safe_load((REPO / "config" / "experiments" / f).read_text()) for f in files))
    sheet = workflow.resolve_path(config["samples"], [REPO])
    missing = [s.path for s in workflow.read_samples(sheet, base_dirs=[REPO]) if not Path(s.path).is_file()]
    if missing:
        pytest.skip(f"the experiment's genomes are not on this machine ({missing[0]})")
    warnings = checked(config, sheet)
    assert [w.split(":")[0] for w in warnings] == (["Escherichia coli"] if "bacteria.yaml" in files else [])


# ---- through snakemake ----

def snakemake(tmp_path, overrides: dict, *args):
    """Snakemake in tmp_path with the default config extended by ``overrides``: (exit code, output)."""
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(overrides))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(path), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("overrides, message", [
    ({"models": {"kmer": {"params": {"window_lenght": 5000}}}}, "models.kmer.params (kmer): unknown parameter(s) "
                                                                "window_lenght"),
    ({"species": ["Vibrio cholerae"]}, "at least two training species"),
])
def test_a_real_run_stops_before_the_first_job(tmp_path, overrides, message):
    code, out = snakemake(tmp_path, overrides, "--cores", "1")
    assert code != 0 and message in out, out
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_duplicate_genome_stops_the_dry_run(tmp_path):
    source = genome("Vibrio cholerae", "O395")
    sheet = write_sheet(tmp_path, two_species([("O395", "Vibrio cholerae", "O395", source),
                                               ("O395_again", "Vibrio cholerae", "again", source)]))
    code, out = snakemake(tmp_path, {"samples": str(sheet), "species": []}, "-n")
    assert code != 0, out
    assert f"{sheet}, line 5, record 'O395_again': samples 'O395' (line 4) and 'O395_again' are the same genome" \
        in out, out


def test_default_dry_run_warns_on_one_line_and_runs(tmp_path):
    code, out = snakemake(tmp_path, {}, "-n")
    assert code == 0, out
    lines = [line for line in out.splitlines() if "warning:" in line]
    assert len(lines) == 1 and lines[0].startswith("genomamba workflow: warning: Escherichia coli: 1 strain(s)"), out
