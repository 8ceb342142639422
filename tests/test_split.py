"""The split: strain-disjoint, seeded, balanced across species, OOD species test only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomamba.cli import main
from genomamba.errors import ConfigError, InputError
from genomamba.split import SPLITS, Split, make_split, strain_counts
from genomamba.workflow import read_samples

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHEET = REPO / "config" / "samples.tsv"


def _samples(spec: dict[str, int], files_per_strain: int = 1):
    """Samples for {species: number of strains}, several files per strain if asked."""
    return [SimpleNamespace(sample=f"{sp[:3]}{i}_{f}", species=sp, strain=f"{sp[:3]}-strain{i}")
            for sp, n in spec.items() for i in range(n) for f in range(files_per_strain)]


def _strain_splits(split: Split) -> dict:
    seen = {}
    for r in split.rows:
        seen.setdefault((r.species, r.strain), set()).add(r.split)
    return seen


@settings(max_examples=60, deadline=None)
@given(spec=st.dictionaries(st.sampled_from(["Aaa x", "Bbb y", "Ccc z", "Ddd w"]),
                            st.integers(1, 9), min_size=1),
       files=st.integers(1, 3), seed=st.integers(0, 2**31),
       fractions=st.sampled_from([(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.34, 0.33, 0.33), (0.5, 0.0, 0.5)]))
def test_invariants(spec, files, seed, fractions):
    samples = _samples(spec, files)
    split = make_split(samples, seed=seed, fractions=fractions)
    assert all(len(s) == 1 for s in _strain_splits(split).values()), "a strain crosses splits"
    assert [r.sample for r in split.rows] == [s.sample for s in samples]
    for species, n in spec.items():
        used = {r.split for r in split.rows if r.species == species}
        assert "train" in used
        if n >= 3:
            expected = {"train", "test"} | ({"validation"} if fractions[1] > 0 else set())
            assert expected <= used, (species, n, used)
    assert split.species == sorted(spec)
    assert make_split(samples, seed=seed, fractions=fractions) == split  # reproducible


def test_counts_follow_fractions():
    assert strain_counts(1, dict(zip(SPLITS, (0.6, 0.2, 0.2)))) == {"train": 1, "validation": 0, "test": 0}
    assert strain_counts(2, dict(zip(SPLITS, (0.6, 0.2, 0.2)))) == {"train": 1, "validation": 0, "test": 1}
    assert strain_counts(3, dict(zip(SPLITS, (0.6, 0.2, 0.2)))) == {"train": 1, "validation": 1, "test": 1}
    assert strain_counts(10, dict(zip(SPLITS, (0.6, 0.2, 0.2)))) == {"train": 6, "validation": 2, "test": 2}
    assert strain_counts(10, dict(zip(SPLITS, (0.8, 0.0, 0.2)))) == {"train": 8, "validation": 0, "test": 2}


def test_seed_changes_assignment_and_species_are_independent():
    samples = _samples({"Aaa x": 8, "Bbb y": 8})
    by_seed = {tuple(r.split for r in make_split(samples, seed=s).rows) for s in range(6)}
    assert len(by_seed) > 1
    # adding a species never moves another species' strains
    alone = make_split([s for s in samples if s.species == "Aaa x"], seed=3)
    both = make_split(samples, seed=3)
    assert [r.split for r in both.rows if r.species == "Aaa x"] == [r.split for r in alone.rows]


def test_ood_species_test_only_and_single_strain_noted():
    samples = _samples({"Aaa x": 4, "Bbb y": 1, "Homo sapiens": 2})
    split = make_split(samples, seed=1, species=["Aaa x", "Bbb y"])
    assert {r.split for r in split.rows if r.species == "Homo sapiens"} == {"test"}
    assert split.species == ["Aaa x", "Bbb y"]
    assert split.ood_species == ["Homo sapiens"]
    assert [r.split for r in split.rows if r.species == "Bbb y"] == ["train"]
    assert any("Bbb y" in n and "1 strain" in n for n in split.notes)
    assert any("Homo sapiens" in n and "unclassified" in n for n in split.notes)


def test_bad_fractions_and_species():
    samples = _samples({"Aaa x": 3})
    with pytest.raises(ConfigError, match="sum"):
        make_split(samples, seed=1, fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ConfigError, match="train fraction"):
        make_split(samples, seed=1, fractions=(0.0, 0.5, 0.5))
    with pytest.raises(ConfigError, match="Zzz"):
        make_split(samples, seed=1, species=["Zzz"])


def test_write_read_roundtrip(tmp_path):
    split = make_split(_samples({"Aaa x": 5, "Bbb y": 2}), seed=7, stores_dir="st")
    split.write(tmp_path / "split.tsv")
    again = Split.read(tmp_path / "split.tsv")
    assert again == split and again.species == split.species
    assert (tmp_path / "split.tsv").read_text().splitlines()[0] == "sample\tspecies\tstrain\tsplit\tstore"
    assert all(r.store == f"st/{r.sample}.zarr" for r in again.rows)
    assert [r.sample for r in again.samples("test")] == [r.sample for r in split.rows if r.split == "test"]
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("text, match", [
    ("sample\tspecies\tstrain\tstore\n", "header"),
    ("sample\tspecies\tstrain\tsplit\tstore\ns1\tA\ta\ttrian\tx\n", "trian"),
    ("sample\tspecies\tstrain\tsplit\tstore\ns1\tA\ta\ttrain\n", "5"),
    ("sample\tspecies\tstrain\tsplit\tstore\ns1\tA\ta\ttrain\tx\ns2\tA\ta\ttest\ty\n", "both"),
])
def test_read_rejects_bad_tables(tmp_path, text, match):
    path = tmp_path / "split.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        Split.read(path)
    assert str(path) in str(err.value)


def test_default_sheet_split_by_command(tmp_path, capsys):
    """The embedded default data through `genomamba split`, stores checked."""
    samples = read_samples(DEFAULT_SHEET)
    stores = tmp_path / "stores"
    for s in samples[:-1]:
        (stores / f"{s.sample}.zarr").mkdir(parents=True)
    args = ["split", "--samples", str(DEFAULT_SHEET), "--stores-dir", str(stores), "--seed", "5",
            "--species", "Escherichia coli", "Helicobacter pylori", "Klebsiella pneumoniae",
            "Staphylococcus aureus", "Vibrio cholerae", "-o", str(tmp_path / "split.tsv")]
    assert main(args) == 2  # the last store is missing
    assert samples[-1].sample in capsys.readouterr().err
    assert not (tmp_path / "split.tsv").exists()

    (stores / f"{samples[-1].sample}.zarr").mkdir()
    assert main(args) == 0
    split = Split.read(tmp_path / "split.tsv")
    assert len(split.rows) == len(samples) == 17
    assert split.ood_species == ["Homo sapiens"]
    for species in ("Helicobacter pylori", "Klebsiella pneumoniae", "Staphylococcus aureus", "Vibrio cholerae"):
        assert {r.split for r in split.rows if r.species == species} == set(SPLITS)
    assert [r.split for r in split.rows if r.species == "Escherichia coli"] == ["train"]
    assert "Escherichia coli: only 1 strain" in capsys.readouterr().err
