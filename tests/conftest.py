"""Shared fixtures: the small real slices in tests/data and a FASTA writer for hand-made cases."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


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
