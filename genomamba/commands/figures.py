"""`genomamba figures`: draw the paper figures (PNG, SVG, PDF) from metrics, benchmarks and logs."""

import sys
from pathlib import Path

from ..outputs import check_output


def add_arguments(parser):
    parser.add_argument("--metrics", nargs="*", default=[], type=Path,
                        help="metrics JSONs (genomamba evaluate)")
    parser.add_argument("--bench-tsv", nargs="*", default=[], type=Path,
                        help="benchmark tables (schema: genomamba.figures docstring)")
    parser.add_argument("--training-log", nargs="*", default=[], type=Path,
                        help="training logs (JSON lines, JSON or TSV) or model folders holding one")
    parser.add_argument("--config", type=Path,
                        help="the run's config (YAML or JSON): disabled models are not drawn; its seed "
                             "seeds the bootstrap intervals, its primary_model leads the legends")
    parser.add_argument("--split", type=Path,
                        help="split.tsv: fragment accuracy intervals bootstrapped over genomes from the "
                             "calls the metrics list (without it: Wilson intervals on the totals)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="folder for the figures")


def run(args) -> int:
    from ..figures import draw_all
    from ..report import read_config

    check_output(args.output, "folder", [*args.metrics, *args.bench_tsv, *args.training_log,
                                         args.config, args.split])
    config = read_config(args.config) if args.config else None
    split = None
    if args.split:
        from ..split import Split

        split = Split.read(args.split)
    results = draw_all(args.output, args.metrics, args.bench_tsv, args.training_log,
                       log=lambda msg: print(msg, file=sys.stderr), config=config, split=split)
    for name, res in results.items():
        if not isinstance(res, str):
            print(f"{name}: {', '.join(str(p) for p in res)}")
    return 0
