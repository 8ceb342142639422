"""The paper figures, each as PNG, SVG and PDF, identical bytes from identical inputs.

Figures (a figure whose inputs are missing is skipped with a note, never an error):

  accuracy_vs_length     test accuracy per fragment length, one line per model, abstention beside;
                         from metrics JSONs (``genomamba evaluate``) that have fragment levels
  accuracy_vs_context    assembly/record accuracy per training context length, one line per model
                         kind; from metrics JSONs whose ``model_config`` (or a section of it) has a
                         context length (``CONTEXT_KEYS``; ``genomamba evaluate --model-dir``); needs
                         two context lengths or more
  speed_vs_length        throughput (tokens/s) against sequence length, log-log, per model
  memory_vs_length       peak memory against sequence length, log-log, per model
  training_curves        loss (and accuracy, if logged) against step, per model

Benchmark TSV schema (``--bench-tsv``; tab-separated, one header line, ``#`` lines ignored):

  model           required  series name (e.g. mamba, transformer)
  length          required  sequence length in tokens
  tokens_per_s    optional  throughput; if absent it is length * batch / seconds
  seconds         optional  wall time of one step over ``batch`` sequences of ``length``
  batch           optional  sequences per step (default 1)
  peak_mem_bytes  optional  peak accelerator memory of the step
  device          optional  when a file mixes devices, series become "model @ device"
  phase           optional  e.g. forward / train; when present, series become "model (phase)"

Empty, ``nan``, ``oom`` or ``NA`` values are treated as missing (the point is left out; a row with an
``oom`` value gets a cross marking "out of memory" at its length). Repeated
(series, length) rows are summarised by their median.

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
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

from .atomic import atomic_open
from .errors import InputError, read_input_text
from .evaluate import read_metrics
from .plots import FORMATS, figure, model_colours, save_figure

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
                     "oom": oom})
    return rows


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
    return out


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
    """A log x axis labelled at the lengths drawn (no crowded minor labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log", base=base)
    lengths = sorted(lengths)
    # at most ~8 labels: keep every k-th length so neighbours never overlap
    step = max(1, math.ceil(len(lengths) / 8))
    shown = lengths[::step] if lengths[-1] in lengths[::step] else [*lengths[::step], lengths[-1]]
    ax.set_xticks(shown)
    ax.set_xticklabels([label(n) for n in shown])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if len(lengths) == 1:
        ax.set_xlim(lengths[0] / 2, lengths[0] * 2)
    else:
        ax.margins(x=0.06)


def accuracy_vs_length(metrics: list[dict], stem, split="test", render=None):
    """Fragment accuracy and abstention against fragment length; None if no model has fragments.
    ``render(fig)`` makes the result (default: the files at ``stem``; the report passes svg_inline)."""
    by_model = defaultdict(dict)  # several metrics files of one model (one per length) make one line
    for doc in metrics:
        for lv in doc["splits"].get(split, {}).get("levels", []):
            if lv["level"] == "fragment" and lv.get("accuracy") is not None:
                by_model[doc["model"]].setdefault(lv["fragment_length"], lv)
    series = {model: [lvs[n] for n in sorted(lvs)] for model, lvs in by_model.items()}
    if not series:
        return None
    colours = model_colours(series)
    with figure(8.0, 3.2, ncols=2) as (fig, (acc_ax, abst_ax)):
        for name in sorted(series):
            for ax, key in ((acc_ax, "accuracy"), (abst_ax, "abstention_rate")):
                pts = [(lv["fragment_length"], lv[key]) for lv in series[name] if lv.get(key) is not None]
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", color=colours[name], label=name)
        lengths = sorted({lv["fragment_length"] for levels in series.values() for lv in levels})
        for ax, label in ((acc_ax, "accuracy"), (abst_ax, "abstention rate")):
            _length_axis(ax, lengths, label=_fragment_length)
            ax.set_xlabel("fragment length")
            ax.set_ylabel(label)
            ax.set_ylim(-0.02, 1.02)
        acc_ax.set_title(f"Accuracy by fragment length ({split})")
        abst_ax.set_title("Unclassified (in-distribution)")
        acc_ax.legend(loc="lower right")
        fig.tight_layout()
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


def accuracy_vs_context(metrics: list[dict], stem, split="test"):
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
    colours = model_colours(kind for kind, _ in points)
    with figure(5.0, 3.4) as (fig, (ax,)):
        for (kind, level), pts in sorted(points.items()):
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", color=colours[kind],
                    linestyle="-" if level == "assembly" else "--", label=f"{kind} ({level})")
        _length_axis(ax, sorted({x for pts in points.values() for x, _ in pts}), base=2, label=_tokens)
        ax.set_xlabel("training context length (tokens)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"Accuracy by context length ({split})")
        ax.legend(loc="lower right")
        fig.tight_layout()
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


def bench_vs_length(rows: list[dict], stem, key: str):
    """Throughput (key ``tokens_per_s``) or peak memory (``peak_mem_bytes``) against length."""
    series = _median_series(rows, key)
    if not series:
        return None
    colours = model_colours(name.split(" ")[0] for name in series)
    if key == "tokens_per_s":
        scale, unit = 1.0, "tokens / s"
    else:  # GiB when any point reaches one, MiB below
        big = max(y for pts in series.values() for _, y in pts) >= 2.0 ** 30
        scale, unit = (2.0 ** 30, "peak memory (GiB)") if big else (2.0 ** 20, "peak memory (MiB)")
    with figure(5.0, 3.4) as (fig, (ax,)):
        for name in sorted(series):
            pts = series[name]
            ax.plot([x for x, _ in pts], [y / scale for _, y in pts], marker="o",
                    color=colours[name.split(" ")[0]], label=name)
        # lengths that ran out of memory: a cross above the highest point, in the series' colour
        oom = sorted({(r["series"], r["length"]) for r in rows if r.get("oom") and r["series"] in series})
        top = max(y for pts in series.values() for _, y in pts) / scale * 1.6
        for i, (name, length) in enumerate(oom):
            ax.plot([length], [top], marker="x", linestyle="none", markersize=7,
                    color=colours[name.split(" ")[0]], label="out of memory" if i == 0 else None)
        lengths = {x for pts in series.values() for x, _ in pts} | {length for _, length in oom}
        _length_axis(ax, sorted(lengths), base=2, label=_tokens)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(unit)
        ax.set_title("Throughput by length" if key == "tokens_per_s" else "Memory by length")
        ax.legend()
        fig.tight_layout()
        return save_figure(fig, stem)


def training_curves(logs: dict[str, list[dict]], stem):
    """Loss (and accuracy, if any log has it) against step, one colour per model."""
    logs = {name: entries for name, entries in logs.items() if entries}
    if not logs:
        return None
    has_acc = any("acc" in k for entries in logs.values() for e in entries for k in e)
    colours = model_colours(logs)
    markers = "o" if max(len(entries) for entries in logs.values()) < 30 else None  # sparse logs: dots
    with figure(8.0 if has_acc else 5.0, 3.2, ncols=2 if has_acc else 1) as (fig, axes):
        for name in sorted(logs):
            entries = logs[name]
            fields = sorted({k for e in entries for k in e if k != "step"})
            for fld in fields:
                ax = axes[1] if has_acc and "acc" in fld else axes[0] if "loss" in fld else None
                if ax is None:
                    continue
                pts = [(e["step"], e[fld]) for e in entries if fld in e]
                ax.plot([x for x, _ in pts], [y for _, y in pts], color=colours[name],
                        linestyle="--" if "val" in fld else "-",
                        marker=markers, label=f"{name} {fld}")
        axes[0].set_ylabel("loss")
        axes[0].set_title("Training loss")
        if has_acc:
            axes[1].set_ylabel("accuracy")
            axes[1].set_title("Accuracy during training")
        for ax in axes:
            ax.set_xlabel("step")
            ax.legend()
        fig.tight_layout()
        return save_figure(fig, stem)


def draw_all(out_dir, metrics_paths=(), bench_paths=(), log_paths=(), log=print) -> dict:
    """Draw every figure whose inputs exist; returns name -> files written, or a note why skipped.

    Writes ``index.tsv`` (figure, status, note) into ``out_dir``; a skipped figure's old files go.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = sorted((read_metrics(p) for p in metrics_paths), key=lambda d: d["model"])
    bench_rows = [row for p in bench_paths for row in read_bench_tsv(p)]
    logs = {}
    for given in log_paths:
        found = find_training_logs(given)
        if not found:
            log(f"figures: no training log entries in {given}")
        for p in found:
            logs.setdefault(training_log_model(p), []).extend(read_training_log(p))
    plans = {
        "accuracy_vs_length": (lambda s: accuracy_vs_length(metrics, s),
                               "no metrics with fragment levels (classify with fragments, then evaluate)"),
        "accuracy_vs_context": (lambda s: accuracy_vs_context(metrics, s),
                                "fewer than two context lengths in the metrics' model_config"),
        "speed_vs_length": (lambda s: bench_vs_length(bench_rows, s, "tokens_per_s"),
                            "no benchmark TSV with tokens_per_s or seconds (--bench-tsv)"),
        "memory_vs_length": (lambda s: bench_vs_length(bench_rows, s, "peak_mem_bytes"),
                             "no benchmark TSV with peak_mem_bytes (--bench-tsv)"),
        "training_curves": (lambda s: training_curves(logs, s), "no training log (--training-log)"),
    }
    results = {}
    for name, (draw, why) in plans.items():
        written = draw(out_dir / name)
        if written is None:
            for fmt in FORMATS:   # a stale figure of an earlier run; never a directory someone put there
                stale = out_dir / f"{name}.{fmt}"
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            log(f"figures: skipped {name}: {why}")
            results[name] = why
        else:
            results[name] = written
    with atomic_open(out_dir / "index.tsv") as fh:
        fh.write("figure\tstatus\tnote\n")
        for name, res in results.items():
            fh.write(f"{name}\tskipped\t{res}\n" if isinstance(res, str) else
                     f"{name}\tdrawn\t{', '.join(p.name for p in res)}\n")
    return results
