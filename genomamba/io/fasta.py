"""Streaming, vectorised FASTA reader.

Large decompressed blocks are split at header lines (found with bytes.find) and the sequence between
them is translated and stripped of line breaks in one ``bytes.translate`` call, so the Python loop
runs once per block or header, never per line or base. Line numbers for error messages are worked
out only when an error is raised, from the byte offset.
"""

from __future__ import annotations

import itertools

from .codes import describe_invalid, encode, no_mask
from .compression import Decompressed, DecompressionError, line_at
from ..errors import InputError


class FastaRecord:
    """One FASTA record; ``chunks()`` streams ``(tokens, mask)`` and must be consumed before the next."""

    def __init__(self, reader, name, offset, buffered):
        self.name, self._reader, self._offset, self._buffered = name, reader, offset, buffered

    @property
    def path(self):
        return self._reader.path

    @property
    def line(self) -> int:
        return line_at(self._reader.path, self._offset)

    def chunks(self):
        while self._buffered:
            yield self._buffered.pop(0)
        yield from self._reader.sequence_until_header()


class FastaReader:
    """Turns a decompressed stream into header and sequence events, then into records."""

    def __init__(self, data: Decompressed, head: bytes = b""):
        self.path, self._data, self._head = data.path, data, head
        self._events = self._parse()
        self._pending = None
        self._record_name = None

    def records(self, min_length: int = 0):
        need = max(1, min_length)
        event = self._next()
        while event is not None:
            _, name, offset = event
            self._record_name = name
            buffered, total = [], 0
            while total < need and (event := self._next()) is not None:
                if event[0] == "header":
                    self._pending = event
                    break
                buffered.append(event[1])
                total += len(event[1][0])
            if total == 0:
                raise InputError("record has no sequence (empty records are not allowed)", self.path,
                                 name, line_at(self.path, offset))
            if total >= need:
                record = FastaRecord(self, name, offset, buffered)
                yield record
                record._buffered.clear()
                for _ in self.sequence_until_header():  # drain what the consumer left unread
                    pass
            event = self._next()

    def sequence_until_header(self):
        while (event := self._next()) is not None:
            if event[0] == "header":
                self._pending = event
                return
            yield event[1]

    def _next(self):
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        return next(self._events, None)

    def _fail(self, message, offset):
        raise InputError(message, self.path, self._record_name, line_at(self.path, offset))

    def _sequence(self, buf, start, end, base):
        """Encode buf[start:end] (absolute offset ``base + start``) as a ("seq", (tokens, mask)) event."""
        piece = buf[start:end]
        if self._record_name is None and piece.strip():
            self._fail("no FASTA header: sequence before the first '>' line", base + start)
        tokens, mask, bad = encode(piece)
        if bad >= 0:
            self._fail(describe_invalid(piece[bad]), base + start + bad)
        return ("seq", (tokens, no_mask(len(tokens)) if mask is None else mask)) if len(tokens) else None

    def _header(self, line: bytes, offset: int):
        words = line.split()
        if not words:
            self._fail("FASTA header with no name", offset)
        try:
            name = words[0].decode("utf-8")
        except UnicodeDecodeError:
            self._fail("FASTA header is not valid UTF-8", offset)
        self._record_name = name
        return ("header", name, offset)

    def _parse(self):
        base = 0            # absolute offset of buf[0]
        carry = b""  # bytes not yet parsed (a header line cut by the block end)
        at_line_start = True
        blocks = itertools.chain([self._head] if self._head else [], self._data.blocks())
        eof = False
        while not eof:
            try:
                block = next(blocks, b"")
            except DecompressionError as exc:  # corrupt or truncated: say which line and record
                raise exc.in_text(fasta=True) from None
            except InputError as exc:
                raise InputError(exc.message, self.path, self._record_name) from None
            eof = not block
            buf = carry + block if carry else block
            carry = b""
            pos = 0
            while pos < len(buf):
                head = buf.find(b">", pos)  # '>' is rare: memchr jumps from header to header
                if head >= 0 and not (buf[head - 1] == 10 if head > 0 else at_line_start):
                    self._fail(describe_invalid(ord(">")) + " (a '>' inside a line)", base + head)
                end = head if head >= 0 else len(buf)
                if end > pos:
                    event = self._sequence(buf, pos, end, base)
                    if event:
                        yield event
                if head < 0:
                    at_line_start = buf.endswith(b"\n")
                    pos = len(buf)
                    break
                newline = buf.find(b"\n", head)
                if newline < 0 and not eof:
                    carry = buf[head:]
                    at_line_start = True
                    break
                newline = len(buf) if newline < 0 else newline
                yield self._header(buf[head + 1:newline], base + head)
                pos = newline + 1
                at_line_start = True
            base += len(buf) - len(carry)

