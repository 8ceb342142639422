"""`genomamba split`: assign the samples of a sample sheet to train/validation/test, by strain or by
genomic region blocks (rules: genomamba/split.py)."""

import sys
from pathlib import Path

from ..outputs import add_force_argument, check_output
from ..split import MODES


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
    parser.add_argument("--mode", choices=MODES, default="strain",
                        help="strain: whole strains per split (default); region_blocks: every sample cut "
                             "into blocks by fraction of each record, blocks dealt to the splits (needs the stores)")
    parser.add_argument("--block-length", type=int, default=1_000_000,
                        help="region_blocks: about how long a block is, in bases (default 1000000)")
    parser.add_argument("--margin", type=int, default=0,
                        help="region_blocks: bases left out between blocks of different splits (default 0)")
    parser.add_argument("--no-check-stores", action="store_true",
                        help="do not require the stores to exist yet")
    parser.add_argument("-o", "--output", required=True, type=Path, help="split.tsv to write")
    add_force_argument(parser)


def store_records(samples, stores_dir: Path, sheet: Path) -> dict[str, list[tuple[str, int]]]:
    """sample -> [(record name, length)] from each sample's store."""
    from ..errors import InputError
    from ..store import SequenceStore

    records = {}
    for sample in samples:
        path = stores_dir / f"{sample.sample}.zarr"
        if not path.exists():
            raise InputError(f"store {path} not found (run genomamba tokenize first, or pass --stores-dir)",
                             sheet, record=sample.sample, line=sample.line)
        store = SequenceStore.open(path)
        records[sample.sample] = [(str(n), int(length)) for n, length in zip(store.names, store.lengths)]
    return records


def run(args) -> int:
    from ..errors import InputError
    from ..split import make_region_split, make_split, summary
    from ..workflow import read_samples

    samples = read_samples(args.samples)
    check_output(args.output, "file", [args.samples, *(args.stores_dir / f"{s.sample}.zarr" for s in samples)],
                 args.force)
    if args.mode == "region_blocks":
        split = make_region_split(samples, store_records(samples, args.stores_dir, args.samples),
                                  seed=args.seed, block_length=args.block_length, margin=args.margin,
                                  fractions=args.fractions, species=args.species, stores_dir=args.stores_dir)
    else:
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
