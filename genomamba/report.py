"""The HTML report: one self-contained page (inline CSS, script and SVG; no network).

Sections: summary, calls (per-assembly calls of every sample and model; per-record tables
collapsed), accuracy per model and level, confusion matrices, calibration (reliability diagrams and
ECE), the paper figures, what was left out and why, the run (date, git commit, command line, config
hash, benchmark provenance), the configuration, software versions, data provenance (input files and
their sha256) and the definitions of every metric.

Every rate comes with n and a 95% interval (``genomamba.outcomes``: Wilson for assemblies,
bootstrap over genomes for records and fragments, seeded by the config's ``seed``). Every table
header carries its definition as a tooltip (``GLOSSARY``); with the inline script
(``genomamba.report_assets``) tables sort, filter and download as TSV, and read fully without it.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import json
import os
import platform
import subprocess
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from . import __version__
from .atomic import atomic_open
from .errors import InputError, read_input_text
from .calls import UNCLASSIFIED, read_calls
from .evaluate import expected_call, read_metrics, split_truth
from .figures import accuracy_vs_length, disabled_models
from .outcomes import Rate, calibrations, model_outcomes, rates
from .plots import figure, panel_letters, svg_element, svg_inline
from .report_assets import CSS, SCRIPT
from .report_track import contamination_section
from .stats import wilson
from .style import CHANCE_COLOUR, legend_order, model_styles

SOFTWARE = ("genomamba", "torch", "triton", "zarr", "numcodecs", "snakemake", "scikit-learn",
            "sourmash", "numpy", "pysam", "biopython", "matplotlib")
MAX_RECORD_ROWS = 300  # per collapsed table; the calls file has the rest
RATE_KEYS = ("accuracy", "abstention_rate", "selective_accuracy", "ood_rejection_rate")

# Every column header of the report's tables, defined; shown as the header's tooltip and listed
# in the Definitions section.
GLOSSARY = {
    "model": "The classifier (its name in the config); the primary model is listed first.",
    "sample": "One input assembly (a row of the sample sheet).",
    "species": "The true species of the sample, from the sample sheet.",
    "strain": "The strain; a strain is never in two splits.",
    "split": "train, validation or test: where the sample was used (split.tsv).",
    "level": "What one row is: an assembly (the whole input file, record *), a record (a contig or "
             "chromosome), or fragments of a fixed length cut from the records.",
    "n": "Rows scored at this level (assemblies, records or fragments).",
    "accuracy": "Share of rows whose call is right: the true species, or unclassified for a species the "
                "model was not trained on (out of distribution). 95% interval in brackets, then right/n.",
    "macro-F1": "Mean over labels (species and unclassified) of F1 = 2TP / (2TP + FP + FN).",
    "bases right": "Accuracy weighted by length: the share of bases in rows called right.",
    "unclassified": "Share of in-distribution rows (species the model knows) called unclassified: the "
                    "model abstained. 95% interval, then count/n.",
    "accuracy when called": "Accuracy over the in-distribution rows the model did not abstain on.",
    "OOD rejected": "Out-of-distribution rejection: share of rows of species the model was not trained "
                    "on that it called unclassified (right). 95% interval, then count/n.",
    "ECE (call)": "Expected calibration error of the call: the confidence column against whether the "
                  "call is right (an unclassified call of a known species is wrong), in ten bins, "
                  "sum of |accuracy - mean confidence| weighted by the rows in each bin.",
    "ECE (top p)": "Expected calibration error of the highest species probability against whether "
                   "that species is right (the probabilities before the threshold).",
    "rows": "In-distribution test rows the calibration is scored on.",
    "chance": "Accuracy of a uniform random guess among the model's species (1 / number of species).",
    "interval": "How the 95% intervals were made: Wilson for assemblies (independent); bootstrap over "
                "genomes for records and fragments (rows of one genome share its answer).",
    "confidence": "The calls table's confidence column: the model's confidence in its top species "
                  "(the call is unclassified below the model's threshold, or at 0).",
    "top p": "The highest species probability of the row, whatever the call.",
    "file": "The input file of the record.",
    "record": "The record (contig) name; * is the whole file.",
    "length": "Bases in the record.",
    "call": "The model's call: a species, or unclassified.",
    "true \\ called": "Rows: the true species; columns: the calls. Cells are counts, shaded by their "
                      "share of the row.",
    "package": "A Python package the pipeline uses.",
    "version": "Its installed version.",
    "input file": "A file a store was tokenized from.",
    "sha256": "The input file's SHA-256, recorded when it was tokenized.",
    "figure": "A paper figure (genomamba figures).",
    "what": "What was left out.",
    "why": "Why it was left out.",
    "item": "A fact about this run.",
    "value": "Its value.",
    "bin": "Confidence bin.",
}




# ---- inputs ----------------------------------------------------------------------------------

def assign_calls_to_models(calls_paths, metrics: list[dict], primary: str) -> dict[str, dict[str, Path]]:
    """model -> sample -> calls file. A file listed in a metrics document belongs to that model;
    otherwise ``compare/{model}/{sample}.tsv`` names the model and anything else is the primary's."""
    listed = {}
    for doc in metrics:
        for sample, path in doc.get("calls", {}).items():
            listed[Path(path).resolve()] = (doc["model"], sample)
    out = defaultdict(dict)
    for path in map(Path, calls_paths):
        model, sample = listed.get(path.resolve(), (None, path.name.removesuffix(".tsv")))
        if model is None:
            model = path.parent.name if path.parent.parent.name == "compare" else primary
        out[model][sample] = path
    return dict(out)


def merge_metrics(docs: list[dict]) -> list[dict]:
    """One document per model: later documents of a model (e.g. one per fragment length) add the
    levels the first lacks; its calls files stay the first's."""
    merged = {}
    for doc in docs:
        base = merged.setdefault(doc["model"], doc)
        if base is doc:
            continue
        for split_name, part in doc["splits"].items():
            target = base["splits"].setdefault(split_name, {**part, "levels": []})
            have = {(lv["level"], lv["fragment_length"]) for lv in target["levels"]}
            target["levels"] += [lv for lv in part["levels"]
                                 if (lv["level"], lv["fragment_length"]) not in have]
    return list(merged.values())


def read_config_text(path) -> str:
    """The config file's text, checked to parse as YAML (JSON is YAML too)."""
    import yaml

    path = Path(path)
    text = read_input_text(path, "config")
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"config is neither YAML nor JSON: {exc}", path,
                         line=mark.line + 1 if mark else None) from None
    return text


def read_config(path) -> dict:
    """The config file parsed (see ``read_config_text``); not a mapping is an error naming the file."""
    import yaml

    doc = yaml.safe_load(read_config_text(path))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError("config is not a mapping of keys to values", path)
    return doc


def software_versions() -> list[tuple[str, str]]:
    versions = [("python", platform.python_version())]
    for name in SOFTWARE:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return versions


def _store_attrs(path: Path) -> dict:
    """A store's attributes via genomamba.store (checked); a zarr group that is no sequence store,
    from zarr directly. A damaged sequence store raises its InputError."""
    from .errors import InputError
    from .store import FORMAT, SequenceStore

    try:
        return dict(SequenceStore.open(path).attrs)
    except InputError as error:
        import zarr

        try:
            attrs = dict(zarr.open_group(str(path), mode="r").attrs)
        except Exception:
            raise error from None
        if attrs.get("format") == FORMAT:
            raise
        return attrs


def store_paths(provenance, truth: dict) -> dict[str, Path]:
    """sample -> store: ``provenance`` is a folder of ``{sample}.zarr`` or a split.tsv (its store column)."""
    provenance = Path(provenance)
    if provenance.is_dir():
        return {p.name.removesuffix(".zarr"): p for p in sorted(provenance.glob("*.zarr"))}
    return {sample: Path(t["store"]) for sample, t in truth.items() if t.get("store")}


def provenance_rows(stores: dict[str, Path]) -> list[dict]:
    """One row per source file of each store: sample, species, strain, file, sha256 (or a note)."""
    rows = []
    for sample, path in sorted(stores.items()):
        try:
            attrs = _store_attrs(path)
        except Exception as exc:  # a missing or unreadable store is reported, not fatal
            rows.append({"sample": sample, "store": str(path), "file": "", "sha256": "",
                         "note": f"cannot open store: {type(exc).__name__}: {exc}"})
            continue
        sources = attrs.get("sources") or []
        if isinstance(sources, (str, dict)):
            sources = [sources]
        if not sources:
            rows.append({"sample": sample, "store": str(path), "file": "", "sha256": "",
                         "note": "store has no 'sources' attribute"})
        for src in sources:
            src = src if isinstance(src, dict) else {"path": src}
            rows.append({"sample": sample, "store": str(path), "species": attrs.get("species", ""),
                         "strain": attrs.get("strain", ""),
                         "file": src.get("path") or src.get("file") or src.get("name") or "",
                         "sha256": src.get("sha256", ""), "note": ""})
    return rows


# ---- cells and tables ------------------------------------------------------------------------

def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value, spec="{:.3f}") -> str:
    if value is None:
        return "&ndash;"
    return _e(spec.format(value))


def _th(item) -> str:
    """A header cell with its definition as tooltip: ``item`` is a GLOSSARY name or (label, tooltip)."""
    label, tip = item if isinstance(item, tuple) else (item, GLOSSARY[item])
    return f'<th scope="col" title="{_e(tip)}">{_e(label)}</th>'


def _table(header, rows, name="table") -> str:
    """A data table (sortable, filterable and downloadable with the page's script). Headers are
    GLOSSARY names or (label, tooltip); cells are escaped HTML, or (html, attributes)."""
    out = [f'<div class="scroll"><table class="data" data-name="{_e(name)}"><thead><tr>',
           *map(_th, header), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f"<td {c[1]}>{c[0]}</td>" if isinstance(c, tuple) else f"<td>{c}</td>" for c in row)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _rate_cell(rate, fallback=None):
    """A rate with its 95% interval and k/n; sorts by the rate; the method in the tooltip. Without
    rows (``rate`` None) the metrics' value ``fallback`` alone."""
    if rate is None or rate.value is None:
        return (_fmt(fallback), f'class="num" data-v="{fallback if fallback is not None else ""}"')
    ci = (f' <span class="ci">[{rate.low:.2f}, {rate.high:.2f}]</span>' if rate.low is not None else "")
    tsv = f"{rate.value:.3f} [{rate.low:.3f}, {rate.high:.3f}] {rate.k}/{rate.n}" if rate.low is not None \
        else f"{rate.value:.3f} {rate.k}/{rate.n}"
    return (f'{rate.value:.3f}{ci} <span class="n">{rate.k}/{rate.n}</span>',
            f'class="num" data-v="{rate.value:.6f}" data-tsv="{_e(tsv)}" title="95% interval: {_e(rate.method)}"')


def _rate_text(rate) -> str:
    """'0.800 (95% CI 0.38-0.96; 4 of 5)' for running text."""
    if rate is None or rate.value is None:
        return "&ndash;"
    ci = f"95% CI {rate.low:.2f}&ndash;{rate.high:.2f}; " if rate.low is not None else ""
    return f"<b>{rate.value:.3f}</b> ({ci}{rate.k} of {rate.n})"


def _level_name(level: dict) -> str:
    return f"fragments {level['fragment_length']} bp" if level["level"] == "fragment" else level["level"]


def _swatch(model, styles) -> str:
    style = styles.get(model)
    dot = f'<span class="swatch" style="background:{style.colour}"></span>' if style else ""
    return f"{dot}{_e(model)}"


class Results:
    """What the sections share: metrics per model (primary first), the rows behind them, the seed
    for the bootstrap, the model styles."""

    def __init__(self, metrics, outcomes, seed, primary, notes):
        self.metrics, self.outcomes, self.seed, self.primary = metrics, outcomes, seed, primary
        self.notes = notes
        kinds = {d["model"]: (d.get("model_config") or {}).get("kind") for d in metrics}
        self.kinds = {m: k for m, k in kinds.items() if k}
        self.styles = model_styles([d["model"] for d in metrics], self.kinds)

    def rows(self, model, split, level):
        return self.outcomes.get(model, {}).get(split, {}).get((level["level"], level.get("fragment_length")))

    def rates(self, model, split, level) -> dict:
        rows = self.rows(model, split, level)
        return rates(rows, self.seed) if rows else {}

    def calibration(self, model, split, level):
        rows = self.rows(model, split, level)
        return calibrations(rows) if rows else None


def _find_level(doc, split, level, length=None):
    return next((lv for lv in doc["splits"].get(split, {}).get("levels", [])
                 if lv["level"] == level and lv.get("fragment_length") == length), None)


def _fragment_lengths(metrics, split="test"):
    return sorted({lv["fragment_length"] for d in metrics for lv in d["splits"].get(split, {}).get("levels", [])
                   if lv["level"] == "fragment"})


# ---- sections --------------------------------------------------------------------------------

def summary_section(res: Results, assembly_calls) -> str:
    primary, metrics = res.primary, res.metrics
    doc = next((d for d in metrics if d["model"] == primary), None)
    parts = [f"<p>Primary model: <b>{_e(primary)}</b>."]
    lengths = _fragment_lengths(metrics)
    if doc is not None:
        test = doc["splits"].get("test", {})
        n_test, n_ood = len(test.get("samples", [])), len(test.get("ood_samples", []))
        species = doc.get("species", [])
        parts.append(f" Trained on {len(species)} species ({_e(', '.join(species))}; chance accuracy "
                     f"{1 / max(len(species), 1):.2f}); the test split has {n_test} samples of unseen "
                     f"strains, {n_ood} of them of species not trained on.")
        for key in [("assembly", None), ("record", None), *(("fragment", n) for n in lengths)]:
            lv = _find_level(doc, "test", *key)
            if not lv or not lv["n"]:
                continue
            r = res.rates(primary, "test", lv)
            acc = r.get("accuracy")
            parts.append(f" Test {_e(_level_name(lv))}: accuracy "
                         + (_rate_text(acc) if acc else f"<b>{_fmt(lv['accuracy'])}</b> (n {lv['n']})"))
            if lv.get("n_ood"):
                ood = r.get("ood_rejection_rate")
                parts.append(", out-of-distribution rejected "
                             + (_rate_text(ood) if ood else _fmt(lv["ood_rejection_rate"])))
            parts.append(".")
    calls = [c for (model, _), rows in assembly_calls.items() if model == primary for c in rows]
    if calls:
        n_unc = sum(c["call"] == UNCLASSIFIED for c in calls)
        parts.append(f" Of the {len(calls)} input files it called (all splits), <b>{n_unc}</b> "
                     f"{'is' if n_unc == 1 else 'are'} unclassified.")
    parts.append("</p>")
    header = ["model", ("assembly accuracy", GLOSSARY["accuracy"] + " Level: assemblies."),
              ("record accuracy", GLOSSARY["accuracy"] + " Level: records; bootstrap over genomes.")]
    header += [(f"fragment {n} bp accuracy", GLOSSARY["accuracy"] + f" Level: {n} bp fragments; "
                "bootstrap over genomes.") for n in lengths]
    header += [("assemblies unclassified", GLOSSARY["unclassified"] + " Level: assemblies."),
               ("OOD rejected (assemblies)", GLOSSARY["OOD rejected"] + " Level: assemblies.")]
    header += [(f"OOD rejected ({n} bp fragments)", GLOSSARY["OOD rejected"] + f" Level: {n} bp "
                "fragments; the fragments of one genome are not independent.") for n in lengths]
    header += [("ECE (call, records)", GLOSSARY["ECE (call)"] + " Level: records.")]
    rows = []
    for d in metrics:
        model = d["model"]

        def cell(level, length, key):
            lv = _find_level(d, "test", level, length)
            return _rate_cell(res.rates(model, "test", lv).get(key) if lv else None,
                              lv.get(key) if lv else None)

        cal = None
        rec = _find_level(d, "test", "record")
        if rec:
            cal = (res.calibration(model, "test", rec) or {}).get("call", {}).get("ece")
        rows.append([_swatch(model, res.styles), cell("assembly", None, "accuracy"),
                     cell("record", None, "accuracy"), *(cell("fragment", n, "accuracy") for n in lengths),
                     cell("assembly", None, "abstention_rate"), cell("assembly", None, "ood_rejection_rate"),
                     *(cell("fragment", n, "ood_rejection_rate") for n in lengths),
                     (_fmt(cal), 'class="num"')])
    table = _table(header, rows, "summary") if rows else ""
    note = ('<p class="muted">Test split. Each rate: value, 95% interval in brackets (Wilson for '
            'assemblies; bootstrap over genomes for records and fragments, whose rows share their '
            'genome\'s answer), right/n. Hover a header for its definition.</p>')
    return f'<section id="summary"><h2>Summary</h2><div class="summary">{"".join(parts)}</div>{note}{table}</section>'


def _call_class(call: str, species: str, known: set) -> str:
    if call == expected_call(species, known):
        return "ok"
    return "abstain" if call == UNCLASSIFIED else "bad"


SPLIT_ORDER = {"test": 0, "validation": 1, "train": 2}


def _call_text(call, confidence, probs, species) -> str:
    """The call with its confidence; an unclassified call also names its top species and that
    species' probability (the number the threshold did not turn into a call)."""
    text = f"{_e(call)} <span class=\"muted\">conf {confidence:.2f}</span>"
    if call == UNCLASSIFIED and len(probs):
        top = max(range(len(probs)), key=lambda i: probs[i])
        text += f" <span class=\"muted\">(top: <i>{_e(species[top])}</i>, p {probs[top]:.2f})</span>"
    return text


def calls_section(truth, tables, model_order, metrics_species):
    """Per-assembly calls: one row per sample (test first), one column per model (primary first);
    per-record tables collapsed, per model and sample. Returns (html, assembly calls by (model, sample),
    notes on truncated tables)."""
    models = [m for m in model_order if m in tables] + sorted(set(tables) - set(model_order))
    header = ["sample", "species", "strain", "split"] + [
        (m, f"The assembly-level call of {m} (record *): call, its confidence, and for an unclassified "
            "call the top species and its probability.") for m in models]
    rows = []
    assembly_calls = {}
    truncated = []
    order = sorted(truth, key=lambda s: (SPLIT_ORDER.get(truth[s]["split"], 3), truth[s]["species"], s))
    for sample in order:
        t = truth[sample]
        row = [_e(sample), f"<i>{_e(t['species'])}</i>", _e(t["strain"]), _e(t["split"])]
        for model in models:
            table = tables[model].get(sample)
            if table is None:
                row.append("&ndash;")
                continue
            idx = [i for i, r in enumerate(table.record) if r == "*"]
            calls = [{"call": table.call[i], "confidence": table.confidence[i]} for i in idx]
            assembly_calls[(model, sample)] = calls
            text = "<br>".join(_call_text(table.call[i], table.confidence[i], table.probs[i], table.species)
                               for i in idx) or "&ndash;"
            known = set(metrics_species.get(model, table.species))
            kinds = {_call_class(c["call"], t["species"], known) for c in calls}
            kind = "bad" if "bad" in kinds else "abstain" if "abstain" in kinds else "ok" if kinds else ""
            row.append((text, f'class="{kind}"'))
        rows.append(row)
    details = []
    for model in models:
        known = set(metrics_species.get(model, ()))
        inner = []
        for sample in [s for s in order if s in tables[model]]:
            table = tables[model][sample]
            known = known or set(table.species)
            species = truth[sample]["species"]
            n = len(table)
            rec_rows = [[f'<span title="{_e(table.file[i])}">{_e(Path(table.file[i]).name)}</span>',
                         _e(table.record[i]), (f"{table.length[i]:,}", f'class="num" data-v="{table.length[i]}"'),
                         (_e(table.call[i]), f'class="{_call_class(table.call[i], species, known)}"'),
                         (f"{table.confidence[i]:.3f}", 'class="num"'),
                         (f"{max(table.probs[i]):.3f}" if len(table.probs[i]) else "&ndash;", 'class="num"')]
                        + [(f"{p:.3f}", 'class="num"') for p in table.probs[i]]
                        for i in range(min(n, MAX_RECORD_ROWS))]
            more = ""
            if n > MAX_RECORD_ROWS:
                more = f'<p class="muted">{n - MAX_RECORD_ROWS} more rows in {_e(table.path)}</p>'
                truncated.append((f"{model} / {sample}: per-record rows {MAX_RECORD_ROWS + 1}-{n}",
                                  f"the report shows the first {MAX_RECORD_ROWS}; all are in {table.path}"))
            inner.append(f"<details><summary>{_e(sample)} <span class=\"muted\">{_e(species)}, "
                         f"{n} rows</span></summary>"
                         + _table(["file", "record", "length", "call", "confidence", "top p"]
                                  + [(f"p({s})", f"The model's probability of {s}.") for s in table.species],
                                  rec_rows, f"calls_{model}_{sample}") + more + "</details>")
        details.append(f"<details><summary><b>{_e(model)}</b>: per-record calls of {len(inner)} samples"
                       f"</summary><div class=\"inner\">{''.join(inner)}</div></details>")
    legend = ('<p class="muted">Per-assembly calls (record <code>*</code>, all splits). '
              '<span class="ok">&nbsp;right&nbsp;</span> <span class="bad">&nbsp;wrong&nbsp;</span> '
              '<span class="abstain">&nbsp;unclassified (in-distribution)&nbsp;</span>; for species the '
              'models were not trained on, <code>unclassified</code> is right. "conf" is the calls table\'s '
              'confidence; an unclassified call also shows its top species and that species\' probability '
              '"p", which the model\'s threshold did not accept.</p>')
    body = (_table(header, rows, "calls") if rows else "<p>No calls given.</p>")
    section = (f'<section id="calls"><h2>Calls</h2>{legend}{body}'
               f'<h3>Per-record calls</h3>{"".join(details)}</section>')
    return section, assembly_calls, truncated


ACCURACY_HEADER = ["level", "n", "accuracy", "macro-F1", "bases right", "unclassified", "accuracy when called",
                   "OOD rejected", "ECE (call)", "ECE (top p)"]


def accuracy_section(res: Results) -> str:
    out = ['<section id="accuracy"><h2>Accuracy</h2><p class="muted">Accuracy counts '
           '<code>unclassified</code> as right only for out-of-distribution samples; "unclassified" is the '
           'rate over in-distribution rows; "bases right" weights rows by length. Rates: value, 95% '
           'interval, count/n (hover a cell for how the interval was made).</p>']
    by_length = accuracy_vs_length(res.metrics, None, render=svg_inline, outcomes=res.outcomes, seed=res.seed,
                                   primary=res.primary)
    if by_length:
        out.append('<figure>' + by_length + '<figcaption>(a) Test accuracy and (b) in-distribution '
                   'abstention by fragment length, 95% intervals bootstrapped over genomes; dotted: '
                   'chance.</figcaption></figure>')
    for doc in res.metrics:
        for split, part in doc["splits"].items():
            rows = []
            for lv in part["levels"]:
                r = res.rates(doc["model"], split, lv)
                cal = res.calibration(doc["model"], split, lv) or {}
                rows.append([_e(_level_name(lv)), (str(lv["n"]), 'class="num"')]
                            + [_rate_cell(r.get("accuracy"), lv.get("accuracy")),
                               (_fmt(lv.get("macro_f1")), 'class="num"'),
                               (_fmt(lv.get("base_accuracy")), 'class="num"')]
                            + [_rate_cell(r.get(k), lv.get(k)) for k in RATE_KEYS[1:]]
                            + [(_fmt((cal.get("call") or {}).get("ece")), 'class="num"'),
                               (_fmt((cal.get("top") or {}).get("ece")), 'class="num"')])
            out.append(f"<h3>{_swatch(doc['model'], res.styles)} &middot; {_e(split)}</h3>")
            config = doc.get("model_config") or {}
            if config:
                facts = [f"{k} {config[k]:.3g}" if isinstance(config[k], float) else f"{k} {config[k]}"
                         for k in ("kind", "threshold") if k in config]
                out.append(f'<p class="muted">{_e(", ".join(facts))}</p>')
            if part.get("missing_samples"):
                out.append(f'<p class="muted">No calls for: {_e(", ".join(part["missing_samples"]))}</p>')
            out.append(_table(ACCURACY_HEADER, rows, f"accuracy_{doc['model']}_{split}")
                       if rows else "<p>No calls in this split.</p>")
    out.append("</section>")
    return "".join(out)


def reads_section(docs) -> str:
    """Long reads (``evaluate --read-length-bins``): per-read accuracy by read length."""
    out = ['<section id="reads"><h2>Long reads</h2><p class="muted">Simulated reads of the held-out '
           'assemblies, each called on its own; accuracy by read length, 95% Wilson interval, '
           'right/n.</p>']
    for doc in docs:
        for split, part in doc["splits"].items():
            bins = part.get("read_length_bins") or []
            if bins:
                cells = []
                for b in bins:
                    k = round((b["accuracy"] or 0) * b["n"])
                    ci = wilson(k, b["n"])
                    cells.append(_rate_cell(Rate(k, b["n"], *(ci or (None, None)), "Wilson", b["n"])
                                            if b["n"] else None, b["accuracy"]))
                out.append(f"<h3>{_e(doc['model'])} &middot; {_e(split)}</h3>")
                out.append(_table([(b["label"], f"Reads of length {b['label']}: accuracy.") for b in bins],
                                  [cells], f"reads_{doc['model']}_{split}"))
    out.append("</section>")
    return "".join(out)


def _shade(share: float) -> str:
    """Cell attributes: blue in proportion to ``share``, white text on the darker half."""
    if share <= 0:
        return 'class="num"'
    text = ";color:#fff" if share > 0.5 else ""
    return f'class="num" style="background:rgba(0,114,178,{0.15 + 0.75 * share:.2f}){text}"'


def _confusion_table(conf, name) -> str:
    """Counts shaded by their share of the row (the true species)."""
    rows = []
    for true, counts in zip(conf["true"], conf["counts"]):
        total = sum(counts) or 1
        rows.append([f"<i>{_e(true)}</i>"] + [(str(c), _shade(c / total)) for c in counts])
    return _table(["true \\ called"] + [(c, f"Rows called {c}.") for c in conf["called"]], rows, name)


def confusion_section(metrics) -> str:
    out = ['<section id="confusion"><h2>Confusion matrices</h2><p class="muted">Test split; rows are the '
           'true species, columns the calls.</p>']
    for doc in metrics:
        levels = doc["splits"].get("test", {}).get("levels", [])
        main = [lv for lv in levels if lv["level"] != "fragment"]
        frags = [lv for lv in levels if lv["level"] == "fragment"]
        for lv in main:
            out.append(f"<h3>{_e(doc['model'])} &middot; {_e(_level_name(lv))}</h3>")
            out.append(_confusion_table(lv["confusion"], f"confusion_{doc['model']}_{lv['level']}"))
        if frags:
            out.append(f"<details><summary>{_e(doc['model'])} &middot; fragments</summary>")
            for lv in frags:
                out.append(f"<h4>{_e(_level_name(lv))}</h4>"
                           + _confusion_table(lv["confusion"], f"confusion_{doc['model']}_{lv['fragment_length']}"))
            out.append("</details>")
    out.append("</section>")
    return "".join(out)


def reliability_svg(res: Results) -> str | None:
    """One reliability panel per model: the call's confidence against whether the call is right,
    per level (records, assemblies), each bin with its 95% Wilson interval; None without bins."""
    drawn = []
    for doc in res.metrics:
        levels = []
        for lv in doc["splits"].get("test", {}).get("levels", []):
            cal = res.calibration(doc["model"], "test", lv)
            if lv["level"] != "fragment" and cal and cal["call"]["n"]:
                levels.append((lv["level"], cal["call"]))
        if levels:
            drawn.append((doc["model"], levels))
    if not drawn:
        return None
    order = legend_order([m for m, _ in drawn], res.primary, res.kinds)
    drawn.sort(key=lambda item: order.index(item[0]))
    width = min(7.2, 2.0 * len(drawn) + 0.4)
    with figure(width, 2.5, ncols=len(drawn)) as (fig, axes):
        for ax, (model, levels) in zip(axes, drawn):
            style = res.styles[model]
            ax.plot([0, 1], [0, 1], color=CHANCE_COLOUR, linewidth=0.7, linestyle=":")
            for (level, cal), line in zip(levels, ("-", "--")):
                bins = [b for b in cal["bins"] if b["count"]]
                x = [b["mean_confidence"] for b in bins]
                y = [b["accuracy"] for b in bins]
                ci = [wilson(round(b["accuracy"] * b["count"]), b["count"]) for b in bins]
                err = [[max(0.0, v - c[0]) for v, c in zip(y, ci)], [max(0.0, c[1] - v) for v, c in zip(y, ci)]]
                ax.errorbar(x, y, yerr=err, marker=style.marker, linestyle=line, color=style.colour,
                            markerfacecolor="white" if level == "assembly" else style.colour,
                            elinewidth=0.6, clip_on=False, label=f"{level} (ECE {cal['ece']:.2f}, n {cal['n']})")
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.04, 1.04)
            ax.set_xlabel("confidence of the call")
            ax.set_ylabel("share of calls right")
            ax.text(0.02, 0.98, model, transform=ax.transAxes, va="top", fontsize=7, color=style.colour)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=6, handlelength=1.5)
        panel_letters(axes)
        return svg_inline(fig)


def calibration_section(res: Results) -> str:
    svg = reliability_svg(res)
    rows = []
    for doc in res.metrics:
        for lv in doc["splits"].get("test", {}).get("levels", []):
            cal = res.calibration(doc["model"], "test", lv)
            if cal is None:  # no rows at hand: the metrics' own figure (the top species' confidence)
                old = lv.get("calibration") or {}
                rows.append([_e(doc["model"]), _e(_level_name(lv)), (str(old.get("n", 0)), 'class="num"'),
                             "&ndash;", (_fmt(old.get("ece")), 'class="num"')])
                continue
            rows.append([_e(doc["model"]), _e(_level_name(lv)), (str(cal["call"]["n"]), 'class="num"'),
                         (_fmt(cal["call"]["ece"]), 'class="num"'), (_fmt(cal["top"]["ece"]), 'class="num"')])
    return ('<section id="calibration"><h2>Calibration</h2><p class="muted">In-distribution test rows. Two '
            'numbers per row are scored, and kept apart: the <b>confidence</b> of the call (the calls '
            'table\'s column) against whether the <i>call</i> is right &mdash; an '
            '<code>unclassified</code> call of a known species counts as wrong, whatever its top '
            'species &mdash; drawn below, in ten bins with 95% Wilson intervals; and the <b>top '
            'probability</b> (the highest species probability, before the threshold) against whether '
            'that species is right ("ECE (top p)"). A calibrated model lies on the diagonal. ECE is the '
            'count-weighted mean gap.</p>'
            + (f"<figure>{svg}</figure>" if svg else "<p>No calibration data.</p>")
            + (_table(["model", "level", "rows", "ECE (call)", "ECE (top p)"], rows, "calibration")
               if rows else "") + "</section>")


def figures_section(figures_dir) -> tuple[str, list]:
    """The paper figures (``genomamba figures``'s folder) inline, each with where its numbers come
    from; returns (html, skipped items)."""
    skipped = []
    if figures_dir is None:
        return "", skipped
    figures_dir = Path(figures_dir)
    index_path = figures_dir / "index.json"
    if not index_path.is_file():
        skipped.append(("paper figures", f"no index.json in {figures_dir}"))
        return "", skipped
    try:
        index = json.loads(read_input_text(index_path, "figures index"))
    except json.JSONDecodeError as exc:
        raise InputError(f"figures index is not JSON: {exc.msg}", index_path, line=exc.lineno) from None
    out = ['<section id="figures"><h2>Figures</h2><p class="muted">The paper figures of this run '
           f'(<code>{_e(figures_dir.name)}/</code>: PNG 300 dpi, SVG, PDF), as drawn.</p>']
    for name, entry in index.items():
        if entry.get("status") != "drawn":
            skipped.append((f"figure {name}", entry.get("note", "not drawn")))
            continue
        for model, why in (entry.get("models_not_drawn") or {}).items():
            skipped.append((f"figure {name}: {model}", why))
        for d in entry.get("dropped") or []:
            skipped.append((f"figure {name}: {d['series']} at length {d['length']} ({d['what']})",
                            f"{d['why']} ({Path(d['file']).name})"))
        svg = figures_dir / f"{name}.svg"
        caption = [f"<b>{_e(name)}</b>"]
        if entry.get("intervals"):
            caption.append(f"intervals: {_e(entry['intervals'])}")
        for src in entry.get("sources") or []:
            caption.append(f"from {_e(Path(src['file']).name)} (sha256 {_e(src['sha256'][:12])}&hellip;): "
                           f"device {_e(', '.join(src['devices']))}; dtype {_e(src['dtype'])}; batch "
                           f"{_e(', '.join(map(str, src['batches'])))}; measured {_e(src['date'])}")
        for series, marks in (entry.get("marked") or {}).items():
            caption.append(f"{_e(series)}: " + ", ".join(f"{_e(m['why'])} at {int(m['length']):,}" for m in marks))
        body = svg_element(svg.read_text(encoding="utf-8")) if svg.is_file() else "<p>(SVG missing)</p>"
        out.append(f'<figure id="figure-{_e(name)}">{body}<figcaption>{"; ".join(caption)}.</figcaption></figure>')
    out.append("</section>")
    return "".join(out), skipped


def skipped_section(items) -> str:
    rows = [[_e(what), _e(why)] for what, why in items]
    body = (_table(["what", "why"], rows, "left_out") if rows
            else "<p>Nothing was left out.</p>")
    return ('<section id="skipped"><h2>Left out</h2><p class="muted">Models disabled in the config, '
            'figures not drawn, points left out of figures, samples without calls, rows not shown.</p>'
            + body + "</section>")


def git_state() -> tuple[str, str]:
    """(commit, state) of the source tree this package runs from: state is 'clean', 'modified' or a
    reason there is no commit to show."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=20)
        if commit.returncode != 0:
            return "none", "not a git checkout (an installed package)"
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "unknown", f"git could not be run ({type(exc).__name__})"
    state = "modified (uncommitted changes to tracked files)" if status.stdout.strip() else "clean"
    return commit.stdout.strip(), state


def generated_at() -> str:
    """Now in UTC, or SOURCE_DATE_EPOCH's time when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch and epoch.isdigit()
            else datetime.datetime.now(datetime.timezone.utc))
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def run_section(config, command_line, seed) -> str:
    commit, state = git_state()
    config_hash = hashlib.sha256(Path(config).read_bytes()).hexdigest() if config else "no config given"
    rows = [["generated", _e(generated_at())], ["genomamba", _e(__version__)],
            ["git commit", f"<code>{_e(commit)}</code> ({_e(state)})"],
            ["command line", f"<code>{_e(command_line or 'not recorded')}</code>"],
            ["config sha256", f"<code>{_e(config_hash)}</code>" + (f" ({_e(config)})" if config else "")],
            ["bootstrap seed", f"{seed} (the config's seed)"], ["host", _e(platform.platform())]]
    return ('<section id="run"><h2>This run</h2>' + _table(["item", "value"], rows, "run") + "</section>")


def config_section(config_text: str | None, config_path) -> str:
    body = (f"<p class=\"muted\">{_e(config_path)}</p><pre>{_e(config_text)}</pre>" if config_text is not None
            else "<p>No configuration given.</p>")
    return f'<section id="config"><h2>Configuration</h2>{body}</section>'


def software_section() -> str:
    rows = [[_e(name), _e(version)] for name, version in software_versions()]
    return ('<section id="software"><h2>Software</h2>'
            + _table(["package", "version"], rows, "software")
            + f'<p class="muted">{_e(platform.platform())}</p></section>')


def provenance_section(rows) -> str:
    if rows is None:
        return '<section id="provenance"><h2>Data provenance</h2><p>No stores given.</p></section>'
    cells = [[_e(r["sample"]), _e(r.get("species", "")), _e(r.get("strain", "")), _e(r["file"]),
              f"<code>{_e(r['sha256'])}</code>" if r["sha256"] else _e(r.get("note", ""))] for r in rows]
    return ('<section id="provenance"><h2>Data provenance</h2><p class="muted">The input files each '
            'store was made from, with their SHA-256 as recorded at tokenization.</p>'
            + _table(["sample", "species", "strain", "input file", "sha256"], cells, "provenance") + "</section>")


def glossary_section() -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in sorted(GLOSSARY.items(), key=lambda kv: kv[0].lower()))
    return f'<section id="definitions"><h2>Definitions</h2><dl class="glossary">{items}</dl></section>'


# ---- the page --------------------------------------------------------------------------------

NAV = (("summary", "Summary"), ("calls", "Calls"), ("accuracy", "Accuracy"), ("reads", "Long reads"),
       ("confusion", "Confusion"), ("calibration", "Calibration"), ("contamination", "Contamination"),
       ("figures", "Figures"),
       ("skipped", "Left out"), ("run", "This run"), ("config", "Configuration"), ("software", "Software"),
       ("provenance", "Provenance"), ("definitions", "Definitions"))


def build_report(split, metrics_paths, calls_paths, *, config=None, provenance=None, primary=None,
                 read_metrics_paths=(), figures=None, command_line=None, flags_paths=()) -> str:
    """The report page as a string (``read_metrics_paths``: per-read metrics, a Long reads section;
    ``figures``: the folder ``genomamba figures`` wrote, shown in a Figures section; ``flags_paths``:
    ``genomamba track``'s flags tables, a Contamination section)."""
    truth = split_truth(split)
    docs = [read_metrics(p) for p in metrics_paths]
    metrics = merge_metrics([dict(d, splits=json.loads(json.dumps(d["splits"]))) for d in docs])
    primary = primary or (metrics[0]["model"] if metrics else "model")
    config_text = read_config_text(config) if config else None
    config_doc = read_config(config) if config else {}
    seed = int(config_doc.get("seed", 0)) if isinstance(config_doc.get("seed", 0), int) else 0
    metrics.sort(key=lambda d: (d["model"] != primary, d["model"]))
    order = legend_order([d["model"] for d in metrics], primary,
                         {d["model"]: (d.get("model_config") or {}).get("kind") for d in metrics
                          if (d.get("model_config") or {}).get("kind")})
    metrics.sort(key=lambda d: order.index(d["model"]))
    outcomes, notes = model_outcomes(docs, split)
    res = Results(metrics, outcomes, seed, primary, notes)
    metrics_species = {d["model"]: d.get("species", []) for d in metrics}
    assigned = assign_calls_to_models(calls_paths, metrics, primary)
    for by_sample in assigned.values():
        for sample, path in by_sample.items():
            if sample not in truth:
                raise InputError(f"calls file names sample {sample!r}, which is not in the split", path)
    tables = {model: {sample: read_calls(path, split.species) for sample, path in by_sample.items()}
              for model, by_sample in assigned.items()}
    calls_html, assembly_calls, truncated = calls_section(truth, tables, [d["model"] for d in metrics],
                                                          metrics_species)
    prov = provenance_rows(store_paths(provenance, truth)) if provenance else None
    figures_html, figures_skipped = figures_section(figures)
    skipped = [(f"model {name}", why) for name, why in disabled_models(config_doc).items()
               if name in (config_doc.get("models") or {})]
    skipped += figures_skipped
    contamination_html, contamination_skipped = contamination_section(flags_paths)
    skipped += contamination_skipped
    for doc in metrics:
        for split_name, part in doc["splits"].items():
            if part.get("missing_samples"):
                skipped.append((f"{doc['model']}, {split_name}: samples {', '.join(part['missing_samples'])}",
                                "no calls file for them"))
    skipped += [(note.split(":", 1)[0], note.split(":", 1)[1].strip()) for note in notes]
    skipped += truncated
    sections = [summary_section(res, assembly_calls), calls_html, accuracy_section(res),
                *([reads_section([read_metrics(p) for p in read_metrics_paths])] if read_metrics_paths else []),
                confusion_section(metrics), calibration_section(res), contamination_html, figures_html,
                skipped_section(skipped),
                run_section(config, command_line, seed), config_section(config_text, config),
                software_section(), provenance_section(prov), glossary_section()]
    body = "".join(sections)
    nav = "".join(f'<a href="#{anchor}">{_e(label)}</a>' for anchor, label in NAV
                  if f'<section id="{anchor}">' in body)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>GenoMamba report</title><style>{CSS}</style></head><body>"
            f'<div class="page"><nav class="toc" aria-label="contents"><b>Contents</b>{nav}</nav><main>'
            f"<h1>GenoMamba report</h1><p class=\"muted\">genomamba {_e(__version__)}, generated "
            f"{_e(generated_at())}</p>" + body + f"</main></div><script>{SCRIPT}</script></body></html>\n")


def write_report(path, **kwargs) -> None:
    """Build the report and write it atomically to ``path``."""
    page = build_report(**kwargs)
    with atomic_open(path, encoding="utf-8") as fh:
        fh.write(page)
