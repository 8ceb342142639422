"""Figures: identical bytes from identical inputs; missing inputs skip a figure with a note."""

import json

import pytest

from genomamba.cli import main
from genomamba.errors import InputError
from genomamba.figures import (draw_all, find_training_logs, read_bench_tsv, read_training_log,
                               training_log_model)


def _metrics(model, accs, context=None):
    levels = [{"level": "assembly", "fragment_length": None, "accuracy": 0.9, "abstention_rate": 0.0}]
    levels += [{"level": "fragment", "fragment_length": n, "accuracy": a, "abstention_rate": 1 - a}
               for n, a in accs.items()]
    doc = {"model": model, "splits": {"test": {"levels": levels}}}
    if context:
        doc["model_config"] = {"kind": "mamba", "params": {"context_length": context}}
    return doc


@pytest.fixture
def inputs(tmp_path):
    metrics = []
    for name, accs, ctx in (("mamba", {100: 0.6, 1000: 0.8, 10000: 0.95}, 1024),
                            ("mamba_long", {100: 0.55, 1000: 0.85}, 8192),
                            ("kmer", {100: 0.5, 1000: 0.7, 10000: 0.9}, None)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_metrics(name, accs, ctx)))
        metrics.append(path)
    bench = tmp_path / "bench.tsv"
    bench.write_text("# model benchmark\nmodel\tlength\tseconds\tbatch\tpeak_mem_bytes\n"
                     "mamba\t1024\t0.010\t4\t1000000\nmamba\t1024\t0.012\t4\t1000000\n"
                     "mamba\t8192\t0.08\t4\t8000000\ntransformer\t1024\t0.008\t4\t4000000\n"
                     "transformer\t8192\t0.2\t4\toom\n")
    log_dir = tmp_path / "models" / "mamba"
    log_dir.mkdir(parents=True)
    log = log_dir / "train_log.jsonl"
    entries = [{"step": s, "loss": 1.5 / s, "val_loss": 1.6 / s, "val_accuracy": s / 10} for s in range(1, 6)]
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return metrics, [bench], [log]


def test_figures_are_byte_stable(tmp_path, inputs):
    runs = []
    for name in ("a", "b"):
        results = draw_all(tmp_path / name, *inputs, log=lambda m: None)
        assert all(not isinstance(r, str) for r in results.values()), results
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert runs[0] == runs[1]
    names = set(runs[0])
    for fig in ("accuracy_vs_length", "accuracy_vs_context", "speed_vs_length", "memory_vs_length",
                "training_curves"):
        assert {f"{fig}.png", f"{fig}.svg", f"{fig}.pdf"} <= names
    assert runs[0]["accuracy_vs_length.png"].startswith(b"\x89PNG")
    assert runs[0]["accuracy_vs_length.pdf"].startswith(b"%PDF")
    assert b"CreationDate" not in runs[0]["speed_vs_length.pdf"]


def test_missing_inputs_skip_with_a_note(tmp_path, inputs, capsys):
    metrics, _, _ = inputs
    out = tmp_path / "figs"
    draw_all(out, *inputs, log=lambda m: None)
    # a later run without benchmarks or logs: those figures are skipped and their old files removed
    assert main(["figures", "--metrics", *map(str, metrics), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped speed_vs_length" in err and "skipped training_curves" in err
    assert not (out / "speed_vs_length.png").exists() and (out / "accuracy_vs_length.svg").exists()
    index = (out / "index.tsv").read_text()
    assert "memory_vs_length\tskipped\t" in index and "accuracy_vs_length\tdrawn\t" in index
    assert main(["figures", "-o", str(tmp_path / "empty")]) == 0
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["index.json", "index.tsv"]


def test_bench_and_log_readers(tmp_path, inputs):
    _, (bench,), (log,) = inputs
    rows = read_bench_tsv(bench)
    assert rows[0]["tokens_per_s"] == pytest.approx(1024 * 4 / 0.010)
    assert rows[-1]["peak_mem_bytes"] is None and rows[-1]["oom"] and not rows[0]["oom"]
    entries = read_training_log(log)
    assert entries[1] == pytest.approx({"step": 2, "loss": 0.75, "val_loss": 0.8, "val_accuracy": 0.2})
    assert training_log_model(log) == "mamba"
    assert find_training_logs(log.parent) == [log] and find_training_logs(tmp_path) == []
    (tmp_path / "config.json").write_text(json.dumps({"kind": "mamba", "history": [{"step": 1, "loss": 2}]}))
    assert find_training_logs(tmp_path) == [tmp_path / "config.json"]
    (tmp_path / "training.json").write_text(json.dumps({"steps": 2}))  # no history: passed over
    assert find_training_logs(tmp_path) == [tmp_path / "config.json"]
    assert find_training_logs(tmp_path / "training.json") == []
    assert find_training_logs(tmp_path / "absent.jsonl") == []
    (tmp_path / "broken.json").write_text('{"history": [')
    with pytest.raises(InputError, match="not JSON"):
        read_training_log(*find_training_logs(tmp_path / "broken.json"))
    # genomamba.train's history, as the checkpoint's training.json keeps it
    (tmp_path / "training.json").write_text(json.dumps({"steps": 2, "history": [
        {"step": 0, "stage": "pretrain", "loss": 1.4}, {"step": 1, "stage": "classify", "loss": 0.9}]}))
    assert find_training_logs(tmp_path) == [tmp_path / "training.json"]
    assert read_training_log(tmp_path / "training.json") == [{"step": 0.0, "pretrain loss": 1.4},
                                                              {"step": 1.0, "classify loss": 0.9}]
    tsv = tmp_path / "log.tsv"
    tsv.write_text("epoch\tloss\tnote\n1\t0.5\tok\n2\t0.25\tok\n")
    assert read_training_log(tsv) == [{"step": 1.0, "loss": 0.5}, {"step": 2.0, "loss": 0.25}]


def test_bad_bench_table_names_file_and_line(tmp_path):
    bad = tmp_path / "b.tsv"
    bad.write_text("model\tseconds\nmamba\t1\n")
    with pytest.raises(InputError, match="lacks column 'length'"):
        read_bench_tsv(bad)
    bad.write_text("model\tlength\tseconds\nmamba\t1024\tfast\n")
    with pytest.raises(InputError, match="not a number") as err:
        read_bench_tsv(bad)
    assert err.value.line == 2 and err.value.record == "mamba"


def test_bench_model_long_table_is_read_as_series(tmp_path):
    """`genomamba bench model --tsv` writes one measurement per row; the figures read it directly."""
    table = tmp_path / "model.tsv"
    table.write_text(
        "section\tmodel\tbackend\tdevice\tbatch\tlength\tmetric\tvalue\tunit\n"
        "throughput\tmamba\ttriton\tcuda\t8\t16384\tforward\t12983078\ttokens/s\n"
        "stream\tmamba\tauto\tcuda\t1\t1048576\tpeak_memory\t1099943936\tbytes\n"
        "stream\tmamba\tauto\tcuda\t1\t1048576\ttokens_per_s\t16000000\ttokens/s\n"
        "transformer\ttransformer\tsdpa\tcuda\t1\t1024\tforward_s\t0.002\ts\n"
        "transformer\ttransformer\tsdpa\tcuda\t1\t1024\tpeak_memory\t75528704\tbytes\n")
    rows = {(r["series"], r["length"]): r for r in read_bench_tsv(table)}
    assert set(rows) == {("mamba (stream)", 1048576), ("transformer", 1024)}
    assert rows["mamba (stream)", 1048576]["tokens_per_s"] == 16000000
    assert rows["mamba (stream)", 1048576]["peak_mem_bytes"] == 1099943936
    assert rows["transformer", 1024]["tokens_per_s"] == 1024 / 0.002


def test_paper_formats_sizes_and_real_text(tmp_path, inputs):
    """Every drawn figure in PNG (300 dpi, one or two columns wide), SVG with text as text, and PDF
    with embedded TrueType fonts; no in-plot titles; legends put the primary model first."""
    from PIL import Image

    metrics, bench, logs = inputs
    results = draw_all(tmp_path, metrics, bench, logs, log=lambda m: None, config={"primary_model": "kmer"})
    for name, files in results.items():
        assert {p.suffix for p in files} == {".png", ".svg", ".pdf"}, name
        png = Image.open(tmp_path / f"{name}.png")
        assert round(png.info["dpi"][0]) == 300 and png.size[0] in (990, 2160), (name, png.size)
        svg = (tmp_path / f"{name}.svg").read_text()
        assert "<text" in svg and "DejaVu Sans" in svg  # text kept as text (svg.fonttype none)
        pdf = (tmp_path / f"{name}.pdf").read_bytes()
        assert b"/FontFile2" in pdf  # TrueType embedded (pdf.fonttype 42)
    svg = (tmp_path / "accuracy_vs_length.svg").read_text()
    assert svg.index(">kmer<") < svg.index(">mamba<")  # the primary model leads the legend
    # no titles: the axis labels are the only words above the data, panel letters mark the panels
    assert ">a<" in svg and ">b<" in svg and "Accuracy by fragment length" not in svg


def test_disabled_models_and_missing_lengths_are_explicit(tmp_path, inputs):
    _, (bench,), _ = inputs
    index = tmp_path / "figs" / "index.json"
    draw_all(tmp_path / "figs", (), [bench], (), log=lambda m: None)
    memory = json.loads(index.read_text())["memory_vs_length"]
    assert memory["marked"] == {"transformer": [{"length": 8192.0, "why": "out of memory"}]}
    assert "out of memory" in (tmp_path / "figs" / "memory_vs_length.svg").read_text()
    draw_all(tmp_path / "figs", (), [bench], (), log=lambda m: None,
             config={"models": {"transformer": {"kind": "transformer", "enabled": False}}})
    memory = json.loads(index.read_text())["memory_vs_length"]
    assert memory["models_not_drawn"] == {"transformer": "model 'transformer' is disabled in the config"}
    assert ">transformer<" not in (tmp_path / "figs" / "memory_vs_length.svg").read_text()


def test_moving_average_keeps_length_and_flattens_noise():
    import numpy as np

    from genomamba.figures import moving_average

    values = np.array([0.0, 2.0] * 20)
    smooth = moving_average(values, 4)
    assert smooth.shape == values.shape and np.all(np.abs(smooth[3:-3] - 1.0) < 0.21)
    assert np.array_equal(moving_average(values, 1), values)
