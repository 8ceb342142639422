"""The HTML report: one self-contained page (inline CSS and SVG, no external assets).

Sections: summary, calls (per-assembly calls of every sample and model; per-record tables
collapsed), accuracy per model and level, confusion matrices, calibration (reliability diagrams and
ECE), the configuration, software versions and data provenance (input files and their sha256).
"""

from __future__ import annotations

import html
import platform
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from . import __version__
from .atomic import atomic_open
from .errors import InputError, read_input_text
from .calls import UNCLASSIFIED, read_calls
from .evaluate import expected_call, read_metrics, split_truth
from .figures import accuracy_vs_length
from .plots import figure, svg_inline
from .style import model_styles

SOFTWARE = ("genomamba", "torch", "triton", "zarr", "numcodecs", "snakemake", "scikit-learn",
            "sourmash", "numpy", "pysam", "biopython", "matplotlib")
MAX_RECORD_ROWS = 300  # per collapsed table; the calls file has the rest
LEVEL_COLUMNS = (("n", "n", "{:d}"), ("accuracy", "accuracy", "{:.3f}"), ("macro_f1", "macro-F1", "{:.3f}"),
                 ("base_accuracy", "bases right", "{:.3f}"), ("abstention_rate", "unclassified", "{:.3f}"),
                 ("selective_accuracy", "accuracy when called", "{:.3f}"),
                 ("ood_rejection_rate", "OOD rejected", "{:.3f}"))

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1em 2em 4em;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}nav a{margin-right:1em;color:#0072B2;text-decoration:none}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{background:#e3f4e8}.bad{background:#fbe2dc}.abstain{background:#eeeeee;color:#555}
.summary{background:#f0f4f8;border-left:4px solid #0072B2;padding:.6em 1em;font-size:1.05em}
.muted{color:#777;font-size:.85em}details{margin:.3em 0}summary{cursor:pointer}.inner{margin-left:1.2em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
code{font-size:.9em}svg{max-width:100%;height:auto}.scroll{overflow-x:auto}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value, spec="{:.3f}") -> str:
    if value is None:
        return "&ndash;"
    return _e(spec.format(value))


def _table(header, rows) -> str:
    """An HTML table. Cells are escaped HTML, or (html, attributes) to style a cell."""
    out = ['<div class="scroll"><table><thead><tr>', *(f"<th>{_e(h)}</th>" for h in header),
           "</tr></thead><tbody>"]
    for row in rows:
        cells = (f"<td {c[1]}>{c[0]}</td>" if isinstance(c, tuple) else f"<td>{c}</td>" for c in row)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _level_name(level: dict) -> str:
    return f"fragments {level['fragment_length']} bp" if level["level"] == "fragment" else level["level"]


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


# ---- sections --------------------------------------------------------------------------------

def _find_level(doc, split, level):
    return next((lv for lv in doc["splits"].get(split, {}).get("levels", []) if lv["level"] == level), None)


def summary_section(metrics: list[dict], primary: str, assembly_calls) -> str:
    doc = next((d for d in metrics if d["model"] == primary), None)
    parts = [f"<p>Primary model: <b>{_e(primary)}</b>."]
    if doc is not None:
        test = doc["splits"].get("test", {})
        n_test, n_ood = len(test.get("samples", [])), len(test.get("ood_samples", []))
        species = doc.get("species", [])
        parts.append(f" Trained on {len(species)} species ({_e(', '.join(species))}); the test split has "
                     f"{n_test} samples of unseen strains, {n_ood} of them of species not trained on.")
        for level_name in ("assembly", "record"):
            lv = _find_level(doc, "test", level_name)
            if lv and lv["n"]:
                right = round(lv["accuracy"] * lv["n"])
                parts.append(f" Test {level_name} accuracy <b>{_fmt(lv['accuracy'])}</b>"
                             f" ({right} of {lv['n']}),"
                             f" macro-F1 {_fmt(lv['macro_f1'])}")
                if lv["n_ood"]:
                    parts.append(f", out-of-distribution rejected {_fmt(lv['ood_rejection_rate'])}")
                parts.append(".")
    calls = [c for (model, _), rows in assembly_calls.items() if model == primary for c in rows]
    if calls:
        n_unc = sum(c["call"] == UNCLASSIFIED for c in calls)
        parts.append(f" Of the {len(calls)} input files it called (all splits), <b>{n_unc}</b> "
                     f"{'is' if n_unc == 1 else 'are'} unclassified.")
    parts.append("</p>")
    rows = []
    for d in metrics:
        a, r = _find_level(d, "test", "assembly") or {}, _find_level(d, "test", "record") or {}
        rows.append([_e(d["model"]), _fmt(a.get("accuracy")), _fmt(a.get("macro_f1")),
                     _fmt(r.get("accuracy")),
                     _fmt(a.get("abstention_rate")), _fmt(a.get("ood_rejection_rate")),
                     _fmt((r.get("calibration") or a.get("calibration") or {}).get("ece"))])
    table = _table(["model", "assembly accuracy", "assembly macro-F1", "record accuracy", "unclassified",
                    "OOD rejected", "ECE (records)"], rows) if rows else ""
    return f'<section id="summary"><div class="summary">{"".join(parts)}</div>{table}</section>'


def _call_class(call: str, species: str, known: set) -> str:
    if call == expected_call(species, known):
        return "ok"
    return "abstain" if call == UNCLASSIFIED else "bad"


SPLIT_ORDER = {"test": 0, "validation": 1, "train": 2}


def calls_section(truth, tables, model_order, metrics_species):
    """Per-assembly calls: one row per sample (test first), one column per model (primary first);
    per-record tables collapsed, per model and sample. Returns (html, assembly calls by (model, sample))."""
    models = [m for m in model_order if m in tables] + sorted(set(tables) - set(model_order))
    header = ["sample", "species", "strain", "split"] + models
    rows = []
    assembly_calls = {}
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
            text = "<br>".join(f"{_e(c['call'])} <span class=\"muted\">{c['confidence']:.2f}</span>"
                               for c in calls) or "&ndash;"
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
                         _e(table.record[i]), (f"{table.length[i]:,}", 'class="num"'),
                         (_e(table.call[i]), f'class="{_call_class(table.call[i], species, known)}"'),
                         (f"{table.confidence[i]:.3f}", 'class="num"')]
                        + [(f"{p:.3f}", 'class="num"') for p in table.probs[i]]
                        for i in range(min(n, MAX_RECORD_ROWS))]
            more = (f'<p class="muted">{n - MAX_RECORD_ROWS} more rows in {_e(table.path)}</p>'
                    if n > MAX_RECORD_ROWS else "")
            inner.append(f"<details><summary>{_e(sample)} <span class=\"muted\">{_e(species)}, "
                         f"{n} rows</span></summary>"
                         + _table(["file", "record", "length", "call", "confidence"]
                                  + [f"p({s})" for s in table.species], rec_rows) + more + "</details>")
        details.append(f"<details><summary><b>{_e(model)}</b>: per-record calls of {len(inner)} samples"
                       f"</summary><div class=\"inner\">{''.join(inner)}</div></details>")
    legend = ('<p class="muted">Per-assembly calls (record <code>*</code>) with confidence. '
              '<span class="ok">&nbsp;right&nbsp;</span> <span class="bad">&nbsp;wrong&nbsp;</span> '
              '<span class="abstain">&nbsp;unclassified (in-distribution)&nbsp;</span>; for species the '
              'models were not trained on, <code>unclassified</code> is right.</p>')
    body = (_table(header, rows) if rows else "<p>No calls given.</p>")
    section = (f'<section id="calls"><h2>Calls</h2>{legend}{body}'
               f'<h3>Per-record calls</h3>{"".join(details)}</section>')
    return section, assembly_calls


def accuracy_section(metrics) -> str:
    out = ['<section id="accuracy"><h2>Accuracy</h2><p class="muted">Accuracy counts '
           '<code>unclassified</code> as right only for out-of-distribution samples; "unclassified" is the '
           'rate over in-distribution rows; "bases right" weights rows by length.</p>']
    by_length = accuracy_vs_length(metrics, None, render=svg_inline)
    if by_length:
        out.append(by_length)
    for doc in metrics:
        for split, part in doc["splits"].items():
            rows = [[_e(_level_name(lv))] + [_fmt(lv.get(k), spec) for k, _, spec in LEVEL_COLUMNS]
                    + [_fmt((lv.get("calibration") or {}).get("ece"))] for lv in part["levels"]]
            out.append(f"<h3>{_e(doc['model'])} &middot; {_e(split)}</h3>")
            config = doc.get("model_config") or {}
            if config:
                facts = [f"{k} {config[k]:.3g}" if isinstance(config[k], float) else f"{k} {config[k]}"
                         for k in ("kind", "threshold") if k in config]
                out.append(f'<p class="muted">{_e(", ".join(facts))}</p>')
            if part.get("missing_samples"):
                out.append(f'<p class="muted">No calls for: {_e(", ".join(part["missing_samples"]))}</p>')
            out.append(_table(["level"] + [h for _, h, _ in LEVEL_COLUMNS] + ["ECE"], rows)
                       if rows else "<p>No calls in this split.</p>")
    out.append("</section>")
    return "".join(out)


def reads_section(docs) -> str:
    """Issue 5's long reads (``evaluate --read-length-bins``): per-read accuracy by read length."""
    out = ['<section id="reads"><h2>Long reads</h2><p class="muted">Simulated reads of the held-out '
           'assemblies, each called on its own; accuracy (number of reads) by read length.</p>']
    for doc in docs:
        for split, part in doc["splits"].items():
            bins = part.get("read_length_bins") or []
            if bins:
                out.append(f"<h3>{_e(doc['model'])} &middot; {_e(split)}</h3>")
                out.append(_table([b["label"] for b in bins],
                                  [[f"{_fmt(b['accuracy'])} <span class=\"muted\">({b['n']})</span>" for b in bins]]))
    out.append("</section>")
    return "".join(out)


def _shade(share: float) -> str:
    """Cell attributes: blue in proportion to ``share``, white text on the darker half."""
    if share <= 0:
        return 'class="num"'
    text = ";color:#fff" if share > 0.5 else ""
    return f'class="num" style="background:rgba(0,114,178,{0.15 + 0.75 * share:.2f}){text}"'


def _confusion_table(conf) -> str:
    """Counts shaded by their share of the row (the true species)."""
    rows = []
    for name, counts in zip(conf["true"], conf["counts"]):
        total = sum(counts) or 1
        rows.append([f"<i>{_e(name)}</i>"] + [(str(c), _shade(c / total)) for c in counts])
    return _table(["true \\ called"] + list(conf["called"]), rows)


def confusion_section(metrics) -> str:
    out = ['<section id="confusion"><h2>Confusion matrices</h2><p class="muted">Test split; rows are the '
           'true species, columns the calls.</p>']
    for doc in metrics:
        levels = doc["splits"].get("test", {}).get("levels", [])
        main = [lv for lv in levels if lv["level"] != "fragment"]
        frags = [lv for lv in levels if lv["level"] == "fragment"]
        for lv in main:
            out.append(f"<h3>{_e(doc['model'])} &middot; {_e(_level_name(lv))}</h3>")
            out.append(_confusion_table(lv["confusion"]))
        if frags:
            out.append(f"<details><summary>{_e(doc['model'])} &middot; fragments</summary>")
            for lv in frags:
                out.append(f"<h4>{_e(_level_name(lv))}</h4>{_confusion_table(lv['confusion'])}")
            out.append("</details>")
    out.append("</section>")
    return "".join(out)


def reliability_svg(metrics) -> str | None:
    """One reliability diagram per model (assembly and record levels); None without any bins."""
    drawn = [(d, [lv for lv in d["splits"].get("test", {}).get("levels", [])
                  if lv["level"] != "fragment" and (lv.get("calibration") or {}).get("n")]) for d in metrics]
    drawn = [(d, lvs) for d, lvs in drawn if lvs]
    if not drawn:
        return None
    colours = {m: st.colour for m, st in model_styles(d["model"] for d, _ in drawn).items()}
    with figure(3.2 * len(drawn), 3.2, ncols=len(drawn)) as (fig, axes):
        for ax, (doc, levels) in zip(axes, drawn):
            ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle=":")
            for lv, style, marker in zip(levels, ("-", "--"), ("o", "s")):
                bins = [b for b in lv["calibration"]["bins"] if b["count"]]
                ax.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], marker=marker,
                        linestyle=style, color=colours[doc["model"]],
                        markerfacecolor="none" if marker == "s" else None,
                        label=f"{lv['level']} (ECE {lv['calibration']['ece']:.3f})")
            ax.set_xlim(0, 1)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("confidence")
            ax.set_ylabel("accuracy")
            ax.set_title(doc["model"])
            ax.legend(loc="upper left")
        fig.tight_layout()
        return svg_inline(fig)


def calibration_section(metrics) -> str:
    svg = reliability_svg(metrics)
    rows = []
    for doc in metrics:
        for lv in doc["splits"].get("test", {}).get("levels", []):
            cal = lv.get("calibration") or {}
            rows.append([_e(doc["model"]), _e(_level_name(lv)), str(cal.get("n", 0)), _fmt(cal.get("ece"))])
    return ('<section id="calibration"><h2>Calibration</h2><p class="muted">In-distribution test rows: the '
            'confidence of the top species against whether it is right, in ten equal bins; a calibrated '
            'model lies on the diagonal. ECE is the count-weighted mean gap.</p>'
            + (svg or "<p>No calibration data.</p>")
            + (_table(["model", "level", "rows", "ECE"], rows) if rows else "") + "</section>")


def config_section(config_text: str | None, config_path) -> str:
    body = (f"<p class=\"muted\">{_e(config_path)}</p><pre>{_e(config_text)}</pre>" if config_text is not None
            else "<p>No configuration given.</p>")
    return f'<section id="config"><h2>Configuration</h2>{body}</section>'


def software_section() -> str:
    rows = [[_e(name), _e(version)] for name, version in software_versions()]
    return ('<section id="software"><h2>Software</h2>'
            + _table(["package", "version"], rows)
            + f'<p class="muted">{_e(platform.platform())}</p></section>')


def provenance_section(rows) -> str:
    if rows is None:
        return '<section id="provenance"><h2>Data provenance</h2><p>No stores given.</p></section>'
    cells = [[_e(r["sample"]), _e(r.get("species", "")), _e(r.get("strain", "")), _e(r["file"]),
              f"<code>{_e(r['sha256'])}</code>" if r["sha256"] else _e(r.get("note", ""))] for r in rows]
    return ('<section id="provenance"><h2>Data provenance</h2><p class="muted">The input files each '
            'store was made from, with their SHA-256 as recorded at tokenization.</p>'
            + _table(["sample", "species", "strain", "input file", "sha256"], cells) + "</section>")


# ---- the page --------------------------------------------------------------------------------

NAV = (("summary", "Summary"), ("calls", "Calls"), ("accuracy", "Accuracy"), ("confusion", "Confusion"),
       ("calibration", "Calibration"), ("config", "Configuration"), ("software", "Software"),
       ("provenance", "Provenance"))


def build_report(split, metrics_paths, calls_paths, *, config=None, provenance=None, primary=None,
                 read_metrics_paths=()) -> str:
    """The report page as a string (``read_metrics_paths``: per-read metrics, a Long reads section)."""
    truth = split_truth(split)
    metrics = merge_metrics([read_metrics(p) for p in metrics_paths])
    primary = primary or (metrics[0]["model"] if metrics else "model")
    metrics.sort(key=lambda d: (d["model"] != primary, d["model"]))
    metrics_species = {d["model"]: d.get("species", []) for d in metrics}
    assigned = assign_calls_to_models(calls_paths, metrics, primary)
    for by_sample in assigned.values():
        for sample, path in by_sample.items():
            if sample not in truth:
                raise InputError(f"calls file names sample {sample!r}, which is not in the split", path)
    tables = {model: {sample: read_calls(path, split.species) for sample, path in by_sample.items()}
              for model, by_sample in assigned.items()}
    calls_html, assembly_calls = calls_section(truth, tables, [d["model"] for d in metrics], metrics_species)
    config_text = read_config_text(config) if config else None
    prov = provenance_rows(store_paths(provenance, truth)) if provenance else None
    nav = "".join(f'<a href="#{anchor}">{_e(label)}</a>' for anchor, label in NAV)
    body = [summary_section(metrics, primary, assembly_calls), calls_html, accuracy_section(metrics),
            *([reads_section([read_metrics(p) for p in read_metrics_paths])] if read_metrics_paths else []),
            confusion_section(metrics), calibration_section(metrics), config_section(config_text, config),
            software_section(), provenance_section(prov)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>GenoMamba report</title><style>{CSS}</style></head><body><main>"
            f"<h1>GenoMamba report</h1><p class=\"muted\">genomamba {_e(__version__)}</p><nav>{nav}</nav>"
            + "".join(body) + "</main></body></html>\n")


def write_report(path, **kwargs) -> None:
    """Build the report and write it atomically to ``path``."""
    page = build_report(**kwargs)
    with atomic_open(path, encoding="utf-8") as fh:
        fh.write(page)
