"""`genomamba bench WHAT [...]`: run a benchmark from ``genomamba.bench`` and print its table."""

import importlib

BENCHMARKS = ("ingest", "kernels", "model", "cpu")


def add_arguments(parser):
    parser.add_argument("what", choices=BENCHMARKS, help="which benchmark")
    parser.add_argument("options", nargs="...", help="options of that benchmark (see its --help)")


def run(args) -> int:
    return importlib.import_module(f"genomamba.bench.{args.what}").main(args.options) or 0
