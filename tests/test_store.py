"""The sequence store: windows against the whole, streaming, many records, attributes, round trip."""

import io

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings, strategies as st

from genomamba.alphabet import TOKENIZER_VERSION
from genomamba.commands.export import write_fasta
from genomamba.errors import InputError
from genomamba.io.tokenize import tokenize_files
from genomamba.store import SequenceStore, StoreWriter


def random_records(seed, n, max_len):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        length = int(rng.integers(1, max_len))
        tokens = rng.integers(0, 5, length).astype(np.uint8)
        mask = rng.random(length) < 0.2 if i % 2 else None
        out.append((f"rec{i} é", tokens, mask))
    return out


def build(path, records, chunk_size=100):
    writer = StoreWriter(path, chunk_size=chunk_size)
    for name, tokens, mask in records:
        writer.begin(name)
        for s in range(0, len(tokens), 37):  # appended in odd pieces
            writer.append(tokens[s:s + 37], None if mask is None else mask[s:s + 37])
        writer.end()
    writer.close(species="Test species", strain="T1")
    return SequenceStore.open(path)


@pytest.fixture(scope="module")
def store_and_records(tmp_path_factory):
    records = random_records(0, 30, 700)
    return build(tmp_path_factory.mktemp("s") / "s.zarr", records), records


def test_names_lengths_offsets_attrs(store_and_records):
    store, records = store_and_records
    assert len(store) == 30
    assert store.names == [r[0] for r in records]
    assert store.lengths.tolist() == [len(r[1]) for r in records]
    assert store.offsets.tolist() == np.concatenate([[0], np.cumsum(store.lengths)[:-1]]).tolist()
    assert store.lengths.dtype == np.int64 and store.offsets.dtype == np.int64
    assert store.species == "Test species" and store.strain == "T1"
    attrs = store.attrs
    assert attrs["tokenizer_version"] == TOKENIZER_VERSION and attrs["n_records"] == 30
    whole = np.concatenate([r[1] for r in records])
    assert attrs["total_length"] == len(whole)
    assert [attrs["counts"][b] for b in "ACGTN"] == np.bincount(whole, minlength=5).tolist()
    assert store.counts().tolist() == [np.bincount(r[1], minlength=5).tolist() for r in records]
    assert attrs["masked"] == sum(int(r[2].sum()) for r in records if r[2] is not None)


def test_windows_match_whole(store_and_records):
    store, records = store_and_records
    rng = np.random.default_rng(1)
    for i, (name, tokens, mask) in enumerate(records):
        np.testing.assert_array_equal(store.read(i), tokens)
        np.testing.assert_array_equal(store.read(name), tokens)
        want_mask = np.zeros(len(tokens), bool) if mask is None else mask
        np.testing.assert_array_equal(store.read_mask(name), want_mask)
        for _ in range(5):
            a, b = sorted(rng.integers(0, len(tokens) + 1, 2))
            np.testing.assert_array_equal(store.read(i, a, b), tokens[a:b])
            np.testing.assert_array_equal(store.read_mask(i, a, b), want_mask[a:b])
    assert len(store.read(0, 3, 3)) == 0
    np.testing.assert_array_equal(store.read(-1), records[-1][1])


@pytest.mark.parametrize("cache_chunks", [0, 2, 4, 1000])
def test_windows_with_any_cache_size(store_and_records, cache_chunks):
    store, records = store_and_records
    small = SequenceStore.open(store.path, cache_chunks=cache_chunks)
    whole = np.concatenate([r[1] for r in records])
    rng = np.random.default_rng(cache_chunks)
    for _ in range(200):  # windows within and across the 100-base chunks, repeated ones hit the cache
        i = int(rng.integers(len(records)))
        length = len(records[i][1])
        a = int(rng.integers(0, length + 1))
        b = int(rng.integers(a, min(length, a + 350) + 1))
        got = small.read(i, a, b)
        np.testing.assert_array_equal(got, whole[store.offsets[i] + a:store.offsets[i] + b])
        got[:] = 9  # a caller's copy: the cache stays intact
    np.testing.assert_array_equal(small.read(3), records[3][1])


def test_bad_windows_and_names(store_and_records):
    store, records = store_and_records
    with pytest.raises(IndexError):
        store.read(0, 0, len(records[0][1]) + 1)
    with pytest.raises(IndexError):
        store.read(0, 5, 4)
    with pytest.raises(IndexError):
        store.read(30)
    with pytest.raises(KeyError):
        store.read("nope")


@pytest.mark.parametrize("chunk_size", [1, 64, 1000])
def test_iter_chunks_and_pieces_stream_everything(store_and_records, chunk_size):
    store, records = store_and_records
    for i, (_, tokens, _) in enumerate(records[:4]):
        parts = list(store.iter_chunks(i, chunk_size))
        assert all(len(p) == chunk_size for p in parts[:-1]) and 0 < len(parts[-1]) <= chunk_size
        np.testing.assert_array_equal(np.concatenate(parts), tokens)
    got = {}
    for index, tokens, mask in store.iter_pieces(block=chunk_size * 7):
        got.setdefault(index, []).append(tokens)
    assert sorted(got) == list(range(30))
    for i, (_, tokens, _) in enumerate(records):
        np.testing.assert_array_equal(np.concatenate(got[i]), tokens)


def test_plain_zarr_reads_the_layout(store_and_records):
    store, records = store_and_records
    group = zarr.open_group(str(store.path), mode="r")
    np.testing.assert_array_equal(group["tokens"][:], np.concatenate([r[1] for r in records]))
    assert bytes(group["names"][:]).decode().split("\n") == store.names


def test_many_short_records(tmp_path):
    records = random_records(2, 3000, 30)
    store = build(tmp_path / "many.zarr", records, chunk_size=1 << 12)
    assert len(store) == 3000
    np.testing.assert_array_equal(store.read(2999), records[2999][1])
    assert sum(len(t) for _, t, _ in store.iter_pieces()) == sum(len(r[1]) for r in records)


def test_writer_refuses_duplicates_and_empty(tmp_path):
    writer = StoreWriter(tmp_path / "w.zarr")
    writer.add_record("a", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="duplicate"):
        writer.begin("a")
    writer.begin("b")
    with pytest.raises(ValueError, match="uint8"):
        writer.append(np.array([0, 5], np.uint8))
    with pytest.raises(ValueError, match="empty"):
        writer.end()


def test_open_rejects_other_directories(tmp_path):
    with pytest.raises(InputError):
        SequenceStore.open(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    with pytest.raises(InputError, match="not a genomamba"):
        SequenceStore.open(tmp_path / "other.zarr")


record_names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters=">"),
                       min_size=1, max_size=12)
sequences = st.text(alphabet="ACGTNacgtnRYSWKMBDHVrykmU", min_size=1, max_size=400)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(record_names, sequences), min_size=1, max_size=6,
                        unique_by=lambda r: r[0]),
       width=st.integers(1, 90))
def test_round_trip_fasta_store_fasta(tmp_path_factory, records, width):
    tmp = tmp_path_factory.mktemp("rt")
    fasta = tmp / "in.fa"
    fasta.write_text("".join(f">{n} desc\n" + "\n".join(s[i:i + width] for i in range(0, len(s), width)) + "\n"
                             for n, s in records))
    tokenize_files([fasta], tmp / "s.zarr", progress=False)
    out = io.BytesIO()
    write_fasta(SequenceStore.open(tmp / "s.zarr"), out)
    blocks = out.getvalue().decode().split(">")[1:]
    assert [b.split("\n", 1)[0] for b in blocks] == [n for n, _ in records]
    for block, (_, seq) in zip(blocks, records):
        got = "".join(block.split("\n")[1:])
        collapse = lambda c: ("N" if c.upper() not in "ACGTU" else c.upper().replace("U", "T"))
        want = "".join(collapse(c).lower() if c.islower() else collapse(c) for c in seq)
        assert got == want
