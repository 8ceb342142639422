"""`genomamba split`: assign the samples of a sample sheet to train/validation/test by strain."""

import sys
from pathlib import Path

HELP = "assign samples to train/validation/test by strain"


def add_arguments(parser):
    parser.add_argument("--samples", required=True, type=Path,
                        help="sample sheet (tab-separated: sample species strain path)")
    parser.add_argument("--stores-dir", default=Path("results/stores"), type=Path,
                        help="where the samples' stores <sample>.zarr are (default: results/stores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the strain shuffles (default: 0)")
    parser.add_argument("--fractions", nargs=3, type=float, default=[0.6, 0.2, 0.2],
                        metavar=("TRAIN", "VALIDATION", "TEST"), help="target fractions of strains per species")
    parser.add_argument("--species", nargs="+", metavar="S",
                        help="training species (default: every species in the sheet); "
                             "the others are test only")
    parser.add_argument("--no-check-stores", action="store_true",
                        help="do not require the stores to exist yet")
    parser.add_argument("-o", "--output", required=True, type=Path, help="split.tsv to write")


def run(args) -> int:
    from ..errors import InputError
    from ..split import make_split, summary
    from ..workflow import read_samples

    samples = read_samples(args.samples)
    split = make_split(samples, seed=args.seed, fractions=args.fractions, species=args.species,
                       stores_dir=args.stores_dir)
    if not args.no_check_stores:
        for sample, row in zip(samples, split.rows):
            if not Path(row.store).exists():
                raise InputError(f"store {row.store} not found (run genomamba tokenize first, or pass "
                                 "--stores-dir)", args.samples, record=sample.sample, line=sample.line)
    split.write(args.output)
    print(summary(split), file=sys.stderr)
    return 0
