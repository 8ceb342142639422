"""The blocks of a region-block split, cut out of input records for `genomamba classify --regions`.

A region-block split table (``genomamba.split``) names, per sample, blocks ``record[start:end]``.
``sample_blocks_of`` picks one sample's blocks of some splits; ``cut_blocks`` streams a record and
yields each of its blocks as a record named ``record@start-end`` (``split.block_name``), so that
fragments of it are ``record@start-end:0-L`` and evaluation finds each call's block and split.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .errors import InputError
from .inputs import InputRecord
from .split import Split, block_name


def sample_blocks_of(split: Split, sample: str, splits, path=None) -> dict[str, list[tuple[int, int]]]:
    """record -> sorted [(start, end)] of ``sample``'s blocks in ``splits``."""
    if split.mode != "region_blocks":
        raise InputError("not a region-block split table (no record/start/end columns)", path)
    rows = [r for name in splits for r in split.samples(name) if r.sample == sample]
    if not any(r.sample == sample for r in split.rows):
        raise InputError(f"sample {sample!r} is not in the split table", path)
    blocks = {}
    for row in rows:
        blocks.setdefault(row.record, []).append((row.start, row.end))
    return {record: sorted(spans) for record, spans in blocks.items()}


def cut_blocks(record: InputRecord, spans) -> Iterator[InputRecord]:
    """The blocks ``spans`` (sorted, disjoint (start, end)) of a record, each held in memory once
    complete; the record is streamed once. A block reaching past the record's end is an InputError."""
    spans, position, held = list(spans), 0, []
    for chunk in record.chunks():
        chunk_end = position + len(chunk)
        while spans:
            start, end = spans[0]
            if start < chunk_end and end > position:
                held.append(chunk[max(start - position, 0): min(end, chunk_end) - position])
            if end > chunk_end:
                break
            tokens = np.concatenate(held) if held else np.empty(0, dtype=np.uint8)
            held = []
            spans.pop(0)
            yield InputRecord(record.file, block_name(record.name, start, end), lambda t=tokens: iter((t,)))
        position = chunk_end
        if not spans:
            return
    if spans:
        raise InputError(f"block {spans[0][0]}-{spans[0][1]} of the split table ends past the record's "
                         f"end ({position} bases)", record.file, record=record.name)
