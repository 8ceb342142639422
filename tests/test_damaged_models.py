"""Damaged model directories and bad --device values: `genomamba classify` exits 2 with one line that
names the file and what is wrong with it, writes nothing and shows no traceback.

Small real models (Mamba, k-mer, sourmash) are trained once on stores of the embedded slices; each
case damages a copy of one in tmp_path."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from genomamba.classifiers.kmer import KmerClassifier
from genomamba.classifiers.mamba import MambaClassifier
from genomamba.classifiers.sketch import SourmashClassifier
from genomamba.cli import main

from test_classify_support import LAYOUT, QUIET, TINY_MAMBA, build_split, genome_path

# two species, each with two training strains, a validation and a test strain
SPECIES = LAYOUT[:8]
INPUT = genome_path("Helicobacter pylori", "ELS37")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """kind -> directory of a small trained model of that kind."""
    root = tmp_path_factory.mktemp("models")
    split = build_split(root / "stores", SPECIES)
    fitted = {"mamba": MambaClassifier.fit(split, TINY_MAMBA, seed=1, **QUIET),
              "kmer": KmerClassifier.fit(split, {"windows_per_strain": 30, "validation_windows_per_strain": 10},
                                         seed=1, **QUIET),
              "sourmash": SourmashClassifier.fit(split, {"scaled": 200, "window_length": 4000,
                                                         "validation_windows_per_strain": 4}, seed=1, **QUIET)}
    for kind, model in fitted.items():
        model.save(root / kind)
    return {kind: root / kind for kind in fitted}


def classify(model_dir, out, capsys, *options):
    """(exit code, stderr) of `genomamba classify` in this process."""
    code = main(["classify", "--model", str(model_dir), str(INPUT), "-o", str(out), *options])
    return code, capsys.readouterr().err


def copy_of(models, kind, tmp_path):
    return shutil.copytree(models[kind], tmp_path / kind)


def edit_json(path, change):
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def truncate(path, keep=0.5):
    path.write_bytes(path.read_bytes()[:int(path.stat().st_size * keep)])


def with_(config, **changes):
    return {**config, **changes}


def first_species_dropped(labels):
    return {**labels, "species": labels["species"][1:]}


def one_reference_fewer(config):
    return with_(config, reference_species=config["reference_species"][1:],
                 reference_samples=config["reference_samples"][1:])


def params_with(**changes):
    """Edits config.json's params."""
    return lambda d: edit_json(d / "config.json", lambda c: with_(c, params={**c["params"], **changes}))


# (kind, the file the message must name, the damage done to the model directory, words of the message)
DAMAGE = [
    ("mamba", "model.safetensors", lambda d: truncate(d / "model.safetensors"), ["not a readable safetensors file"]),
    ("mamba", "model.safetensors", lambda d: truncate(d / "model.safetensors", 0), ["empty"]),
    ("mamba", "model.safetensors", lambda d: (d / "model.safetensors").unlink(), ["missing"]),
    ("mamba", "model.safetensors",
     lambda d: edit_json(d / "config.json", lambda c: with_(c, model={**c["model"], "d_model": 16})),
     ["weights do not fit the model described in config.json", "size mismatch"]),
    ("mamba", "config.json", lambda d: truncate(d / "config.json"), ["not valid JSON"]),
    ("mamba", "config.json", params_with(widnow=64), ["params", "widnow"]),
    ("mamba", "labels.json", lambda d: edit_json(d / "labels.json", first_species_dropped),
     ["differ from those of config.json"]),
    ("mamba", "labels.json", lambda d: [edit_json(d / name, first_species_dropped)
                                        for name in ("labels.json", "config.json")],
     ["1 species, but the model of config.json has"]),
    ("mamba", "labels.json", lambda d: (d / "labels.json").write_text('{"species": "Helicobacter pylori"}'),
     ["'species' must be a list of distinct names"]),
    ("mamba", "labels.json", lambda d: (d / "labels.json").unlink(), ["missing"]),
    ("mamba", "training.json", lambda d: (d / "training.json").unlink(), ["missing"]),
    ("kmer", "weights.safetensors", lambda d: truncate(d / "weights.safetensors", 0.9),
     ["not a readable safetensors file"]),
    ("kmer", "weights.safetensors", lambda d: (d / "weights.safetensors").unlink(), ["missing"]),
    ("kmer", "weights.safetensors", params_with(k=5), ["has shape", "k=5 of config.json"]),
    ("kmer", "weights.safetensors", lambda d: edit_json(d / "config.json", first_species_dropped),
     ["has shape", "the 1 species"]),
    ("kmer", "config.json", lambda d: edit_json(d / "config.json", lambda c: with_(c, radius_fit="wide")),
     ["'radius_fit' must be a list of numbers"]),
    ("kmer", "config.json", lambda d: (d / "config.json").unlink(), ["missing"]),
    ("sourmash", "references.sig.json", lambda d: truncate(d / "references.sig.json"),
     ["not a readable sourmash signature file"]),
    ("sourmash", "references.sig.json", lambda d: truncate(d / "references.sig.json", 0), ["empty"]),
    ("sourmash", "references.sig.json", params_with(ksize=21), ["has ksize 31", "config.json's params say 21"]),
    ("sourmash", "references.sig.json", lambda d: edit_json(d / "config.json", one_reference_fewer),
     ["signatures, but config.json names"]),
    ("sourmash", "config.json", lambda d: edit_json(d / "config.json", lambda c: with_(c, kind="cnn")),
     ["kind 'cnn'"]),
]


@pytest.mark.parametrize("kind, named, damage, words", DAMAGE,
                         ids=[f"{k}-{n}-{i}" for i, (k, n, _, _) in enumerate(DAMAGE)])
def test_damaged_model_exits_2_naming_the_file(models, tmp_path, capsys, kind, named, damage, words):
    model_dir = copy_of(models, kind, tmp_path)
    damage(model_dir)
    out = tmp_path / "calls.tsv"
    code, err = classify(model_dir, out, capsys)
    assert code == 2, err
    assert f"{model_dir / named}: " in err, err
    for word in words:
        assert word in err, (word, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_intact_models_classify(models, tmp_path, capsys):
    """The damage above is what fails: the same copies, undamaged, classify."""
    for kind in models:
        code, err = classify(copy_of(models, kind, tmp_path), tmp_path / f"{kind}.tsv", capsys)
        assert code == 0, err


def test_missing_model_directory(tmp_path, capsys):
    code, err = classify(tmp_path / "absent", tmp_path / "calls.tsv", capsys)
    assert code == 2 and f"{tmp_path / 'absent'}: model directory not found" in err, err


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "cuda:-1", "CPU", ""])
def test_device_that_is_no_device_is_refused_before_the_model_loads(tmp_path, capsys, device):
    code, err = classify(tmp_path / "absent", tmp_path / "calls.tsv", capsys, "--device", device)
    assert code == 2, err
    assert f"--device {device!r} is not one of auto, cpu, cuda, cuda:N" in err, err
    assert "model directory" not in err


@pytest.mark.parametrize("device", ["cuda", "cuda:7"])
def test_cuda_device_this_machine_does_not_have(models, tmp_path, capsys, device):
    if torch.cuda.is_available() and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip(f"this machine has {device}")
    code, err = classify(models["mamba"], tmp_path / "calls.tsv", capsys, "--device", device)
    assert code == 2, err
    expected = "CUDA is not available" if not torch.cuda.is_available() else "CUDA device(s), cuda:0 to"
    assert f"--device {device!r}: {expected}" in err, err
    assert not (tmp_path / "calls.tsv").exists()


def test_command_line_reports_a_damaged_model_without_a_traceback(models, tmp_path):
    """The real `genomamba` process: exit status 2 and one line on stderr."""
    model_dir = copy_of(models, "mamba", tmp_path)
    edit_json(model_dir / "config.json", lambda c: with_(c, model={**c["model"], "d_model": 16}))
    done = subprocess.run([sys.executable, "-m", "genomamba.cli", "classify", "--model", str(model_dir),
                           str(INPUT), "-o", str(tmp_path / "calls.tsv")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and f"{model_dir / 'model.safetensors'}: " in done.stderr, done.stderr
    assert done.stderr.startswith("genomamba classify: error: ") and len(done.stderr.splitlines()) == 1
