"""The HTML report: one file, no external references, every section, the provenance hashes."""

import re

import pytest
import zarr

from genomamba.cli import main
from genomamba.evaluate import evaluate, write_metrics
from genomamba.split import Split, SplitRow

EC, SA, VC = "Escherichia coli", "Staphylococcus aureus", "Vibrio cholerae"
HEADER = "file\trecord\tlength\tcall\tconfidence\tp_Escherichia_coli\tp_Staphylococcus_aureus\n"
SHA = "ab" * 32


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def run_dir(tmp_path):
    stores = tmp_path / "stores"
    split = Split([SplitRow("ec_a", EC, "K12", "train", str(stores / "ec_a.zarr")),
                   SplitRow("sa_a", SA, "COL", "train", str(stores / "sa_a.zarr")),
                   SplitRow("ec_b", EC, "DH1", "test", str(stores / "ec_b.zarr")),
                   SplitRow("vc_b", VC, "N16961", "test", str(stores / "vc_b.zarr"))])
    split.write(tmp_path / "split.tsv")
    for row in split.rows[:3]:  # vc_b has no store: reported, not fatal
        group = zarr.open_group(row.store, mode="w")
        group.attrs.update({"species": row.species, "strain": row.strain,
                            "sources": [{"path": f"genomes/{row.strain}.fa.gz", "sha256": SHA}]})
    calls = {"mamba": {"ec_a": (EC, 0.97), "sa_a": (SA, 0.91), "ec_b": (EC, 0.88),
                       "vc_b": ("unclassified", 0.4)},
             "kmer": {"ec_a": (EC, 0.9), "sa_a": (SA, 0.8), "ec_b": (SA, 0.7), "vc_b": (EC, 0.75)}}
    metrics = []
    for model, per_sample in calls.items():
        folder = tmp_path / ("calls" if model == "mamba" else f"compare/{model}")
        paths = []
        for sample, (call, conf) in per_sample.items():
            p_ec = conf if call == EC else 1 - conf
            paths.append(_write(folder / f"{sample}.tsv", [
                (f"{sample}.fa", "*", 2000, call, conf, p_ec, 1 - p_ec),
                (f"{sample}.fa", "contig<1>", 2000, call, conf, p_ec, 1 - p_ec)]))
        metrics.append(tmp_path / "metrics" / f"{model}.json")
        write_metrics(evaluate(split, paths, model=model), metrics[-1])
    config = tmp_path / "config.yaml"
    config.write_text("seed: 1\nmodels: [mamba, kmer]\nnote: '<b>escaped</b>'\n")
    return tmp_path, metrics, config


def _report(tmp_path, metrics, config, *extra):
    out = tmp_path / "report.html"
    calls = sorted(map(str, tmp_path.glob("calls/*.tsv")))
    calls += sorted(map(str, tmp_path.glob("compare/*/*.tsv")))
    rc = main(["report", "--split", str(tmp_path / "split.tsv"), "--metrics", *map(str, metrics),
               "--calls", *calls, "--config", str(config), "--provenance", str(tmp_path / "split.tsv"),
               "-o", str(out), *extra])
    return rc, out


def test_report_is_self_contained_with_all_sections(run_dir):
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config)
    assert rc == 0
    page = out.read_text()
    assert [p.name for p in tmp_path.glob("report.html*")] == ["report.html"]
    # nothing external: no src= at all, no <link>, and every href is an anchor in the page
    assert "src=" not in page and "<link" not in page and "url(http" not in page
    assert set(re.findall(r"https?://[^\"' ]*", page)) <= {"http://www.w3.org/2000/svg",
                                                            "http://www.w3.org/1999/xlink"}
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    for section in ("summary", "calls", "accuracy", "confusion", "calibration", "config", "software",
                    "provenance"):
        assert f'<section id="{section}">' in page
    assert "<svg" in page  # the reliability diagram, inline
    assert page.count(SHA) == 3 and "genomes/DH1.fa.gz" in page and "cannot open store" in page
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page and "<b>escaped</b>" not in page
    assert "contig&lt;1&gt;" in page  # record names are escaped too
    assert "torch" in page and "snakemake" in page


def test_summary_and_calls_reflect_the_metrics(run_dir):
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config)
    page = out.read_text()
    summary = page[page.index('<section id="summary">'):page.index('<section id="calls">')]
    # primary = first metrics file (mamba): both test assemblies right, 1 of 4 files unclassified
    assert "Primary model: <b>mamba</b>" in summary
    assert "Test assembly accuracy <b>1.000</b> (2 of 2)" in summary
    assert "<b>1</b> is unclassified" in summary
    calls = page[page.index('<section id="calls">'):page.index('<section id="accuracy">')]
    # kmer called the E. coli test sample S. aureus: marked wrong; mamba's rejection of Vibrio is right
    assert re.search(r'<td class="bad">Staphylococcus aureus <span class="muted">0\.70', calls)
    assert re.search(r'<td class="ok">unclassified <span class="muted">0\.40', calls)
    assert calls.count("<details>") == 2 + 8  # per model, then per sample within it
    assert calls.index("<th>mamba</th>") < calls.index("<th>kmer</th>")  # primary first


def test_primary_can_be_chosen_and_bad_config_writes_nothing(run_dir, capsys):
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config, "--primary", "kmer")
    assert rc == 0 and "Primary model: <b>kmer</b>" in out.read_text()
    out.unlink()
    config.write_text("seed: [1\n")
    rc, out = _report(tmp_path, metrics, config)
    assert rc == 2 and "config" in capsys.readouterr().err and not out.exists()
    config.write_text("seed: 1\n")
    _write(tmp_path / "calls" / "stranger.tsv", [("s.fa", "*", 10, EC, 0.9, 0.9, 0.1)])
    rc, out = _report(tmp_path, metrics, config)
    assert rc == 2 and "stranger" in capsys.readouterr().err and not out.exists()


def test_calls_files_without_metrics_are_assigned_by_folder(tmp_path):
    from genomamba.report import assign_calls_to_models

    paths = [tmp_path / "calls" / "s1.tsv", tmp_path / "compare" / "kmer" / "s1.tsv"]
    assert assign_calls_to_models(paths, [], primary="mamba") == {
        "mamba": {"s1": paths[0]}, "kmer": {"s1": paths[1]}}


def test_provenance_from_a_tokenized_store(tmp_path):
    import hashlib

    from genomamba.report import provenance_rows, store_paths

    fasta = tmp_path / "tiny.fa"
    fasta.write_text(">r1\nACGTACGTNNACGT\n>r2\nGGGCCCAAATTT\n")
    store = tmp_path / "stores" / "tiny.zarr"
    assert main(["tokenize", str(fasta), "-o", str(store), "--species", EC, "--strain", "T1",
                 "--no-progress"]) == 0
    rows = provenance_rows(store_paths(tmp_path / "stores", {}))
    assert len(rows) == 1 and rows[0]["sample"] == "tiny" and rows[0]["species"] == EC
    assert rows[0]["sha256"] == hashlib.sha256(fasta.read_bytes()).hexdigest()
    assert rows[0]["file"].endswith("tiny.fa")


def test_metrics_of_one_model_merge():
    from genomamba.report import merge_metrics

    def doc(levels):
        return {"model": "m", "calls": {}, "splits": {"test": {"levels": [
            {"level": lv, "fragment_length": n, "accuracy": 0.5} for lv, n in levels]}}}

    merged = merge_metrics([doc([("assembly", None)]), doc([("assembly", None), ("fragment", 2000)]),
                            doc([("fragment", 10000)])])
    assert len(merged) == 1 and merged[0]["splits"]["test"]["levels"][0]["accuracy"] == 0.5
    assert [(lv["level"], lv["fragment_length"]) for lv in merged[0]["splits"]["test"]["levels"]] == [
        ("assembly", None), ("fragment", 2000), ("fragment", 10000)]


def test_fragment_metrics_add_a_length_plot(run_dir):
    import json

    tmp_path, metrics, config = run_dir
    frag = json.loads(metrics[0].read_text())
    level = dict(frag["splits"]["test"]["levels"][0], level="fragment", fragment_length=2000)
    frag["splits"]["test"]["levels"] = [level]
    extra = tmp_path / "metrics" / "fragments_2000.json"
    extra.write_text(json.dumps(frag))
    rc, out = _report(tmp_path, [*metrics, extra], config)
    page = out.read_text()
    assert rc == 0 and page.count("<svg") == 2 and "fragments 2000 bp" in page
    assert page.count("Primary model") == 1
