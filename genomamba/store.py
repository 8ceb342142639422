"""The zarr v3 sequence store: every record's tokens concatenated in one chunked, compressed array.

Layout of ``STORE.zarr`` (a zarr v3 group):

- ``tokens``  uint8 (total,), chunks of 1 Mi bases, Blosc lz4 with bit-shuffle (the five empty
  bit-planes of 0..4 cost nothing, about 2 bits per base remain)
- ``mask``    bool (total,), same chunks; True = soft-masked (lower case); all-False chunks are not
  stored at all
- ``offsets``, ``lengths`` int64 (n,); ``counts`` int64 (n, 5) per-record A, C, G, T, N;
  ``masked`` int64 (n,) per-record soft-masked bases
- ``names``   uint8: the record names as '\\n'-joined UTF-8 (a plain byte array reads and writes
  the same in every zarr 3 release, unlike variable-length strings)
- group attributes: format, format_version, tokenizer_version, species, strain, sources
  ([{path, name, format, sha256}]), counts ({A: .., ...}), masked, n_records, total_length
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import zarr
from numcodecs import Blosc
from zarr.codecs import BloscCodec

from .alphabet import BASES, TOKENIZER_VERSION, VOCAB_SIZE
from .errors import InputError

FORMAT = "genomamba-sequence-store"
FORMAT_VERSION = 1
CHUNK = 1 << 20
WRITE_CHUNKS = 16  # chunks buffered between writes: 16 Mi bases of tokens and of mask at most


CNAME, LEVEL = "lz4", 5  # with bit-shuffle: ~2.03 bits/base on real DNA at 5x zstd's speed (zstd: 1.99)


def _codec(level: int = LEVEL) -> BloscCodec:
    return BloscCodec(cname=CNAME, clevel=level, shuffle="bitshuffle", typesize=1)


def count_tokens(tokens: np.ndarray) -> np.ndarray:
    """How many of each token 0..4: bincount for short pieces (one call), four compares for long
    ones (several times faster per base than bincount on uint8)."""
    if len(tokens) < 1 << 15:
        return np.bincount(tokens, minlength=VOCAB_SIZE)[:VOCAB_SIZE].astype(np.int64)
    acgt = [np.count_nonzero(tokens == token) for token in range(VOCAB_SIZE - 1)]
    return np.array(acgt + [len(tokens) - sum(acgt)], dtype=np.int64)


class SequenceStore:
    """Read access to a store: names, lengths, offsets, attributes and windows of any record."""

    def __init__(self, group, path, cache_chunks: int = 16):
        self.path = Path(path)
        self._cache_chunks = cache_chunks
        self._cache: OrderedDict = OrderedDict()  # (array name, chunk index) -> decoded chunk
        self._group = group
        self.attrs = dict(group.attrs)
        if self.attrs.get("format") != FORMAT:
            raise InputError("not a genomamba sequence store", path)
        if self.attrs.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(f"store format version {self.attrs['format_version']} is newer than this "
                             f"genomamba reads ({FORMAT_VERSION})", path)
        self.offsets = group["offsets"][:]
        self.lengths = group["lengths"][:]
        raw = group["names"][:].tobytes()
        self.names = raw.decode("utf-8").split("\n") if raw else []
        self._tokens = group["tokens"]
        self._mask = group["mask"]
        self._index = None

    @classmethod
    def open(cls, path, cache_chunks: int = 16) -> "SequenceStore":
        """Open a store; up to ``cache_chunks`` decoded chunks (1 Mi bases each, tokens and mask
        counted apart) are kept, so random windows of a genome that fits are read without decoding."""
        if not Path(path).is_dir():
            raise InputError("no sequence store here (not a directory)", path)
        try:
            group = zarr.open_group(str(path), mode="r")
        except (FileNotFoundError, KeyError, ValueError, getattr(zarr.errors, "BaseZarrError", ValueError)):
            raise InputError("not a zarr store", path) from None
        return cls(group, path, cache_chunks)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def species(self):
        return self.attrs.get("species")

    @property
    def strain(self):
        return self.attrs.get("strain")

    @property
    def total_length(self) -> int:
        return int(self.attrs.get("total_length", 0))

    def counts(self) -> np.ndarray:
        """Per-record base counts, int64 (n, 5) in A, C, G, T, N order."""
        return self._group["counts"][:]

    def masked(self) -> np.ndarray:
        """Per-record number of soft-masked bases."""
        return self._group["masked"][:]

    def index(self, record) -> int:
        """A record's position, from its position (negative counts from the end) or its name."""
        if isinstance(record, (int, np.integer)):
            n = len(self.names)
            if not -n <= record < n:
                raise IndexError(f"record {record} out of range (store has {n})")
            return int(record) % n
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self.names)}
        try:
            return self._index[record]
        except KeyError:
            raise KeyError(f"no record named {record!r} in {self.path}") from None

    def _window(self, record, start, end):
        i = self.index(record)
        length = int(self.lengths[i])
        end = length if end is None else end
        if not 0 <= start <= end <= length:
            raise IndexError(f"window [{start}, {end}) outside record {self.names[i]!r} of length {length}")
        base = int(self.offsets[i])
        return base + start, base + end

    def read(self, record, start: int = 0, end: int | None = None) -> np.ndarray:
        """Tokens of ``record[start:end]`` (uint8 0..4); reads only the chunks the window touches."""
        a, b = self._window(record, start, end)
        return self._cached(self._tokens, a, b)

    def read_mask(self, record, start: int = 0, end: int | None = None) -> np.ndarray:
        """Soft-mask (True = lower case in the input) of ``record[start:end]``."""
        a, b = self._window(record, start, end)
        return self._cached(self._mask, a, b)

    def _cached(self, array, a: int, b: int) -> np.ndarray:
        """``array[a:b]`` assembled from whole decoded chunks kept in a small LRU cache; windows
        longer than half the cache are read directly."""
        size = array.chunks[0]
        first, last = a // size, max(a, b - 1) // size
        if b <= a or last - first + 1 > self._cache_chunks // 2:
            return array[a:b]
        parts = []
        for k in range(first, last + 1):
            key = (array.path, k)
            chunk = self._cache.get(key)
            if chunk is None:
                chunk = array[k * size:min((k + 1) * size, array.shape[0])]
                self._cache[key] = chunk
                if len(self._cache) > self._cache_chunks:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            parts.append(chunk[max(a - k * size, 0):min(b - k * size, size)])
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def iter_chunks(self, record, chunk_size: int = CHUNK, with_mask: bool = False):
        """Stream a record as consecutive token arrays of ``chunk_size`` (the last may be shorter),
        or ``(tokens, mask)`` pairs with ``with_mask``."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        length = int(self.lengths[self.index(record)])
        for start in range(0, length, chunk_size):
            end = min(start + chunk_size, length)
            tokens = self.read(record, start, end)
            yield (tokens, self.read_mask(record, start, end)) if with_mask else tokens


    def iter_pieces(self, block: int = 16 * CHUNK):
        """Stream the whole store in large reads as ``(record_index, tokens, mask)`` pieces in order;
        a long record comes in several pieces. Fast for stores of many short records too."""
        total = int(self.offsets[-1] + self.lengths[-1]) if len(self) else 0
        ends = self.offsets + self.lengths
        for a in range(0, total, block):
            b = min(a + block, total)
            tokens, mask = self._tokens[a:b], self._mask[a:b]
            first = int(np.searchsorted(ends, a, side="right"))
            last = int(np.searchsorted(self.offsets, b, side="left"))
            for i in range(first, last):
                s, e = max(int(self.offsets[i]), a) - a, min(int(ends[i]), b) - a
                yield i, tokens[s:e], mask[s:e]


class StoreWriter:
    """Builds a store record by record; tokens are buffered and written whole chunks at a time.

    ``begin(name)``, any number of ``append(tokens, mask)``, ``end()``; then ``close(attrs)``.
    Names must be unique in the store; empty records are refused.
    """

    def __init__(self, path, chunk_size: int = CHUNK, level: int = LEVEL):
        self.path = Path(path)
        self._group = zarr.open_group(str(path), mode="w", zarr_format=3)
        self.chunk_size = chunk_size
        codec = _codec(level)
        self._blosc = Blosc(cname=CNAME, clevel=level, shuffle=Blosc.BITSHUFFLE)  # same as ``codec``
        common = dict(shape=(0,), chunks=(chunk_size,), compressors=[codec])
        self._tokens = self._group.create_array("tokens", dtype="uint8", fill_value=0, **common)
        self._mask = self._group.create_array("mask", dtype="bool", fill_value=False, **common)
        self._buf = np.empty(chunk_size * WRITE_CHUNKS, dtype=np.uint8)
        self._mbuf = np.zeros(chunk_size * WRITE_CHUNKS, dtype=bool)
        self._fill = 0       # bases in the buffers
        self._flushed = 0    # bases already written
        self.names: list[str] = []
        self._seen: set[str] = set()
        self._offsets: list[int] = []
        self._counts: list[np.ndarray] = []
        self._masked: list[int] = []
        self._current = None

    @property
    def total(self) -> int:
        return self._flushed + self._fill

    def begin(self, name: str):
        if not name or "\n" in name:
            raise ValueError(f"record name {name!r} is empty or holds a line break")
        if name in self._seen:
            raise ValueError(f"duplicate record name {name!r}")
        self._seen.add(name)
        self._current = (name, self.total, np.zeros(VOCAB_SIZE, dtype=np.int64), 0)

    def append(self, tokens: np.ndarray, mask: np.ndarray | None = None):
        name, start, counts, masked = self._current
        if tokens.dtype != np.uint8 or (len(tokens) and tokens.max() >= VOCAB_SIZE):
            raise ValueError(f"tokens must be uint8 0..{VOCAB_SIZE - 1}")
        counts += count_tokens(tokens)
        n_masked = 0 if mask is None else int(np.count_nonzero(mask))
        mask = mask if n_masked else None  # all-False: nothing to copy, the buffer is already False
        self._current = (name, start, counts, masked + n_masked)
        done, n = 0, len(tokens)
        while done < n:
            take = min(n - done, len(self._buf) - self._fill)
            self._buf[self._fill:self._fill + take] = tokens[done:done + take]
            if mask is not None:
                self._mbuf[self._fill:self._fill + take] = mask[done:done + take]
            self._fill += take
            done += take
            if self._fill == len(self._buf):
                self._flush()

    def end(self) -> int:
        """Finish the current record; returns its length."""
        name, start, counts, masked = self._current
        length = self.total - start
        if length == 0:
            raise ValueError(f"record {name!r} is empty")
        self.names.append(name)
        self._offsets.append(start)
        self._counts.append(counts)
        self._masked.append(masked)
        self._current = None
        return length

    def add_record(self, name: str, tokens: np.ndarray, mask: np.ndarray | None = None) -> int:
        self.begin(name)
        self.append(tokens, mask)
        return self.end()

    def _write_chunks(self, array, data: np.ndarray, first_chunk: int, skip_empty: bool):
        """Encode whole chunks with the array's Blosc settings and write them as the array's chunk
        objects (zarr's own write path costs about twice the compression; the bytes are the same)."""
        root = self.path / array.path
        key = array.metadata.chunk_key_encoding.encode_chunk_key
        for k, s in enumerate(range(0, len(data), self.chunk_size)):
            chunk = data[s:s + self.chunk_size]
            if skip_empty and not chunk.any():
                continue  # left to the fill value
            if len(chunk) < self.chunk_size:  # edge chunks are stored full size, padded
                chunk = np.concatenate([chunk, np.zeros(self.chunk_size - len(chunk), chunk.dtype)])
            target = root / key((first_chunk + k,))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._blosc.encode(chunk.view(np.uint8)))

    def _flush(self):
        n = self._fill
        if not n:
            return
        first = self._flushed // self.chunk_size
        self._write_chunks(self._tokens, self._buf[:n], first, skip_empty=False)
        self._write_chunks(self._mask, self._mbuf[:n], first, skip_empty=True)
        self._mbuf[:n] = False
        self._flushed += n
        self._fill = 0

    def close(self, **attrs):
        """Write the record tables and attributes; the store is complete after this."""
        if self._current is not None:
            raise ValueError(f"record {self._current[0]!r} was not ended")
        self._flush()
        total = self._flushed
        self._tokens.resize((total,))  # only grows the metadata: the chunks are already written
        self._mask.resize((total,))
        offsets = np.array(self._offsets, dtype=np.int64)
        lengths = np.diff(np.append(offsets, total)).astype(np.int64)
        counts = np.array(self._counts, dtype=np.int64).reshape(-1, VOCAB_SIZE)
        masked = np.array(self._masked, dtype=np.int64)
        names = np.frombuffer("\n".join(self.names).encode("utf-8"), dtype=np.uint8)
        for key, data in (("offsets", offsets), ("lengths", lengths), ("counts", counts),
                          ("masked", masked), ("names", names)):
            self._group.create_array(key, data=data, chunks=data.shape if data.size else (1,) * data.ndim,
                                     compressors=[_codec()])
        totals = counts.sum(axis=0)
        self.attrs = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tokenizer_version": TOKENIZER_VERSION,
            "n_records": len(self.names),
            "total_length": int(total),
            "counts": {base: int(c) for base, c in zip(BASES, totals)},
            "masked": int(masked.sum()),
            "chunk_size": self.chunk_size,
            **attrs,
        }
        self._group.attrs.update(self.attrs)
