"""The CPU fast path's benchmarks (benchmarks/cpu_kernels_ab.py, benchmarks/cpu_bound.py) on a short
record: the side-by-side script swaps the model's kernel module and puts it back, and finds no
difference between a module and a copy of itself; the bound's stages add up to the stream's time."""

import shutil
import sys
from pathlib import Path

import pytest

from genomamba.kernels import cpu_inference
from genomamba.models import mamba

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import cpu_bound  # noqa: E402
import cpu_kernels_ab  # noqa: E402

pytestmark = pytest.mark.skipif(not cpu_inference.available(), reason="numba is not installed")


def table(out: str, first: str) -> list[list[str]]:
    """The tab-separated rows after the header that starts with ``first``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows.append(line.split("\t"))
    return rows


def test_side_by_side_of_a_module_and_its_copy(tmp_path, capsys):
    copy = tmp_path / "cpu_inference_copy.py"
    shutil.copy(Path(cpu_inference.__file__), copy)
    assert cpu_kernels_ab.main(["--old", str(copy), "--models", "default", "--rounds", "1",
                                "--length", "3000", "--chunk", "700", "--threads", "1"]) == 0
    rows = table(capsys.readouterr().out, "model\t")
    assert [row[0] for row in rows] == ["default"]
    row = rows[0]
    assert row[1] == "3000"
    assert float(row[-2]) == 0.0                      # the same kernels: the same probabilities
    assert all(float(value) > 0 for value in row[2:4] + row[8:10])   # both ran, both scanned
    assert mamba.cpu_inference is cpu_inference       # the model's module is put back
    assert not isinstance(cpu_inference.scan_into, cpu_kernels_ab.ScanTimer)


def test_bound_stages_add_up(capsys):
    assert cpu_bound.main(["--model", "default", "--threads", "1", "--length", "8192", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    stages = {row[0]: float(row[1]) for row in table(out, "stage\t")}
    assert set(stages) == {"products", "scan", "conv", "rest", "total"}
    assert stages["products"] > 0 and stages["scan"] > 0 and stages["conv"] > 0
    assert sum(stages[s] for s in ("products", "scan", "conv", "rest")) == pytest.approx(stages["total"], abs=2e-3)
    products = table(out, "product\t")
    assert [row[0] for row in products] == ["in_proj", "x_proj", "out_proj"]
    assert "at most" in out.splitlines()[-1]
