"""Property-based fuzzing of the readers: real small files of every format, damaged at random (bytes
flipped, inserted, deleted, runs overwritten, the end cut off), must either read or fail with the
project's own errors (InputError, naming the file) from the public reading API, and the command line
must answer them with exit status 0 or 2 and never a traceback, leaving nothing at -o on failure.

The examples are derandomized (the same every run) and few per format, to stay fast.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import shutil
from pathlib import Path

import pysam
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomamba.cli import main
from genomamba.errors import ConfigError, InputError
from genomamba.inputs import iter_records
from genomamba.io import detect_format, read_records

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _fasta_bytes() -> bytes:
    """Two real records of 6 kb (V. cholerae chromosomes I and II), 60 bases a line."""
    records = list(SeqIO.parse(str(DATA / "vcholerae_O395_2rec_slice.fa"), "fasta"))
    out = []
    for rec in records:
        seq = str(rec.seq)[:6000]
        out.append(f">{rec.id} slice\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
    return "".join(out).encode()


def _annotated_bytes(fmt: str) -> bytes:
    handle = io.StringIO()
    records = [SeqRecord(Seq(str(rec.seq)[:4000]), id=f"ACC{i}.1", name=f"LOC{i}", description="slice",
                         annotations={"molecule_type": "DNA"})
               for i, rec in enumerate(SeqIO.parse(str(DATA / "vcholerae_O395_2rec_slice.fa"), "fasta"))]
    SeqIO.write(records, handle, fmt)
    return handle.getvalue().encode()


def _alignments(directory: Path, mode: str, name: str, reference: Path, n_reads: int) -> bytes:
    """Aligned reads of 300 bases on ``reference`` (several BGZF blocks for BAM at 300 reads)."""
    sequence = "".join(str(r.seq) for r in SeqIO.parse(str(reference), "fasta"))
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": "chr", "LN": len(sequence)}]}
    path = directory / name
    kwargs = {"reference_filename": str(reference)} if mode == "wc" else {}
    with pysam.AlignmentFile(str(path), mode, header=header, **kwargs) as out:
        for i in range(n_reads):
            start = (i * 37) % (len(sequence) - 300)
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.flag, read.mapping_quality = f"read{i}", 16 if i % 3 == 0 else 0, 60
            read.query_sequence = sequence[start:start + 300]
            read.query_qualities = pysam.qualitystring_to_array("I" * 300)
            read.reference_id, read.reference_start, read.cigartuples = 0, start, [(0, 300)]
            out.write(read)
    return path.read_bytes()


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict:
    """Undamaged inputs, format -> bytes, and the CRAM reference."""
    directory = tmp_path_factory.mktemp("fuzz_originals")
    fasta = _fasta_bytes()
    plain = directory / "plain.fa"
    plain.write_bytes(fasta)
    pysam.tabix_compress(str(plain), str(directory / "plain.fa.bgz"), force=True)
    reference = directory / "ref.fa"
    reference.write_bytes(b">chr\n" + fasta.split(b">")[1].split(b"\n", 1)[1])  # the first record
    pysam.faidx(str(reference))
    files = {
        "fasta": fasta,
        "gzip": gzip.compress(fasta, mtime=0),
        "bgzf": (directory / "plain.fa.bgz").read_bytes(),
        "xz": lzma.compress(fasta),
        "bz2": bz2.compress(fasta),
        "genbank": _annotated_bytes("genbank"),
        "embl": _annotated_bytes("embl"),
        "sam": _alignments(directory, "w", "r.sam", reference, 40),
        "bam": _alignments(directory, "wb", "r.bam", reference, 300),
        "cram": _alignments(directory, "wc", "r.cram", reference, 40),
    }
    return {"files": files, "reference": reference}


FORMATS = ["fasta", "gzip", "bgzf", "xz", "bz2", "genbank", "embl", "sam", "bam", "cram"]

# one damage: (kind, position as a fraction of the length, size, byte value)
damage = st.tuples(st.sampled_from(["flip", "insert", "delete", "overwrite", "truncate"]),
                   st.floats(0, 1, allow_nan=False), st.integers(1, 200), st.integers(1, 255))


def damaged(data: bytes, damages) -> bytes:
    out = bytearray(data)
    for kind, where, size, value in damages:
        at = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip":
            if out:
                out[at] ^= value
        elif kind == "insert":
            out[at:at] = bytes((value * (i + 7)) % 256 for i in range(size))
        elif kind == "delete":
            del out[at:at + size]
        elif kind == "overwrite":
            for i in range(at, min(at + size, len(out))):
                out[i] ^= 0xFF
        else:
            del out[at:]
    return bytes(out)


def read_everything(path: Path, reference: Path) -> None:
    """Everything the public reading API offers, read to the end."""
    detect_format(path)
    for record in read_records(path, reference=reference):
        for _ in record.chunks():
            pass
    for record in iter_records(path, reference=reference, chunk_size=4096):
        for _ in record.chunks():
            pass


def test_the_undamaged_files_read(originals, tmp_path):
    """The fuzzing starts from good files: each reads, in the format it is meant to be."""
    expected = {"gzip": "fasta", "bgzf": "fasta", "xz": "fasta", "bz2": "fasta"}
    for fmt, data in originals["files"].items():
        path = tmp_path / f"good_{fmt}"
        path.write_bytes(data)
        assert detect_format(path) == expected.get(fmt, fmt)
        read_everything(path, originals["reference"])


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(damages=st.lists(damage, min_size=1, max_size=4))
def test_damaged_input_reads_or_raises_input_error(originals, tmp_path, fmt, damages):
    path = tmp_path / f"damaged_{fmt}"
    path.write_bytes(damaged(originals["files"][fmt], damages))
    try:
        read_everything(path, originals["reference"])
    except (InputError, ConfigError) as exc:
        assert str(path) in str(exc) or fmt == "cram" and "reference" in str(exc)


@FUZZ
@given(fmt=st.sampled_from(FORMATS), command=st.sampled_from(["tokenize", "simulate-reads"]),
       damages=st.lists(damage, min_size=1, max_size=3))
def test_the_command_line_answers_damaged_input_with_exit_2_not_a_traceback(originals, tmp_path, fmt, command,
                                                                            damages):
    path = tmp_path / f"damaged_{fmt}"
    path.write_bytes(damaged(originals["files"][fmt], damages))
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if command == "tokenize":
        argv = ["tokenize", str(path), "-o", str(out / "s.zarr"), "--no-progress",
                "--reference", str(originals["reference"])]
    else:
        argv = ["simulate-reads", str(path), "-o", str(out / "r.bam"), "--seed", "1", "--count", "3",
                "--min-length", "50", "--median-length", "100", "--max-length", "200"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)  # anything but InputError/ConfigError would escape main and fail the test
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert str(path) in err.getvalue() or "reference" in err.getvalue()
        assert list(out.iterdir()) == []
