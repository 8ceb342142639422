"""Bad inputs through the real command line: every one exits 2 with a message that names the file
(and record, line or byte offset where it can), no traceback, and nothing written at -o.

To add a case, append a ``Case`` to ``CASES``:

- ``id``: a short name (it becomes the pytest id);
- ``make``: a function of a ``Files`` that writes the input files into ``files.root``
  (``files.write(name, bytes)`` returns the path; the builders below make FASTA, gzip, BAM, ...);
- ``argv``: the command line, split on spaces; ``{tmp}`` is the folder the inputs were written to,
  ``{out}`` an empty folder for the output (it must still be empty afterwards), ``{model}`` a
  small trained k-mer model directory;
- ``stderr``: text that stderr must contain (a string, or a tuple of strings that must all appear);
- ``code``: the exit status (2 for bad input, the default).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pysam
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord

from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.io import read_records

DATA = Path(__file__).parent / "data"
ECOLI = (DATA / "ecoli_DH1_slice.fa").read_bytes()  # one record, 30 kb, 70 bases a line
ECOLI_NAME = ECOLI[1:ECOLI.index(b"\n")].split()[0].decode()


class Files:
    """Writes the input files of a case under ``root``."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.root / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path


# ---- builders of input bytes -------------------------------------------------------------------

def flipped(data: bytes, start: int, end: int) -> bytes:
    """``data`` with the bytes start..end-1 inverted (a corruption, not a truncation)."""
    out = bytearray(data)
    for i in range(start, min(end, len(out))):
        out[i] ^= 0xFF
    return bytes(out)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bgzf(files: Files, data: bytes) -> bytes:
    """bgzip-compressed ``data`` (BGZF: gzip members of at most 64 KiB, as samtools writes)."""
    plain = files.write("plain.tmp", data)
    pysam.tabix_compress(str(plain), str(plain) + ".gz", force=True)
    packed = Path(str(plain) + ".gz").read_bytes()
    plain.unlink()
    Path(str(plain) + ".gz").unlink()
    return packed


def two_records() -> bytes:
    """Two FASTA records of 30 kb and 15 kb (real sequence), the second named 'second'."""
    body = ECOLI.split(b"\n", 1)[1]
    return b">first\n" + body + b">second\n" + body[: len(body) // 2] + b"\n"


def two_members_second_corrupt() -> bytes:
    """Each record its own gzip member; the second member damaged in its middle."""
    text = two_records()
    cut = text.index(b">second")
    first, second = gz(text[:cut]), gz(text[cut:])
    middle = len(second) // 2
    return first + flipped(second, middle, middle + 16)


def unaligned_bam(files: Files, name: str, n_reads: int, length: int = 1000) -> Path:
    """An unaligned BAM of ``n_reads`` reads cut from the E. coli slice (no reads: header only)."""
    sequence = b"".join(ECOLI.split(b"\n")[1:]).decode()
    path = files.root / name
    with pysam.AlignmentFile(str(path), "wb", header={"HD": {"VN": "1.6", "SO": "unsorted"}}) as out:
        for i in range(n_reads):
            read = pysam.AlignedSegment(out.header)
            start = (i * 97) % (len(sequence) - length)
            read.query_name, read.flag = f"read{i}", 4
            read.query_sequence = sequence[start:start + length]
            read.query_qualities = pysam.qualitystring_to_array("I" * length)
            out.write(read)
    return path


def corrupt_bam(files: Files, name: str, n_reads: int, at: float) -> Path:
    """A BAM whose bytes around fraction ``at`` of the file are inverted."""
    path = unaligned_bam(files, name, n_reads)
    data = path.read_bytes()
    start = max(40, int(len(data) * at))
    path.write_bytes(flipped(data, start, start + 160))
    return path


def annotated(fmt: str) -> bytes:
    """The E. coli slice as a GenBank or EMBL record (Biopython's writer)."""
    record = next(SeqIO.parse(str(DATA / "ecoli_DH1_slice.fa"), "fasta"))
    rec = SeqRecord(Seq(str(record.seq)), id="ACC1.1", name="ECOLI1", description="slice",
                    annotations={"molecule_type": "DNA"})
    handle = io.StringIO()
    SeqIO.write([rec], handle, fmt)
    return handle.getvalue().encode()


def garbage_in_line(text: bytes, line: int, garbage: bytes = b"\xff\xfe\x00\x01garbage\x9c") -> bytes:
    """``garbage`` put at the start of line ``line`` (1-based) of ``text``."""
    lines = text.split(b"\n")
    lines[line - 1] = garbage + lines[line - 1]
    return b"\n".join(lines)


SAM = ("@HD\tVN:1.6\tSO:unsorted\n"
       "r1\t4\t*\t0\t0\t*\t*\t0\t0\tACGTACGTAC\tIIIIIIIIII\n"
       "r2\t4\t*\t0\t0\t*\t*\t0\t0\tACGTACGTAC\tIIIIIIIIII\n"
       "r3\t4\t*\t0\t0\t*\t*\t0\t0\tACGTACGTAC\tIII\n"           # SEQ and QUAL differ in length
       "r4\t4\t*\t0\t0\t*\t*\t0\t0\tACGTACGTAC\tIIIIIIIIII\n")


# ---- the cases -----------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    make: Callable[[Files], object]
    argv: str
    stderr: str | tuple[str, ...]
    code: int = 2


TOKENIZE = "tokenize {tmp}/%s -o {out}/s.zarr --no-progress"
CLASSIFY = "classify --model {model} {tmp}/%s -o {out}/calls.tsv"
SIMULATE = "simulate-reads {tmp}/%s -o {out}/reads.bam --seed 1 --count 5"

CASES = [
    # damaged compressed files: the compression, the byte range and, for FASTA, line and record
    Case("tokenize-corrupt-gzip", lambda f: f.write("x.fa.gz", flipped(gz(ECOLI), 40, 200)),
         TOKENIZE % "x.fa.gz", ("x.fa.gz", "corrupt gzip data", "compressed bytes 0-")),
    Case("tokenize-corrupt-gzip-second-record", lambda f: f.write("x.fa.gz", two_members_second_corrupt()),
         TOKENIZE % "x.fa.gz", ("corrupt gzip data", "record 'second'", "line ")),
    Case("tokenize-corrupt-bgzf", lambda f: f.write("x.fa.bgz", flipped(bgzf(f, two_records()), 40, 200)),
         TOKENIZE % "x.fa.bgz", ("x.fa.bgz", "corrupt gzip data")),
    Case("tokenize-corrupt-xz", lambda f: f.write("x.fa.xz", flipped(lzma.compress(ECOLI), 40, 200)),
         TOKENIZE % "x.fa.xz", ("x.fa.xz", "corrupt xz data", "compressed bytes")),
    Case("tokenize-corrupt-bz2", lambda f: f.write("x.fa.bz2", flipped(bz2.compress(ECOLI), 40, 200)),
         TOKENIZE % "x.fa.bz2", ("x.fa.bz2", "corrupt bz2 data", "compressed bytes")),
    Case("tokenize-zstd", lambda f: f.write("x.fa.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 64),
         TOKENIZE % "x.fa.zst", ("x.fa.zst", "zstd-compressed input is not supported")),
    Case("tokenize-corrupt-bam-first-block", lambda f: corrupt_bam(f, "r.bam", 20, 0.0),
         TOKENIZE % "r.bam", ("r.bam", "corrupt gzip data")),
    Case("tokenize-corrupt-bam-later-block", lambda f: corrupt_bam(f, "r.bam", 300, 0.7),
         TOKENIZE % "r.bam", ("r.bam", "cannot read BAM record", "after read 'read")),
    Case("tokenize-empty-bam", lambda f: unaligned_bam(f, "r.bam", 0), TOKENIZE % "r.bam", ("r.bam", "no records")),
    # damaged text
    Case("tokenize-fasta-binary-garbage", lambda f: f.write("x.fa", garbage_in_line(ECOLI, 200)),
         TOKENIZE % "x.fa", ("x.fa", "line 200", f"record {ECOLI_NAME!r}", "binary data")),
    Case("tokenize-genbank-garbage", lambda f: f.write("x.gb", garbage_in_line(annotated("genbank"), 300)),
         TOKENIZE % "x.gb", ("x.gb", "line 300", "malformed genbank file")),
    Case("tokenize-embl-truncated", lambda f: f.write("x.embl", annotated("embl")[:20000]),
         TOKENIZE % "x.embl", ("x.embl", "line ", "malformed embl file")),
    Case("tokenize-sam-bad-line", lambda f: f.write("x.sam", SAM), TOKENIZE % "x.sam",
         ("x.sam", "line 4", "cannot read SAM record 3", "after read 'r2'")),
    # the input rules every command applies
    Case("tokenize-negative-min-length", lambda f: f.write("x.fa", ECOLI), TOKENIZE % "x.fa" + " --min-length -5",
         "--min-length must not be negative"),
    Case("tokenize-missing-file", lambda f: None, TOKENIZE % "absent.fa", ("absent.fa", "not found")),
    Case("tokenize-directory", lambda f: (f.root / "dir").mkdir(), TOKENIZE % "dir", ("dir", "directory")),

    Case("classify-corrupt-gzip", lambda f: f.write("x.fa.gz", flipped(gz(ECOLI), 40, 200)),
         CLASSIFY % "x.fa.gz", ("x.fa.gz", "corrupt gzip data")),
    Case("classify-corrupt-gzip-second-record", lambda f: f.write("x.fa.gz", two_members_second_corrupt()),
         CLASSIFY % "x.fa.gz", ("corrupt gzip data", "record 'second'", "line ")),
    Case("classify-corrupt-bgzf", lambda f: f.write("x.fa.bgz", flipped(bgzf(f, two_records()), 40, 200)),
         CLASSIFY % "x.fa.bgz", ("x.fa.bgz", "corrupt gzip data")),
    Case("classify-corrupt-xz", lambda f: f.write("x.fa.xz", flipped(lzma.compress(ECOLI), 40, 200)),
         CLASSIFY % "x.fa.xz", ("x.fa.xz", "corrupt xz data")),
    Case("classify-corrupt-bz2", lambda f: f.write("x.fa.bz2", flipped(bz2.compress(ECOLI), 40, 200)),
         CLASSIFY % "x.fa.bz2", ("x.fa.bz2", "corrupt bz2 data")),
    Case("classify-corrupt-bam", lambda f: corrupt_bam(f, "r.bam", 20, 0.0), CLASSIFY % "r.bam",
         ("r.bam", "corrupt gzip data")),
    Case("classify-genbank-garbage", lambda f: f.write("x.gb", garbage_in_line(annotated("genbank"), 300)),
         CLASSIFY % "x.gb", ("x.gb", "line 300", "malformed genbank file")),
    Case("classify-duplicate-names", lambda f: f.write("x.fa", b">a\nACGTACGT\n>b\nACGT\n>a second\nGGCC\n"),
         CLASSIFY % "x.fa", ("x.fa", "line 5", "record 'a'", "duplicate record name")),
    Case("classify-same-input-twice", lambda f: f.write("x.fa", ECOLI),
         "classify --model {model} {tmp}/x.fa {tmp}/x.fa -o {out}/calls.tsv", ("x.fa", "given more than once")),
    Case("classify-empty-bam", lambda f: unaligned_bam(f, "r.bam", 0), CLASSIFY % "r.bam", ("r.bam", "no records")),
    Case("classify-nothing-long-enough", lambda f: f.write("x.fa", b">a\nACGTACGT\n"),
         CLASSIFY % "x.fa" + " --min-length 100", ("x.fa", "no records of at least 100 bases")),
    Case("classify-negative-min-length", lambda f: f.write("x.fa", ECOLI), CLASSIFY % "x.fa" + " --min-length -5",
         "--min-length must not be negative, got -5"),
    Case("classify-negative-min-mapq", lambda f: f.write("x.fa", ECOLI), CLASSIFY % "x.fa" + " --min-mapq -1",
         "--min-mapq must not be negative, got -1"),
    Case("classify-missing-file", lambda f: None, CLASSIFY % "absent.fa", ("absent.fa", "no such file")),
    Case("classify-directory", lambda f: (f.root / "dir").mkdir(), CLASSIFY % "dir", ("dir", "not a zarr")),
    Case("classify-empty-record", lambda f: f.write("x.fa", b">a\nACGT\n>b\n>c\nACGT\n"), CLASSIFY % "x.fa",
         ("x.fa", "line 3", "record 'b'", "no sequence")),

    Case("simulate-corrupt-gzip", lambda f: f.write("x.fa.gz", flipped(gz(ECOLI), 40, 200)),
         SIMULATE % "x.fa.gz", ("x.fa.gz", "corrupt gzip data")),
    Case("simulate-corrupt-xz", lambda f: f.write("x.fa.xz", flipped(lzma.compress(ECOLI), 40, 200)),
         SIMULATE % "x.fa.xz", ("x.fa.xz", "corrupt xz data")),
    Case("simulate-duplicate-names", lambda f: f.write("x.fa", b">a\n" + b"ACGT" * 100 + b"\n>a\nGGCC\n"),
         SIMULATE % "x.fa", ("x.fa", "record 'a'", "duplicate record name")),
    Case("simulate-genbank-garbage", lambda f: f.write("x.gb", garbage_in_line(annotated("genbank"), 300)),
         SIMULATE % "x.gb", ("x.gb", "malformed genbank file")),
    Case("simulate-directory", lambda f: (f.root / "dir").mkdir(), SIMULATE % "dir", ("dir", "not a zarr")),
]


@pytest.fixture(scope="module")
def kmer_model(tmp_path_factory) -> Path:
    """A small k-mer model of two species (the calls do not matter here, only that it loads)."""
    from test_classify_support import LAYOUT, build_split
    from genomamba.classifiers.kmer import KmerClassifier

    directory = tmp_path_factory.mktemp("bad_inputs_model")
    split = build_split(directory / "stores", [LAYOUT[0], LAYOUT[2], LAYOUT[4], LAYOUT[6]])
    model = KmerClassifier.fit(split, {"windows_per_strain": 20, "validation_windows_per_strain": 10},
                               seed=1, log=lambda *_: None)
    model.save(directory / "model")
    return directory / "model"


def prepare(case: Case, tmp_path: Path, request) -> tuple[list[str], Path]:
    """Write the case's inputs; its argv with the placeholders filled in, and the output folder."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    case.make(Files(inputs))
    model = request.getfixturevalue("kmer_model") if "{model}" in case.argv else None
    return [word.format(tmp=inputs, out=out, model=model) for word in case.argv.split()], out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, capfd, request):
    argv, out = prepare(case, tmp_path, request)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing the command line
        code = exc.code
    err = capfd.readouterr().err  # file-descriptor level: htslib's own messages are seen too
    assert "Traceback" not in err
    assert code == case.code, err
    for text in (case.stderr,) if isinstance(case.stderr, str) else case.stderr:
        assert text in err, f"{text!r} not in stderr:\n{err}"
    assert list(out.iterdir()) == [], "something was written at -o"


@pytest.mark.parametrize("case_id", ["tokenize-corrupt-gzip", "classify-duplicate-names"])
def test_a_real_process_prints_one_message_and_no_traceback(case_id, tmp_path, request):
    case = next(c for c in CASES if c.id == case_id)
    argv, out = prepare(case, tmp_path, request)
    done = subprocess.run([sys.executable, "-m", "genomamba.cli", *argv], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("error:") == 1 and all(text in done.stderr for text in case.stderr)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("compress", [gz, lzma.compress], ids=["gzip", "xz"])
@pytest.mark.parametrize("fraction", [0.3, 0.5])
def test_a_damaged_stream_is_placed_near_the_damage(tmp_path, compress, fraction):
    """The compressed byte range in the message starts at most a few KiB after the damaged bytes
    (decoders notice damage at or after it) and is a 64-byte read, not the whole file."""
    data = compress(ECOLI * 3)
    at = int(len(data) * fraction)
    path = tmp_path / "x.fa.damaged"
    path.write_bytes(flipped(data, at, at + 8))
    with pytest.raises(InputError) as info:
        for record in read_records(path):
            for _ in record.chunks():
                pass
    start, end = map(int, re.search(r"compressed bytes (\d+)-(\d+) of", str(info.value)).groups())
    assert end >= at and start <= at + 8192 and end - start < 64
    assert str(path) in str(info.value) and "line " in str(info.value)
