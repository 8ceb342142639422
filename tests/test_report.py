"""The HTML report: one file, no external references, every section, the provenance hashes."""

import re
from html.parser import HTMLParser

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
    assert "Test assembly: accuracy <b>1.000</b>" in summary
    assert "<b>1</b> is unclassified" in summary
    calls = page[page.index('<section id="calls">'):page.index('<section id="accuracy">')]
    # kmer called the E. coli test sample S. aureus: marked wrong; mamba's rejection of Vibrio is right
    assert re.search(r'<td class="bad">Staphylococcus aureus <span class="muted">conf 0\.70', calls)
    assert re.search(r'<td class="ok">unclassified <span class="muted">conf 0\.40</span> <span '
                     r'class="muted">\(top: <i>Escherichia coli</i>, p 0\.60\)', calls)
    assert calls.count("<details>") == 2 + 8  # per model, then per sample within it
    assert calls.index(">mamba</th>") < calls.index(">kmer</th>")  # primary first


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


# ---- the page as a browser and a reader see it -----------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Well-formedness (every element closed in order), and what the tests ask about the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tables, self.headers, self.untitled = [], [], 0, 0, []
        self.ids = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "table":
            self.tables += 1
            if "data" not in (attrs.get("class") or "").split():
                self.errors.append("table without class data")
        if tag == "th":
            self.headers += 1
            if not attrs.get("title"):
                self.untitled.append(self.getpos())
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if "id" in dict(attrs):
            self.ids.append(dict(attrs)["id"])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1:]}")
            return
        self.stack.pop()


def _check_page(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker


def test_report_parses_has_no_external_url_and_defines_every_header(run_dir):
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config)
    page = out.read_text()
    checker = _check_page(page)
    assert rc == 0 and not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert len(checker.ids) == len(set(checker.ids))  # anchors and inline SVG ids never clash
    assert checker.tables >= 5 and checker.headers > 20 and not checker.untitled
    # no network: no URL but the SVG namespaces, no src/link; the script is inline
    assert set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\"' <]*", page)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "//www.w3.org/2000/svg",
        "//www.w3.org/1999/xlink"}
    assert "src=" not in page and "<link" not in page and "@import" not in page
    assert page.count("<script>") == 1 and 'data-ready' in page
    nav = page[page.index('<nav class="toc"'):page.index("</nav>")]
    assert all(f'href="#{anchor}"' in nav for anchor in ("summary", "calibration", "skipped", "run",
                                                          "definitions"))


def test_rates_carry_intervals_and_counts(run_dir):
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config)
    page = out.read_text()
    summary = page[page.index('<section id="summary">'):page.index('<section id="calls">')]
    # mamba: both test assemblies right (E. coli called, Vibrio rejected): Wilson 0.34-1.00 of 2
    assert "Test assembly: accuracy <b>1.000</b> (95% CI 0.34&ndash;1.00; 2 of 2)" in summary
    assert "out-of-distribution rejected <b>1.000</b> (95% CI 0.21&ndash;1.00; 1 of 1)" in summary
    assert "chance accuracy 0.50" in summary
    # kmer called the one in-distribution test assembly wrong: 0 of 2 right, the interval shown
    assert re.search(r'data-v="0\.000000"[^>]*>0\.000 <span class="ci">\[0\.00, 0\.66\]</span> '
                     r'<span class="n">0/2</span>', summary)
    # records of a genome are not independent: their intervals come from a bootstrap over genomes
    accuracy = page[page.index('<section id="accuracy">'):page.index('<section id="confusion">')]
    assert "bootstrap over 2 genomes" in accuracy or "Wilson" in accuracy


def test_provenance_block_and_what_was_left_out(run_dir):
    import hashlib

    from genomamba.figures import draw_all

    tmp_path, metrics, config = run_dir
    config.write_text("seed: 3\nmodels:\n  mamba: {kind: mamba}\n  kmer: {kind: kmer}\n"
                      "  transformer: {kind: transformer, enabled: false}\n")
    bench = tmp_path / "bench.tsv"
    bench.write_text("# measured on one NVIDIA H100 80GB HBM3, bf16, 2026-11-23\n"
                     "model\tlength\tseconds\tbatch\tpeak_mem_bytes\n"
                     "mamba\t1024\t0.01\t1\t1000000\n"
                     "# compiled inside the timing:\n# mamba\t2048\t0.5\t1\t1000000\n"
                     "mamba\t4096\t0.04\t1\t2000000\ntransformer\t1024\t0.01\t1\t9000000\n")
    figures = tmp_path / "figures"
    draw_all(figures, metrics, [bench], (), log=lambda m: None,
             config={"seed": 3, "models": {"transformer": {"kind": "transformer", "enabled": False}}})
    rc, out = _report(tmp_path, metrics, config, "--figures", str(figures))
    page = out.read_text()
    assert rc == 0
    run = page[page.index('<section id="run">'):page.index('<section id="config">')]
    assert hashlib.sha256(config.read_bytes()).hexdigest() in run
    assert "genomamba report --split" in run and "--figures" in run
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", run) and "git commit" in run
    assert "3 (the config&#x27;s seed)" in run or "3 (the config's seed)" in run
    figs = page[page.index('<section id="figures">'):page.index('<section id="skipped">')]
    assert "NVIDIA H100 80GB HBM3" in figs and "dtype bf16" in figs and "measured 2026-11-23" in figs
    assert figs.count("<svg") == 2  # speed and memory; the skipped ones are listed instead
    left = page[page.index('<section id="skipped">'):page.index('<section id="run">')]
    assert "model transformer" in left and "disabled in the config" in left
    assert "mamba at length 2048" in left and "compiled inside the timing" in left
    assert "figure training_curves" in left and "figure accuracy_vs_context" in left
    assert not _check_page(page).untitled


def test_calibration_scores_the_call_not_the_top_species(tmp_path):
    """An unclassified call of a known species is wrong for the call's calibration, while its top
    species may be right: the two numbers are kept apart."""
    from genomamba.outcomes import calibrations

    rows = [{"in_distribution": True, "species": EC, "call": "unclassified", "confidence": 0.05,
             "top": EC, "top_p": 0.28}] * 3 + [
            {"in_distribution": True, "species": EC, "call": EC, "confidence": 0.95, "top": EC, "top_p": 0.95}]
    cal = calibrations(rows)
    low_call = cal["call"]["bins"][0]
    assert low_call["count"] == 3 and low_call["accuracy"] == 0.0
    low_top = cal["top"]["bins"][2]
    assert low_top["count"] == 3 and low_top["accuracy"] == 1.0
    assert cal["call"]["ece"] == pytest.approx((3 * 0.05 + 0.05) / 4)


def test_page_runs_in_headless_chromium_without_console_errors(run_dir):
    """Where Debian's chromium is installed: the page loads, its script runs to the end, and the
    console shows no error."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    tmp_path, metrics, config = run_dir
    rc, out = _report(tmp_path, metrics, config)
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--window-size=1400,1000", "--dump-dom", out.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-ready="1"' in proc.stdout  # the script ran to its last line
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    assert 'class="tools"' in proc.stdout  # filter box and TSV button added to the tables
