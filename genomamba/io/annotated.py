"""GenBank and EMBL flat files, parsed by Biopython (records are held whole while parsed)."""

from __future__ import annotations

import io
import warnings

from Bio import BiopythonParserWarning, SeqIO

from .codes import describe_invalid, encode, no_mask
from .compression import DecompressionError
from ..errors import InputError

CHUNK = 4 << 20


class AnnotatedRecord:
    """A GenBank/EMBL record; the sequence's letter case carries no masking there, so no mask."""

    def __init__(self, path, name, tokens, index, line=None):
        self.path, self.name, self._tokens, self.index, self.line = path, name, tokens, index, line

    def chunks(self):
        for start in range(0, len(self._tokens), CHUNK):
            piece = self._tokens[start:start + CHUNK]
            yield piece, no_mask(len(piece))


def read_annotated(data, head: bytes, fmt: str, min_length: int = 0):
    """Records of a GenBank ('genbank') or EMBL ('embl') stream whose first bytes are ``head``.

    Whatever Biopython's parser raises (ValueError, AssertionError, UnicodeError, ...) is caught
    where a record is asked of it and becomes an InputError naming the line it had reached. Its
    warnings (layout quirks it works around: indentation, missing coordinates) are not shown; the
    sequence it returns is still checked base by base like every other input."""
    text = _CountedLines(io.BufferedReader(_Prepended(head, data)), encoding="utf-8", errors="replace")
    text.start_tag = _START_TAG[fmt]
    parser = SeqIO.parse(text, fmt)
    index, name = -1, None
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BiopythonParserWarning)
                rec = next(parser, None)
        except DecompressionError as exc:
            raise exc.in_text() from None
        except InputError:
            raise
        except Exception as exc:  # the parser's boundary: any failure is a malformed file
            after = f" (in the record after {name!r})" if name else ""
            raise InputError(f"malformed {fmt} file{after}: {_parser_message(exc)}", data.path,
                             line=text.lines or None) from None
        if rec is None:
            return
        index += 1
        name = rec.id if rec.id and rec.id != "<unknown id>" else rec.name
        if not name:
            raise InputError(f"{fmt} record with no name", data.path, line=text.record_line)
        try:
            seq = bytes(rec.seq)
        except Exception:  # Biopython's UndefinedSequenceError: no ORIGIN/SQ
            seq = b""
        tokens, _, bad = encode(seq, keep_case=False)
        if bad >= 0:
            raise InputError(describe_invalid(seq[bad]), data.path, name, text.record_line)
        if not len(tokens):
            raise InputError("record has no sequence (empty records are not allowed)", data.path, name,
                             text.record_line)
        if len(tokens) >= min_length:
            yield AnnotatedRecord(data.path, name, tokens, index, text.record_line)


def _parser_message(exc: Exception) -> str:
    if isinstance(exc, UnicodeError):  # bytes that are not UTF-8 text, replaced, then refused as ASCII
        return "bytes that are not text (binary data or a non-ASCII character)"
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


_START_TAG = {"genbank": "LOCUS", "embl": "ID   "}


class _CountedLines(io.TextIOWrapper):
    """A text stream that counts the lines handed out by ``readline`` (all that Biopython's scanner
    calls) and keeps the number of the last record's first line (``start_tag``)."""

    lines, record_line, start_tag = 0, None, "LOCUS"

    def readline(self, *args):
        line = super().readline(*args)
        if line:
            self.lines += 1
            if line.startswith(self.start_tag):
                self.record_line = self.lines
        return line


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
