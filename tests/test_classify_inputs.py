"""Record iteration for classify: re-chunking, fragments, bad paths."""

import numpy as np
import pytest

from genomamba.errors import InputError
from genomamba.inputs import Counted, InputRecord, fragments, iter_records, rechunk

SLICE = "resources/genomes/Staphylococcus_aureus/COL.fa.gz"


def record_of(tokens, pieces=3):
    return InputRecord("x.fa", "chr", lambda: iter(np.array_split(tokens, pieces)))


def test_rechunk_sizes_and_content():
    tokens = np.arange(25, dtype=np.uint8) % 5
    out = list(rechunk(np.array_split(tokens, 7), 4))
    assert [len(c) for c in out] == [4] * 6 + [1]
    assert (np.concatenate(out) == tokens).all()
    with pytest.raises(ValueError):
        list(rechunk([tokens], 0))


def test_rechunk_takes_empty_pieces_and_any_integer_arrays():
    rng = np.random.default_rng(0)
    pieces = [rng.integers(0, 5, size=n) for n in (0, 3, 10, 1, 25, 4)]   # int64, one empty
    out = list(rechunk(pieces, 8))
    assert [len(c) for c in out] == [8, 8, 8, 8, 8, 3]
    assert all(c.dtype == np.uint8 for c in out)
    assert np.array_equal(np.concatenate(out), np.concatenate(pieces))


@pytest.mark.parametrize("total, expected", [
    (1000, ["chr:0-300", "chr:300-600", "chr:600-900"]),            # last 100 < 150: dropped
    (1050, ["chr:0-300", "chr:300-600", "chr:600-900", "chr:900-1050"]),  # last 150 >= 150: kept
    (100, []),
])
def test_fragment_names_and_last_piece_rule(total, expected):
    tokens = (np.arange(total) % 4).astype(np.uint8)
    pieces = list(fragments(record_of(tokens), 300))
    assert [p.name for p in pieces] == expected
    for piece in pieces:
        start, end = map(int, piece.name.split(":")[1].split("-"))
        assert (np.concatenate(list(piece.chunks())) == tokens[start:end]).all()


def test_file_records_are_streamed_in_chunks_of_the_asked_size():
    n_records = 0
    for record in iter_records(SLICE, chunk_size=7000):  # each consumed before the next
        chunks = Counted(record.chunks())
        sizes = [len(c) for c in chunks]
        assert chunks.length == 40000 and max(sizes) == 7000 and sizes[-1] == 40000 % 7000
        n_records += 1
    assert n_records == 3


def test_missing_path_and_plain_directory_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_records(tmp_path / "absent.fa"))
    with pytest.raises(InputError, match="not a zarr"):
        list(iter_records(tmp_path))
