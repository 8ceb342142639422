"""`genomamba report`: write the self-contained HTML report."""

import shlex
from pathlib import Path

from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    parser.add_argument("--split", required=True, type=Path, help="split.tsv (the truth)")
    parser.add_argument("--metrics", nargs="*", default=[], type=Path,
                        help="metrics JSONs (genomamba evaluate)")
    parser.add_argument("--calls", nargs="*", default=[], type=Path,
                        help="calls tables: calls/{sample}.tsv (primary) and compare/{model}/{sample}.tsv")
    parser.add_argument("--read-metrics", nargs="*", default=[], type=Path,
                        help="metrics JSONs of per-read calls (genomamba evaluate --read-length-bins)")
    parser.add_argument("--config", type=Path, help="the run's config (YAML or JSON), shown in the report")
    parser.add_argument("--provenance", type=Path,
                        help="folder of {sample}.zarr stores, or a split.tsv whose store column names them")
    parser.add_argument("--primary", help="the primary model (default: the first metrics file's)")
    parser.add_argument("--figures", type=Path,
                        help="the folder `genomamba figures` wrote: its figures and their provenance are shown")
    parser.add_argument("--tracks", nargs="*", default=[], type=Path, metavar="FLAGS_TSV",
                        help="genomamba track's <sample>.flags.tsv (its .track.tsv and .segments.tsv beside "
                             "it): a Contamination section")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    add_force_argument(parser)


def command_line(args) -> str:
    """The command as run, rebuilt from its parsed arguments (so it is the same however invoked)."""
    words = ["genomamba", "report", "--split", str(args.split)]
    for flag, values in (("--metrics", args.metrics), ("--calls", args.calls),
                         ("--read-metrics", args.read_metrics), ("--tracks", args.tracks)):
        if values:
            words += [flag, *map(str, values)]
    for flag, value in (("--config", args.config), ("--provenance", args.provenance),
                        ("--primary", args.primary), ("--figures", args.figures)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join([*words, "-o", str(args.output)] + (["--force"] if getattr(args, "force", False) else []))


def run(args) -> int:
    from ..report import write_report
    from ..split import Split

    check_output(args.output, "file", [args.split, *args.metrics, *args.calls, *args.read_metrics,
                                       *args.tracks, args.config, args.provenance, args.figures], args.force)
    write_report(args.output, split=Split.read(args.split), metrics_paths=args.metrics,
                 calls_paths=args.calls, config=args.config, provenance=args.provenance,
                 primary=args.primary, read_metrics_paths=args.read_metrics, figures=args.figures,
                 command_line=command_line(args), flags_paths=args.tracks)
    print(args.output)
    return 0
