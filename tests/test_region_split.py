"""Region-block splits: blocks, the table, windows inside blocks, block calls and their truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomamba.calls import CallsWriter
from genomamba.classifiers.sketch import sketch, sketch_source
from genomamba.data import (
    ArraySource,
    LabelledSource,
    RegionSource,
    WindowSampler,
    sample_sources,
    sample_windows,
)
from genomamba.errors import ConfigError, InputError
from genomamba.evaluate import evaluate
from genomamba.inputs import InputRecord, fragments
from genomamba.io.tokenize import tokenize_files
from genomamba.regions import cut_blocks, sample_blocks_of
from genomamba.split import (
    SPLITS,
    Split,
    SplitRow,
    make_region_split,
    make_split,
    parse_block_name,
)
from genomamba.workflow import Sample

DATA = Path(__file__).parent / "data"
APES = {"Hsap": "Homo sapiens", "Ptro": "Pan troglodytes", "Ggor": "Gorilla gorilla", "Ppyg": "Pongo pygmaeus"}
LENGTHS = {"Hsap": 100_000, "Ptro": 101_000, "Ggor": 99_500, "Ppyg": 100_300}


def samples(extra=()):
    return [Sample(name, species, name, f"{name}.fa", n) for n, (name, species)
            in enumerate([*APES.items(), *extra], 2)]


def records(lengths=LENGTHS, **more):
    return {name: [("chr", length)] for name, length in {**lengths, **more}.items()}


def region_split(seed=1, margin=500, **kwargs):
    return make_region_split(samples(), records(), seed=seed, block_length=10_000, margin=margin, **kwargs)


def test_blocks_are_the_same_relative_regions_and_never_overlap():
    split = region_split()
    assert split.mode == "region_blocks"
    by_sample = {name: sorted((r for r in split.rows if r.sample == name), key=lambda r: r.start)
                 for name in APES}
    assignments = {name: [r.split for r in rows] for name, rows in by_sample.items()}
    assert all(a == assignments["Hsap"] for a in assignments.values())  # block k: one split everywhere
    assert len(assignments["Hsap"]) == 10 and set(assignments["Hsap"]) == set(SPLITS)
    assert [assignments["Hsap"].count(s) for s in SPLITS] == [6, 2, 2]
    for name, rows in by_sample.items():
        length = LENGTHS[name]
        for k, row in enumerate(rows):
            # same relative region: block k's start is at k/10 of the record, give or take the margin
            assert abs(row.start - k * length // 10) <= 250 and abs(row.end - (k + 1) * length // 10) <= 250
        for before, after in zip(rows, rows[1:]):
            gap = after.start - before.end
            assert gap == (500 if before.split != after.split else 0)
        assert rows[0].start == 0 and rows[-1].end == length


def test_seeded_and_reproducible():
    assert region_split(seed=3) == region_split(seed=3)
    dealt = {tuple(r.split for r in region_split(seed=s).rows[:10]) for s in range(6)}
    assert len(dealt) > 1  # the seed moves blocks


def test_other_species_are_whole_records_in_test():
    split = make_region_split(samples([("Eco", "Escherichia coli")]), records(Eco=5000), seed=0,
                              block_length=10_000, species=list(APES.values()))
    eco = [r for r in split.rows if r.sample == "Eco"]
    assert [(r.split, r.start, r.end) for r in eco] == [("test", 0, 5000)]
    assert split.ood_species == ["Escherichia coli"] and "Escherichia coli" not in split.species


def test_bad_region_settings():
    with pytest.raises(ConfigError, match="same number of records"):
        make_region_split(samples(), {**records(), "Ppyg": [("a", 50_000), ("b", 50_000)]}, seed=0,
                          block_length=10_000)
    with pytest.raises(ConfigError, match="margin"):
        make_region_split(samples(), records(), seed=0, block_length=10_000, margin=30_000)


def test_table_round_trip_and_bad_tables(tmp_path):
    split = region_split()
    split.write(tmp_path / "split.tsv")
    again = Split.read(tmp_path / "split.tsv")
    assert again == split and again.mode == "region_blocks"
    assert (tmp_path / "split.tsv").read_text().splitlines()[0].split("\t")[-3:] == ["record", "start", "end"]
    lines = (tmp_path / "split.tsv").read_text().splitlines()
    fields = lines[2].split("\t")
    fields[6] = str(int(fields[6]) - 2000)  # reaches back into the previous block
    (tmp_path / "bad.tsv").write_text("\n".join([lines[0], lines[1], "\t".join(fields)]) + "\n")
    with pytest.raises(InputError, match="overlap"):
        Split.read(tmp_path / "bad.tsv")
    fields[6] = "x"
    (tmp_path / "bad.tsv").write_text("\n".join([lines[0], "\t".join(fields)]) + "\n")
    with pytest.raises(InputError, match="line 2.*integers"):
        Split.read(tmp_path / "bad.tsv")
    # the strain table is unchanged
    strains = make_split(samples(), seed=0)
    strains.write(tmp_path / "strains.tsv")
    assert Split.read(tmp_path / "strains.tsv") == strains and strains.mode == "strain"
    assert (tmp_path / "strains.tsv").read_text().splitlines()[0] == "sample\tspecies\tstrain\tsplit\tstore"


def coded_record(split: Split, sample: str, length: int) -> np.ndarray:
    """Tokens that say where they are: 0 train, 1 validation, 2 test, 4 (N) in the margins."""
    tokens = np.full(length, 4, dtype=np.uint8)
    for row in split.rows:
        if row.sample == sample:
            tokens[row.start:row.end] = SPLITS.index(row.split)
    return tokens


def test_windows_are_drawn_only_inside_their_split_blocks():
    split = region_split()
    for name in SPLITS:
        sources = []
        for label, sample in enumerate(APES):
            array = ArraySource([coded_record(split, sample, LENGTHS[sample])], names=["chr"])
            blocks = [(r.record, r.start, r.end) for r in split.samples(name) if r.sample == sample]
            sources.append(LabelledSource(sample, label, RegionSource(array, blocks)))
        sampler = WindowSampler(sources, len(APES), 2000, 32, seed=5, rc_augment=False)
        tokens = np.concatenate([sampler.batch(step)[0] for step in range(5)])
        assert set(np.unique(tokens)) == {SPLITS.index(name)}
        rng = np.random.default_rng(0)  # the k-mer and sourmash window sampler
        drawn = sample_windows(sources[0].source, np.full(50, 4000), rng)
        assert {int(v) for w in drawn for v in np.unique(w)} == {SPLITS.index(name)}
        assert all(len(w) <= 4000 for w in drawn)


@pytest.fixture(scope="module")
def ape_stores(tmp_path_factory):
    """Stores of the four real ape slices (12 kb of the same chr22 region each) and a region split."""
    root = tmp_path_factory.mktemp("apes")
    for name, species in APES.items():
        tokenize_files([DATA / f"apes_{name}_slice.fa"], root / f"{name}.zarr", species=species,
                       strain=name)
    from genomamba.commands.split import store_records
    sheet = samples()
    split = make_region_split(sheet, store_records(sheet, root, root / "samples.tsv"), seed=2,
                              block_length=2000, margin=100, stores_dir=root)
    split.write(root / "split.tsv")
    return root, split


def test_sources_of_real_stores_are_the_blocks(ape_stores):
    _, split = ape_stores
    for name in SPLITS:
        opened = sample_sources(split, name)
        assert [row.sample for row, _ in opened] == list(APES)
        for row, source in opened:
            blocks = [r for r in split.samples(name) if r.sample == row.sample]
            assert list(source.lengths) == [r.end - r.start for r in blocks]
            store = source.source
            for i, block in enumerate(blocks):
                assert np.array_equal(source.read(i), store.read(block.record, block.start, block.end))
                assert np.array_equal(source.read(i, 5, 10**9), store.read(block.record, block.start + 5, block.end))
            # the sourmash training sketch of a sample is the sketch of its blocks only
            union = set()
            for i in range(len(blocks)):
                union |= set(sketch([source.read(i)], 21, 1).hashes)
            assert set(sketch_source(source, 21, 1, 700).hashes) == union
            whole = set(sketch([store.read(0)], 21, 1).hashes)
            assert union < whole


def test_cut_blocks_streams_a_record_into_its_blocks():
    tokens = np.random.default_rng(0).integers(0, 5, 100).astype(np.uint8)
    record = InputRecord("f.fa", "chr", lambda: (tokens[i:i + 7] for i in range(0, 100, 7)))
    spans = [(3, 10), (14, 15), (15, 60), (99, 100)]
    blocks = list(cut_blocks(record, spans))
    assert [b.name for b in blocks] == ["chr@3-10", "chr@14-15", "chr@15-60", "chr@99-100"]
    for block, (start, end) in zip(blocks, spans):
        assert np.array_equal(np.concatenate(list(block.chunks())), tokens[start:end])
    pieces = list(fragments(blocks[2], 20))
    assert [p.name for p in pieces] == ["chr@15-60:0-20", "chr@15-60:20-40"]
    assert parse_block_name(pieces[1].name) == ("chr", 15, 60)
    with pytest.raises(InputError, match="past the record"):
        list(cut_blocks(record, [(90, 120)]))


def test_block_calls_are_scored_against_their_blocks(tmp_path):
    rows = [SplitRow("A1", "A a", "A1", s, "A1.zarr", "chr", start, start + 100)
            for s, start in [("train", 0), ("test", 100), ("validation", 200), ("test", 300)]]
    rows += [SplitRow("B1", "B b", "B1", r.split, "B1.zarr", "chr", r.start, r.end) for r in rows]
    split = Split(rows)
    assert sample_blocks_of(split, "A1", ["test"]) == {"chr": [(100, 200), (300, 400)]}
    paths = []
    for sample, right in [("A1", [0.9, 0.1]), ("B1", [0.2, 0.8])]:
        path = tmp_path / f"{sample}.tsv"
        with CallsWriter(path, ["A a", "B b"], 0.0) as writer:
            for start, probs in [(100, right), (300, right), (200, right[::-1])]:
                for offset in (0, 50):  # two 50-base fragments of each block
                    writer.add("x", f"chr@{start}-{start + 100}:{offset}-{offset + 50}", 50,
                               np.array(probs), max(probs))
            writer.end_file("x")
        paths.append(path)
    metrics = evaluate(split, paths, model="m", splits=("test", "validation"))
    test = {(lv["level"], lv["fragment_length"]): lv for lv in metrics["splits"]["test"]["levels"]}
    assert set(test) == {("fragment", 50)}  # the * row mixes splits: not scored
    assert test[("fragment", 50)]["n"] == 8 and test[("fragment", 50)]["accuracy"] == 1.0
    validation = metrics["splits"]["validation"]["levels"]
    assert validation[0]["n"] == 4 and validation[0]["accuracy"] == 0.0


def test_every_model_kind_trains_on_region_blocks(ape_stores):
    from genomamba.classifiers import classifier_class

    _, split = ape_stores
    tiny = {"mamba": {"d_model": 16, "n_layers": 1, "steps": 4, "batch_size": 4, "window": 256,
                      "eval_windows": 4, "ood_windows": [1, 2], "device": "cpu", "log_every": 0},
            "kmer": {"k": 4, "windows_per_strain": 10, "validation_windows_per_strain": 5, "window_length": 800,
                     "min_window_length": 200, "ood_lengths": [300, 800]},
            "sourmash": {"ksize": 15, "scaled": 5, "window_length": 800, "validation_windows_per_strain": 4}}
    for kind, params in tiny.items():
        model = classifier_class(kind).fit(split, params, seed=1, log=lambda *_: None)
        assert model.species == sorted(APES.values())
        if kind == "mamba":  # the training data digest is that of the blocks, not the whole records
            from genomamba.data import data_digest, split_sources
            assert model.metadata["digests"]["train"] == data_digest(split_sources(split, "train", model.species))
