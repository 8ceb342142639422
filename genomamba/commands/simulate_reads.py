"""`genomamba simulate-reads ASSEMBLY -o READS.bam`: seeded nanopore-like long reads as an unaligned BAM."""

from __future__ import annotations

import sys

from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    from ..simulate import ErrorModel, LengthModel

    lengths, errors = LengthModel(), ErrorModel()
    parser.epilog = ("Read names are r<index>:<record>:<start>-<end>:<strand> (0-based, half-open, forward-strand "
                     "coordinates of the source slice). Sample, species and strain go into the @RG header line.")
    parser.add_argument("input", metavar="ASSEMBLY",
                        help="FASTA (any compression), GenBank, EMBL, SAM/BAM or a genomamba store; - reads "
                             "standard input")
    parser.add_argument("-o", "--output", required=True, metavar="READS.bam",
                        help="BAM to write (a file already there is replaced)")
    parser.add_argument("--seed", type=int, required=True, help="seeds every random choice")
    amount = parser.add_mutually_exclusive_group(required=True)
    amount.add_argument("--count", type=int, help="number of reads")
    amount.add_argument("--coverage", type=float, help="simulate until the reads' template bases reach "
                                                       "this multiple of the assembly length")
    parser.add_argument("--median-length", type=int, default=lengths.median_length,
                        help="median of the log-normal read length (default %(default)s)")
    parser.add_argument("--length-sigma", type=float, default=lengths.sigma,
                        help="shape (sigma of the log) of the read length (default %(default)s)")
    parser.add_argument("--min-length", type=int, default=lengths.min_length, help="default %(default)s")
    parser.add_argument("--max-length", type=int, default=lengths.max_length, help="default %(default)s")
    parser.add_argument("--substitution-rate", type=float, default=errors.substitution, help="default %(default)s")
    parser.add_argument("--insertion-rate", type=float, default=errors.insertion, help="default %(default)s")
    parser.add_argument("--deletion-rate", type=float, default=errors.deletion, help="default %(default)s")
    parser.add_argument("--sample", help="sample name for @RG SM (default: the input's file name; stdin)")
    parser.add_argument("--species", help="species of the source, kept in the header")
    parser.add_argument("--strain", help="strain of the source, kept in the header")
    add_force_argument(parser)


def run(args) -> int:
    from ..errors import InputError
    from ..inputs import STDIN, stdin_inputs
    from ..simulate import ErrorModel, LengthModel, simulate_to_bam

    if args.count is not None and args.count < 1 or args.coverage is not None and not args.coverage > 0:
        raise InputError("--count must be >= 1 and --coverage > 0")
    from_stdin = args.input == STDIN
    check_output(args.output, "file", [] if from_stdin else [args.input], args.force)
    with stdin_inputs([args.input]) as (source,):
        totals = simulate_to_bam(
            source, args.output, seed=args.seed, count=args.count, coverage=args.coverage,
            lengths=LengthModel(args.median_length, args.length_sigma, args.min_length, args.max_length),
            errors=ErrorModel(args.substitution_rate, args.insertion_rate, args.deletion_rate),
            sample=args.sample or ("stdin" if from_stdin else None), species=args.species, strain=args.strain)
    events = totals["substitutions"] + totals["insertions"] + totals["deletions"]
    print(f"{args.output}: {totals['reads']} reads, {totals['read_bases']} bases; "
          f"errors {events / max(totals['template_bases'], 1):.2%} of template bases", file=sys.stderr)
    return 0
