"""Open any input as a stream of decompressed bytes, detecting the compression by its magic bytes.

Plain, gzip (and bgzip, which is multi-member gzip), xz and bz2 are read; the raw bytes are hashed
(sha256) on the way, so a source's checksum costs no second pass.

Every error of the decompressors (zlib's, ISA-L's, lzma's, bz2's, EOF before the end-of-stream
marker) is caught at ``Decompressed.read``, once per large block, and becomes a
``DecompressionError`` (an InputError). Only then is the file decompressed again, in small steps
near the failure, to find the compressed bytes being read when it fails and what came out before
them (line breaks, the last FASTA header), from which the text readers name the line and record.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import zlib

from ..errors import InputError
from .stdin import Stdin, whole

try:  # ISA-L inflates gzip about twice as fast as zlib; optional
    from isal import igzip as gzip_module
    from isal.igzip_lib import IsalError
except ImportError:  # pragma: no cover - depends on the environment
    gzip_module = gzip
    IsalError = zlib.error

BLOCK_SIZE = 8 << 20

# What the decompressors raise on damaged input: BadGzipFile and bz2's "Invalid data stream" are
# OSErrors, EOFError is a stream that ends before its end-of-stream marker.
STREAM_ERRORS = (OSError, EOFError, zlib.error, IsalError, lzma.LZMAError, ValueError)

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bz2",
    b"CRAM": "cram",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def sniff_compression(path) -> str:
    """'gzip', 'xz', 'bz2', 'cram', 'zstd' or 'plain', from the first bytes of the file."""
    with _open_raw(path) as fh:
        try:
            head = fh.read(8)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    return "plain"


def _open_raw(path):
    if isinstance(path, Stdin):  # standard input, from its first byte however often it is opened
        return path.open()
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None


class _HashingReader(io.RawIOBase):
    """A read-only raw stream that hashes what passes through it and counts the bytes."""

    def __init__(self, raw):
        super().__init__()
        self.raw, self.sha256, self.bytes_read = raw, hashlib.sha256(), 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.bytes_read += n
        return n

    def read(self, size=-1):
        data = self.raw.read(size)
        self.sha256.update(data)
        self.bytes_read += len(data)
        return data

    def close(self):
        self.raw.close()
        super().close()


class Failure:
    """Where decompression fails: the raw read of compressed bytes it failed in (``start``,
    ``end`` exclusive; 64 bytes, or 4 KiB where only the first pass placed it) and what came out
    before: ``text_offset`` bytes holding ``lines`` line breaks, the first 64 KiB of them
    (``head``) and the last FASTA header line, if any."""

    def __init__(self):
        self.start = self.end = self.text_offset = self.lines = 0
        self.head, self.last_header = b"", None
        self._previous, self._unfinished = b"\n", False

    def add(self, block: bytes):
        """Account for ``block``, the next decompressed bytes that came out."""
        if len(self.head) < _FAILURE_HEAD:
            self.head += block[:_FAILURE_HEAD - len(self.head)]
        self.text_offset += len(block)
        self.lines += block.count(b"\n")
        if self._unfinished:  # a header line cut by the previous block's end
            newline = block.find(b"\n")
            self.last_header += block if newline < 0 else block[:newline]
            self._unfinished = newline < 0
        start = (self._previous + block).rfind(b"\n>")  # its '>' is block[start]
        if start >= 0:
            newline = block.find(b"\n", start)
            self.last_header = block[start:] if newline < 0 else block[start:newline]
            self._unfinished = newline < 0
        self._previous = block[-1:]

    def fasta_record(self) -> str | None:
        """The name in the last FASTA header before the failure."""
        words = self.last_header[1:].split() if self.last_header else []
        return words[0].decode("utf-8", "replace") if words else None


_FAILURE_HEAD = 1 << 16


class DecompressionError(InputError):
    """Damaged compressed data; ``failure`` (a Failure, or None) says where, for the text readers
    to name the line and record."""

    def __init__(self, message, path, failure=None, record=None, line=None):
        super().__init__(message, path, record, line)
        self.failure = failure

    def in_text(self, fasta: bool = False) -> "DecompressionError":
        """The same error naming the line of the decompressed text where it fails and, for a FASTA
        file (``fasta``), the record."""
        if self.failure is None:
            return self
        record = self.failure.fasta_record() if fasta else None
        return DecompressionError(self.message, self.path, self.failure, record, self.failure.lines + 1)


def _opener(compression):
    return {"gzip": lambda f: gzip_module.GzipFile(fileobj=f, mode="rb"),
            "xz": lzma.LZMAFile, "bz2": bz2.BZ2File}.get(compression)


class _SmallReads(io.RawIOBase):
    """Raw reads of at most ``step`` bytes, counted, so that a failure is placed to within a step."""

    def __init__(self, raw, step):
        super().__init__()
        self.raw, self.step, self.start, self.end = raw, step, 0, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(memoryview(buffer)[:self.step])
        if n:
            self.start, self.end = self.end, self.end + n
        return n


_COARSE, _FINE = 1 << 16, 64  # decompressed bytes per read; compressed bytes per raw read: 4 KiB, then 64


def _decompress_until_failure(path, compression, until=None) -> Failure | None:
    """Decompress ``path`` from raw reads of 4 KiB, in reads of 64 KiB; with ``until`` (what an
    earlier call that failed had read without failing), from there on 64 bytes at a time from raw
    reads of 64 bytes (ISA-L inflates a whole raw read at once, so its size bounds the precision).
    A Failure, or None if the file decompresses to its end."""
    failure = Failure()
    with _open_raw(path) as fh:
        raw = _SmallReads(fh, 4096)
        with _opener(compression)(raw) as stream:
            try:
                while until is None or failure.text_offset < until:
                    size = _COARSE if until is None else min(_COARSE, until - failure.text_offset)
                    if not (block := stream.read(size)):
                        return None
                    failure.add(block)
                raw.step = _FINE
                while block := stream.read(_FINE):
                    failure.add(block)
            except STREAM_ERRORS:
                failure.start, failure.end = raw.start, raw.end
                return failure
    return None


def locate_failure(path, compression) -> Failure | None:
    """Where decompression of ``path`` fails, or None if it does not. Error path only: two passes
    over the file, the second the same as the first up to the 64 KiB read that failed there, then
    in small steps."""
    try:
        coarse = _decompress_until_failure(path, compression)
        if coarse is None:
            return None
        return _decompress_until_failure(path, compression, until=coarse.text_offset) or coarse
    except (InputError, *STREAM_ERRORS):  # the file changed or became unreadable meanwhile
        return None


class Decompressed:
    """The decompressed bytes of a file, read in large blocks; ``sha256`` once read to the end."""

    def __init__(self, path):
        self.path = path
        self.compression = sniff_compression(path)
        if self.compression == "zstd":
            raise InputError("zstd-compressed input is not supported; use gzip, bgzip, xz or bz2", path)
        self._hashing = _HashingReader(_open_raw(path))
        opener = _opener(self.compression)
        self._stream = opener(self._hashing) if opener else self._hashing

    @property
    def raw_bytes_read(self) -> int:
        return self._hashing.bytes_read

    def read(self, size: int | None = None) -> bytes:
        """Up to ``size`` decompressed bytes (b'' at the end); corrupt or truncated data is a
        DecompressionError (an InputError) saying where."""
        try:
            return self._stream.read(size or BLOCK_SIZE)
        except STREAM_ERRORS as exc:
            raise self._error(exc) from None

    def _error(self, exc) -> InputError:
        if self.compression == "plain":
            return InputError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", self.path)
        kind = self.compression
        if isinstance(exc, EOFError):
            message = f"truncated {kind} file: it ends before the end-of-stream marker"
        else:
            message = f"corrupt {kind} data ({exc})"
        failure = locate_failure(self.path, kind)
        if failure is None:
            return DecompressionError(message, self.path)
        size = os.path.getsize(whole(self.path))
        return DecompressionError(f"{message}, detected in compressed bytes {failure.start}-{failure.end - 1} "
                                  f"of {size}", self.path, failure)

    def blocks(self, size: int | None = None):
        while block := self.read(size):
            yield block

    def hexdigest(self) -> str:
        """sha256 of the whole raw file (reads what is left unread, so call it at the end)."""
        try:
            while self._hashing.read(BLOCK_SIZE):
                pass
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from None
        return self._hashing.sha256.hexdigest()

    def close(self):
        self._stream.close()
        self._hashing.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def file_sha256(path) -> str:
    """sha256 of a file's raw bytes."""
    digest = hashlib.sha256()
    with _open_raw(path) as fh:
        try:
            while block := fh.read(BLOCK_SIZE):
                digest.update(block)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    return digest.hexdigest()


def line_at(path, offset: int) -> int:
    """1-based line number of the decompressed byte at ``offset`` (used only to word errors; it
    decompresses no further than ``offset``, so a failure after it does not get in the way)."""
    lines, seen = 1, 0
    with Decompressed(path) as data:
        while seen < offset and (block := data.read(min(BLOCK_SIZE, offset - seen))):
            lines += block.count(b"\n")
            seen += len(block)
    return lines
