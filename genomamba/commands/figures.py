"""`genomamba figures`: draw the paper figures (PNG, SVG, PDF) from metrics, benchmarks and logs."""

import sys
from pathlib import Path

from ..outputs import check_output

HELP = "draw the paper figures from results"


def add_arguments(parser):
    parser.add_argument("--metrics", nargs="*", default=[], type=Path,
                        help="metrics JSONs (genomamba evaluate)")
    parser.add_argument("--bench-tsv", nargs="*", default=[], type=Path,
                        help="benchmark tables (schema: genomamba.figures docstring)")
    parser.add_argument("--training-log", nargs="*", default=[], type=Path,
                        help="training logs (JSON lines, JSON or TSV) or model folders holding one")
    parser.add_argument("-o", "--output", required=True, type=Path, help="folder for the figures")


def run(args) -> int:
    from ..figures import draw_all

    check_output(args.output, "folder", [*args.metrics, *args.bench_tsv, *args.training_log])
    results = draw_all(args.output, args.metrics, args.bench_tsv, args.training_log,
                       log=lambda msg: print(msg, file=sys.stderr))
    for name, res in results.items():
        if not isinstance(res, str):
            print(f"{name}: {', '.join(str(p) for p in res)}")
    return 0
