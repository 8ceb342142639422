"""Sequence readers: FASTA (plain, gzip, bgzip, xz, bz2), GenBank, EMBL, SAM, BAM, CRAM.

``read_records(path, ...)`` detects the format by content and yields records in file order; each
has ``.name``, ``.path``, ``.line`` (1-based, where the format has lines; may be None) and
``.chunks()``, a generator of ``(tokens uint8 0..4, mask bool)`` pieces of a few MB at most that
must be consumed before the next record (mask True = soft-masked, lower case in a FASTA).
Empty records are an error, never skipped silently; records shorter than ``min_length`` are skipped.
"""

from __future__ import annotations

import re

from . import compression
from .compression import Decompressed, DecompressionError, file_sha256, sniff_compression
from ..errors import InputError

__all__ = ["read_records", "detect_format", "Source", "FORMATS"]

FORMATS = ("fasta", "genbank", "embl", "sam", "bam", "cram")
_SAM_HEADER = re.compile(rb"@(HD|SQ|RG|PG|CO)\t")
_HEAD_BYTES = 1 << 16


def _sniff_text(head: bytes, path) -> str:
    if not head:
        raise InputError("empty file", path)
    if head.startswith(b"BAM\x01"):
        return "bam"
    if b"\x00" in head[:4096]:
        raise InputError("binary data, not a sequence file", path, line=1)
    text = head.lstrip()
    if text.startswith(b">"):
        return "fasta"
    if text.startswith(b"LOCUS"):
        return "genbank"
    if text.startswith(b"ID   "):
        return "embl"
    first_line = text.split(b"\n", 1)[0]
    if _SAM_HEADER.match(text) or first_line.count(b"\t") >= 10:
        return "sam"
    if not text:
        raise InputError("empty file (only blank lines)", path)
    if text.startswith(b"@"):
        raise InputError("FASTQ input is not supported; convert it to FASTA or unaligned BAM", path, line=1)
    line = head[:len(head) - len(text)].count(b"\n") + 1
    raise InputError("no FASTA header: the file does not start with a '>' line "
                     "(nor is it GenBank, EMBL, SAM, BAM or CRAM)", path, line=line)


class Source:
    """An opened input: its format, and its records; ``sha256`` and ``raw_bytes_read`` for provenance."""

    def __init__(self, path, *, min_length=0, min_mapq=0, reference=None, include_secondary=False):
        self.path = path
        self._options = dict(min_length=min_length, min_mapq=min_mapq, reference=reference,
                             include_secondary=include_secondary)
        self._data = None
        if sniff_compression(path) == "cram":
            self.format, self._head = "cram", b""
            return
        self._data = Decompressed(path)
        try:
            self._head = self._data.read(min(_HEAD_BYTES, compression.BLOCK_SIZE))
            self.format = _sniff_text(self._head, path)
        except DecompressionError as exc:
            self._data.close()
            raise _placed(exc, path) from None
        except BaseException:
            self._data.close()
            raise
        self.compression = self._data.compression
        if self.format in ("sam", "bam"):  # pysam reads these from the path itself
            self._data.close()
            self._data = None

    @property
    def raw_bytes_read(self) -> int:
        return self._data.raw_bytes_read if self._data is not None else 0

    def records(self):
        opts = self._options
        if self.format == "fasta":
            from .fasta import FastaReader
            return FastaReader(self._data, self._head).records(opts["min_length"])
        if self.format in ("genbank", "embl"):
            from .annotated import read_annotated
            return read_annotated(self._data, self._head, self.format, opts["min_length"])
        from .alignments import read_alignments
        return read_alignments(self.path, self.format, **opts)

    def sha256(self) -> str:
        """Checksum of the raw file: free for streamed formats read to the end, a second pass otherwise."""
        if self._data is not None:
            return self._data.hexdigest()
        return file_sha256(self.path)

    def close(self):
        if self._data is not None:
            self._data.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _placed(exc: DecompressionError, path) -> InputError:
    """A failure within the first block, before the format is known: the format of the text that did
    decompress decides whether a line (and, for FASTA, a record) can be named."""
    if exc.failure is None or not exc.failure.head:
        return exc
    try:
        fmt = _sniff_text(exc.failure.head, path)
    except InputError:
        return exc
    return exc.in_text(fasta=fmt == "fasta") if fmt in ("fasta", "genbank", "embl", "sam") else exc


def detect_format(path) -> str:
    """One of FORMATS, by content (compression is looked through)."""
    with Source(path) as source:
        return source.format


def read_records(path, *, min_length=0, min_mapq=0, reference=None, include_secondary=False):
    """Yield the records of ``path`` in file order (see the module docstring)."""
    with Source(path, min_length=min_length, min_mapq=min_mapq, reference=reference,
                include_secondary=include_secondary) as source:
        yield from source.records()
