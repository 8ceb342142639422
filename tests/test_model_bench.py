"""`genomamba bench model` runs at tiny sizes on CPU and writes its table."""

import csv

import torch

from genomamba.bench import model as bench


def test_bench_model_runs_small_and_writes_tsv(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rc = bench.main(["--quick", "--device", "cpu", "--length", "256", "--reference-length", "64",
                         "--batch", "2", "--stream-lengths", "4096", "16384", "--stream-chunk", "1024",
                         "--transformer-max", "2048", "--repeats", "1", "--tsv", str(tmp_path / "b.tsv")])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "b.tsv"), delimiter="\t"))
    keys = {(r["section"], r["backend"], r["metric"]) for r in rows}
    assert {("throughput", "blocked", "forward"), ("throughput", "reference", "forward+backward"),
            ("stream", "auto", "peak_memory"), ("transformer", "sdpa", "forward_s")} <= keys
    assert all(float(r["value"]) > 0 for r in rows if r["metric"] in ("forward", "tokens_per_s"))
    assert [r["length"] for r in rows if r["section"] == "transformer" and r["metric"] == "forward_s"] == ["1024", "2048"]
    assert "tokens/s" in capsys.readouterr().out
