"""The paper figures, each as PNG (300 dpi), SVG (real text) and PDF (embedded fonts), at printed
size (one column, 3.3 in, or two, 7.2 in; ``genomamba.plots``), identical bytes from identical inputs.
No titles inside the plots (captions belong to the paper); panels are lettered a, b, ...; every model
kind has one colour and marker (``genomamba.style``), the primary model first in legends.

Figures (a figure whose inputs are missing is skipped with a note, never an error):

  accuracy_vs_length     (a) test accuracy and (b) in-distribution abstention per fragment length,
                         one line per model, 95% intervals (bootstrap over genomes where the calls
                         and the split are at hand, Wilson otherwise), a chance line; from metrics
                         JSONs (``genomamba evaluate``) that have fragment levels
  accuracy_vs_context    assembly/record accuracy per training context length, one line per model
                         kind; from metrics JSONs whose ``model_config`` (or a section of it) has a
                         context length (``CONTEXT_KEYS``; ``genomamba evaluate --model-dir``); needs
                         two context lengths or more
  speed_vs_length        throughput (tokens/s) against sequence length, log-log, per model
  memory_vs_length       peak memory against sequence length, log-log, per model; in both, a
                         length that ran out of memory is marked "out of memory", and a length
                         measured for another model but not for this one "not run"
  training_curves        training loss (raw, faint, and its moving average) against step, with the
                         validation loss where the log records it; accuracy, if logged

Models disabled in the config (``--config``) are not drawn. ``index.tsv`` lists every figure as
drawn or skipped (why); ``index.json`` adds, per figure, the benchmark tables it came from (device,
dtype, batch, date, sha256), the points left out and why, and the models not drawn.

Benchmark TSV schema (``--bench-tsv``; tab-separated, one header line, ``#`` lines ignored):

  model           required  series name (e.g. mamba, transformer)
  length          required  sequence length in tokens
  tokens_per_s    optional  throughput; if absent it is length * batch / seconds
  seconds         optional  wall time of one step over ``batch`` sequences of ``length``
  batch           optional  sequences per step (default 1)
  peak_mem_bytes  optional  peak accelerator memory of the step
  device          optional  when a file mixes devices, series become "model @ device"
  phase           optional  e.g. forward / train; when present, series become "model (phase)"

  dtype           optional  e.g. bf16 (else a ``# dtype: ...`` comment line; else "not recorded")
  date            optional  when measured (else a ``# date: ...`` comment line, else a YYYY-MM-DD in
                            the file name)

Empty, ``nan``, ``oom`` or ``NA`` values are treated as missing (the point is left out; a row with an
``oom`` value gets a cross marking "out of memory" at its length). Repeated
(series, length) rows are summarised by their median. A comment line that holds a whole data row
is a point left out on purpose: it is listed as dropped, with the comment line above it as the reason.

Training logs (``--training-log``: a file, or a model folder holding one of ``LOG_NAMES`` or a
``config.json`` with a ``history`` list -- ``genomamba.train`` keeps its history in the checkpoint's
``training.json``; a missing file, or a folder or JSON document without log entries, is passed over
with a note): JSON lines, a JSON list of objects, a JSON
object holding such a list under ``history``/``log``/``metrics``, or a TSV with a header. Every entry
has ``step`` (or ``epoch``), optionally a ``stage`` name (its fields are drawn as "<stage> <field>"),
and numeric fields; fields whose names contain ``loss`` are drawn in the loss panel, those containing
``acc`` in the accuracy panel. The model is named by the log's folder (``models/mamba/
train_log.jsonl`` -> ``mamba``), or by the file stem for a log outside a model folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from .atomic import atomic_open
from .errors import InputError, read_input_text
from .evaluate import read_metrics
from .plots import FORMATS, ONE_COLUMN, TWO_COLUMN, figure, panel_letters, save_figure
from .style import CHANCE_COLOUR, kind_of, legend_order, model_styles

MISSING = {"", "nan", "na", "oom", "none", "null", "-"}
ACCURACY_LEVELS = ("assembly", "record")
CONTEXT_KEYS = ("context_length", "context", "max_length", "window")
LOG_NAMES = ("training.json", "training_log.jsonl", "train_log.jsonl", "history.jsonl", "training_log.json",
             "history.json", "training_log.tsv", "train_log.tsv", "history.tsv")


def _number(text):
    """A float, or None for a missing value."""
    if text is None or str(text).strip().lower() in MISSING:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


# ---- inputs ----------------------------------------------------------------------------------

# `genomamba bench model --tsv` writes one measurement per row (section, model, backend, device,
# batch, length, metric, value, unit); these metrics map onto the columns above.
_LONG_METRICS = {"tokens_per_s": "tokens_per_s", "forward_s": "seconds", "peak_memory": "peak_mem_bytes"}


def _widen_long_table(lines, header):
    """Rows of the long benchmark format merged into the wide one, one row per measured setting;
    the ``section`` (stream, transformer, ...) becomes the phase. Other metrics are left out."""
    col = {name: i for i, name in enumerate(header)}
    wide, order = {}, []
    for line_no, line in lines[1:]:
        v = line.split("\t")
        target = _LONG_METRICS.get(v[col["metric"]]) if len(v) == len(header) else None
        if target is None:
            continue
        key = tuple(v[col[c]] for c in ("section", "model", "device", "batch", "length"))
        if key not in wide:
            wide[key] = (line_no, dict(zip(("phase", "model", "device", "batch", "length"), key)))
            order.append(key)
        wide[key][1][target] = v[col["value"]]
    columns = ["model", "phase", "device", "batch", "length", *_LONG_METRICS.values()]
    rows = [(wide[k][0], "\t".join(wide[k][1].get(c, "") for c in columns)) for k in order]
    return [(lines[0][0], "\t".join(columns)), *rows], columns


def read_bench_tsv(path) -> list[dict]:
    """Rows of a benchmark TSV as dicts with ``series``, ``length``, ``tokens_per_s``, ``peak_mem_bytes``."""
    path = Path(path)
    lines = [(i, line) for i, line in
             enumerate(read_input_text(path, "benchmark table").splitlines(), start=1)
             if line.strip() and not line.startswith("#")]
    if not lines:
        return []
    header = lines[0][1].split("\t")
    if {"metric", "value"} <= set(header):
        lines, header = _widen_long_table(lines, header)
    for col in ("model", "length"):
        if col not in header:
            raise InputError(f"benchmark table lacks column {col!r}", path, line=lines[0][0])
    raw = []
    for line_no, line in lines[1:]:
        values = line.split("\t")
        if len(values) != len(header):
            raise InputError(f"expected {len(header)} columns, found {len(values)}", path, line=line_no)
        raw.append((line_no, dict(zip(header, values))))
    devices = {r.get("device", "") for _, r in raw}
    rows = []
    for line_no, r in raw:
        try:
            length = _number(r["length"])
            tps = _number(r.get("tokens_per_s"))
            seconds = _number(r.get("seconds"))
            batch = _number(r.get("batch")) or 1.0
            mem = _number(r.get("peak_mem_bytes"))
        except ValueError as exc:
            raise InputError(f"not a number: {exc}", path, record=r["model"], line=line_no) from None
        if length is None:
            raise InputError("length is missing", path, record=r["model"], line=line_no)
        if tps is None and seconds:
            tps = length * batch / seconds
        series = r["model"]
        if r.get("phase") and r["phase"] != r["model"]:
            series += f" ({r['phase']})"
        if len(devices) > 1:
            series += f" @ {r.get('device', '')}"
        oom = any(str(v).strip().lower() == "oom" for v in r.values())
        rows.append({"series": series, "length": length, "tokens_per_s": tps, "peak_mem_bytes": mem,
                     "oom": oom, "model": r["model"], "device": r.get("device", ""),
                     "batch": batch, "dtype": r.get("dtype", ""), "date": r.get("date", ""),
                     "source": path.name})
    return rows


GPU_NAME = re.compile(r"(?i)(?:^|[_.-])(h100|h200|a100|a10g?|l40s?|l4|v100|t4|mi300x?)(?=[_.-]|$)")
GPU_TEXT = re.compile(r"(?:NVIDIA|AMD) [A-Za-z0-9 ]*?(?:[HABLTV]\d+[A-Za-z0-9 ]*|MI\d+[A-Z]*)")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DTYPE = re.compile(r"(?i)\b(bf16|bfloat16|fp16|float16|fp32|float32|tf32)\b")


def bench_provenance(path) -> dict:
    """Where a benchmark table's numbers come from: ``file``, ``sha256``, ``header`` (its leading
    comment lines), ``devices``, ``dtype``, ``batches``, ``date`` -- each from the table's columns,
    else its ``key: value`` or free-text header comments, else its file name, else "not recorded" --
    and ``dropped``: data rows commented out, each with the comment line above it as the reason."""
    path = Path(path)
    text = read_input_text(path, "benchmark table")
    lines = text.splitlines()
    data = [line for line in lines if line.strip() and not line.startswith("#")]
    header_at = lines.index(data[0]) if data else len(lines)
    header = data[0].split("\t") if data else []
    preamble = [line[1:].strip() for line in lines[:header_at] if line.startswith("#")]
    free_text = " ".join(preamble)
    dropped, reason = [], ""
    for line in lines[header_at:]:
        if not line.startswith("#"):
            reason = ""
            continue
        fields = line[1:].lstrip(" ").split("\t")
        if header and len(fields) == len(header):
            row = dict(zip(header, fields))
            what = row.get("metric") or ", ".join(k for k in ("tokens_per_s", "seconds", "peak_mem_bytes")
                                                   if row.get(k))
            series = row.get("model", "") + (f" ({row['section']})" if row.get("section")
                                             and row["section"] != row.get("model") else "")
            dropped.append({"series": series, "length": row.get("length", ""), "what": what,
                            "why": reason.rstrip(":") or "commented out in the table"})
        else:
            reason = line[1:].strip()
    rows = read_bench_tsv(path)
    devices = sorted({r["device"] for r in rows if r["device"]})
    named = GPU_TEXT.search(free_text) or GPU_NAME.search(path.stem)
    if named:
        gpu = named[0].strip() if named.re is GPU_TEXT else f"{named[1].upper()} (from the file name)"
        devices = [f"{d}: {gpu}" for d in devices] or [gpu]
    dates = sorted({r["date"] for r in rows if r["date"]}) or DATE.findall(free_text)[:1] or DATE.findall(path.name)[:1]
    dtypes = sorted({r["dtype"] for r in rows if r["dtype"]}) or sorted({m.lower() for m in DTYPE.findall(free_text)})
    if not dtypes and "genomamba bench model" in free_text and any(d.startswith("cuda") for d in devices):
        dtypes = ["bf16 autocast (what genomamba bench model uses on cuda; not stated in the table)"]
    return {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "header": preamble, "devices": devices or ["not recorded"],
            "dtype": ", ".join(dtypes) or "not recorded", "batches": sorted({int(r["batch"]) for r in rows}),
            "date": ", ".join(dates) or "not recorded", "dropped": dropped}


def _entries(doc):
    if isinstance(doc, dict):
        for key in ("history", "log", "metrics"):
            if isinstance(doc.get(key), list):
                return doc[key]
        return None
    return doc if isinstance(doc, list) else None


def read_training_log(path) -> list[dict]:
    """Entries of a training log (see the module docstring), each with a numeric ``step``."""
    path = Path(path)
    text = read_input_text(path, "training log")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            entries = _entries(json.loads(text))
        except json.JSONDecodeError:  # JSON lines
            entries = []
            for line_no, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        entries.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise InputError(f"not JSON: {exc.msg}", path, line=line_no) from None
        if entries is None:
            raise InputError("no list of log entries found (history/log/metrics)", path)
    else:
        entries = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        try:
            row = {"step": float(entry.get("step", entry.get("epoch", i)))}
        except (TypeError, ValueError):
            raise InputError(f"entry {i + 1} has a step that is not a number", path) from None
        stage = entry.get("stage")  # e.g. pretrain / classify: losses of different stages apart
        prefix = f"{stage} " if isinstance(stage, str) and stage else ""
        for key, value in entry.items():
            if key in ("step", "epoch", "stage") or isinstance(value, bool):
                continue
            try:
                number = _number(value)
            except (TypeError, ValueError):
                continue
            if number is not None:
                row[prefix + key] = number
        out.append(row)
    if out and isinstance(doc := _json_or_none(text), dict) and isinstance(doc.get("metrics"), dict):
        # genomamba.train's training.json: the validation windows' loss, measured once at the end
        value = doc["metrics"].get("window_loss")
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append({"step": max(e["step"] for e in out), "validation loss (end)": float(value)})
    return out


def _json_or_none(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _holds_log(path: Path, if_malformed: bool = False) -> bool:
    """A JSON document that has a list of log entries, or any other (JSONL/TSV) log file; a JSON
    document that does not parse gives ``if_malformed``."""
    if path.suffix != ".json":
        return True
    try:
        return bool(_entries(json.loads(path.read_text())))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return if_malformed


def find_training_logs(path) -> list[Path]:
    """A training log file as is (none if it is missing or a JSON document without log entries); in a
    model folder, the first of ``LOG_NAMES`` that holds log entries (``config.json`` last)."""
    path = Path(path)
    if not path.is_dir():
        return [path] if path.is_file() and _holds_log(path, if_malformed=True) else []  # bad: read fails
    for name in (*LOG_NAMES, "config.json"):
        if (path / name).is_file() and _holds_log(path / name):
            return [path / name]
    return []


def training_log_model(path) -> str:
    """The model a training log belongs to: its folder, or its stem outside a model folder."""
    path = Path(path)
    parent = path.parent.name
    return parent if parent and parent not in (".", "models", "results", "logs") else path.stem


# ---- figures ---------------------------------------------------------------------------------

def _bases(n: float) -> str:
    """2000 -> '2 kb', 1500000 -> '1.5 Mb'."""
    for unit, size in (("Gb", 1e9), ("Mb", 1e6), ("kb", 1e3)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n:g} bp"


def _fragment_length(n: float) -> str:
    """Powers of two from 1024 on as 2^k (contexts chosen so), other lengths as in _bases."""
    k = math.log2(n) if n > 0 else 0
    if n >= 1024 and k == int(k):
        return f"$2^{{{int(k)}}}$"
    return _bases(n)


def _tokens(n: float) -> str:
    """Token counts the way they are chosen: 1024 -> '1K', 2**20 -> '1M', 1000 -> '1000'."""
    for unit, size in (("M", 2 ** 20), ("K", 2 ** 10)):
        if n >= size and n % size == 0:
            return f"{int(n) // size}{unit}"
    return f"{n:g}"


def _length_axis(ax, lengths, base=10, label=_bases):
    """A log x axis with a tick and label at every length measured (no other ticks); labels turn
    when there are many."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log", base=base)
    lengths = sorted(set(lengths))
    ax.set_xticks(lengths)
    ax.set_xticklabels([label(n) for n in lengths], rotation=45 if len(lengths) > 6 else 0,
                       ha="right" if len(lengths) > 6 else "center")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if len(lengths) == 1:
        ax.set_xlim(lengths[0] / 2, lengths[0] * 2)
    else:
        ax.margins(x=0.08)


def _rate_axis(ax, label):
    ax.set_ylabel(label)
    ax.set_ylim(-0.04, 1.04)  # room for markers (and their bars) at 0 and 1


def _legend(fig, axes, primary, kinds, extra=()):
    """One legend for the figure, below the panels: the primary model first (genomamba.style)."""
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    names = legend_order([n for n in handles if n not in extra], primary, kinds)
    names += [n for n in extra if n in handles]
    if names:
        wide = fig.get_figwidth() > ONE_COLUMN + 0.5
        ncol = min(len(names), 4 if wide else 1 if max(map(len, names)) > 22 else 2)
        fig.legend([handles[n] for n in names], names, loc="outside lower center",
                   ncol=ncol, handlelength=1.8, columnspacing=1.2)


def fragment_rates(metrics, split="test", outcomes=None, seed=0) -> dict[str, list[dict]]:
    """model -> per fragment length: ``length``, ``accuracy`` and ``abstention_rate`` as
    ``genomamba.outcomes.Rate`` (with intervals), ``method`` of the intervals. From the rows in
    ``outcomes`` (genomamba.outcomes.model_outcomes) where given, else Wilson on the totals."""
    from .outcomes import Rate, rates
    from .stats import wilson

    def from_totals(value, n):
        if value is None:
            return None
        if not n:
            return Rate(0, 0, None, None, "no counts in the metrics: no interval", 0, estimate=value)
        k = round(value * n)
        low, high = wilson(k, n)
        return Rate(k, n, low, high, "Wilson, rows treated as independent", 0)

    out = defaultdict(dict)
    for doc in metrics:
        for lv in doc["splits"].get(split, {}).get("levels", []):
            if lv["level"] != "fragment" or lv.get("accuracy") is None:
                continue
            length = lv["fragment_length"]
            rows = ((outcomes or {}).get(doc["model"], {}).get(split, {}).get(("fragment", length)))
            if rows:
                r = rates(rows, seed)
                point = {"length": length, "accuracy": r["accuracy"], "abstention_rate": r["abstention_rate"]}
            else:
                point = {"length": length, "accuracy": from_totals(lv["accuracy"], lv.get("n")),
                         "abstention_rate": from_totals(lv.get("abstention_rate"), lv.get("n_in_distribution"))}
            point["method"] = point["accuracy"].method if point["accuracy"] else ""
            out[doc["model"]].setdefault(length, point)
    return {model: [pts[n] for n in sorted(pts)] for model, pts in out.items()}


def accuracy_vs_length(metrics: list[dict], stem, split="test", render=None, *, outcomes=None, seed=0,
                       primary=None, width=TWO_COLUMN):
    """Fragment accuracy and abstention against fragment length with 95% intervals and the chance
    line; None if no model has fragments. ``render(fig)`` makes the result (default: the files at
    ``stem``; the report passes svg_inline)."""
    series = fragment_rates(metrics, split, outcomes, seed)
    if not series:
        return None
    kinds = {d["model"]: (d.get("model_config") or {}).get("kind") for d in metrics}
    kinds = {m: k for m, k in kinds.items() if k}
    styles = model_styles(series, kinds)
    n_species = max((len(d.get("species") or []) for d in metrics), default=0)
    with figure(width, 2.5, ncols=2) as (fig, axes):
        order = legend_order(series, primary, kinds)
        for i, name in enumerate(order):
            # a small sideways shift per model keeps overlapping bars apart (log axis: a factor)
            shift = 1.06 ** (i - (len(order) - 1) / 2)
            for ax, key in zip(axes, ("accuracy", "abstention_rate")):
                pts = [(p["length"], p[key]) for p in series[name] if p[key] is not None]
                x = [n * shift for n, _ in pts]
                y = [r.value for _, r in pts]
                err = [[max(0.0, r.value - (r.low if r.low is not None else r.value)) for _, r in pts],
                       [max(0.0, (r.high if r.high is not None else r.value) - r.value) for _, r in pts]]
                ax.errorbar(x, y, yerr=err, color=styles[name].colour, marker=styles[name].marker,
                            label=name, clip_on=False, elinewidth=0.7)
        if n_species >= 2:
            axes[0].axhline(1 / n_species, color=CHANCE_COLOUR, linestyle=":", linewidth=0.8,
                            label=f"chance (1 of {n_species} species)")
        lengths = sorted({p["length"] for pts in series.values() for p in pts})
        for ax, label in zip(axes, (f"accuracy ({split})", "unclassified (in-distribution)")):
            _length_axis(ax, lengths, label=_fragment_length)
            ax.set_xlabel("fragment length")
            _rate_axis(ax, label)
        panel_letters(axes)
        _legend(fig, axes, primary, kinds, extra=[f"chance (1 of {n_species} species)"])
        return (render or (lambda f: save_figure(f, stem)))(fig)


def _context_length(doc):
    """The training context length from the metrics' model config (top level, or one level down:
    ``params``, ``train``, ...)."""
    config = doc.get("model_config") or {}
    nested = [config[k] for k in sorted(config) if isinstance(config[k], dict)]
    for where in (config, *nested):
        for key in CONTEXT_KEYS:
            if isinstance(where.get(key), (int, float)) and not isinstance(where.get(key), bool):
                return where[key]
    return None


def accuracy_vs_context(metrics: list[dict], stem, split="test", primary=None):
    """Accuracy against the training context length, one line per model kind and level."""
    points = defaultdict(list)
    for doc in metrics:
        ctx = _context_length(doc)
        if ctx is None:
            continue
        kind = (doc.get("model_config") or {}).get("kind") or doc["model"]
        for lv in doc["splits"].get(split, {}).get("levels", []):
            if lv["level"] in ACCURACY_LEVELS and lv.get("accuracy") is not None:
                points[(kind, lv["level"])].append((ctx, lv["accuracy"]))
    points = {k: sorted(v) for k, v in points.items() if len({x for x, _ in v}) >= 2}
    if not points:
        return None
    styles = model_styles(kind for kind, _ in points)
    with figure(ONE_COLUMN, 2.6) as (fig, (ax,)):
        for (kind, level), pts in sorted(points.items()):
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker=styles[kind].marker, color=styles[kind].colour,
                    linestyle="-" if level == "assembly" else "--", label=f"{kind} ({level})", clip_on=False)
        _length_axis(ax, sorted({x for pts in points.values() for x, _ in pts}), base=2, label=_tokens)
        ax.set_xlabel("training context length (tokens)")
        _rate_axis(ax, f"accuracy ({split})")
        _legend(fig, [ax], primary, None)
        return save_figure(fig, stem)


def _median_series(rows, key):
    grouped = defaultdict(list)
    for r in rows:
        if r[key] is not None:
            grouped[(r["series"], r["length"])].append(r[key])
    series = defaultdict(list)
    for (name, length), values in sorted(grouped.items()):
        series[name].append((length, statistics.median(values)))
    return dict(series)


def missing_lengths(rows, series, key) -> dict[str, list[tuple[float, str]]]:
    """series -> (length, "out of memory" | "not run") for lengths a series has no value at: an
    ``oom`` row, or a length some other drawn series was measured at beyond this series' last."""
    measured = {x for pts in series.values() for x, _ in pts}
    out = {}
    for name, pts in series.items():
        have = {x for x, _ in pts}
        oom = {r["length"] for r in rows if r["series"] == name and r.get("oom") and r[key] is None}
        marks = [(n, "out of memory") for n in sorted(oom - have)]
        marks += [(n, "not run") for n in sorted(measured - have - oom) if n > max(have)]
        if marks:
            out[name] = marks
    return out


def bench_vs_length(rows: list[dict], stem, key: str, primary=None):
    """Throughput (key ``tokens_per_s``) or peak memory (``peak_mem_bytes``) against length, with
    "out of memory" and "not run" marked at the top of the panel."""
    from matplotlib.transforms import blended_transform_factory

    series = _median_series(rows, key)
    if not series:
        return None
    styles = model_styles(series)
    if key == "tokens_per_s":
        scale, unit = 1.0, "tokens / s"
    else:  # GiB when any point reaches one, MiB below
        big = max(y for pts in series.values() for _, y in pts) >= 2.0 ** 30
        scale, unit = (2.0 ** 30, "peak memory (GiB)") if big else (2.0 ** 20, "peak memory (MiB)")
    missing = missing_lengths(rows, series, key)
    with figure(ONE_COLUMN, 2.7) as (fig, (ax,)):
        order = legend_order(series, primary)
        for name in order:
            pts = series[name]
            ax.plot([x for x, _ in pts], [y / scale for _, y in pts], marker=styles[name].marker,
                    color=styles[name].colour, label=name, clip_on=False)
        ax.set_yscale("log")
        if missing:  # free the top fifth of the panel for the markers
            low, high = ax.get_ylim()
            ax.set_ylim(low, high * (high / low) ** 0.25)
        strip = blended_transform_factory(ax.transData, ax.transAxes)  # x: length, y: panel height
        for i, name in enumerate(n for n in order if n in missing):
            for length, why in missing[name]:
                y = 0.97 - 0.07 * i
                if why == "out of memory":
                    ax.plot([length], [y], marker="x", markersize=5, color=styles[name].colour,
                            transform=strip, clip_on=False, linestyle="none", label="out of memory")
                else:
                    ax.plot([length], [y], marker=styles[name].marker, markerfacecolor="white",
                            color=styles[name].colour, transform=strip, clip_on=False,
                            linestyle="none", label="not run")
        lengths = {x for pts in series.values() for x, _ in pts} | {n for m in missing.values() for n, _ in m}
        _length_axis(ax, sorted(lengths), base=2, label=_tokens)
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(unit)
        _legend(fig, [ax], primary, None, extra=["out of memory", "not run"])
        return save_figure(fig, stem)


def moving_average(values, window: int) -> np.ndarray:
    """The centred mean over ``window`` points, shrinking at the ends (same length as ``values``)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or values.size < 3:
        return values
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(values.size)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, values.size)
    return (csum[hi] - csum[lo]) / (hi - lo)


def training_curves(logs: dict[str, list[dict]], stem, primary=None):
    """Training loss (raw, faint, and its moving average over 1/20 of the steps) and validation loss
    where recorded against step; accuracy in a second panel if any log has it."""
    logs = {name: entries for name, entries in logs.items() if entries}
    if not logs:
        return None
    has_acc = any("acc" in k for entries in logs.values() for e in entries for k in e)
    styles = model_styles(logs)
    with figure(TWO_COLUMN if has_acc else ONE_COLUMN, 2.6, ncols=2 if has_acc else 1) as (fig, axes):
        for name in legend_order(logs, primary):
            entries = logs[name]
            fields = sorted({k for e in entries for k in e if k != "step"})
            for fld in fields:
                ax = axes[1] if has_acc and "acc" in fld else axes[0] if "loss" in fld else None
                if ax is None:
                    continue
                pts = [(e["step"], e[fld]) for e in entries if fld in e]
                x, y = [p[0] for p in pts], [p[1] for p in pts]
                style = styles[name]
                if "val" in fld:  # validation: few points, each one a measurement
                    ax.plot(x, y, color=style.colour, linestyle="--", marker=style.marker,
                            markerfacecolor="white", label=f"{name} {fld}", clip_on=False)
                elif len(pts) >= 20:
                    window = max(2, len(pts) // 20)
                    ax.plot(x, y, color=style.colour, alpha=0.25, linewidth=0.5)
                    ax.plot(x, moving_average(y, window), color=style.colour,
                            label=f"{name} {fld} ({window}-step mean)")
                else:
                    ax.plot(x, y, color=style.colour, marker=style.marker, label=f"{name} {fld}")
        axes[0].set_ylabel("loss")
        if has_acc:
            _rate_axis(axes[1], "accuracy")
        for ax in axes:
            ax.set_xlabel("step")
        panel_letters(axes)
        _legend(fig, axes, primary, None)
        return save_figure(fig, stem)


def disabled_models(config: dict | None) -> dict[str, str]:
    """Benchmark model names not to draw -> why: a model of the config with ``enabled: false``, or
    a kind of which every configured model is disabled."""
    models = (config or {}).get("models") or {}
    if not isinstance(models, dict):  # a config of another shape (e.g. a list of names) disables none
        return {}
    out = {}
    for name, spec in models.items():
        if isinstance(spec, dict) and spec.get("enabled", True) is False:
            out[name] = f"model {name!r} is disabled in the config"
    for kind in {spec.get("kind") for spec in models.values() if isinstance(spec, dict)} - {None}:
        of_kind = [n for n, spec in models.items() if isinstance(spec, dict) and spec.get("kind") == kind]
        if all(n in out for n in of_kind):
            out.setdefault(kind, f"every {kind} model is disabled in the config")
    return out


def draw_all(out_dir, metrics_paths=(), bench_paths=(), log_paths=(), log=print, *, config=None,
             split=None, primary=None) -> dict:
    """Draw every figure whose inputs exist; returns name -> files written, or a note why skipped.

    ``config``: the run's config (a dict): its disabled models are not drawn, its ``seed`` seeds the
    bootstrap, its ``primary_model`` leads the legends. ``split``: with it, fragment accuracy
    intervals are bootstrapped over genomes from the calls the metrics list.
    Writes ``index.tsv`` (figure, status, note) and ``index.json`` (the same, with the benchmark
    tables' provenance, dropped points and models not drawn) into ``out_dir``; a skipped figure's old
    files go.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = config or {}
    primary = primary or config.get("primary_model")
    seed = int(config.get("seed", 0))
    metrics = sorted((read_metrics(p) for p in metrics_paths), key=lambda d: d["model"])
    outcomes, notes = ({}, [])
    if split is not None and metrics:
        from .outcomes import model_outcomes

        outcomes, notes = model_outcomes(metrics, split)
        for note in notes:
            log(f"figures: {note}")
    disabled = disabled_models(config)
    provenance = [bench_provenance(p) for p in bench_paths]
    bench_rows, excluded = [], {}
    for row in (row for p in bench_paths for row in read_bench_tsv(p)):
        why = disabled.get(row["model"]) or disabled.get(kind_of(row["model"]) or "")
        if why:
            excluded.setdefault(row["model"], why)
        else:
            bench_rows.append(row)
    for name, why in excluded.items():
        log(f"figures: {name} left out of the benchmark figures: {why}")
    logs = {}
    for given in log_paths:
        found = find_training_logs(given)
        if not found:
            log(f"figures: no training log entries in {given}")
        for p in found:
            model = training_log_model(p)
            if model in disabled:
                continue
            logs.setdefault(model, []).extend(read_training_log(p))
    frag = fragment_rates(metrics, "test", outcomes, seed)
    methods = sorted({p["method"] for pts in frag.values() for p in pts if p["method"]})
    plans = {
        "accuracy_vs_length": (lambda s: accuracy_vs_length(metrics, s, outcomes=outcomes, seed=seed,
                                                            primary=primary),
                               "no metrics with fragment levels (classify with fragments, then evaluate)"),
        "accuracy_vs_context": (lambda s: accuracy_vs_context(metrics, s, primary=primary),
                                "fewer than two context lengths in the metrics' model_config"),
        "speed_vs_length": (lambda s: bench_vs_length(bench_rows, s, "tokens_per_s", primary),
                            "no benchmark TSV with tokens_per_s or seconds (--bench-tsv)"),
        "memory_vs_length": (lambda s: bench_vs_length(bench_rows, s, "peak_mem_bytes", primary),
                             "no benchmark TSV with peak_mem_bytes (--bench-tsv)"),
        "training_curves": (lambda s: training_curves(logs, s, primary), "no training log (--training-log)"),
    }
    results, index = {}, {}
    for name, (draw, why) in plans.items():
        written = draw(out_dir / name)
        entry = {"status": "drawn" if written else "skipped"}
        if written is None:
            for fmt in FORMATS:   # a stale figure of an earlier run; never a directory someone put there
                stale = out_dir / f"{name}.{fmt}"
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            log(f"figures: skipped {name}: {why}")
            results[name] = entry["note"] = why
        else:
            results[name] = written
            entry["files"] = [p.name for p in written]
        if name in ("speed_vs_length", "memory_vs_length"):
            key = "tokens_per_s" if name == "speed_vs_length" else "peak_mem_bytes"
            used = {r["source"] for r in bench_rows if r[key] is not None}
            entry["sources"] = [p for p in provenance if Path(p["file"]).name in used]
            entry["models_not_drawn"] = excluded
            wanted = "tokens_per_s" if key == "tokens_per_s" else "peak_memory"
            entry["dropped"] = [dict(d, file=p["file"]) for p in provenance for d in p["dropped"]
                                if wanted in d["what"] or key in d["what"]]
            entry["marked"] = {s: [{"length": n, "why": w} for n, w in marks] for s, marks in
                               missing_lengths(bench_rows, _median_series(bench_rows, key), key).items()}
        if name == "accuracy_vs_length" and written:
            entry["intervals"] = "95%; " + "; ".join(methods)
        index[name] = entry
    with atomic_open(out_dir / "index.tsv") as fh:
        fh.write("figure\tstatus\tnote\n")
        for name, res in results.items():
            fh.write(f"{name}\tskipped\t{res}\n" if isinstance(res, str) else
                     f"{name}\tdrawn\t{', '.join(p.name for p in res)}\n")
    with atomic_open(out_dir / "index.json") as fh:
        json.dump(index, fh, indent=1)
        fh.write("\n")
    return results
