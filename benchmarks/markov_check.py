"""The Markov check (genomamba/markov.py) on a sheet of genomes: fitted on the training genomes,
calibrated on windows of the validation genomes, then the share of real windows of the test genomes
it accepts and of synthetic negatives (genomamba.negatives, made from those windows) it rejects, per
length; and every held-out record of at least 10 kb.

    python benchmarks/markov_check.py --sheet config/experiments/neural_bacteria_heldout.tsv \\
        --data ../shared/data [--order 6] [--windows 100] [--lengths 10000 100000 1000000]

SHEET as for benchmarks/neural_experiment.py (split: train, validation, test, none or unused).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomamba import negatives  # noqa: E402
from genomamba.markov import MarkovCheck  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from neural_experiment import load_genome, read_sheet  # noqa: E402


def windows(rows, genomes, split, length, n, rng):
    """``n`` windows of ``length`` at random offsets of the split's genomes (a genome in proportion to
    the room it has), with the sample they came from."""
    members = [r for r in rows if r["split"] == split]
    room = np.array([max(int(genomes[r["sample"]].lengths.max()) - length + 1, 0) for r in members], float)
    out = []
    for _ in range(n if room.sum() else 0):
        row = members[int(rng.choice(len(members), p=room / room.sum()))]
        genome = genomes[row["sample"]]
        fits = np.flatnonzero(genome.lengths >= length)
        record = int(rng.choice(fits))
        start = int(rng.integers(genome.lengths[record] - length + 1))
        out.append((row["sample"], genome.read(record, start, start + length)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("."))
    parser.add_argument("--order", type=int, default=6)
    parser.add_argument("--windows", type=int, default=100, help="real windows per length (and per kind of negative)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = read_sheet(args.sheet, args.data)
    genomes = {r["sample"]: load_genome(r["path"], r.get("region") or "") for r in rows}
    species = sorted({r["species"] for r in rows if r["split"] == "train"})
    started = time.perf_counter()
    check = MarkovCheck.fit([[g.read(i) for r in rows if r["species"] == sp and r["split"] == "train"
                              for g in [genomes[r["sample"]]] for i in range(len(g.lengths))] for sp in species],
                            order=args.order)
    summary = check.calibrate([w for _, w in windows(rows, genomes, "validation", check.min_length,
                                                      4 * args.windows, rng)], rng)
    print(f"order {args.order}, fitted and calibrated in {time.perf_counter() - started:.1f} s: " +
          ", ".join(f"{k} {v:.4g}" for k, v in summary.items()))
    print("| length | test windows accepted | " + " | ".join(f"{k} rejected" for k in negatives.KINDS) + " |")
    print("|---:|---:|" + "---:|" * len(negatives.KINDS))
    for length in args.lengths:
        real = windows(rows, genomes, "test", length, args.windows, rng)
        accepted = np.mean([check.accepts([w]) for _, w in real])
        rejected = [np.mean([not check.accepts([negatives.make(kind, rng, w)]) for _, w in real]) for kind in negatives.KINDS]
        print(f"| {length:,} | {accepted:.1%} of {len(real)} | " + " | ".join(f"{r:.1%}" for r in rejected) + " |")
    for row in rows:
        if row["split"] in ("validation", "test", "none"):
            g = genomes[row["sample"]]
            verdicts = [check.accepts([g.read(i)]) for i in range(len(g.lengths)) if g.lengths[i] >= check.min_length]
            print(f"{row['split']:10s} {row['sample']:24s} {row['species']:24s} records >= 10 kb accepted: "
                  f"{sum(verdicts)}/{len(verdicts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
