"""The records of any input, streamed: a zarr sequence store directory or a file ``genomamba.io`` reads.

``iter_records(path, ...)`` yields ``InputRecord``s in input order; each one's ``chunks()`` yields
uint8 token arrays (0..4) of at most ``chunk_size`` tokens and must be consumed before the next
record is asked for (file readers stream). ``fragments(record, length)`` cuts a record into
consecutive pieces named ``name:start-end`` (0-based, half-open); a last piece shorter than
``length`` is kept only if it is at least ``length / 2`` long.

The input rules that every command reading sequences applies (tokenize, classify, simulate-reads)
live here: ``check_options`` (reader options in range), ``checked_records`` (record names unique,
at least one record per input) and ``check_distinct_inputs`` (no input given twice). An input
named ``-`` is standard input: ``stdin_inputs`` gives it as ``genomamba.io.stdin.Stdin``, a path
named ``<stdin>`` that every reader of files takes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

DEFAULT_CHUNK_SIZE = 1 << 20
STDIN = "-"  # the input name that means standard input


@dataclass
class InputRecord:
    file: str
    name: str
    chunks: Callable[[], Iterator[np.ndarray]]


def is_store(path) -> bool:
    """A zarr v3 store directory (has ``zarr.json``)."""
    path = Path(path)
    return path.is_dir() and (path / "zarr.json").is_file()


def tokens_only(chunks) -> Iterator[np.ndarray]:
    """Readers yield ``(tokens, mask)`` pairs, stores may yield tokens: always give the tokens."""
    for chunk in chunks:
        yield np.asarray(chunk[0] if isinstance(chunk, tuple) else chunk, dtype=np.uint8)


def rechunk(chunks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-cut a stream of token arrays of any sizes into uint8 arrays of exactly ``size`` tokens (the
    last one shorter). A piece that is one input chunk's slice is yielded without a copy."""
    if size <= 0:
        raise ValueError(f"chunk size must be > 0, got {size}")
    pending, held = [], 0
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.uint8)
        while len(chunk):
            take = chunk[: size - held]
            pending.append(take)
            held += len(take)
            chunk = chunk[len(take):]
            if held == size:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, held = [], 0
    if held:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def check_options(*, min_length: int = 0, min_mapq: int = 0) -> None:
    """Reader options out of range are an InputError naming the command-line option."""
    for option, value in (("--min-length", min_length), ("--min-mapq", min_mapq)):
        if value < 0:
            raise InputError(f"{option} must not be negative, got {value}")


@contextlib.contextmanager
def stdin_inputs(paths):
    """``paths`` with ``-`` replaced by standard input as a path (``genomamba.io.stdin.Stdin``; its
    temporary copy is removed when the block ends). ``-`` may be given once, and not for a terminal."""
    paths = list(paths)
    wanted = [str(p) == STDIN for p in paths]
    if not any(wanted):
        yield paths
        return
    if sum(wanted) > 1:
        raise InputError("standard input (-) given more than once")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("standard input (-) is a terminal: pipe or redirect a file into it")
    from .io.stdin import Stdin

    with Stdin() as stdin:
        yield [stdin if is_stdin else p for p, is_stdin in zip(paths, wanted)]


def check_distinct_inputs(paths) -> None:
    """The same input given twice is an InputError: its records would be read, and named, twice."""
    seen: dict[Path, str] = {}
    for path in paths:
        key = Path(path).resolve()
        if key in seen:
            raise InputError(f"input given more than once (also as {seen[key]})", path)
        seen[key] = str(path)


def checked_records(path, records, *, first_seen: dict | None = None, min_length: int = 0,
                    min_mapq: int = 0):
    """``records`` (anything with ``.name`` and, optionally, ``.line``) of the input ``path``, passed
    on one by one: a record name seen before is an InputError, and so is an input with no records
    (after the ``min_length`` and ``min_mapq`` filters, which the readers apply). Names are checked
    against ``first_seen`` (name -> path of the input it came from; updated), so one dict shared
    between inputs makes names unique across them; by default they are unique within ``path``."""
    first_seen = {} if first_seen is None else first_seen
    source = str(path)
    n = 0
    for record in records:
        name = record.name
        if name in first_seen:
            where = "" if first_seen[name] == source else f" (first seen in {first_seen[name]})"
            raise InputError(f"duplicate record name{where}", path, name, getattr(record, "line", None))
        first_seen[name] = source
        n += 1
        yield record
    if n == 0:
        raise InputError("no records" + (f" of at least {min_length} bases" if min_length else "")
                         + (" passing the filters" if min_mapq else ""), path)


def _store_records(path: Path, chunk_size: int, min_length: int) -> Iterator[InputRecord]:
    from .store import SequenceStore

    store = SequenceStore.open(path)
    for index, name in enumerate(store.names):
        if store.lengths[index] < min_length:
            continue
        yield InputRecord(str(path), str(name),
                          lambda i=index: rechunk(tokens_only(store.iter_chunks(i, chunk_size)), chunk_size))


def _file_records(path: Path, chunk_size: int, reader_options: dict) -> Iterator[InputRecord]:
    from .io import read_records

    records = checked_records(path, read_records(path, **reader_options),
                              min_length=reader_options["min_length"], min_mapq=reader_options["min_mapq"])
    for record in records:
        yield InputRecord(str(path), record.name,
                          lambda r=record: rechunk(tokens_only(r.chunks()), chunk_size))


def iter_records(path, *, chunk_size: int = DEFAULT_CHUNK_SIZE, min_length: int = 0,
                 min_mapq: int = 0, reference=None) -> Iterator[InputRecord]:
    """Records of a store directory or a sequence file (reader options go to ``read_records``;
    stores apply ``min_length`` only), with the rules of ``checked_records``: names unique within
    the input, at least one record."""
    from .io.stdin import Stdin

    check_options(min_length=min_length, min_mapq=min_mapq)
    if isinstance(path, Stdin):  # read as a file; named <stdin>
        yield from _file_records(path, chunk_size,
                                 dict(min_length=min_length, min_mapq=min_mapq, reference=reference))
        return
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path)
    if is_store(path):
        yield from checked_records(path, _store_records(path, chunk_size, min_length), min_length=min_length)
    elif path.is_dir():
        raise InputError("a directory that is not a zarr sequence store (no zarr.json)", path)
    else:
        yield from _file_records(path, chunk_size,
                                 dict(min_length=min_length, min_mapq=min_mapq, reference=reference))


def fragments(record: InputRecord, length: int) -> Iterator[InputRecord]:
    """Consecutive fragments of ``length`` bases (see the module docstring). Each fragment is held
    in memory (``length`` tokens) and must be consumed before the next one."""
    if length <= 0:
        raise ValueError(f"fragment length must be > 0, got {length}")
    start = 0
    for piece in rechunk(record.chunks(), length):
        if 2 * len(piece) >= length:  # full fragments, and a last one of at least half
            end = start + len(piece)
            yield InputRecord(record.file, f"{record.name}:{start}-{end}", lambda p=piece: iter((p,)))
            start = end


class Counted:
    """Wraps a chunk stream and counts the tokens that pass through (``.length`` once consumed)."""

    def __init__(self, chunks: Iterable[np.ndarray]):
        self._chunks, self.length = chunks, 0

    def __iter__(self):
        for chunk in self._chunks:
            self.length += len(chunk)
            yield chunk
