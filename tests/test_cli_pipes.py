"""The command line in pipes: '-' for standard input and output, a broken pipe, progress bars, the
top-level help. Real processes (stdin and stdout are the point), on the slices in tests/data."""

import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest

from genomamba import progress
from genomamba.cli import COMMANDS, main
from genomamba.io.stdin import Stdin
from genomamba.store import SequenceStore

ROOT = Path(__file__).resolve().parents[1]
BACTERIA = ROOT / "resources" / "models" / "bacteria"


@pytest.fixture
def genomamba(tmp_path):
    """genomamba(*argv, stdin=bytes) -> CompletedProcess (bytes), run in tmp_path with its own TMPDIR
    (tmp_path/tmp), so that a test can see that no temporary copy of standard input stays behind."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)}

    def run(*argv, stdin=b""):
        return subprocess.run([sys.executable, "-m", "genomamba.cli", *map(str, argv)], input=stdin,
                              capture_output=True, cwd=tmp_path, env=env, timeout=300)
    run.temp = temp
    return run


def same_store(a, b):
    a, b = SequenceStore.open(a), SequenceStore.open(b)
    assert a.names == b.names and len(a) > 0
    for i in range(len(a)):
        assert np.array_equal(a.read(i), b.read(i)) and np.array_equal(a.read_mask(i), b.read_mask(i))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_tokenize_reads_fasta_from_stdin_as_from_the_file(genomamba, real_fastas, tmp_path, compress):
    fasta = real_fastas[2]  # soft-masked: the mask must come through too
    data = gzip.compress(fasta.read_bytes()) if compress else fasta.read_bytes()
    done = genomamba("tokenize", "-", "-o", "s.zarr", "--species", "Homo sapiens", stdin=data)
    assert done.returncode == 0, done.stderr.decode()
    assert genomamba("tokenize", fasta, "-o", "f.zarr").returncode == 0
    same_store(tmp_path / "s.zarr", tmp_path / "f.zarr")
    source = SequenceStore.open(tmp_path / "s.zarr").attrs["sources"][0]
    assert source["path"] == "<stdin>" and source["format"] == "fasta"
    assert source["sha256"] == hashlib.sha256(data).hexdigest()
    assert list(genomamba.temp.iterdir()) == []  # the copy of standard input is gone


@pytest.mark.parametrize("mode,name", [("wb", "reads.bam"), ("w", "reads.sam")])
def test_tokenize_reads_sam_and_bam_from_stdin(genomamba, write_alignments, tmp_path, mode, name):
    _, path, _ = write_alignments(mode, name)
    done = genomamba("tokenize", "-", "-o", "s.zarr", "--include-secondary", stdin=path.read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    assert genomamba("tokenize", path, "-o", "f.zarr", "--include-secondary").returncode == 0
    same_store(tmp_path / "s.zarr", tmp_path / "f.zarr")
    assert SequenceStore.open(tmp_path / "s.zarr").attrs["sources"][0]["format"] == name[-3:]
    assert list(genomamba.temp.iterdir()) == []


def test_bad_stdin_is_an_error_naming_stdin_line_and_record(genomamba, tmp_path):
    bad = gzip.compress(b">a\nACGT\nACGT\n>b\nACGT\nAC!T\n")
    done = genomamba("tokenize", "-", "-o", "s.zarr", stdin=bad)
    assert done.returncode == 2
    assert done.stderr.decode() == ("genomamba tokenize: error: <stdin>, line 6, record 'b': "
                                    "invalid character '!' in sequence\n")
    truncated = gzip.compress(b">a\n" + b"ACGT" * 5000 + b"\n")[:-20]
    done = genomamba("tokenize", "-", "-o", "s.zarr", stdin=truncated)
    assert done.returncode == 2 and b"<stdin>" in done.stderr and b"truncated gzip" in done.stderr
    done = genomamba("tokenize", "-", "-", "-o", "s.zarr", stdin=b">a\nACGT\n")
    assert done.returncode == 2 and b"standard input (-) given more than once" in done.stderr
    assert not (tmp_path / "s.zarr").exists() and list(genomamba.temp.iterdir()) == []


def test_stdout_only_where_the_output_is_a_table_or_fasta(genomamba, real_fastas, tmp_path):
    done = genomamba("tokenize", real_fastas[0], "-o", "-")
    assert done.returncode == 2 and b"standard output (-) is not possible here" in done.stderr
    done = genomamba("simulate-reads", real_fastas[0], "-o", "-", "--seed", "1", "--count", "2")
    assert done.returncode == 2 and b"standard output (-) is not possible here" in done.stderr
    assert not os.path.lexists(tmp_path / "-")


def test_export_to_stdout_and_a_broken_pipe(genomamba, real_fastas, tmp_path):
    big = tmp_path / "big.fa"  # more FASTA than a pipe holds, so that the pipe breaks mid-write
    records = [real_fastas[0].read_text().replace(">", f">copy{i}_") for i in range(20)]
    big.write_text("".join(records))
    assert genomamba("tokenize", big, "-o", "s.zarr").returncode == 0
    done = genomamba("export", "s.zarr", "-o", "-")
    assert done.returncode == 0 and done.stderr == b""
    assert genomamba("export", "s.zarr", "-o", "s.fa").returncode == 0
    assert done.stdout == (tmp_path / "s.fa").read_bytes()
    assert done.stdout.startswith(b">copy0_gi|386593590")

    # genomamba export s.zarr -o - | head -n 2
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "genomamba.cli", "export", "s.zarr", "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    head = [proc.stdout.readline() for _ in range(2)]
    proc.stdout.close()
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE  # as a program that SIGPIPE ended
    assert proc.stderr.read() == b""  # quietly: no traceback, no message
    proc.stderr.close()
    assert head[0].startswith(b">copy0_") and len(head[1]) == 61


def test_classify_from_stdin_to_stdout_with_the_shipped_model(genomamba, real_fastas, tmp_path):
    """genomamba classify --model M - -o - < x.fa.gz: the same calls as for the file, to stdout."""
    text = real_fastas[0].read_text().splitlines()
    small = tmp_path / "ecoli.fa"  # 7 kb of the E. coli slice keeps the CPU run short
    small.write_text("\n".join(text[:101]) + "\n")
    done = genomamba("classify", "--model", BACTERIA, "-", small, "-o", "-", "--device", "cpu",
                     stdin=gzip.compress(small.read_bytes()))
    assert done.returncode == 0, done.stderr.decode()
    rows = [line.split("\t") for line in done.stdout.decode().splitlines()]
    assert rows[0][:5] == ["file", "record", "length", "call", "confidence"]
    from_stdin = [row for row in rows[1:] if row[0] == "<stdin>"]
    from_file = [row for row in rows[1:] if row[0] == str(small)]
    assert [row[1:] for row in from_stdin] == [row[1:] for row in from_file]
    assert [row[1] for row in from_stdin] == ["gi|386593590|ref|NC_017625.1|:1000000-1030000", "*"]
    assert from_stdin[-1][2:4] == ["7000", "Escherichia coli"]
    assert b"<stdin>: 1 rows, assembly call Escherichia coli" in done.stderr
    assert list(tmp_path.glob("*genomamba-tmp*")) == [] and list(genomamba.temp.iterdir()) == []


def test_simulate_reads_from_stdin(genomamba, real_fastas, tmp_path):
    fasta = real_fastas[1]
    options = ["--seed", "3", "--count", "5"]
    assert genomamba("simulate-reads", "-", "-o", "a.bam", *options, stdin=fasta.read_bytes()).returncode == 0
    assert genomamba("simulate-reads", fasta, "-o", "b.bam", *options, "--sample", "stdin").returncode == 0

    def reads(name):
        with pysam.AlignmentFile(str(tmp_path / name), "rb", check_sq=False) as bam:
            return [(r.query_name, r.query_sequence) for r in bam], bam.header.to_dict()
    (a, header), (b, _) = reads("a.bam"), reads("b.bam")
    assert a == b and len(a) == 5
    assert header["RG"][0]["SM"] == "stdin"
    assert f"source_sha256={hashlib.sha256(fasta.read_bytes()).hexdigest()}" in " ".join(header["CO"])


def test_stdin_copy_replays_what_was_read_and_is_removed():
    data = bytes(range(256)) * 5000
    with Stdin(io.BytesIO(data)) as stdin:
        assert str(stdin) == "<stdin>"
        first = stdin.open()
        assert first.read(1000) == data[:1000]
        second = stdin.open()  # a second reader starts from the first byte, though stdin moved on
        assert second.read(3000) == data[:3000]
        assert first.read() == data[1000:]
        assert second.read() == data[3000:]
        first.close(), second.close()
        copy = Path(stdin.whole())
        assert copy.read_bytes() == data
    assert not copy.exists()


def test_top_level_help_tells_what_the_tool_does_with_one_example_per_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "Species classification" in text and "standard input" in text
    for name, command in COMMANDS.items():
        assert command.example.startswith(("genomamba " + name + " ", "zcat ")) and name in command.example
        assert f"$ {command.example}" in text and command.help in text
    assert "kernels/" not in text and "genomamba/" not in text  # the tool, not the code layout


def test_progress_bar_shows_bases_rate_and_time_left_only_when_wanted(capsys):
    with progress.Bases("classify", total=4000, show=True) as bar:
        bar.update(1000)
        progress.message("a line above the bar")
        bar.update(1000)
    err = capsys.readouterr().err
    assert "classify:  50%" in err and "2.00kbp" in err and "bp/s" in err and "<" in err
    assert "a line above the bar" in err
    with progress.Bases("tokenize", show=True) as bar:  # no total (standard input): no percentage
        bar.update(5000)
    err = capsys.readouterr().err
    assert "5.00kbp" in err and "%" not in err
    progress.choose(None)  # the default: only on a terminal, which captured stderr is not
    with progress.Bases("classify", total=10) as bar, progress.Steps("train", 0, 10) as steps:
        bar.update(5)
        steps.update()
    assert capsys.readouterr().err == ""
    progress.choose(True)
    try:
        with progress.Steps("train", 5, 10) as steps:
            steps.update()
    finally:
        progress.choose(None)
    assert "train:  60%" in capsys.readouterr().err
