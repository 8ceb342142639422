"""Short records scored one at a time (``score``) against together (``score_many``), as `genomamba
classify` scores reads, contigs and fragments: records per second and bases per second.

    python benchmarks/score_many.py [--model resources/models/bacteria] [--device cpu|cuda]
        [--lengths 150 1000 5000] [--records 200] [--threads N] [--repeats 3]

Records are seeded slices of the embedded genomes (resources/genomes), lengths spread from L to
1.2 L; both ways run on the same records, alternating, and the table gives medians and the
largest difference of probabilities between them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomamba.chimeras import Source  # noqa: E402
from genomamba.classifiers import load  # noqa: E402


def embedded_genomes() -> list[np.ndarray]:
    """The first record of each genome in resources/genomes, as tokens."""
    return [Source.read(path.parent.name.replace("_", " "), path).sequences[0]
            for path in sorted((REPO / "resources" / "genomes").glob("*/*.fa.gz"))]


def genome_records(genomes, lengths_from: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` seeded slices of ``genomes``, of ``lengths_from`` to 1.2 times as many bases."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        genome = genomes[rng.integers(len(genomes))]
        n = min(len(genome), int(lengths_from * rng.uniform(1.0, 1.2)))
        start = rng.integers(0, len(genome) - n + 1)
        out.append(np.array(genome[start:start + n], np.uint8))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "resources" / "models" / "bacteria")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lengths", type=int, nargs="+", default=[150, 1000, 5000])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="PyTorch threads (0: the model's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    model = load(args.model).to(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name() if model.device.type == "cuda" else "cpu"
    print(f"# {name}, {torch.get_num_threads()} threads, model {args.model.name}, "
          f"batch up to {model.batch_bases} bases")
    print("length\trecords\tway\trecords_per_s\tkbp_per_s\tmax_prob_diff")
    genomes = embedded_genomes()
    for length in args.lengths:
        records = genome_records(genomes, length, args.records, seed=length)
        bases = sum(len(r) for r in records)
        ways = {"one at a time": lambda: [model.score([r]) for r in records],
                "together": lambda: model.score_many(records)}
        results = {way: fn() for way, fn in ways.items()}     # warm: compiles, buffers, graphs
        diff = max(np.abs(p - q).max() for (p, _), (q, _) in zip(*results.values()))
        times = {way: [] for way in ways}
        for _ in range(args.repeats):
            for way, fn in ways.items():
                if model.device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                fn()
                if model.device.type == "cuda":
                    torch.cuda.synchronize()
                times[way].append(time.perf_counter() - started)
        for way, spent in times.items():
            median = float(np.median(spent))
            print(f"{length}\t{len(records)}\t{way}\t{len(records) / median:.1f}\t{bases / median / 1e3:.1f}"
                  f"\t{diff:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
