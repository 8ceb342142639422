"""GenBank/EMBL (written by Biopython) and SAM/BAM/CRAM (written by pysam) readers."""

import gzip

import numpy as np
import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord

from genomamba.alphabet import decode
from genomamba.errors import InputError
from genomamba.io import detect_format, read_records


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


@pytest.mark.parametrize("mode,name,fmt", [("w", "reads.sam", "sam"), ("wb", "reads.bin", "bam"),
                                           ("wc", "reads.cram", "cram")])
def test_alignments(write_alignments, mode, name, fmt):
    genome, path, ref = write_alignments(mode, name)
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


def test_cram_without_reference_is_an_input_error(write_alignments):
    _, path, _ = write_alignments("wc", "reads.cram")
    with pytest.raises(InputError, match="--reference"):
        records_of(path)


def test_read_without_sequence_is_an_input_error(tmp_path):
    path = tmp_path / "x.sam"
    path.write_text("@HD\tVN:1.6\nr1\t4\t*\t0\t0\t*\t*\t0\t0\tACGT\tIIII\nr2\t4\t*\t0\t0\t*\t*\t0\t0\t*\t*\n")
    with pytest.raises(InputError, match=r"r2.*no sequence|no sequence.*") as err:
        records_of(path)
    assert "r2" in str(err.value) and str(path) in str(err.value)
