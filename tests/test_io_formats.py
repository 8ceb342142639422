"""GenBank/EMBL (written by Biopython) and SAM/BAM/CRAM (written by pysam) readers."""

import gzip

import numpy as np
import pysam
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord

from genomamba.alphabet import decode, reverse_complement
from genomamba.errors import InputError
from genomamba.io import detect_format, read_records
from genomamba.io.codes import encode


def records_of(path, **kw):
    return {r.name: decode(np.concatenate([t for t, _ in r.chunks()])).decode()
            for r in read_records(path, **kw)}


def slice_records(real_fastas):
    return [r for r in SeqIO.parse(str(real_fastas[1]), "fasta")]


@pytest.mark.parametrize("fmt", ["genbank", "embl"])
@pytest.mark.parametrize("compress", [False, True])
def test_genbank_and_embl(real_fastas, tmp_path, fmt, compress):
    recs = []
    for i, rec in enumerate(slice_records(real_fastas)):
        recs.append(SeqRecord(Seq(str(rec.seq).lower()), id=f"ACC{i}.1", name=f"LOC{i}",
                              description="slice", annotations={"molecule_type": "DNA"}))
    path = tmp_path / "x.dat"
    SeqIO.write(recs, str(path), fmt)
    if compress:
        path.write_bytes(gzip.compress(path.read_bytes()))
    assert detect_format(path) == fmt
    got = records_of(path)
    assert list(got) == ["ACC0.1", "ACC1.1"]
    for rec, seq in zip(recs, got.values()):
        assert seq == str(rec.seq).upper()
    for rec in read_records(path):  # case in these formats is not soft-masking
        assert not any(m.any() for _, m in rec.chunks())


def _reads(real_fastas):
    """(name, flag, seq as stored, mapq) covering every case the reader must handle."""
    genome = str(next(SeqIO.parse(str(real_fastas[0]), "fasta")).seq)
    rc = lambda s: decode(reverse_complement(encode(s.encode())[0])).decode()
    return genome, [
        ("fwd", 0, genome[100:250], 60),
        ("rev", 16, rc(genome[300:420]), 60),           # stored reverse-complemented
        ("fwd", 256, genome[100:180], 0),                # secondary of 'fwd'
        ("fwd", 2048, genome[180:250], 60),              # supplementary of 'fwd'
        ("unmapped", 4, genome[500:600], 0),
        ("lowq", 0, genome[700:800], 3),
        ("short", 0, genome[900:920], 60),
        ("pair", 1 + 64 + 4 + 8, genome[1000:1100], 0),  # unaligned pair
        ("pair", 1 + 128 + 4 + 8, genome[1200:1300], 0),
    ]


def _write_alignments(real_fastas, tmp_path, mode, name):
    genome, reads = _reads(real_fastas)
    ref = tmp_path / "ref.fa"
    ref.write_text(f">chr\n{genome}\n")
    pysam.faidx(str(ref))
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "chr", "LN": len(genome)}]}
    path = tmp_path / name
    kwargs = {"reference_filename": str(ref)} if mode == "wc" else {}
    with pysam.AlignmentFile(str(path), mode, header=header, **kwargs) as out:
        for i, (qname, flag, seq, mapq) in enumerate(reads):
            a = pysam.AlignedSegment(out.header)
            a.query_name, a.flag, a.query_sequence, a.mapping_quality = qname, flag, seq, mapq
            a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
            if not flag & 4:
                a.reference_id, a.reference_start, a.cigartuples = 0, 100 + i, [(0, len(seq))]
            else:
                a.reference_id, a.reference_start = -1, -1
            out.write(a)
    return genome, path, ref


@pytest.mark.parametrize("mode,name,fmt", [("w", "reads.sam", "sam"), ("wb", "reads.bin", "bam"),
                                           ("wc", "reads.cram", "cram")])
def test_alignments(real_fastas, tmp_path, mode, name, fmt):
    genome, path, ref = _write_alignments(real_fastas, tmp_path, mode, name)
    assert detect_format(path) == fmt
    opts = {"reference": ref} if fmt == "cram" else {}
    got = records_of(path, **opts)
    assert list(got) == ["fwd", "rev", "unmapped", "lowq", "short", "pair/1", "pair/2"]
    assert got["fwd"] == genome[100:250]
    assert got["rev"] == genome[300:420]  # restored to sequenced orientation
    assert got["pair/2"] == genome[1200:1300]

    assert list(records_of(path, min_length=50, **opts)) == ["fwd", "rev", "unmapped", "lowq", "pair/1", "pair/2"]
    assert list(records_of(path, min_mapq=10, **opts)) == ["fwd", "rev", "short"]
    both = records_of(path, include_secondary=True, **opts)
    assert both["fwd:secondary1"] == genome[100:180] and both["fwd:supplementary1"] == genome[180:250]


def test_cram_without_reference_is_an_input_error(real_fastas, tmp_path):
    _, path, _ = _write_alignments(real_fastas, tmp_path, "wc", "reads.cram")
    with pytest.raises(InputError, match="--reference"):
        records_of(path)


def test_read_without_sequence_is_an_input_error(tmp_path):
    path = tmp_path / "x.sam"
    path.write_text("@HD\tVN:1.6\nr1\t4\t*\t0\t0\t*\t*\t0\t0\tACGT\tIIII\nr2\t4\t*\t0\t0\t*\t*\t0\t0\t*\t*\n")
    with pytest.raises(InputError, match=r"r2.*no sequence|no sequence.*") as err:
        records_of(path)
    assert "r2" in str(err.value) and str(path) in str(err.value)
