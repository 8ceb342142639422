"""The trained models under resources/models work right after install, on the CPU: the species of a
held-out-like slice, and `unclassified` for human DNA and for synthetic sequences of no species."""

import json
from pathlib import Path

import numpy as np
import pytest

from genomamba import negatives
from genomamba.classifiers import load
from genomamba.cli import main
from genomamba.io import read_records

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
GENOMES = Path(__file__).resolve().parents[1] / "resources" / "genomes"
PIECE = 8_000   # bases scored per record: the 4-layer model runs at a few kb/s on one CPU core


def first_piece(path: Path) -> np.ndarray:
    for record in read_records(path):   # the reader stays open while the record's chunks are read
        return np.concatenate([tokens for tokens, _ in record.chunks()])[:PIECE]


@pytest.fixture(scope="module")
def bacteria():
    return load(MODELS / "bacteria")


def test_the_bacteria_model_card_and_files_are_complete():
    files = {p.name for p in (MODELS / "bacteria").iterdir()}
    assert {"config.json", "labels.json", "model.safetensors", "training.json", "README.md"} <= files
    config = json.loads((MODELS / "bacteria" / "config.json").read_text())
    assert config["params"]["device"] == "auto" and not config["params"]["checkpoint_dir"]
    assert (MODELS / "bacteria" / "model.safetensors").stat().st_size < 8 << 20


@pytest.mark.parametrize("species, strain", [("Staphylococcus aureus", "RF122"),
                                             ("Klebsiella pneumoniae", "Kp1084"),
                                             ("Helicobacter pylori", "ELS37")])
def test_the_bacteria_model_calls_its_species(bacteria, species, strain):
    tokens = first_piece(GENOMES / species.replace(" ", "_") / f"{strain}.fa.gz")
    probs, confidence = bacteria.score([tokens])
    assert bacteria.species[int(np.argmax(probs))] == species and confidence >= bacteria.threshold


@pytest.mark.parametrize("kind", negatives.KINDS)
def test_the_bacteria_model_rejects_what_is_no_species(bacteria, kind):
    real = first_piece(GENOMES / "Vibrio_cholerae" / "O395.fa.gz")
    sequence = negatives.make(kind, np.random.default_rng(11), real)
    _, confidence = bacteria.score([sequence])
    assert confidence < bacteria.threshold


def test_classify_with_the_shipped_model_from_the_command_line(tmp_path):
    human = tmp_path / "human.fa"
    tokens = first_piece(GENOMES / "Homo_sapiens" / "chr22_slice.fa.gz")
    human.write_text(">human\n" + "".join("ACGTN"[t] for t in tokens) + "\n")
    assert main(["classify", "--model", str(MODELS / "bacteria"), str(human), "-o", str(tmp_path / "c.tsv")]) == 0
    rows = [line.split("\t") for line in (tmp_path / "c.tsv").read_text().splitlines()[1:]]
    assert [row[3] for row in rows] == ["unclassified", "unclassified"]


def test_classify_threads_option_sets_the_cpu_threads_and_keeps_the_calls(tmp_path, capsys):
    import torch

    piece = tmp_path / "piece.fa"
    tokens = first_piece(GENOMES / "Staphylococcus_aureus" / "RF122.fa.gz")
    piece.write_text(">piece\n" + "".join("ACGTN"[t] for t in tokens) + "\n")
    rows = {}
    for threads in (1, 2):
        out = tmp_path / f"calls-{threads}.tsv"
        assert main(["classify", "--model", str(MODELS / "bacteria"), str(piece), "-o", str(out),
                     "--device", "cpu", "--threads", str(threads)]) == 0
        assert torch.get_num_threads() == threads
        rows[threads] = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert [r[3] for r in rows[1]] == [r[3] for r in rows[2]] == ["Staphylococcus aureus"] * 2
    assert np.allclose(np.array([r[4:] for r in rows[1]], float), np.array([r[4:] for r in rows[2]], float),
                       atol=1e-5)
    assert main(["classify", "--model", str(MODELS / "bacteria"), str(piece), "-o", str(tmp_path / "bad.tsv"),
                 "--threads", "-1"]) == 2
    assert "--threads must not be negative" in capsys.readouterr().err and not (tmp_path / "bad.tsv").exists()
