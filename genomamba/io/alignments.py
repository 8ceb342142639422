"""SAM, BAM and CRAM reads through pysam, in their sequenced orientation."""

from __future__ import annotations

import pysam

from ..alphabet import reverse_complement
from .codes import describe_invalid, encode, no_mask
from .stdin import whole
from ..errors import InputError

PAIRED, UNMAPPED, REVERSE, READ1 = 0x1, 0x4, 0x10, 0x40
SECONDARY, SUPPLEMENTARY = 0x100, 0x800


class Read:
    """One read: a single (tokens, all-False mask) chunk (case and qualities carry no information here)."""

    __slots__ = ("path", "name", "index", "_tokens", "_header_lines")

    def __init__(self, path, name, index, tokens, header_lines=None):
        self.path, self.name, self.index, self._tokens = path, name, index, tokens
        self._header_lines = header_lines

    @property
    def line(self) -> int | None:
        """The read's line in a SAM file (None for BAM and CRAM)."""
        return None if self._header_lines is None else self._header_lines + self.index + 1

    def chunks(self):
        yield self._tokens, no_mask(len(self._tokens))


def _open(path, fmt, reference):
    mode = {"sam": "r", "bam": "rb", "cram": "rc"}[fmt]
    kwargs = {"check_sq": False}
    if fmt == "cram":
        if reference is None:
            raise InputError("CRAM input needs the reference it was compressed against (--reference FASTA)", path)
        kwargs["reference_filename"] = str(reference)
    quiet = fmt == "cram"  # htslib would complain that a CRAM index is missing; none is needed
    previous = pysam.set_verbosity(0) if quiet else None
    try:
        return pysam.AlignmentFile(str(whole(path)), mode, **kwargs)  # pysam reads standard input's copy
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot open as {fmt.upper()}: {exc}", path) from None
    finally:
        if quiet:
            pysam.set_verbosity(previous)


def _read_name(read, flag, counters):
    name = read.query_name
    if flag & PAIRED:
        name += "/1" if flag & READ1 else "/2"
    if flag & (SECONDARY | SUPPLEMENTARY):  # same name as the primary: number them apart
        key = (name, "secondary" if flag & SECONDARY else "supplementary")
        counters[key] = counters.get(key, 0) + 1
        name = f"{name}:{key[1]}{counters[key]}"
    return name


def read_alignments(path, fmt: str, *, min_length=0, min_mapq=0, reference=None, include_secondary=False):
    """Yield primary reads (and secondary/supplementary ones if asked) passing the length and MAPQ filters.

    With ``min_mapq`` > 0 unmapped reads are dropped too (their MAPQ is 0 by definition). What pysam
    raises while reading (OSError, ValueError) becomes an InputError naming the record number, the
    read before it and, for SAM, the line.
    """
    skip = 0 if include_secondary else SECONDARY | SUPPLEMENTARY
    counters: dict[str, int] = {}
    bam = _open(path, fmt, reference)
    try:
        header_lines = _header_lines(bam) if fmt == "sam" else None
        index, read = -1, None
        try:
            for index, read in enumerate(bam.head(2**31 - 1, multiple_iterators=False)):  # sequential, no index
                flag = read.flag
                if flag & skip:
                    continue
                if min_mapq and (flag & UNMAPPED or read.mapping_quality < min_mapq):
                    continue
                seq = read.query_sequence
                if seq is not None and len(seq) < min_length:
                    continue
                name = _read_name(read, flag, counters)
                if not seq:
                    raise InputError("read has no sequence ('*')", path, name, _line(header_lines, index))
                raw = seq.encode("ascii")
                tokens, _, bad = encode(raw, keep_case=False)
                if bad >= 0:
                    raise InputError(describe_invalid(raw[bad]), path, name, _line(header_lines, index))
                yield Read(path, name, index, reverse_complement(tokens) if flag & REVERSE else tokens,
                           header_lines)
        except (OSError, ValueError) as exc:  # ValueError includes UnicodeDecodeError
            after = f" (after read {read.query_name!r})" if read is not None else ""
            raise InputError(f"cannot read {fmt.upper()} record {index + 2}{after}: malformed, corrupt or "
                             f"truncated data ({exc})", path, line=_line(header_lines, index + 1)) from None
    finally:
        try:
            bam.close()
        except OSError:  # htslib fails to close a file it failed to read; it is read-only, nothing is lost
            pass


def _header_lines(bam) -> int | None:
    try:
        return len(str(bam.header).splitlines())
    except (OSError, ValueError):
        return None


def _line(header_lines, index):
    """The line of SAM record ``index`` (0-based, after the header lines); None for BAM and CRAM."""
    return None if header_lines is None else header_lines + index + 1
