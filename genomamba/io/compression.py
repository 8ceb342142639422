"""Open any input as a stream of decompressed bytes, detecting the compression by its magic bytes.

Plain, gzip (and bgzip, which is multi-member gzip), xz and bz2 are read; the raw bytes are hashed
(sha256) on the way, so a source's checksum costs no second pass.
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

try:  # ISA-L inflates gzip about twice as fast as zlib; optional
    from isal import igzip as gzip_module
except ImportError:  # pragma: no cover - depends on the environment
    gzip_module = gzip

BLOCK_SIZE = 8 << 20

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bz2",
    b"CRAM": "cram",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def sniff_compression(path) -> str:
    """'gzip', 'xz', 'bz2', 'cram', 'zstd' or 'plain', from the first bytes of the file."""
    head = _open_raw(path).read(8)
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    return "plain"


def _open_raw(path):
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


class Decompressed:
    """The decompressed bytes of a file, read in large blocks; ``sha256`` once read to the end."""

    def __init__(self, path):
        self.path = path
        self.compression = sniff_compression(path)
        if self.compression == "zstd":
            raise InputError("zstd-compressed input is not supported; use gzip, bgzip, xz or bz2", path)
        self.size = os.path.getsize(path)
        self._hashing = _HashingReader(_open_raw(path))
        opener = {"gzip": lambda f: gzip_module.GzipFile(fileobj=f, mode="rb"),
                  "xz": lzma.LZMAFile, "bz2": bz2.BZ2File}.get(self.compression)
        self._stream = opener(self._hashing) if opener else self._hashing

    @property
    def raw_bytes_read(self) -> int:
        return self._hashing.bytes_read

    def read(self, size: int | None = None) -> bytes:
        """Up to ``size`` decompressed bytes (b'' at the end); corrupt or truncated data is an InputError."""
        try:
            return self._stream.read(size or BLOCK_SIZE)
        except EOFError:
            raise InputError(f"truncated {self.compression} file: it ends before the end-of-stream marker",
                             self.path) from None
        except (OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise InputError(f"corrupt {self.compression} data: {exc}", self.path) from None

    def blocks(self, size: int | None = None):
        while block := self.read(size):
            yield block

    def hexdigest(self) -> str:
        """sha256 of the whole raw file (reads what is left unread, so call it at the end)."""
        while self._hashing.read(BLOCK_SIZE):
            pass
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
        while block := fh.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def line_at(path, offset: int) -> int:
    """1-based line number of the decompressed byte at ``offset`` (used only to word errors)."""
    lines, seen = 1, 0
    with Decompressed(path) as data:
        for block in data.blocks():
            take = min(len(block), offset - seen)
            lines += block.count(b"\n", 0, take)
            seen += take
            if seen >= offset:
                break
    return lines
