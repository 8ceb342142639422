"""`genomamba simulate-chimeras --host SPECIES=PATH --donor SPECIES=PATH... -o ASSEMBLY.fa --truth
TRUTH.tsv --seed N`: a seeded synthetic assembly with chimeric records and contaminant contigs, and the
truth table of every piece (``genomamba.chimeras``)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    from ..chimeras import ChimeraParams

    p = ChimeraParams()
    parser.add_argument("--host", required=True, metavar="SPECIES=PATH",
                        help="the assembly being contaminated: its species and its file or store")
    parser.add_argument("--donor", required=True, action="append", metavar="SPECIES=PATH",
                        help="an assembly of another species (repeat for several)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="FASTA to write")
    parser.add_argument("--truth", required=True, type=Path, help="truth table (TSV) to write")
    parser.add_argument("--seed", type=int, required=True, help="seeds every random choice")
    parser.add_argument("--chimeras", type=int, default=p.chimeras, help="chimeric records (default %(default)s)")
    parser.add_argument("--pieces", type=int, default=p.pieces, help="pieces per chimera (default %(default)s)")
    parser.add_argument("--piece-min", type=int, default=p.piece_min, help="default %(default)s")
    parser.add_argument("--piece-max", type=int, default=p.piece_max, help="default %(default)s")
    parser.add_argument("--contaminants", type=int, default=p.contaminants,
                        help="contaminant contigs (default %(default)s)")
    parser.add_argument("--contaminant-min", type=int, default=p.contaminant_min, help="default %(default)s")
    parser.add_argument("--contaminant-max", type=int, default=p.contaminant_max, help="default %(default)s")
    parser.add_argument("--host-pieces", type=int, default=p.host_pieces,
                        help="also add this many slices of the host (lengths as pieces) as records host<i> "
                             "(default %(default)s)")
    parser.add_argument("--no-host-records", action="store_true",
                        help="leave the host's own records out of the output")
    add_force_argument(parser)


def run(args) -> int:
    from ..chimeras import (ChimeraParams, Source, breakpoints, parse_source, simulate_chimeras, write_fasta,
                            write_truth)
    from ..errors import InputError

    params = ChimeraParams(args.chimeras, args.pieces, args.piece_min, args.piece_max, args.contaminants,
                           args.contaminant_min, args.contaminant_max, not args.no_host_records, args.host_pieces)
    params.check()
    host = parse_source(args.host, "--host")
    donors = [parse_source(d, "--donor") for d in args.donor]
    if args.output.resolve() == args.truth.resolve():
        raise InputError("-o and --truth must be different files", args.output)
    inputs = [host[1], *(path for _, path in donors)]
    for output in (args.output, args.truth):
        check_output(output, "file", inputs, args.force)
    records, truth = simulate_chimeras(Source.read(*host), [Source.read(*d) for d in donors], params, args.seed)
    write_fasta(args.output, records)
    write_truth(args.truth, truth)
    print(f"{args.output}: {len(records)} records, {sum(len(t) for _, t in records)} bases, "
          f"{len(breakpoints(truth))} breakpoints; truth in {args.truth}", file=sys.stderr)
    return 0
