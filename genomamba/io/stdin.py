"""Standard input as an input path (``-`` on the command line), read once but readable again.

Standard input can be read only once, yet the readers read an input again where they need to: the
error paths decompress it a second time to name the line, record or compressed bytes where it goes
wrong, checksums of SAM/BAM read it whole, and pysam reads SAM/BAM/CRAM from a file. So every byte
read from standard input is also written to a temporary file that this program creates and removes
(``close``), and ``Stdin`` is a path to that file (``os.PathLike``) with two ways in:

- ``open()`` gives a stream that replays the copy, then goes on reading standard input, adding to
  the copy as it goes: the first reader streams (a FASTA is tokenized or classified as it arrives),
  and any later one sees the same bytes from the start;
- ``whole()`` reads the rest of standard input into the copy and returns the copy's path, for
  readers that open the file by themselves (pysam).

Its ``str()`` is ``<stdin>``, the name every error and output row gives it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

NAME = "<stdin>"
_BLOCK = 1 << 20


class Stdin(os.PathLike):
    """Standard input (or the binary ``stream`` given), copied as it is read; see the module docstring."""

    def __init__(self, stream=None):
        self._stream = sys.stdin.buffer if stream is None else stream
        fd, self._copy = tempfile.mkstemp(prefix="genomamba-stdin-")
        self._writer = os.fdopen(fd, "wb", buffering=0)  # unbuffered: a replay sees every byte at once
        self._eof = False

    def __fspath__(self) -> str:
        return self._copy

    def __str__(self) -> str:
        return NAME

    def __repr__(self) -> str:
        return f"Stdin({self._copy!r})"

    def _more(self, size: int) -> bytes:
        """Up to ``size`` new bytes of standard input (b'' at its end), added to the copy."""
        if self._eof:
            return b""
        data = self._stream.read(size)
        if data:
            self._writer.write(data)
        else:
            self._eof = True
        return data

    def open(self) -> io.BufferedReader:
        """A binary stream of standard input from its first byte (see the module docstring)."""
        return io.BufferedReader(_Replay(self), buffer_size=_BLOCK)

    def whole(self) -> str:
        """Read standard input to its end; the path of the complete copy."""
        while self._more(_BLOCK):
            pass
        return self._copy

    def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._copy)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Replay(io.RawIOBase):
    """Reads the copy from its start, then standard input (through ``Stdin._more``), as a regular file
    reads: a read returns less than asked only at the end."""

    def __init__(self, stdin: Stdin):
        super().__init__()
        self._stdin, self._copy = stdin, open(stdin._copy, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = 0
        while n < len(view):
            got = self._copy.readinto(view[n:])
            if not got:  # at the end of the copy: the next bytes come from standard input
                data = self._stdin._more(len(view) - n)
                if not data:
                    break
                got = len(data)
                view[n:n + got] = data
                self._copy.seek(got, os.SEEK_CUR)  # they were added to the copy right here
            n += got
        return n

    def close(self) -> None:
        self._copy.close()
        super().close()


def whole(path):
    """A path that an outside reader (pysam) can open: standard input's complete copy, or ``path``."""
    return path.whole() if isinstance(path, Stdin) else path
