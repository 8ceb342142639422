"""The zarr v3 sequence store: every record's tokens concatenated in one chunked, compressed array.

Layout of ``STORE.zarr`` (a zarr v3 group, format version 2):

- ``tokens``  uint8 (total,), chunks of 1 Mi bases, Blosc lz4 with bit-shuffle (the five empty
  bit-planes of 0..4 cost nothing, about 2 bits per base remain)
- ``mask``    bool (total,), same chunks; True = soft-masked (lower case); all-False chunks are not
  stored at all
- ``offsets``, ``lengths`` int64 (n,); ``counts`` int64 (n, 5) per-record A, C, G, T, N;
  ``masked`` int64 (n,) per-record soft-masked bases
- ``names``   uint8: the record names as '\\n'-joined UTF-8 (a plain byte array reads and writes
  the same in every zarr 3 release, unlike variable-length strings)
- ``checksums/tokens``, ``checksums/mask`` uint32 (n_chunks,): the CRC-32 of every chunk's decoded
  bytes (the whole chunk as stored: the last one is padded with zeros). A mask chunk that is not
  stored reads as all-False, so its checksum is that of a chunk of zeros; a missing mask chunk with
  any other checksum is a lost chunk.
- group attributes: format, format_version, tokenizer_version, species, strain, sources
  ([{path, name, format, sha256}]), counts ({A: .., ...}), masked, n_records, total_length,
  chunk_size, ``checksums`` ({algorithm: "crc32", tables: {array: CRC-32 of its bytes}} for the
  five tables and the two checksum arrays) and ``attributes_crc32``, the CRC-32 of all the other
  attributes as compact JSON with sorted keys.

Integrity. The writer writes the group attributes last, in one write of ``zarr.json``: they are the
store's completion marker, so a directory without them (a writer that died, a partial copy of a
store) is no store. Everything a read uses is checked along a chain rooted in them: the attributes
against ``attributes_crc32``; the tables and the chunk checksums against ``checksums``; the arrays'
shapes and chunking against the attributes; every tokens and mask chunk against its checksum when it
is decoded (once: decoded chunks are cached). Opening checks the tables and that every chunk file
that must exist does; a chunk that is missing, truncated or altered is an ``InputError`` naming the
store, the record(s) the chunk holds, the chunk and its file. ``SequenceStore.verify`` decodes every
chunk (``genomamba inspect --verify``). Chunks and tables are decoded here from their files (Blosc's
header sizes checked against the file first; numcodecs trusts them), not through zarr, so that no
damaged file reaches the decompressor unchecked and every failure names its chunk.

Stores of format version 1 (no checksums) are read without verification, with a note on stderr
(logging); only the files' presence, their decoding and the tables' consistency are checked.
"""

from __future__ import annotations

import functools
import json
import logging
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np
import zarr
from numcodecs import Blosc
from zarr.codecs import BloscCodec

from .alphabet import BASES, TOKENIZER_VERSION, VOCAB_SIZE
from .errors import InputError

try:  # the same CRC-32 as zlib's, about 10x faster
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - isal is a dependency; zlib gives the same values
    from zlib import crc32

FORMAT = "genomamba-sequence-store"
FORMAT_VERSION = 2
CHUNK = 1 << 20
WRITE_CHUNKS = 16  # chunks buffered between writes: 16 Mi bases of tokens and of mask at most
CHECKSUM = "crc32"
TABLES = ("offsets", "lengths", "counts", "masked", "names")
CHUNK_CHECKSUMS = {"tokens": "checksums/tokens", "mask": "checksums/mask"}
DTYPES = {"tokens": np.dtype(np.uint8), "mask": np.dtype(bool), "offsets": np.dtype(np.int64),
          "lengths": np.dtype(np.int64), "counts": np.dtype(np.int64), "masked": np.dtype(np.int64),
          "names": np.dtype(np.uint8), "checksums/tokens": np.dtype(np.uint32),
          "checksums/mask": np.dtype(np.uint32)}


CNAME, LEVEL = "lz4", 5  # with bit-shuffle: ~2.03 bits/base on real DNA at 5x zstd's speed (zstd: 1.99)
_BLOSC = Blosc()  # decoding reads every setting from the buffer's header
_BLOSC_HEADER = struct.Struct("<BBBBIII")  # version, versionlz, flags, typesize, nbytes, blocksize, cbytes
_BLOSC_MEMCPYED = 0x02  # flag: the data follows the header uncompressed
_log = logging.getLogger(__name__)
_noted: set[str] = set()  # format 1 stores already noted in this process


def _codec(level: int = LEVEL) -> BloscCodec:
    return BloscCodec(cname=CNAME, clevel=level, shuffle="bitshuffle", typesize=1)


def checksum(data: np.ndarray) -> int:
    """CRC-32 of an array's bytes in C order."""
    return crc32(np.ascontiguousarray(data).reshape(-1).view(np.uint8))


def attributes_checksum(attrs: dict) -> int:
    """CRC-32 of the attributes other than ``attributes_crc32``, as compact JSON with sorted keys."""
    body = {key: value for key, value in attrs.items() if key != "attributes_crc32"}
    return crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


@functools.lru_cache(maxsize=4)
def _zeros(size: int) -> np.ndarray:
    """A read-only all-False chunk: what a mask chunk that is not stored holds."""
    zeros = np.zeros(size, dtype=bool)
    zeros.flags.writeable = False
    return zeros


@functools.lru_cache(maxsize=4)
def _zeros_checksum(size: int) -> int:
    return checksum(_zeros(size))


def _blosc_decode(raw: bytes, nbytes: int) -> bytes:
    """Decode one Blosc buffer that must hold ``nbytes``; ValueError when it cannot. The header's
    sizes are checked against the buffer first: numcodecs trusts them and would read past the end
    of a truncated buffer."""
    if len(raw) < _BLOSC_HEADER.size:
        raise ValueError(f"{len(raw)} bytes, shorter than a Blosc header")
    _, _, flags, _, n, _, cbytes = _BLOSC_HEADER.unpack_from(raw)
    if cbytes != len(raw):
        raise ValueError(f"{len(raw)} bytes where its header says {cbytes}")
    if n != nbytes:
        raise ValueError(f"its header says {n} bytes decoded, the chunk has {nbytes}")
    if flags & _BLOSC_MEMCPYED and cbytes != nbytes + _BLOSC_HEADER.size:
        raise ValueError("a stored (uncompressed) buffer of the wrong size")
    try:
        return _BLOSC.decode(raw)
    except Exception as exc:  # numcodecs: RuntimeError for a buffer Blosc rejects
        raise ValueError(str(exc)) from None


def count_tokens(tokens: np.ndarray) -> np.ndarray:
    """How many of each token 0..4: bincount for short pieces (one call), four compares for long
    ones (several times faster per base than bincount on uint8)."""
    if len(tokens) < 1 << 15:
        return np.bincount(tokens, minlength=VOCAB_SIZE)[:VOCAB_SIZE].astype(np.int64)
    acgt = [np.count_nonzero(tokens == token) for token in range(VOCAB_SIZE - 1)]
    return np.array(acgt + [len(tokens) - sum(acgt)], dtype=np.int64)


class SequenceStore:
    """Read access to a store: names, lengths, offsets, attributes and windows of any record; every
    chunk is checked when it is decoded (see the module docstring)."""

    def __init__(self, group, path, cache_chunks: int = 16, check_files: bool = True):
        self.path = Path(path)
        self._cache_chunks = cache_chunks
        self._cache: OrderedDict = OrderedDict()  # (array name, chunk index) -> decoded chunk
        self._group = group
        self._tables: dict[str, np.ndarray] = {}
        self.attrs = dict(group.attrs)
        if self.attrs.get("format") != FORMAT:
            if (self.path / "tokens").is_dir():
                raise InputError("incomplete store: its attributes (the marker written last) are "
                                 "missing; re-tokenize its inputs", path)
            raise InputError("not a genomamba sequence store", path)
        version = self.attrs.get("format_version", 1)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise InputError(f"store format version {version} is newer than this genomamba reads "
                             f"({FORMAT_VERSION})", path)
        self.format_version = version
        # a store that carries checksums is checked whatever its version says
        self.verified = version >= 2 or "attributes_crc32" in self.attrs
        if self.verified:
            self._check_attributes()
        missing = [name for name in ("tokens", "mask", *TABLES,
                                     *(CHUNK_CHECKSUMS.values() if self.verified else ()))
                   if not (self.path / name / "zarr.json").is_file()]
        if missing:
            raise InputError(f"damaged store: array{'s' * (len(missing) > 1)} {', '.join(missing)} "
                             "missing; re-tokenize its inputs", path)
        self._arrays = {name: self._array(name) for name in ("tokens", "mask")}
        self.chunk_size = int(self._arrays["tokens"].chunks[0])
        self.offsets = self._table("offsets").copy()  # writable, as zarr gave them
        self.lengths = self._table("lengths").copy()
        raw = self._table("names").tobytes()
        try:
            self.names = raw.decode("utf-8").split("\n") if raw else []
        except UnicodeDecodeError:
            raise InputError("damaged store: the record names are not UTF-8", path) from None
        self._check_tables()
        self.n_chunks = -(-self.total_length // self.chunk_size)
        self._chunk_checksums = ({kind: self._table(name) for kind, name in CHUNK_CHECKSUMS.items()}
                                 if self.verified else None)
        if self.verified and any(len(c) != self.n_chunks for c in self._chunk_checksums.values()):
            raise InputError("damaged store: the chunk checksums do not cover its chunks", path)
        if not self.verified and str(self.path.resolve()) not in _noted:
            _noted.add(str(self.path.resolve()))
            _log.warning("%s: store format %s has no checksums: its chunks are read unverified "
                         "(re-tokenize its inputs to add them)", self.path, version)
        if check_files:
            self._check_chunk_files()
        self._index = None

    @classmethod
    def open(cls, path, cache_chunks: int = 16, check_files: bool = True) -> "SequenceStore":
        """Open a store; up to ``cache_chunks`` decoded chunks (1 Mi bases each, tokens and mask
        counted apart) are kept, so random windows of a genome that fits are read without decoding.
        ``check_files`` checks that every chunk file that must exist does (one stat each)."""
        if not Path(path).is_dir():
            raise InputError("no sequence store here (not a directory)", path)
        try:
            group = zarr.open_group(str(path), mode="r")
            dict(group.attrs)
        except Exception as exc:  # zarr raises many kinds for a missing or damaged zarr.json
            if (Path(path) / "zarr.json").is_file():
                raise InputError(f"damaged store: its zarr.json cannot be read ({_describe(exc)})",
                                 path) from None
            raise InputError("not a zarr store (no zarr.json)", path) from None
        return cls(group, path, cache_chunks, check_files)

    # ---- opening: attributes, arrays and tables, each checked -----------------------------------

    def _check_attributes(self):
        stored = self.attrs.get("attributes_crc32")
        if stored is None:
            raise InputError("incomplete store: format 2 without its checksums (attributes_crc32); "
                             "re-tokenize its inputs", self.path)
        if stored != attributes_checksum(self.attrs):
            raise InputError("damaged store: its attributes (zarr.json) do not match their checksum; "
                             "re-tokenize its inputs", self.path)
        checks = self.attrs.get("checksums")
        if not (isinstance(checks, dict) and checks.get("algorithm") == CHECKSUM
                and isinstance(checks.get("tables"), dict)):
            raise InputError(f"store checksums are not {CHECKSUM} ones this genomamba reads", self.path)

    def _array(self, name: str):
        """An array's metadata (zarr), checked against what the writer writes: dtype, one dimension
        (two for counts), Blosc after little-endian bytes."""
        try:
            array = self._group[name]
            codecs = [codec.to_dict() for codec in array.metadata.codecs]
            dtype, chunks = np.dtype(array.dtype), array.chunks
        except Exception as exc:
            raise InputError(f"damaged store: the metadata of array {name!r} ({name}/zarr.json) cannot "
                             f"be read ({_describe(exc)})", self.path) from None
        endian = (codecs[0].get("configuration") or {}).get("endian", "little") if codecs else None
        if ([c.get("name") for c in codecs] != ["bytes", "blosc"] or endian != "little"
                or dtype != DTYPES[name] or len(array.shape) != (2 if name == "counts" else 1)
                or min(chunks) < 1):
            raise InputError(f"damaged store: array {name!r} is not laid out as genomamba writes it "
                             f"({dtype}, shape {array.shape}, chunks {chunks}, codecs "
                             f"{[c.get('name') for c in codecs]})", self.path)
        return array

    def _table(self, name: str) -> np.ndarray:
        """A small array read whole (it is one chunk) and checked against its checksum."""
        if name in self._tables:
            return self._tables[name]
        array = self._array(name)
        shape, dtype = tuple(array.shape), DTYPES[name]
        if 0 in shape:
            data = np.zeros(shape, dtype)
        elif tuple(array.chunks) != shape:
            raise InputError(f"damaged store: array {name!r} is in chunks {array.chunks}, not one",
                             self.path)
        else:
            key = array.metadata.chunk_key_encoding.encode_chunk_key((0,) * len(shape))
            raw = self._read_file(self.path / name / key, f"array {name!r}")
            nbytes = int(np.prod(shape)) * dtype.itemsize
            if raw is None:  # zarr does not store a chunk of zeros (the fill value)
                data = np.zeros(shape, dtype)
            else:
                try:
                    data = np.frombuffer(_blosc_decode(raw, nbytes), dtype).reshape(shape)
                except ValueError as exc:
                    raise InputError(f"damaged store: array {name!r} ({name}/{key}) cannot be decoded, "
                                     f"truncated or damaged ({exc})", self.path) from None
        if self.verified and checksum(data) != self.attrs["checksums"]["tables"].get(name):
            raise InputError(f"damaged store: array {name!r} does not match its checksum; re-tokenize "
                             "its inputs", self.path)
        self._tables[name] = data
        return data

    def _read_file(self, file: Path, what: str) -> bytes | None:
        """A file's bytes, None when it is missing; any other OS error is an InputError."""
        try:
            return file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"cannot read {what} ({file.relative_to(self.path)}): "
                             f"{exc.strerror or exc}", self.path) from None

    def _check_tables(self):
        """The tables agree with each other and with the attributes and the arrays' shapes (this is
        all the checking a format 1 store gets before its chunks are read)."""
        n, total = len(self.offsets), self.attrs.get("total_length")
        if self.lengths.shape != (n,) or len(self.names) != n or self.attrs.get("n_records", n) != n:
            raise InputError("damaged store: the record tables disagree in length; re-tokenize its "
                             "inputs", self.path)
        ends = self.offsets + self.lengths
        problems = [
            (bool(n) and (self.offsets[0] != 0 or (self.lengths < 1).any()
                          or (self.offsets[1:] != ends[:-1]).any()), "offsets and lengths disagree"),
            (not isinstance(total, int) or total != (int(ends[-1]) if n else 0),
             "the total length disagrees with the records"),
            (any(a.shape != (total,) for a in self._arrays.values())
             or self._arrays["mask"].chunks[0] != self.chunk_size
             or self.attrs.get("chunk_size", self.chunk_size) != self.chunk_size,
             "the arrays' shapes or chunks disagree with the attributes"),
        ]
        for bad, what in problems:
            if bad:
                raise InputError(f"damaged store: {what}; re-tokenize its inputs", self.path)

    def _check_chunk_files(self):
        """Every tokens chunk file exists, and every mask chunk file whose checksum is not that of
        an all-False chunk (format 1: tokens only)."""
        zero = _zeros_checksum(self.chunk_size)
        for k in range(self.n_chunks):
            for kind in ("tokens", "mask"):
                if kind == "mask" and (not self.verified or self._chunk_checksums["mask"][k] == zero):
                    continue
                if not self._chunk_file(kind, k).is_file():
                    raise self._chunk_error(kind, k, "the chunk file is missing")

    # ---- chunks ---------------------------------------------------------------------------------

    def _chunk_file(self, kind: str, k: int) -> Path:
        return self.path / kind / self._arrays[kind].metadata.chunk_key_encoding.encode_chunk_key((k,))

    def chunk_records(self, k: int) -> list[str]:
        """The names of the records that chunk ``k`` holds bases of."""
        a, b = k * self.chunk_size, (k + 1) * self.chunk_size
        first = int(np.searchsorted(self.offsets + self.lengths, a, side="right"))
        last = int(np.searchsorted(self.offsets, b, side="left"))
        return self.names[first:last]

    def _chunk_error(self, kind: str, k: int, problem: str) -> InputError:
        names = self.chunk_records(k)
        a, b = k * self.chunk_size, min((k + 1) * self.chunk_size, self.total_length)
        where = f"{kind} chunk {k} (file {self._chunk_file(kind, k).relative_to(self.path)}, store bases {a}-{b}"
        if len(names) > 1:
            shown = ", ".join(repr(name) for name in names[:3])
            where += f", records {shown}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return InputError(f"{where}): {problem}; re-tokenize the store's inputs", self.path,
                          names[0] if len(names) == 1 else None)

    def _load(self, kind: str, k: int) -> np.ndarray:
        """Chunk ``k`` of ``tokens`` or ``mask``, decoded from its file and checked (read-only)."""
        raw = self._read_file(self._chunk_file(kind, k), f"{kind} chunk {k}")
        if raw is None:
            if kind == "tokens":  # every tokens chunk is stored
                raise self._chunk_error(kind, k, "the chunk file is missing")
            data = _zeros(self.chunk_size)
        else:
            try:
                data = np.frombuffer(_blosc_decode(raw, self.chunk_size), DTYPES[kind])
            except ValueError as exc:
                raise self._chunk_error(kind, k, f"the chunk cannot be decoded, truncated or damaged "
                                                 f"({exc})") from None
        if self.verified:
            if checksum(data) != int(self._chunk_checksums[kind][k]):
                raise self._chunk_error(kind, k, "the chunk file is missing" if raw is None else
                                        "the chunk does not match its checksum (altered or damaged)")
        elif kind == "tokens" and int(data.max()) >= VOCAB_SIZE:
            raise self._chunk_error(kind, k, "the chunk holds values that are no tokens")
        return data

    def _chunk(self, kind: str, k: int, cache: bool) -> np.ndarray:
        key = (kind, k)
        chunk = self._cache.get(key)
        if chunk is not None:
            self._cache.move_to_end(key)
            return chunk
        chunk = self._load(kind, k)
        if cache:
            self._cache[key] = chunk
            if len(self._cache) > self._cache_chunks:
                self._cache.popitem(last=False)
        return chunk

    def _range(self, kind: str, a: int, b: int) -> np.ndarray:
        """``kind[a:b]`` (a fresh array) from whole checked chunks; those of windows up to half the
        cache are kept in a small LRU cache, longer windows pass it by."""
        size = self.chunk_size
        if b <= a:
            return np.empty(0, DTYPES[kind])
        first, last = a // size, (b - 1) // size
        cache = last - first + 1 <= self._cache_chunks // 2
        parts = [self._chunk(kind, k, cache)[max(a - k * size, 0):min(b - k * size, size)]
                 for k in range(first, last + 1)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()

    def verify(self) -> list[InputError]:
        """Decode and check every chunk of the tokens and the mask: the problems, in chunk order
        (none when every chunk is intact; format 1 stores: only what decoding shows)."""
        problems = []
        for k in range(self.n_chunks):
            for kind in ("tokens", "mask"):
                try:
                    self._load(kind, k)
                except InputError as exc:
                    problems.append(exc)
        return problems

    # ---- reading ----------------------------------------------------------------------------------

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
        counts = self._table("counts")
        if counts.shape != (len(self), VOCAB_SIZE):
            raise InputError("damaged store: the counts table has the wrong shape", self.path)
        return counts.copy()

    def masked(self) -> np.ndarray:
        """Per-record number of soft-masked bases."""
        masked = self._table("masked")
        if masked.shape != (len(self),):
            raise InputError("damaged store: the masked table has the wrong shape", self.path)
        return masked.copy()

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
        return self._range("tokens", a, b)

    def read_mask(self, record, start: int = 0, end: int | None = None) -> np.ndarray:
        """Soft-mask (True = lower case in the input) of ``record[start:end]``."""
        a, b = self._window(record, start, end)
        return self._range("mask", a, b)

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
        total = self.total_length
        ends = self.offsets + self.lengths
        for a in range(0, total, block):
            b = min(a + block, total)
            tokens, mask = self._range("tokens", a, b), self._range("mask", a, b)
            first = int(np.searchsorted(ends, a, side="right"))
            last = int(np.searchsorted(self.offsets, b, side="left"))
            for i in range(first, last):
                s, e = max(int(self.offsets[i]), a) - a, min(int(ends[i]), b) - a
                yield i, tokens[s:e], mask[s:e]


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class StoreWriter:
    """Builds a store record by record; tokens are buffered and written whole chunks at a time.

    ``begin(name)``, any number of ``append(tokens, mask)``, ``end()``; then ``close(attrs)``.
    Names must be unique in the store; empty records are refused. The checksum of every chunk is
    taken as it is written; ``close`` writes the tables, the checksums and, last, the attributes.
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
        self._checksums: dict[str, list[int]] = {"tokens": [], "mask": []}
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
        objects (zarr's own write path costs about twice the compression; the bytes are the same);
        each chunk's checksum is appended to its array's list."""
        root = self.path / array.path
        key = array.metadata.chunk_key_encoding.encode_chunk_key
        checksums = self._checksums[array.path]
        for k, s in enumerate(range(0, len(data), self.chunk_size)):
            chunk = data[s:s + self.chunk_size]
            if skip_empty and not chunk.any():
                checksums.append(_zeros_checksum(self.chunk_size))  # left to the fill value
                continue
            if len(chunk) < self.chunk_size:  # edge chunks are stored full size, padded
                chunk = np.concatenate([chunk, np.zeros(self.chunk_size - len(chunk), chunk.dtype)])
            checksums.append(checksum(chunk))
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
        """Write the record tables, the checksums and, last, the attributes: the store is complete
        (and readable) only after this. ``attrs`` must be JSON values."""
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
        tables = {"offsets": offsets, "lengths": lengths, "counts": counts, "masked": masked,
                  "names": names}
        for kind, name in CHUNK_CHECKSUMS.items():
            tables[name] = np.array(self._checksums[kind], dtype=np.uint32)
        for key, data in tables.items():
            self._group.create_array(key, data=data, chunks=data.shape if data.size else (1,) * data.ndim,
                                     compressors=[_codec()])
        totals = counts.sum(axis=0)
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tokenizer_version": TOKENIZER_VERSION,
            "n_records": len(self.names),
            "total_length": int(total),
            "counts": {base: int(c) for base, c in zip(BASES, totals)},
            "masked": int(masked.sum()),
            "chunk_size": self.chunk_size,
            "checksums": {"algorithm": CHECKSUM,
                          "tables": {key: checksum(data) for key, data in tables.items()}},
            **attrs,
        }
        self.attrs = json.loads(json.dumps(body))  # as a reader will see them
        self.attrs["attributes_crc32"] = attributes_checksum(self.attrs)
        self._group.attrs.update(self.attrs)
