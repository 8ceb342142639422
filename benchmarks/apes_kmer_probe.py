"""Is there species signal in the held-out ape regions that k-mers learnt on the training region carry?

    python benchmarks/apes_kmer_probe.py --sheet config/experiments/neural_apes_regions.tsv \\
        --data DATA [--k 12] [--min-count 1 20] [--per-species 50] [--seed 1]

A probe, not a classifier the project ships: per species, the k-mer counts of its training region;
each k-mer's weight for a species is its log share among the four species (add-one smoothed),
centred over species, and zero for k-mers seen fewer than ``--min-count`` times in all training
regions together (a count of 20 or more keeps the multi-copy k-mers of repeat families, where a
lineage's own transposon subfamilies would show). A fragment's score for a species is the sum of its
k-mers' weights, less the mean per-base score of validation fragments of all species times its
length; the best score is the call. Scored on random fragments of the test region (held-out loci)
and, as a control, of the training region (seen loci). Same sheet and regions as the Mamba runs.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from neural_experiment import load_genome, read_sheet

from genomamba.evaluate import macro_f1
from genomamba.kmers import kmer_codes


def region_tokens(rows, split: str) -> dict[str, np.ndarray]:
    """Species -> the tokens of its ``split`` region (records joined)."""
    out = {}
    for row in rows:
        if row["split"] == split:
            source = load_genome(row["path"], row.get("region") or "")
            out[row["species"]] = np.concatenate([source.read(i, 0, n) for i, n in enumerate(source.lengths)])
    return out


def fragments(tokens: np.ndarray, length: int, count: int, rng) -> list[np.ndarray]:
    starts = rng.integers(0, len(tokens) - length + 1, size=count)
    return [tokens[s:s + length] for s in starts]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--min-count", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--lengths", type=int, nargs="+", default=[2 ** 14, 2 ** 16, 2 ** 18, 2 ** 20])
    parser.add_argument("--per-species", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from pathlib import Path
    rows = read_sheet(Path(args.sheet), Path(args.data))
    regions = {split: region_tokens(rows, split) for split in ("train", "validation", "test")}
    species = sorted(regions["train"])
    counts = np.stack([np.bincount(kmer_codes(regions["train"][s], args.k), minlength=4 ** args.k)
                       for s in species]).astype(np.float32)
    total = counts.sum(0)
    shares = np.log((counts + 1) / (total + len(species)))
    shares -= shares.mean(0)

    print("k\tmin_count\tloci\tL\tfragments\taccuracy\tmacro_f1\tconfusion (rows true, columns called: "
          + " / ".join(species) + ")")
    for min_count in args.min_count:
        weights = np.where(total >= min_count, shares, 0).astype(np.float32)
        rng = np.random.default_rng(args.seed)
        per_base = [weights[:, kmer_codes(f, args.k)].mean(1)
                    for s in species for f in fragments(regions["validation"][s], 2 ** 16, 20, rng)]
        bias = np.mean(per_base, 0)
        for loci, split in (("held out", "test"), ("seen", "train")):
            for length in args.lengths:
                rng = np.random.default_rng([args.seed, length])
                truth, calls = [], []
                for i, s in enumerate(species):
                    for f in fragments(regions[split][s], length, args.per_species, rng):
                        codes = kmer_codes(f, args.k)
                        truth.append(i)
                        calls.append(int(np.argmax(weights[:, codes].sum(1) - bias * len(codes))))
                confusion = np.zeros((len(species), len(species)), dtype=int)
                np.add.at(confusion, (truth, calls), 1)
                accuracy = np.trace(confusion) / confusion.sum()
                print(f"{args.k}\t{min_count}\t{loci}\t{length}\t{confusion.sum()}\t{accuracy:.3f}\t"
                      f"{macro_f1(truth, calls):.3f}\t{confusion.tolist()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
