"""GenBank and EMBL flat files, parsed by Biopython (records are held whole while parsed)."""

from __future__ import annotations

import io

from Bio import SeqIO

from .codes import describe_invalid, encode, no_mask
from ..errors import InputError

CHUNK = 4 << 20


class AnnotatedRecord:
    """A GenBank/EMBL record; the sequence's letter case carries no masking there, so no mask."""

    def __init__(self, path, name, tokens, index):
        self.path, self.name, self._tokens, self.index = path, name, tokens, index
        self.line = None

    def chunks(self):
        for start in range(0, len(self._tokens), CHUNK):
            piece = self._tokens[start:start + CHUNK]
            yield piece, no_mask(len(piece))


def read_annotated(data, head: bytes, fmt: str, min_length: int = 0):
    """Records of a GenBank ('genbank') or EMBL ('embl') stream whose first bytes are ``head``."""
    text = io.TextIOWrapper(io.BufferedReader(_Prepended(head, data)), encoding="utf-8", errors="replace")
    index, name = 0, None
    try:
        for index, rec in enumerate(SeqIO.parse(text, fmt)):
            name = rec.id if rec.id and rec.id != "<unknown id>" else rec.name
            if not name:
                raise InputError(f"{fmt} record with no name", data.path, None, None)
            try:
                seq = bytes(rec.seq)
            except Exception:  # Biopython's UndefinedSequenceError: a record without ORIGIN/SQ
                seq = b""
            tokens, _, bad = encode(seq, keep_case=False)
            if bad >= 0:
                raise InputError(describe_invalid(seq[bad]), data.path, name)
            if not len(tokens):
                raise InputError("record has no sequence (empty records are not allowed)", data.path, name)
            if len(tokens) >= min_length:
                yield AnnotatedRecord(data.path, name, tokens, index)
    except InputError:
        raise
    except ValueError as exc:  # Biopython's parse errors
        raise InputError(f"malformed {fmt} file: {exc}", data.path,
                         f"after {name}" if name else None) from None


class _Prepended(io.RawIOBase):
    """A raw stream that yields ``head`` and then the rest of a Decompressed stream."""

    def __init__(self, head, data):
        self._head, self._data = head, data

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._head:
            self._head = self._data.read(max(len(buffer), 1 << 16))
        n = min(len(buffer), len(self._head))
        buffer[:n] = self._head[:n]
        self._head = self._head[n:]
        return n
