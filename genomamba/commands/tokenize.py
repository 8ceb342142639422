"""`genomamba tokenize INPUT... -o STORE.zarr`: sequences of any supported format into a zarr store."""

from __future__ import annotations

import os
import sys

from .. import progress
from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    parser.epilog = ("Lower case (soft-masked) FASTA bases are kept as a mask; IUPAC codes become N. Records "
                     "with no bases, duplicate names (across all inputs too), headers without a name and "
                     "anything that is not DNA are errors (exit code 2) and leave nothing at -o.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="FASTA (plain, gzip, bgzip, xz, bz2), GenBank, EMBL, SAM, BAM or CRAM; "
                             "format and compression are detected from the content; - reads standard input")
    parser.add_argument("-o", "--output", required=True, metavar="STORE.zarr",
                        help="store to write (a genomamba store already there is replaced)")
    add_force_argument(parser)
    parser.add_argument("--species", help="species label stored in the attributes")
    parser.add_argument("--strain", help="strain (or isolate/region) label stored in the attributes")
    parser.add_argument("--min-length", type=int, default=0, metavar="N", help="skip records shorter than N bases")
    parser.add_argument("--min-mapq", type=int, default=0, metavar="Q",
                        help="SAM/BAM/CRAM: skip reads with MAPQ below Q (and unmapped reads when Q > 0)")
    parser.add_argument("--include-secondary", action="store_true",
                        help="SAM/BAM/CRAM: keep secondary and supplementary alignments too")
    parser.add_argument("--reference", metavar="FASTA", help="CRAM: the reference it was compressed against")
    progress.add_arguments(parser)


def run(args) -> int:
    from ..inputs import STDIN, check_options, stdin_inputs
    from ..io.tokenize import tokenize_files

    check_options(min_length=args.min_length, min_mapq=args.min_mapq)
    # a directory is no sequence file: the reader refuses it, so the output may not overlap files only
    files = [p for p in [*args.inputs, args.reference] if p not in (None, STDIN) and not os.path.isdir(p)]
    check_output(args.output, "store", files, args.force)
    with stdin_inputs(args.inputs) as inputs:
        attrs = tokenize_files(inputs, args.output, species=args.species, strain=args.strain,
                               min_length=args.min_length, min_mapq=args.min_mapq, reference=args.reference,
                               include_secondary=args.include_secondary, progress=args.progress)
    print(f"{args.output}: {attrs['n_records']} records, {attrs['total_length']} bases "
          f"from {len(attrs['sources'])} file(s)", file=sys.stderr)
    return 0
