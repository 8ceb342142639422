"""Shared fixtures: one torch thread, the small real slices in tests/data, a FASTA writer."""

from pathlib import Path

import pysam
import pytest
import torch
from Bio import SeqIO

from genomamba.alphabet import decode, reverse_complement
from genomamba.io.codes import encode

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is fastest and immune to OpenMP spinning on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def real_fastas() -> list[Path]:
    """Real genome slices: E. coli (1 record), V. cholerae (2 records), soft-masked human chr22."""
    return [DATA / "ecoli_DH1_slice.fa", DATA / "vcholerae_O395_2rec_slice.fa",
            DATA / "hsap_chr22_softmasked_slice.fa"]


@pytest.fixture
def write_file(tmp_path):
    """write_file(name, content bytes|str) -> path under tmp_path."""
    def write(name, content):
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path
    return write


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
    """SAM/BAM/CRAM (pysam mode w/wb/wc) of _reads() against the E. coli slice; (genome, path, reference)."""
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


@pytest.fixture
def write_alignments(real_fastas, tmp_path):
    """write_alignments(pysam_mode, file_name) -> (genome text, path, reference FASTA)."""
    return lambda mode, name: _write_alignments(real_fastas, tmp_path, mode, name)
