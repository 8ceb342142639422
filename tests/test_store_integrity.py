"""Store integrity: every damaged store is a clean error naming the store, record and chunk.

The CLI cases damage a copy of a 3-chunk store tokenized from a seeded random FASTA (two records;
chunk 0 holds only chrA, chunk 1 the end of chrA and the start of chrB, chunk 2 only chrB; the only
soft-masked stretch lies in chunk 1, so only mask chunk 1 is stored). The property test damages a
small store of the real slices in tests/data at random and checks that reading it either fails with
an InputError or gives back exactly what was written.
"""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from numcodecs import Blosc

from genomamba.cli import main
from genomamba.errors import ConfigError, InputError
from genomamba.io import read_records
from genomamba.store import CHUNK, SequenceStore, StoreWriter, attributes_checksum, checksum

from test_classify_support import fit_small_kmer

DATA = Path(__file__).parent / "data"
LENGTHS = {"chrA": 1_500_000, "chrB": 1_600_000}
MASKED = (1_100_000, 1_200_000)  # soft-masked bases of chrA (store bases too: chrA comes first)


def run_cli(capsys, *argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    return code, capsys.readouterr()


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    rng = np.random.default_rng(20261206)
    path = tmp_path_factory.mktemp("fasta") / "random.fa"
    with open(path, "wb") as fh:
        for name, length in LENGTHS.items():
            seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, length)].copy()
            if name == "chrA":
                seq[MASKED[0]:MASKED[1]] |= 0x20  # lower case
            fh.write(f">{name}\n".encode())
            fh.write(b"\n".join(seq[i:i + 80].tobytes() for i in range(0, length, 80)) + b"\n")
    return path


@pytest.fixture(scope="module")
def pristine(fasta, tmp_path_factory):
    store = tmp_path_factory.mktemp("pristine") / "random.zarr"
    assert main(["tokenize", str(fasta), "-o", str(store), "--species", "Random", "--no-progress"]) == 0
    return store


@pytest.fixture(scope="module")
def kmer_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kmer")
    fit_small_kmer(directory)
    return directory / "model"


@pytest.fixture
def store(pristine, tmp_path):
    """A fresh copy of the pristine store to damage."""
    copy = tmp_path / "damaged.zarr"
    shutil.copytree(pristine, copy)
    return copy


def flip(path: Path, offset: int):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def truncate(path: Path, fraction: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def edit_attributes(store: Path, change):
    meta = json.loads((store / "zarr.json").read_text())
    change(meta["attributes"])
    (store / "zarr.json").write_text(json.dumps(meta))


# case -> (damage, texts the message must hold, the record it must name (None: the chunk holds two,
# both named in the message), whether opening finds it: plain inspect fails too)
CASES = {
    "tokens chunk deleted": (lambda s: (s / "tokens/c/2").unlink(),
                             ["tokens chunk 2", "tokens/c/2", "chunk file is missing"], "chrB", True),
    "tokens chunk truncated": (lambda s: truncate(s / "tokens/c/0"),
                               ["tokens chunk 0", "tokens/c/0", "cannot be decoded"], "chrA", False),
    "tokens chunk altered": (lambda s: flip(s / "tokens/c/1", 200_000),
                             ["tokens chunk 1", "tokens/c/1", "records 'chrA', 'chrB'"], None, False),
    "stored mask chunk deleted": (lambda s: (s / "mask/c/1").unlink(),
                                  ["mask chunk 1", "mask/c/1", "chunk file is missing",
                                   "records 'chrA', 'chrB'"], None, True),
    "names deleted": (lambda s: shutil.rmtree(s / "names"), ["array names missing"], None, True),
    "offsets deleted": (lambda s: shutil.rmtree(s / "offsets"), ["array offsets missing"], None, True),
    "checksums deleted": (lambda s: shutil.rmtree(s / "checksums"),
                          ["arrays checksums/tokens, checksums/mask missing"], None, True),
    "zarr.json truncated": (lambda s: truncate(s / "zarr.json"), ["zarr.json cannot be read"], None, True),
    "attributes altered": (lambda s: edit_attributes(s, lambda a: a.update(species="Other")),
                           ["attributes (zarr.json) do not match their checksum"], None, True),
}


def check_error(err: str, command: str, store: Path, texts, record):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"genomamba {command}: error: {store}"), err
    for text in texts:
        assert text in err, err
    if record is not None:
        assert f"record {record!r}" in err, err


@pytest.mark.parametrize("case", CASES)
def test_export_fails_cleanly_and_writes_nothing(store, tmp_path, capsys, case):
    damage, texts, record, _ = CASES[case]
    damage(store)
    out = tmp_path / "out" / "back.fa"
    out.parent.mkdir()
    code, captured = run_cli(capsys, "export", store, "-o", out)
    assert code == 2
    check_error(captured.err, "export", store, texts, record)
    assert not out.exists() and list(out.parent.iterdir()) == []


@pytest.mark.parametrize("case", CASES)
def test_inspect_and_inspect_verify(store, capsys, case):
    damage, texts, record, found_on_open = CASES[case]
    damage(store)
    code, captured = run_cli(capsys, "inspect", store)
    if found_on_open:
        assert code == 2
        check_error(captured.err, "inspect", store, texts, record)
    else:  # plain inspect reads no chunk, and says so
        assert code == 0 and "not read: --verify reads and checks every one" in captured.out
    code, captured = run_cli(capsys, "inspect", store, "--verify")
    assert code == 2 and "Traceback" not in captured.err
    if found_on_open and not case.endswith("chunk deleted"):
        check_error(captured.err, "inspect", store, texts, record)
    else:  # a damaged chunk is listed on stdout, one line each, and the error counts them
        damaged = [line for line in captured.out.splitlines() if line.startswith("damaged\t")]
        assert len(damaged) == 1 and all(text in damaged[0] for text in texts), captured.out
        assert "3 chunks read, 1 damaged; crc32 checksums" in captured.out
        check_error(captured.err, "inspect", store, ["1 damaged chunk (listed on stdout)"], None)


@pytest.mark.parametrize("case", ["tokens chunk deleted", "tokens chunk altered", "stored mask chunk deleted",
                                  "names deleted", "zarr.json truncated"])
def test_classify_fails_cleanly_and_writes_nothing(store, kmer_model, tmp_path, capsys, case):
    damage, texts, record, _ = CASES[case]
    damage(store)
    out = tmp_path / "out" / "calls.tsv"
    out.parent.mkdir()
    code, captured = run_cli(capsys, "classify", "--model", kmer_model, store, "-o", out)
    assert code == 2
    check_error(captured.err, "classify", store, texts, record)
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_intact_store_verifies_and_classifies(pristine, kmer_model, tmp_path, capsys):
    code, captured = run_cli(capsys, "inspect", pristine, "--verify")
    assert code == 0 and "verify\t3 chunks read, all intact; crc32 checksums" in captured.out
    code, captured = run_cli(capsys, "inspect", pristine, "--verify", "--json")
    assert code == 0
    assert json.loads(captured.out)["verify"] == {"checksums": "crc32", "chunks": 3, "problems": []}
    assert run_cli(capsys, "classify", "--model", kmer_model, pristine, "-o", tmp_path / "c.tsv")[0] == 0
    store = SequenceStore.open(pristine)
    assert store.format_version == 2 and store.n_chunks == 3 and store.chunk_size == CHUNK
    assert [store.chunk_records(k) for k in range(3)] == [["chrA"], ["chrA", "chrB"], ["chrB"]]
    assert sorted(p.name for p in (pristine / "mask" / "c").iterdir()) == ["1"]  # all-False ones unstored
    assert store.read_mask("chrA", *MASKED).all() and store.masked().tolist() == [MASKED[1] - MASKED[0], 0]


def test_altered_chunk_fails_the_read_that_touches_it_only(store):
    flip(store / "tokens/c/2", 1000)
    opened = SequenceStore.open(store)  # files all there: opens
    assert len(opened.read("chrA", 0, 1000)) == 1000  # chunk 0 is intact
    with pytest.raises(InputError, match=r"record 'chrB': tokens chunk 2 \(file tokens/c/2"):
        opened.read("chrB", LENGTHS["chrB"] - 10)
    with pytest.raises(InputError, match="tokens chunk 2"):  # a failed chunk is not cached
        list(opened.iter_pieces())


def test_a_mask_chunk_may_be_missing_only_when_its_checksum_says_all_false(store):
    opened = SequenceStore.open(store)
    assert not (store / "mask/c/0").exists() and opened.verify() == []
    # a consistent store (every table checksum and the attributes' one redone) whose checksum says
    # that the unstored mask chunk 0 holds soft-masked bases
    sums = opened._table("checksums/mask").copy()
    sums[0] ^= 1
    (store / "checksums/mask/c/0").write_bytes(Blosc(cname="lz4").encode(sums))
    edit_attributes(store, lambda a: (a["checksums"]["tables"].update({"checksums/mask": checksum(sums)}),
                                      a.update(attributes_crc32=attributes_checksum(a))))
    with pytest.raises(InputError, match=r"record 'chrA': mask chunk 0 \(file mask/c/0.*chunk file is missing"):
        SequenceStore.open(store)


def test_incomplete_store_without_its_marker(tmp_path):
    writer = StoreWriter(tmp_path / "half.zarr", chunk_size=64)
    writer.add_record("a", np.zeros(100, np.uint8))
    writer._flush()  # chunks written, close() (tables, checksums, attributes) never ran
    with pytest.raises(InputError, match="incomplete store"):
        SequenceStore.open(tmp_path / "half.zarr")


def as_format_1(store: Path):
    """What the writer of format 1 wrote: no checksum arrays or attributes."""
    shutil.rmtree(store / "checksums")
    edit_attributes(store, lambda a: [a.pop("checksums"), a.pop("attributes_crc32"),
                                      a.update(format_version=1)])


def test_format_1_stores_read_unverified_with_a_note(store, pristine, tmp_path, capsys, caplog):
    as_format_1(store)
    with caplog.at_level(logging.WARNING, logger="genomamba.store"):
        old = SequenceStore.open(store)
    assert "store format 1 has no checksums" in caplog.text
    new = SequenceStore.open(pristine)
    assert not old.verified and old.names == new.names
    for name in LENGTHS:
        np.testing.assert_array_equal(old.read(name), new.read(name))
        np.testing.assert_array_equal(old.read_mask(name), new.read_mask(name))
    code, captured = run_cli(capsys, "inspect", store, "--verify")
    assert code == 0
    assert "3 chunks read, all intact; no checksums (format 1): chunks decoded, contents unverified" in captured.out
    # what format 1 can still tell: a missing tokens chunk, one that does not decode
    truncate(store / "tokens/c/1")
    code, captured = run_cli(capsys, "export", store, "-o", tmp_path / "x.fa")
    assert code == 2 and not (tmp_path / "x.fa").exists()
    check_error(captured.err, "export", store, ["tokens chunk 1", "cannot be decoded"], None)
    (store / "tokens/c/2").unlink()
    code, captured = run_cli(capsys, "inspect", store)
    check_error(captured.err, "inspect", store, ["tokens chunk 2", "chunk file is missing"], "chrB")


def test_the_command_line_process_prints_one_line_and_no_traceback(store, tmp_path):
    flip(store / "tokens/c/0", 300)
    done = subprocess.run([sys.executable, "-m", "genomamba.cli", "export", str(store), "-o",
                           str(tmp_path / "x.fa")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"genomamba export: error: {store}, record 'chrA': tokens chunk 0 ")
    assert len(done.stderr.splitlines()) == 1 and not (tmp_path / "x.fa").exists()


# ---- random damage to a small store of real sequence -------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A store of the real slices (soft-masked human, two V. cholerae records) in 4 Ki chunks, and
    everything a reader gets from it."""
    path = tmp_path_factory.mktemp("small") / "small.zarr"
    writer = StoreWriter(path, chunk_size=1 << 12)
    for fasta in ("hsap_chr22_softmasked_slice.fa", "vcholerae_O395_2rec_slice.fa"):
        for record in read_records(DATA / fasta):
            writer.begin(record.name)
            for tokens, mask in record.chunks():
                writer.append(tokens, mask)
            writer.end()
    writer.close(species="Mixed", strain="slices")
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert any(f.startswith("mask/c/") for f in files)  # some mask chunks stored, and
    assert len([f for f in files if f.startswith("mask/c/")]) < SequenceStore.open(path).n_chunks  # not all
    return path, files, everything(SequenceStore.open(path))


def everything(store: SequenceStore):
    pieces = [(i, t.tobytes(), m.tobytes()) for i, t, m in store.iter_pieces(block=5000)]
    return (store.names, store.lengths.tolist(), store.offsets.tolist(), store.attrs,
            store.counts().tolist(), store.masked().tolist(),
            [(store.read(i).tobytes(), store.read_mask(i).tobytes(), store.read(i, 3, 4000).tobytes())
             for i in range(len(store))], pieces)


damage = st.tuples(st.integers(0, 10**6), st.sampled_from(["flip", "truncate", "delete"]),
                   st.integers(0, 10**9), st.integers(1, 255))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damages=st.lists(damage, min_size=1, max_size=3))
def test_random_damage_is_an_input_error_or_changes_nothing(small, tmp_path_factory, damages):
    path, files, expected = small
    copy = tmp_path_factory.mktemp("damaged") / "small.zarr"
    shutil.copytree(path, copy)
    for which, kind, where, xor in damages:
        target = copy / files[which % len(files)]
        if not target.exists():
            continue
        data = bytearray(target.read_bytes())
        if kind == "delete":
            target.unlink()
        elif kind == "truncate":
            target.write_bytes(bytes(data[:where % max(len(data), 1)]))
        elif data:
            data[where % len(data)] ^= xor
            target.write_bytes(bytes(data))
    try:
        got = everything(SequenceStore.open(copy))
    except (InputError, ConfigError):
        return
    assert got == expected


def test_report_notes_a_damaged_store_instead_of_reading_it_unchecked(store):
    from genomamba.report import provenance_rows

    (store / "tokens/c/0").unlink()
    [row] = provenance_rows({"s": store})
    assert row["note"].startswith("cannot open store: InputError: ") and "tokens chunk 0" in row["note"]
