"""Train a neural classifier on genomes named by a sheet and score fragments of held-out ones, for
the GPU machine (no zarr or snakemake there: genomes are read with ``genomamba.io`` into memory).

    python benchmarks/neural_experiment.py --sheet SHEET.tsv --data DATA --params PARAMS.json \\
        --seeds 1 2 3 --out DIR [--max-minutes M] [--lengths 1000 4000 16000] [--per-species 300]

SHEET: tab-separated ``sample species strain path split [region]`` (split: train, validation, test,
``none`` for genomes that are only sources of negatives, or ``unused``; region, optional: ``A-B``, the fraction
A to B of every record of the file, so that one genome can give a training region and held-out ones,
e.g. syntenic regions of several species). Per seed the model is trained with its
checkpoint in ``DIR/ckpt-<seed>`` (``--max-minutes`` time-boxes a call: run it again to continue; exit
status 3 while any seed is unfinished) and saved to ``DIR/model-<seed>``; then it scores

  fragments   ``--per-species`` fragments of each length per species and held-out split, at random
              offsets (overlap allowed), drawn from ``--fragment-seed`` alone, so every seed and model
              scores the same pieces; a sample is drawn in proportion to its length
  assemblies  every record and the whole of each held-out genome
  negatives   ``--negatives-per-kind`` sequences of each kind of ``genomamba.negatives`` and each of
              ``--negative-lengths``, the real-derived kinds cut from held-out genomes

and writes ``DIR/calls-<seed>.tsv`` (one row per scored piece: seed, set, split, length, sample,
species, record, start, call, confidence, p_<species>...). ``fragments.tsv`` lists the pieces once.

With ``--model MODEL_DIR`` nothing is trained: a model of any kind (sourmash and k-mer models trained
on the same split by the workflow) scores the same pieces into ``DIR/calls-<--name>.tsv``, in the same
row order, for ``benchmarks/heldout_summary.py`` to compare and combine.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomamba import negatives  # noqa: E402
from genomamba.atomic import atomic_open  # noqa: E402
from genomamba.calls import aggregate, decide, prob_column  # noqa: E402
from genomamba.data import ArraySource, LabelledSource  # noqa: E402
from genomamba.io import read_records  # noqa: E402

PAUSED = 3


def read_sheet(path: Path, data: Path) -> list[dict]:
    """The sheet's rows ('#' lines are comments), each path joined to ``data``."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    for row in rows:
        row["path"] = str(data / row["path"])
    return rows


def load_genome(path: str, region: str = "", cache: dict = {}) -> ArraySource:
    """The file's records (read once per path), each cut to its ``A-B`` fraction if a region is given."""
    if path not in cache:
        cache[path] = [(r.name, np.concatenate([tokens for tokens, _ in r.chunks()])) for r in read_records(path)]
    low, high = (float(x) for x in region.split("-")) if region else (0.0, 1.0)
    return ArraySource([t[int(low * len(t)):int(high * len(t))] for _, t in cache[path]],
                       [name for name, _ in cache[path]])


def draw_fragments(rows, genomes, lengths, per_species, seed):
    """(split, length, sample, species, record index, start) of the evaluation fragments."""
    out = []
    for split in ("validation", "test"):
        by_species = {}
        for row in rows:
            if row["split"] == split:
                by_species.setdefault(row["species"], []).append(row)
        for length in lengths:
            for species in sorted(by_species):
                rng = np.random.default_rng([seed, length, sum(map(ord, species + split))])
                members = by_species[species]
                room = [np.maximum(genomes[r["sample"]].lengths - length + 1, 0) for r in members]
                totals = np.array([x.sum() for x in room], dtype=np.float64)
                if totals.sum() == 0:
                    continue
                for _ in range(per_species):
                    m = int(rng.choice(len(members), p=totals / totals.sum()))
                    record = int(rng.choice(len(room[m]), p=room[m] / room[m].sum()))
                    start = int(rng.integers(room[m][record]))
                    out.append((split, length, members[m]["sample"], species, record, start))
    return out


def draw_negatives(rows, genomes, lengths, per_kind, seed):
    """(kind, length, tokens) negatives; the real-derived kinds cut from held-out genomes."""
    held_out = [r for r in rows if r["split"] in ("validation", "test", "none")]
    out = []
    for length in lengths:
        rng = np.random.default_rng([seed, length, 7])
        for kind in negatives.KINDS:
            for _ in range(per_kind):
                row = held_out[int(rng.integers(len(held_out)))]
                source = genomes[row["sample"]]
                fits = np.flatnonzero(source.lengths >= length)
                if not len(fits):
                    continue
                record = int(rng.choice(fits))
                start = int(rng.integers(source.lengths[record] - length + 1))
                real = source.read(record, start, start + length)
                out.append((kind, length, row["sample"], negatives.make(kind, rng, real)))
    return out


def train(kind_class, species, genomes, rows, params, seed, out: Path, deadline):
    from genomamba.train import TrainingPaused

    index = {s: i for i, s in enumerate(species)}

    def sources(split):
        return [LabelledSource(r["sample"], index[r["species"]], genomes[r["sample"]])
                for r in rows if r["split"] == split and r["species"] in index]

    model_dir = out / f"model-{seed}"
    if (model_dir / "config.json").is_file():
        from genomamba.classifiers import load
        return load(model_dir)
    params = {**params, "checkpoint_dir": str(out / f"ckpt-{seed}")}
    try:
        clf = kind_class.fit_sources(species, sources("train"), sources("validation"), params, seed,
                                     log=lambda m: print(f"[seed {seed} {time.strftime('%H:%M:%S')}] {m}",
                                                         flush=True), deadline=deadline)
    except TrainingPaused as paused:
        print(f"[seed {seed}] {paused}", flush=True)
        return None
    clf.save(model_dir)
    return clf


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("."), help="folder the sheet's paths are relative to")
    parser.add_argument("--params", type=Path, default=None, help="JSON params of the classifier")
    parser.add_argument("--set", metavar="KEY=JSON", action="append", default=[],
                        help="override one of the params, e.g. --set steps=500 (repeatable)")
    parser.add_argument("--kind", default="mamba", choices=["mamba", "transformer"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--per-species", type=int, default=300)
    parser.add_argument("--fragment-seed", type=int, default=20261206)
    parser.add_argument("--negative-lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--negatives-per-kind", type=int, default=5)
    parser.add_argument("--no-eval", action="store_true", help="train only")
    parser.add_argument("--model", type=Path, default=None, help="score with this trained model instead")
    parser.add_argument("--name", default="model", help="with --model: the calls table's name")
    args = parser.parse_args(argv)

    from genomamba.classifiers import classifier_class

    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
    args.out.mkdir(parents=True, exist_ok=True)
    rows = read_sheet(args.sheet, args.data)
    started = time.perf_counter()
    genomes = {r["sample"]: load_genome(r["path"], r.get("region") or "") for r in rows}
    print(f"read {len(genomes)} genomes, {sum(int(g.lengths.sum()) for g in genomes.values()):,} bases "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    species = sorted({r["species"] for r in rows if r["split"] == "train"})
    params = json.loads(args.params.read_text()) if args.params else {}
    for item in args.set:
        key, _, value = item.partition("=")
        params[key] = json.loads(value)
    fragments = draw_fragments(rows, genomes, args.lengths, args.per_species, args.fragment_seed)
    with atomic_open(args.out / "fragments.tsv", newline="") as fh:   # parallel seeds write the same
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["split", "length", "sample", "species", "record", "start"])
        writer.writerows((s, n, sample, sp, genomes[sample].names[r], a) for s, n, sample, sp, r, a in fragments)
    negative_set = draw_negatives(rows, genomes, args.negative_lengths, args.negatives_per_kind, args.fragment_seed)
    unfinished = 0
    for seed in args.seeds:
        if args.model is not None:
            from genomamba.classifiers import load
            clf, name = load(args.model), args.name
        else:
            clf, name = train(classifier_class(args.kind), species, genomes, rows, params, seed, args.out, deadline), seed
        if clf is None:
            unfinished += 1
            continue
        if args.no_eval or (args.out / f"calls-{name}.tsv").is_file():
            continue
        scored = time.perf_counter()
        with open(args.out / f"calls-{name}.tsv", "w", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(["seed", "set", "split", "length", "sample", "species", "record", "start", "call",
                             "confidence", *(prob_column(s) for s in clf.species)])

            def put(kind, split, sample, truth, record, start, tokens):
                probs, confidence = clf.score([tokens])
                writer.writerow([seed, kind, split, len(tokens), sample, truth, record, start,
                                 decide(probs, confidence, clf.species, clf.threshold), f"{confidence:.5g}",
                                 *(f"{p:.5g}" for p in probs)])
                return probs, confidence

            for split, length, sample, truth, record, start in fragments:
                put("fragment", split, sample, truth, genomes[sample].names[record], start,
                    genomes[sample].read(record, start, start + length))
            for kind, length, sample, tokens in negative_set:
                put(f"negative:{kind}", "none", sample, "unclassified", "", 0, tokens)
            for row in rows:
                if row["split"] not in ("validation", "test", "none"):
                    continue
                genome = genomes[row["sample"]]
                truth = row["species"] if row["species"] in clf.species else "unclassified"
                scores = [put("record", row["split"], row["sample"], truth, name, 0, genome.read(record))
                          for record, name in enumerate(genome.names)]
                probs, confidence = aggregate(genome.lengths, [p for p, _ in scores], [c for _, c in scores])
                writer.writerow([seed, "assembly", row["split"], int(genome.lengths.sum()), row["sample"], truth,
                                 "*", 0, decide(probs, confidence, clf.species, clf.threshold), f"{confidence:.5g}",
                                 *(f"{p:.5g}" for p in probs)])
        print(f"[seed {seed}] scored in {time.perf_counter() - scored:.1f} s", flush=True)
    return PAUSED if unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
