"""FASTA reader: real slices, line layouts, case, IUPAC, every compression, block boundaries."""

import bz2
import gzip
import lzma

import numpy as np
import pysam
import pytest

from genomamba.alphabet import decode
from genomamba.errors import InputError
from genomamba.io import compression, detect_format, read_records


def naive_parse(text: str):
    """A slow, obviously right parser to check the fast one against: name -> (upper bases, mask)."""
    records, name = {}, None
    for line in text.splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = []
        elif name is not None:
            records[name].append(line.strip())
    out = {}
    for name, lines in records.items():
        seq = "".join(lines)
        upper = "".join(c if c in "ACGT" else "N" for c in seq.upper().replace("U", "T"))
        out[name] = (upper, np.array([c.islower() for c in seq], dtype=bool))
    return out


def parse(path, **kw):
    """read_records as name -> (decoded bases, mask), with the chunk sizes seen."""
    out = {}
    for rec in read_records(path, **kw):
        parts = list(rec.chunks())
        tokens = np.concatenate([t for t, _ in parts])
        assert all(m.dtype == bool and len(m) == len(t) for t, m in parts)
        mask = np.concatenate([m for _, m in parts])
        assert tokens.dtype == np.uint8 and tokens.max() <= 4
        out[rec.name] = (decode(tokens).decode(), mask)
    return out


def assert_same(got, want):
    assert list(got) == list(want)
    for name in want:
        assert got[name][0] == want[name][0], name
        np.testing.assert_array_equal(got[name][1], want[name][1])


def test_real_slices_match_naive_parser(real_fastas):
    for path in real_fastas:
        assert_same(parse(path), naive_parse(path.read_text()))
    human = parse(real_fastas[2])
    (_, mask), = human.values()
    assert 0.1 < mask.mean() < 0.9  # the human slice is partly soft-masked


@pytest.mark.parametrize("width", [1, 7, 60, 1000])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_width_and_crlf(write_file, width, newline):
    seqs = {"a": "ACGTacgtNNRYSWKMBDHVnryACGU" * 5, "b": "G" * 13, "c": "t"}
    text = "".join(f">{n} some description{newline}" +
                   newline.join(s[i:i + width] for i in range(0, len(s), width)) + newline
                   for n, s in seqs.items())
    path = write_file("x.txt", text + newline)  # trailing blank line
    assert_same(parse(path), naive_parse(text.replace("\r", "")))
    assert parse(path)["a"][0].startswith("ACGTACGT" + "N" * 15 + "ACGTACGT")


def test_iupac_and_u_and_mask(write_file):
    path = write_file("x.fa", ">r\nAcGuRyN\n")
    seq, mask = parse(path)["r"]
    assert seq == "ACGTNNN"
    assert mask.tolist() == [False, True, False, True, False, True, False]


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_headers_and_lines_cut_by_block_boundaries(real_fastas, write_file, monkeypatch, block):
    text = ">r1 desc\nACGTAC\nGT\n>r2\r\nacgtNN\r\n\n>r3 x y\nA\n" + real_fastas[1].read_text()
    path = write_file("x.fa", text)
    monkeypatch.setattr(compression, "BLOCK_SIZE", block)
    assert_same(parse(path), naive_parse(text.replace("\r", "")))


def test_chunks_are_bounded(real_fastas, monkeypatch):
    monkeypatch.setattr(compression, "BLOCK_SIZE", 4096)
    for rec in read_records(real_fastas[0]):
        sizes = [len(t) for t, _ in rec.chunks()]
        assert len(sizes) > 5 and max(sizes) <= 4096


def test_unconsumed_records_are_skipped_cleanly(real_fastas, monkeypatch):
    monkeypatch.setattr(compression, "BLOCK_SIZE", 1000)
    want = naive_parse(real_fastas[1].read_text())
    names, firsts = [], []
    for rec in read_records(real_fastas[1]):
        names.append(rec.name)
        firsts.append(decode(next(rec.chunks())[0]).decode())  # read one chunk, leave the rest
    assert names == list(want)
    assert [w[0][:len(f)] for w, f in zip(want.values(), firsts)] == firsts


def test_min_length_skips_short_records(write_file):
    path = write_file("x.fa", ">short\nACGT\n>long\nACGTACGTAC\n>edge\nACGTA\n")
    assert list(parse(path, min_length=5)) == ["long", "edge"]


def _bgzip(src, dst):
    pysam.tabix_compress(str(src), str(dst), force=True)


COMPRESSORS = {
    "gzip": lambda data, dst: dst.write_bytes(gzip.compress(data)),
    "gzip-multimember": lambda data, dst: dst.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:])),
    "xz": lambda data, dst: dst.write_bytes(lzma.compress(data)),
    "bz2": lambda data, dst: dst.write_bytes(bz2.compress(data)),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS) + ["bgzip"])
def test_compression_detected_by_content(real_fastas, tmp_path, kind):
    src = real_fastas[1]
    dst = tmp_path / "misleading_name.txt"
    if kind == "bgzip":
        _bgzip(src, dst)
    else:
        COMPRESSORS[kind](src.read_bytes(), dst)
    assert detect_format(dst) == "fasta"
    assert_same(parse(dst), naive_parse(src.read_text()))


@pytest.mark.parametrize("kind", ["gzip", "xz", "bz2"])
def test_truncated_compressed_file_is_an_input_error(real_fastas, tmp_path, kind):
    whole = tmp_path / "whole"
    COMPRESSORS[kind](real_fastas[0].read_bytes(), whole)
    cut = tmp_path / "cut.fa"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    with pytest.raises(InputError, match="truncated") as err:
        parse(cut)
    assert str(cut) in str(err.value)


def test_sha256_matches_the_file(real_fastas, tmp_path):
    import hashlib
    from genomamba.io import Source
    dst = tmp_path / "x.fa.gz"
    dst.write_bytes(gzip.compress(real_fastas[0].read_bytes()))
    with Source(dst) as source:
        for rec in source.records():
            list(rec.chunks())
        assert source.sha256() == hashlib.sha256(dst.read_bytes()).hexdigest()
