"""`genomamba train`: a loadable model directory, reproducible for a seed, nothing left on errors."""

import json

import pytest

from genomamba.classifiers import load
from genomamba.cli import main

from test_classify_support import HUMAN, LAYOUT, build_split

PARAMS = {"windows_per_strain": 30, "validation_windows_per_strain": 15, "k": 5}


@pytest.fixture(scope="module")
def split_path(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stores")
    build_split(directory, [row for row in LAYOUT if row[0] != "Klebsiella pneumoniae"] + [HUMAN])
    return directory / "split.tsv"


def train(split_path, out, params=PARAMS, seed=5, kind="kmer"):
    return main(["train", "--kind", kind, "--split", str(split_path), "--params",
                 params if isinstance(params, str) else json.dumps(params), "--seed", str(seed),
                 "-o", str(out)])


def test_train_writes_a_loadable_model_and_is_reproducible(split_path, tmp_path, capsys):
    assert train(split_path, tmp_path / "a") == 0
    assert "kmer: validation accuracy" in capsys.readouterr().err
    model = load(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["kind"] == "kmer" and config["params"]["k"] == 5
    assert model.species == ["Helicobacter pylori", "Staphylococcus aureus", "Vibrio cholerae"]
    (tmp_path / "params.json").write_text(json.dumps(PARAMS))
    assert train(split_path, tmp_path / "b", params="@" + str(tmp_path / "params.json")) == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir()) == ["config.json",
                                                                           "weights.safetensors"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert train(split_path, tmp_path / "c", seed=6) == 0
    assert (tmp_path / "c" / "weights.safetensors").read_bytes() != \
        (tmp_path / "a" / "weights.safetensors").read_bytes()


def test_sourmash_model_files_are_reproducible(split_path, tmp_path):
    params = {"validation_windows_per_strain": 5}
    for name in ("a", "b"):
        assert train(split_path, tmp_path / name, params=params, kind="sourmash") == 0
    for name in ("config.json", "references.sig.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("params", ['{"k": ', "[1, 2]", '{"no_such_param": 1}', "@/no/such/file.json"])
def test_bad_params_exit_2_and_leave_nothing(split_path, tmp_path, params, capsys):
    assert train(split_path, tmp_path / "model", params=params) == 2
    assert "error" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_split_exits_2(tmp_path):
    assert train(tmp_path / "absent.tsv", tmp_path / "model") == 2
    assert list(tmp_path.iterdir()) == []
