"""Output paths (genomamba/outputs.py, genomamba/atomic.py) through the real command line: an existing
directory, the working directory or an input given as -o is refused (exit 2, the path named, nothing
touched); files and genomamba's own stores and models are replaced; --force replaces another kind,
never a directory genomamba did not write."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genomamba import outputs
from genomamba.atomic import atomic_open, atomic_path
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.store import FORMAT, SequenceStore

from test_classify_support import HUMAN, LAYOUT, build_split

FASTA = Path(__file__).parent / "data" / "ecoli_DH1_slice.fa"
KMER = {"k": 4, "windows_per_strain": 10, "validation_windows_per_strain": 5, "window_length": 2000,
        "min_window_length": 500, "ood_lengths": [1000, 3000]}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Real inputs for every command: a FASTA, a store, stores and their split, a k-mer model, a
    sample sheet and a calls table."""
    root = tmp_path_factory.mktemp("world")
    layout = [row for row in LAYOUT if row[0] in ("Helicobacter pylori", "Staphylococcus aureus")] + [HUMAN]
    split = build_split(root / "stores", layout)
    KmerClassifier.fit(split, KMER, seed=1, log=lambda *_: None).save(root / "model")
    fasta = root / "in.fa"
    shutil.copy(FASTA, fasta)
    assert main(["tokenize", str(fasta), "-o", str(root / "s.zarr"), "--no-progress"]) == 0
    sheet = root / "samples.tsv"
    sheet.write_text("sample\tspecies\tstrain\tpath\n" + "".join(
        f"{strain}\t{species}\t{strain}\t{fasta}\n" for species, strain, _ in layout))
    calls = root / "calls" / "ELS37.tsv"
    test_store = root / "stores" / "ELS37.zarr"
    assert main(["classify", "--model", str(root / "model"), str(test_store), "-o", str(calls)]) == 0
    return {"root": root, "fasta": fasta, "store": root / "s.zarr", "model": root / "model",
            "split": root / "stores" / "split.tsv", "stores": root / "stores", "sheet": sheet, "calls": calls}


def command(name: str, w: dict, out) -> list[str]:
    """A valid command line of ``name`` writing ``out``."""
    out = str(out)
    return {
        "tokenize": ["tokenize", str(w["fasta"]), "-o", out, "--no-progress"],
        "export": ["export", str(w["store"]), "-o", out],
        "classify": ["classify", "--model", str(w["model"]), str(w["fasta"]), "-o", out],
        "train": ["train", "--kind", "kmer", "--split", str(w["split"]), "--params", json.dumps(KMER), "-o", out],
        "split": ["split", "--samples", str(w["sheet"]), "--stores-dir", str(w["stores"]), "-o", out],
        "evaluate": ["evaluate", "--split", str(w["split"]), "--calls", str(w["calls"]), "-o", out],
        "report": ["report", "--split", str(w["split"]), "--calls", str(w["calls"]), "-o", out],
        "simulate-reads": ["simulate-reads", str(w["fasta"]), "-o", out, "--seed", "1", "--count", "3"],
        "bench": ["bench", "model", "--quick", "--tsv", out],
    }[name]


FILE_COMMANDS = ["export", "classify", "split", "evaluate", "report", "simulate-reads", "bench"]
DIRECTORY_COMMANDS = ["tokenize", "train"]


def snapshot(path: Path) -> dict:
    """Every file under ``path`` (or the file itself) and its bytes."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def user_folder(parent: Path, name: str = "mine") -> Path:
    folder = parent / name
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me\n")
    (folder / "sub" / "data.bin").write_bytes(bytes(range(256)))
    return folder


def run(argv, capsys) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("name", FILE_COMMANDS + DIRECTORY_COMMANDS)
def test_an_existing_folder_is_refused_and_survives(world, tmp_path, capsys, name):
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    rc, err = run(command(name, world, folder), capsys)
    assert rc == 2
    assert f"{folder}: is a directory" in err and "Traceback" not in err
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary left either


@pytest.mark.parametrize("name", ["tokenize", "train"])
def test_force_never_replaces_a_folder_genomamba_did_not_write(world, tmp_path, capsys, name):
    folder = user_folder(tmp_path)
    (folder / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                  "attributes": {"format": "someone-elses"}}))
    before = snapshot(folder)
    rc, err = run(command(name, world, folder) + ["--force"], capsys)
    assert rc == 2 and "never replaced, not even with --force" in err
    assert snapshot(folder) == before


@pytest.mark.parametrize("name", ["tokenize", "export", "classify"])
def test_the_working_directory_is_refused(world, tmp_path, capsys, monkeypatch, name):
    work = user_folder(tmp_path, "work")
    shutil.copy(world["fasta"], work / "mine.fa")
    before = snapshot(work)
    monkeypatch.chdir(work)
    rc, err = run(command(name, world, "."), capsys)
    assert rc == 2 and "error: .: " in err
    assert snapshot(work) == before


@pytest.mark.parametrize("name, argv", [
    ("classify", lambda w, t: ["classify", "--model", w["model"], t / "in.fa", "-o", t / "in.fa"]),
    ("export", lambda w, t: ["export", t / "s.zarr", "-o", t / "s.zarr"]),
    ("tokenize", lambda w, t: ["tokenize", t / "in.fa", "-o", t / "in.fa"]),
    ("simulate-reads", lambda w, t: ["simulate-reads", t / "in.fa", "-o", t / "in.fa", "--seed", "1",
                                     "--count", "2"]),
    ("evaluate", lambda w, t: ["evaluate", "--split", t / "split.tsv", "--calls", w["calls"], "-o",
                               t / "split.tsv"]),
])
def test_an_output_equal_to_an_input_is_refused(world, tmp_path, capsys, name, argv):
    shutil.copy(world["fasta"], tmp_path / "in.fa")
    shutil.copytree(world["store"], tmp_path / "s.zarr")
    shutil.copy(world["split"], tmp_path / "split.tsv")
    before = snapshot(tmp_path)
    rc, err = run(argv(world, tmp_path), capsys)
    assert rc == 2 and "is also an input" in err
    assert snapshot(tmp_path) == before
    assert SequenceStore.open(tmp_path / "s.zarr").names == SequenceStore.open(world["store"]).names


def test_an_input_reached_through_a_link_is_refused(world, tmp_path, capsys):
    shutil.copy(world["fasta"], tmp_path / "in.fa")
    (tmp_path / "link.fa").symlink_to("in.fa")
    rc, err = run(["classify", "--model", world["model"], tmp_path / "link.fa", "-o", tmp_path / "in.fa"], capsys)
    assert rc == 2 and "is also an input" in err
    assert (tmp_path / "in.fa").read_bytes() == world["fasta"].read_bytes()


def test_an_output_inside_or_around_an_input_is_refused(world, tmp_path, capsys):
    store = tmp_path / "s.zarr"
    shutil.copytree(world["store"], store)
    rc, err = run(["export", store, "-o", store / "x.fa"], capsys)
    assert rc == 2 and "is inside the input" in err and not (store / "x.fa").exists()
    rc, err = run(["classify", "--model", world["model"], world["fasta"], "-o", world["model"] / "calls.tsv"],
                  capsys)
    assert rc == 2 and "is inside the input" in err and not (world["model"] / "calls.tsv").exists()
    shutil.copy(world["fasta"], store / "in.fa")  # a store holding its own input: replacing it would lose it
    before = snapshot(store)
    rc, err = run(["tokenize", store / "in.fa", "-o", store, "--force"], capsys)
    assert rc == 2 and "contains the input" in err
    assert snapshot(store) == before


def test_files_and_genomamba_outputs_are_replaced_on_rerun(world, tmp_path, capsys):
    out = tmp_path / "out.fa"
    out.write_text("an older export\n")
    assert run(command("export", world, out), capsys)[0] == 0
    assert out.read_text().startswith(">")
    calls = tmp_path / "calls.tsv"
    calls.write_text("old\n")
    assert run(command("classify", world, calls), capsys)[0] == 0
    assert calls.read_text().startswith("file\trecord\t")
    store = tmp_path / "x.zarr"
    assert run(command("tokenize", world, store), capsys)[0] == 0
    (tmp_path / "protein.fa").write_text(">p\nMKVLL\n")
    assert run(["tokenize", tmp_path / "protein.fa", "-o", store], capsys)[0] == 2
    assert SequenceStore.open(store).attrs["sources"][0]["name"] == "in.fa"  # a failed rerun keeps it
    shutil.copy(world["fasta"], tmp_path / "other.fa")
    assert run(["tokenize", tmp_path / "other.fa", "-o", store], capsys)[0] == 0
    assert SequenceStore.open(store).attrs["sources"][0]["name"] == "other.fa"
    model = tmp_path / "model"
    shutil.copytree(world["model"], model)
    assert run(command("train", world, model), capsys)[0] == 0
    assert json.loads((model / "config.json").read_text())["kind"] == "kmer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.tsv", "model", "other.fa", "out.fa",
                                                          "protein.fa", "x.zarr"]


@pytest.mark.parametrize("name, existing, wanted", [
    ("tokenize", "file", "genomamba sequence store"),
    ("export", "store", "file"),
    ("classify", "model", "file"),
    ("train", "store", "genomamba model directory"),
])
def test_another_kind_needs_force(world, tmp_path, capsys, name, existing, wanted):
    out = tmp_path / "out"
    if existing == "file":
        out.write_text("a plain file\n")
    else:
        shutil.copytree(world["store"] if existing == "store" else world["model"], out)
    before = snapshot(out)
    rc, err = run(command(name, world, out), capsys)
    assert rc == 2 and f"not a {wanted}; pass --force" in err
    assert snapshot(out) == before
    assert run(command(name, world, out) + ["--force"], capsys)[0] == 0
    assert outputs.found_kind(out) == {"genomamba sequence store": "store", "file": "file",
                                       "genomamba model directory": "model"}[wanted]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_figures_want_a_folder(world, tmp_path, capsys):
    out = tmp_path / "figures"
    out.write_text("not a folder\n")
    rc, err = run(["figures", "-o", out], capsys)
    assert rc == 2 and "is not a folder" in err and out.read_text() == "not a folder\n"


def test_an_output_under_a_file_is_refused(world, tmp_path, capsys):
    shutil.copy(world["fasta"], tmp_path / "in.fa")
    rc, err = run(command("export", world, tmp_path / "in.fa" / "out.fa"), capsys)
    assert rc == 2 and "is not a folder" in err


def test_the_error_is_one_line_without_traceback(world, tmp_path):
    folder = user_folder(tmp_path)
    done = subprocess.run([sys.executable, "-m", "genomamba.cli", *command("export", world, folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"genomamba export: error: {folder}: is a directory; give a file name (a directory is never "
        "replaced by a file)"]


def test_markers(world, tmp_path):
    assert outputs.STORE_FORMAT == FORMAT
    assert outputs.found_kind(world["store"]) == "store"
    assert outputs.found_kind(world["model"]) == "model"
    assert outputs.found_kind(world["fasta"]) == "file"
    assert outputs.found_kind(tmp_path / "nothing") is None
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"kind": "mamba"}')
    assert outputs.found_kind(checkpoint) == "directory"  # no weights yet
    (checkpoint / "model.safetensors").write_bytes(b"")
    assert outputs.found_kind(checkpoint) == "model"
    (checkpoint / "config.json").write_text('["kind"]')
    assert outputs.found_kind(checkpoint) == "directory"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert outputs.found_kind(tmp_path / "dangling") == "file"


def test_atomic_writes_never_remove_a_foreign_folder(tmp_path):
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    with pytest.raises(InputError, match="is a directory"):
        with atomic_open(folder) as fh:
            fh.write("x")
    with pytest.raises(InputError, match="never replaced"):
        with atomic_path(folder, force=True) as tmp:
            tmp.mkdir()
            (tmp / "config.json").write_text("{}")
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
