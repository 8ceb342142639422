"""Accuracy with 95% confidence intervals from the calls tables of ``benchmarks/neural_experiment.py``.

    python benchmarks/heldout_summary.py --model mamba 'DIR/calls-[0-9]*.tsv' --model sourmash DIR/calls-sourmash.tsv \\
        [--combine sourmash mamba] [--json OUT.json] > table.md

Per model, split and fragment length: accuracy (right calls / fragments, an ``unclassified`` call of a
species' fragment counting as wrong), its mean over the seeds (tables), a 95% interval from a bootstrap
over the held-out *samples* (strains) and the seeds, not over the fragments, which overlap and share
their strain (with one held-out strain per species the interval says how much the strains differ),
macro-F1 over the species, and the share abstained. Negatives: the share called ``unclassified``, by
kind. Assemblies: right / all. ``--threshold NAME MODEL T`` adds MODEL's calls made again at another
threshold (species names from the p_ columns, '_' read as a space). ``--combine FIRST SECOND`` adds the cascade FIRST where it calls a
species, SECOND elsewhere (rows joined by position: the tables list the same pieces in the same order).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys

import numpy as np
import pandas as pd

UNCLASSIFIED = "unclassified"


def read_model(patterns) -> pd.DataFrame:
    paths = sorted(p for pattern in patterns for p in glob.glob(pattern))
    if not paths:
        sys.exit(f"heldout_summary: no calls table matches {patterns}")
    frames = []
    for path in paths:
        frame = pd.read_csv(path, sep="\t", dtype={"record": str})
        frame["table"], frame["row"] = path, np.arange(len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def rethreshold(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The calls a threshold of ``threshold`` makes: the top species where confidence >= it (and > 0)."""
    columns = [c for c in frame.columns if c.startswith("p_")]
    species = np.array([c[2:].replace("_", " ") for c in columns])
    out = frame.copy()
    top = species[np.nan_to_num(frame[columns].to_numpy(dtype=np.float64), nan=-1).argmax(1)]
    called = (frame.confidence >= threshold) & (frame.confidence > 0)
    out["call"] = np.where(called, top, UNCLASSIFIED)
    return out


def cascade(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """FIRST's call where it named a species, SECOND's elsewhere; one table per seed of SECOND."""
    base = first[first.table == first.table.iloc[0]].reset_index(drop=True)
    out = []
    for _, part in second.groupby("table", sort=True):
        part = part.reset_index(drop=True)
        if len(part) != len(base) or not (part[["set", "length", "sample"]].values == base[["set", "length", "sample"]].values).all():
            sys.exit("heldout_summary: the two tables do not list the same pieces in the same order")
        merged = part.copy()
        confident = base.call != UNCLASSIFIED
        merged.loc[confident, "call"] = base.call[confident]
        out.append(merged)
    return pd.concat(out, ignore_index=True)


def macro_f1(truth: np.ndarray, call: np.ndarray) -> float:
    scores = []
    for species in np.unique(truth):
        tp = np.sum((call == species) & (truth == species))
        fp, fn = np.sum((call == species) & (truth != species)), np.sum((call != species) & (truth == species))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores))


def bootstrap(frame: pd.DataFrame, block: int = 0, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the accuracy resampling, with replacement, the held-out samples and the seeds'
    tables (two levels: which strains were held out, and which training runs). With ``block`` > 0 the
    unit is a block of that many bases of a sample (by fragment start), for held-out regions."""
    rng = np.random.default_rng(seed)
    right = (frame.call == frame.species).to_numpy(dtype=np.float64)
    samples, tables = frame["sample"].to_numpy(dtype=str), frame.table.to_numpy()
    if block:
        samples = np.char.add(samples, (frame.start.to_numpy() // block).astype(str))
    cells = {(s, t): right[(samples == s) & (tables == t)] for s in np.unique(samples) for t in np.unique(tables)}
    names, runs = np.unique(samples), np.unique(tables)
    stats = []
    for _ in range(n):
        chosen = [cells[(s, t)] for s in rng.choice(names, len(names)) for t in rng.choice(runs, len(runs))]
        stats.append(np.concatenate(chosen).mean())
    low, high = np.quantile(stats, [0.025, 0.975])
    return float(low), float(high)


def summarise(name: str, frame: pd.DataFrame, block: int = 0) -> dict:
    fragments = frame[frame.set == "fragment"]
    rows = []
    for (split, length), part in fragments.groupby(["split", "length"], sort=True):
        per_seed = part.groupby("table").apply(lambda t: (t.call == t.species).mean(), include_groups=False)
        low, high = bootstrap(part, block)
        rows.append({"model": name, "split": split, "length": int(length), "fragments": int(len(part) / part.table.nunique()),
                     "seeds": int(part.table.nunique()), "accuracy": float(per_seed.mean()),
                     "seed_min": float(per_seed.min()), "seed_max": float(per_seed.max()), "ci_low": low, "ci_high": high,
                     "macro_f1": macro_f1(part.species.to_numpy(), part.call.to_numpy()),
                     "abstained": float((part.call == UNCLASSIFIED).mean())})
    negatives = frame[frame.set.str.startswith("negative:")]
    rejected = {kind.split(":", 1)[1]: {int(length): float((g.call == UNCLASSIFIED).mean())
                                         for length, g in part.groupby("length")}
                for kind, part in negatives.groupby("set")}
    assemblies = frame[frame.set == "assembly"]
    return {"fragments": rows, "negatives_rejected": rejected,
            "assemblies": {"right": int((assemblies.call == assemblies.species).sum()), "all": int(len(assemblies))}}


def markdown(results: dict) -> str:
    lines = ["| model | split | length | fragments x seeds | accuracy (seed range) | 95% CI (bootstrap over strains) "
             "| macro-F1 | abstained |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, result in results.items():
        for r in result["fragments"]:
            lines.append(f"| {name} | {r['split']} | {r['length']} | {r['fragments']} x {r['seeds']} | "
                         f"{r['accuracy']:.4f} ({r['seed_min']:.4f}-{r['seed_max']:.4f}) | "
                         f"{r['ci_low']:.4f}-{r['ci_high']:.4f} | {r['macro_f1']:.4f} | {r['abstained']:.4f} |")
    lines += ["", "| model | assemblies right | negatives called unclassified (by kind: length -> share) |", "|---|---:|---|"]
    for name, result in results.items():
        neg = "; ".join(f"{kind}: " + ", ".join(f"{n // 1000} kb {v:.2f}" for n, v in by.items())
                        for kind, by in result["negatives_rejected"].items())
        lines.append(f"| {name} | {result['assemblies']['right']}/{result['assemblies']['all']} | {neg} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", action="append", metavar=("NAME", "TABLE"), required=True,
                        help="a model's name and its calls tables (globs; one per seed)")
    parser.add_argument("--threshold", nargs=3, action="append", default=[], metavar=("NAME", "MODEL", "T"),
                        help="add model NAME: MODEL's calls made again at threshold T")
    parser.add_argument("--combine", nargs=2, action="append", default=[], metavar=("FIRST", "SECOND"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--block-length", type=int, default=0,
                        help="bootstrap over blocks of this many bases of each sample (held-out regions)")
    args = parser.parse_args(argv)
    frames = {name: read_model(patterns) for name, *patterns in args.model}
    for name, model, threshold in args.threshold:
        frames[name] = rethreshold(frames[model], float(threshold))
    for first, second in args.combine:
        frames[f"{first} then {second}"] = cascade(frames[first], frames[second])
    results = {name: summarise(name, frame, args.block_length) for name, frame in frames.items()}
    print(markdown(results))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
