"""Target lists of genomamba.workflow that depend on the split (fragments only for evaluated samples)."""

from __future__ import annotations

import pytest

from genomamba.errors import InputError
from genomamba.split import Split, SplitRow
from genomamba.workflow import evaluated_samples, fragment_calls

ROWS = [SplitRow("a1", "A a", "s1", "train", "a1.zarr"), SplitRow("a2", "A a", "s2", "test", "a2.zarr"),
        SplitRow("b1", "B b", "t1", "validation", "b1.zarr"), SplitRow("b2", "B b", "t2", "train", "b2.zarr"),
        SplitRow("h", "H h", "x", "test", "h.zarr")]


@pytest.mark.parametrize("splits, expected", [
    (["test", "validation"], ["a2", "b1", "h"]),
    (["validation"], ["b1"]),
    (["test"], ["a2", "h"]),
])
def test_fragments_only_for_evaluated_splits(tmp_path, splits, expected):
    path = tmp_path / "split.tsv"
    Split(ROWS).write(path)
    samples = evaluated_samples({"evaluate": {"splits": splits}}, path)
    assert samples == expected  # split.tsv order, no training sample
    assert fragment_calls("kmer", 1000, samples) == [f"results/fragments/kmer/1000/{s}.tsv" for s in expected]


def test_unreadable_split_is_an_input_error(tmp_path):
    path = tmp_path / "split.tsv"
    path.write_text("sample\tspecies\n")
    with pytest.raises(InputError) as err:
        evaluated_samples({"evaluate": {"splits": ["test"]}}, path)
    assert err.value.path == path


def test_track_flags_only_when_tracks_are_enabled():
    from genomamba.workflow import track_flags

    assert track_flags({}, ["a1", "b1"]) == []
    assert track_flags({"track": {"enabled": False}}, ["a1"]) == []
    assert track_flags({"track": {"enabled": True}}, ["a1", "b1"]) == ["results/tracks/a1.flags.tsv",
                                                                     "results/tracks/b1.flags.tsv"]
