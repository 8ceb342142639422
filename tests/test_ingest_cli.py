"""The tokenize, export and inspect commands end to end, and every kind of bad input."""

import gzip
import json
import lzma

import pytest

from genomamba.cli import main
from genomamba.store import SequenceStore


def run_cli(*argv):
    return main([str(a) for a in argv])


def test_tokenize_inspect_export_round_trip(real_fastas, tmp_path, capsys):
    gz = tmp_path / "vc.fa.gz"
    gz.write_bytes(gzip.compress(real_fastas[1].read_bytes()))
    store = tmp_path / "s.zarr"
    assert run_cli("tokenize", real_fastas[0], gz, real_fastas[2], "-o", store,
                   "--species", "Mixed", "--strain", "demo", "--no-progress") == 0
    s = SequenceStore.open(store)
    assert len(s) == 4 and s.species == "Mixed" and s.strain == "demo"
    assert [src["format"] for src in s.attrs["sources"]] == ["fasta"] * 3
    assert s.attrs["total_length"] == 30000 + 2 * 15000 + 20000

    capsys.readouterr()
    assert run_cli("inspect", store, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert [r["length"] for r in summary["records"]] == [30000, 15000, 15000, 20000]
    human = summary["records"][3]
    text = "".join(real_fastas[2].read_text().splitlines()[1:])
    assert human["masked_fraction"] == pytest.approx(sum(c.islower() for c in text) / len(text), abs=1e-6)
    gc = sum(c in "GCgc" for c in text) / len(text)
    assert human["gc"] == pytest.approx(gc, abs=1e-6)
    assert run_cli("inspect", store) == 0
    assert "*total*\t80000" in capsys.readouterr().out

    out = tmp_path / "back.fa.gz"
    assert run_cli("export", store, "-o", out) == 0
    exported = gzip.decompress(out.read_bytes()).decode()
    lines = exported.splitlines()
    assert max(len(line) for line in lines if not line.startswith(">")) == 60
    original = "".join(p.read_text() for p in real_fastas)
    seqs = lambda t: ["".join(b.split("\n")[1:]) for b in t.split(">")[1:]]
    assert seqs(exported) == seqs(original)  # every base and the soft-mask (case) come back
    assert [b.split()[0] for b in exported.split(">")[1:]] == [b.split()[0] for b in original.split(">")[1:]]


def _bad_inputs(tmp_path, real_fastas):
    """name -> (files, text the message must contain, record, line)."""
    def w(name, data):
        (tmp_path / name).write_bytes(data)
        return tmp_path / name
    good = real_fastas[0].read_bytes()
    return {
        "empty": ([w("empty.fa", b"")], "empty file", None, None),
        "no header": ([w("nohead.fa", b"ACGT\nACGT\n>r\nAC\n")], "no FASTA header", None, 1),
        "protein": ([w("prot.fa", b">ok\nACGT\n>p1 protein\nMKV\nLLEQ\n")], "protein", "p1", 5),
        "binary": ([w("bin.fa", bytes(range(256)) * 4)], "binary", None, 1),
        "truncated gzip": ([w("t.fa.gz", gzip.compress(good)[:3000])], "truncated gzip", None, None),
        "truncated xz": ([w("t.fa.xz", lzma.compress(good)[:3000])], "truncated xz", None, None),
        "duplicate in file": ([w("dup.fa", b">a\nAC\n>b\nGG\n>a x\nTT\n")], "duplicate", "a", 5),
        "duplicate across": ([real_fastas[0], real_fastas[0]], "duplicate", "gi|386593590|ref|NC_017625.1|:1000000-1030000", 1),
        "missing": ([tmp_path / "nope.fa"], "not found", None, None),
        "directory": ([tmp_path], "directory", None, None),
        "empty record": ([w("er.fa", b">a\nAC\n>b\n>c\nGG\n")], "no sequence", "b", 3),
        "empty last record": ([w("erl.fa", b">a\nAC\n>b\n")], "no sequence", "b", 3),
        "nameless header": ([w("nn.fa", b">a\nAC\n>  \nGG\n")], "no name", None, 3),
        "gap": ([w("gap.fa", b">a\nAC--GT\n")], "gap", "a", 2),
        "bam without sequence": ([w("noseq.sam", b"@HD\tVN:1.6\nr1\t4\t*\t0\t0\t*\t*\t0\t0\t*\t*\n")],
                                 "no sequence", "r1", None),
    }


@pytest.mark.parametrize("case", ["empty", "no header", "protein", "binary", "truncated gzip", "truncated xz",
                                  "duplicate in file", "duplicate across", "missing", "directory",
                                  "empty record", "empty last record", "nameless header", "gap",
                                  "bam without sequence"])
def test_bad_input_fails_cleanly(tmp_path, real_fastas, capsys, case):
    files, text, record, line = _bad_inputs(tmp_path, real_fastas)[case]
    store = tmp_path / "out" / "s.zarr"
    assert run_cli("tokenize", *files, "-o", store, "--no-progress") == 2
    err = capsys.readouterr().err
    assert text in err
    assert str(files[-1]) in err
    if record is not None:
        assert f"record {record!r}" in err
    if line is not None:
        assert f"line {line}" in err
    assert not store.exists()
    assert list((tmp_path / "out").iterdir()) == []  # no temporary left behind


def test_min_length_option_and_no_records(tmp_path, capsys):
    path = tmp_path / "x.fa"
    path.write_text(">a\nACGTACGT\n>b\nAC\n")
    store = tmp_path / "s.zarr"
    assert run_cli("tokenize", path, "-o", store, "--min-length", "5", "--no-progress") == 0
    assert SequenceStore.open(store).names == ["a"]
    assert run_cli("tokenize", path, "-o", tmp_path / "t.zarr", "--min-length", "100", "--no-progress") == 2
    assert "no records" in capsys.readouterr().err


def test_failed_run_keeps_the_previous_store(tmp_path, real_fastas):
    store = tmp_path / "s.zarr"
    assert run_cli("tokenize", real_fastas[0], "-o", store, "--no-progress") == 0
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGT\nQQQ\n")
    assert run_cli("tokenize", bad, "-o", store, "--no-progress") == 2
    assert SequenceStore.open(store).attrs["total_length"] == 30000


def test_export_plain_custom_width(tmp_path, real_fastas):
    store, out = tmp_path / "s.zarr", tmp_path / "o.fa"
    assert run_cli("tokenize", real_fastas[1], "-o", store, "--no-progress") == 0
    assert run_cli("export", store, "-o", out, "--width", "17") == 0
    body = out.read_text().split(">")[1].splitlines()[1:]
    assert {len(x) for x in body[:-1]} == {17} and 0 < len(body[-1]) <= 17
    assert "".join(body) == "".join(real_fastas[1].read_text().split(">")[1].splitlines()[1:])


def test_tokenize_alignment_options(write_alignments, tmp_path):
    _, cram, ref = write_alignments("wc", "reads.cram")
    store = tmp_path / "r.zarr"
    assert run_cli("tokenize", cram, "--reference", ref, "-o", store, "--min-length", "50",
                   "--include-secondary", "--no-progress") == 0
    names = SequenceStore.open(store).names
    assert "fwd:secondary1" in names and "short" not in names
    assert run_cli("tokenize", cram, "--reference", ref, "-o", store, "--min-mapq", "10", "--no-progress") == 0
    assert SequenceStore.open(store).names == ["fwd", "rev", "short"]
    assert SequenceStore.open(store).attrs["sources"][0]["format"] == "cram"


def test_progress_bar_when_asked(real_fastas, tmp_path, capsys):
    assert run_cli("tokenize", real_fastas[0], "-o", tmp_path / "s.zarr", "--progress") == 0
    assert "tokenize" in capsys.readouterr().err
